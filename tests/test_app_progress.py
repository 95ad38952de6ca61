"""My progress (AppTest, real store): a teacher's measures across her analysed lessons, as charts; a coach sees only
teachers who shared lessons with them."""

from __future__ import annotations

import pytest

from e2e_helpers import app_test, copy_store, goto, login, texts, use_settings
from videocoach import pipeline
from videocoach.measures.figures import lesson_figures
from videocoach.storage.store import Store


@pytest.fixture(scope="module")
def settings(analysed_sample, tmp_path_factory):
    return copy_store(analysed_sample, tmp_path_factory.mktemp("app-progress"))


@pytest.fixture
def env(settings, monkeypatch, analysed_sample):
    use_settings(monkeypatch, settings)
    return {"settings": settings, "lesson_id": analysed_sample["lesson_id"], "pw": analysed_sample["passwords"]}


def test_teacher_sees_her_lessons_charted(env):
    at = goto(login(app_test(), "rivera", env["pw"]["rivera"]), "progress")
    assert "My progress" in [t.value for t in at.title]
    assert len(at.get("vega_lite_chart")) >= 3
    table = at.dataframe[0].value
    assert len(table) == 1
    with Store(env["settings"]) as db:
        metrics = pipeline.load_metrics(db, env["lesson_id"])
        fig = lesson_figures(metrics, pipeline.load_analysis(db, env["lesson_id"]).role_turns())
    # the same figures as Pre-watch and `videocoach show` (measures.figures): the four shares add up to 100
    shown = [int(table[name][0].rstrip(" %")) for name in ("teacher only", "pupils only", "both", "silence")]
    assert shown == [fig.talk.teacher_only, fig.talk.pupils_only, fig.talk.both, fig.talk.silence]
    assert sum(shown) == 100
    assert table["pupils engaged"][0].startswith(f"{fig.pupils_engaged} of {fig.pupil_voices} pupil voice")
    assert table["teacher questions"][0] == sum(1 for q in metrics.questions if q.role == "teacher")


def test_coach_chooses_among_teachers_who_shared(env):
    at = goto(login(app_test(), "okafor", env["pw"]["okafor"]), "progress")
    picker = at.selectbox(key="pg.teacher")
    assert "Ms Rivera" in picker.options
    assert "Mr Other" not in picker.options
    assert len(at.dataframe[0].value) == 1


def test_other_teacher_sees_nothing_of_hers(env):
    at = goto(login(app_test(), "other", env["pw"]["other"]), "progress")
    assert "No analysed lessons yet" in texts(at)
    assert not at.dataframe


def test_the_teacher_sees_who_watched_her_lesson_and_when(env):
    with Store(env["settings"]) as db:  # as the media route records a view (tests/test_walkthrough.py: for real)
        coach = db.user_by_name("okafor")
        db.audit(coach.id, "media.view", env["lesson_id"], "kind=redacted")
        db.audit(coach.id, "media.clip", env["lesson_id"], "bookmark=1 at=0:20–1:20 started_in_ms=80")
    at = goto(login(app_test(), "rivera", env["pw"]["rivera"]), "account")
    shown = texts(at)
    assert "Who watched your lessons" in shown
    assert "Mr Okafor opened the lesson video of “Sample lesson” on " in shown.replace("\\", "")
    assert "Mr Okafor played the clip 0:20–1:20 in the meeting" in shown.replace("\\", "")
    assert "media.view" not in shown and "media\\.view" not in shown
    other = goto(login(app_test(), "other", env["pw"]["other"]), "account")
    assert "Mr Okafor" not in texts(other)
