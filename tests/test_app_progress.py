"""My progress (AppTest, real store): a teacher's measures across her analysed lessons, as charts; a coach sees only
teachers who shared lessons with them."""

from __future__ import annotations

import pytest

from e2e_helpers import app_test, copy_store, goto, login, texts, use_settings
from videocoach import pipeline
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
    assert table["teacher talk"][0] == f"{metrics.talk.teacher_talk_share:.0%}"
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
