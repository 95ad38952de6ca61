"""The Pre-watch page (AppTest) on the sample lesson analysed by the real pipeline: the player gets a token for the
redacted video (or a reason it may not play), the synced transcript with roles, the questions, the statistics and
the timeline; the teacher-voice correction recomputes the metrics; marking a face re-renders and stops playback."""

from __future__ import annotations

import pytest

from e2e_helpers import app_test, copy_store, goto, login, player_data, texts, use_settings
from videocoach import pipeline
from videocoach.storage.store import Store
from videocoach.ui import review
from videocoach.ui.media_tokens import MediaTokens
from videocoach.ui.mediaserver import ROUTE_PREFIX, playback_refusal


@pytest.fixture(scope="module")
def settings(analysed_sample, tmp_path_factory):
    return copy_store(analysed_sample, tmp_path_factory.mktemp("app-prewatch"))


@pytest.fixture
def env(settings, monkeypatch, analysed_sample):
    use_settings(monkeypatch, settings)
    return {"settings": settings, "lesson_id": analysed_sample["lesson_id"], "pw": analysed_sample["passwords"],
            "script": analysed_sample["script"]}


def open_prewatch(env, user="rivera"):
    at = login(app_test(), user, env["pw"][user])
    return goto(at, "prewatch", lesson_id=env["lesson_id"])


def test_player_transcript_questions_and_statistics(env):
    at = open_prewatch(env)
    assert "Pre-watch" in [t.value for t in at.title]
    data = player_data(at, "pw.player")
    with Store(env["settings"]) as db:
        lesson = db.lesson(env["lesson_id"])
        refusal = playback_refusal(db, lesson)
        teacher = db.user_by_name("rivera")
    if refusal is None:
        assert data["src"].startswith(ROUTE_PREFIX)
        claims = MediaTokens.for_settings(env["settings"]).verify(data["src"][len(ROUTE_PREFIX):])
        assert (claims.user_id, claims.lesson_id, claims.kind) == (teacher.id, lesson.id, "redacted")
    else:  # e.g. blocked by the redaction audit: no URL at all, and the reason instead
        assert data["src"] is None and data["message"]
    cues = data["cues"]
    assert len(cues) >= 10
    assert all(c["t"] <= c["e"] for c in cues) and [c["t"] for c in cues] == sorted(c["t"] for c in cues)
    assert {c["role"] for c in cues} >= {"teacher", "pupil"}
    assert data["questions"], "the sample lesson has questions"
    assert all({"t", "text", "meta", "role"} <= set(q) for q in data["questions"])
    shown = {m.label: m.value for m in at.metric}
    assert {"Teacher only", "Pupils only", "Both at once", "Silence", "Questions", "Wait time"} <= set(shown)
    # the talk shares are the partition, in whole percents adding up to 100 (as `videocoach show` prints them)
    assert sum(int(shown[k].rstrip(" %")) for k in ("Teacher only", "Pupils only", "Both at once", "Silence")) == 100
    captions = [c.value for c in at.caption]
    assert any("speaking turns" in c for c in captions) and any("pupil voice" in c for c in captions)
    assert len(at.get("vega_lite_chart")) >= 2  # timeline, per-minute talk (and question types)


def test_other_teacher_is_refused(env):
    at = open_prewatch(env, user="other")
    assert "No such lesson, or you may not open it." in [e.value for e in at.error]
    with pytest.raises(AssertionError):
        player_data(at, "pw.player")


def test_correcting_the_teacher_voice_recomputes_the_metrics(env):
    at = open_prewatch(env)
    with Store(env["settings"]) as db:
        analysis = pipeline.load_analysis(db, env["lesson_id"])
        before = pipeline.load_metrics(db, env["lesson_id"])
    speakers = list(analysis.diarization.speakers)
    current = sorted(analysis.roles.teacher_speakers)
    other = [s for s in speakers if s not in current][:1]
    assert other, "the sample has pupils' voices too"
    at.multiselect(key="pw.teacher").set_value(other)
    at.run()
    at.button(key="pw.teacher.save").click()
    at.run()
    assert not at.exception
    with Store(env["settings"]) as db:
        after_roles = pipeline.load_analysis(db, env["lesson_id"]).roles
        after = pipeline.load_metrics(db, env["lesson_id"])
        assert sorted(after_roles.teacher_speakers) == other and after_roles.method == "manual"
        assert after.talk.teacher_s != pytest.approx(before.talk.teacher_s)
        assert any(e.action == "roles.correct" for e in db.audit_entries(env["lesson_id"]))
    # put it back (the page offers the same control)
    at.multiselect(key="pw.teacher").set_value(current)
    at.run()
    at.button(key="pw.teacher.save").click()
    at.run()
    with Store(env["settings"]) as db:
        assert sorted(pipeline.load_analysis(db, env["lesson_id"]).roles.teacher_speakers) == current


def test_marking_a_face_rerenders_and_stops_playback_until_then(env):
    at = open_prewatch(env)
    boxes = [s for s in at.selectbox if str(s.key).startswith("pw.face.")]
    if not boxes:
        pytest.skip("no face tracks in the sample lesson")
    show = next(b for b in at.button if str(b.key).startswith("pw.face.show."))
    show.click()
    at.run()
    data = player_data(at, "pw.player")
    assert data["overlay"] and len(data["overlay"]["box"]) == 4 and data["seek"]["t"] == data["overlay"]["t"]
    key = boxes[0].key
    with Store(env["settings"]) as db:
        owner = db.user_by_name("rivera")
        assert review.teacher_face_unmarked(db, owner, env["lesson_id"])  # the page nudges the teacher to mark
    at.selectbox(key=key).select("teacher")  # (elements go stale after a run: look it up again)
    at.run()
    track_id = int(str(key).rsplit(".", 1)[1])
    with Store(env["settings"]) as db:
        assert db.face_marks(env["lesson_id"]) == {track_id: "teacher"}
        assert not review.teacher_face_unmarked(db, owner, env["lesson_id"])
        assert db.stage(env["lesson_id"], "render") is None  # the old rendition no longer plays
        assert db.jobs_for_lesson(env["lesson_id"])[-1].kind == "rerender"
        assert playback_refusal(db, db.lesson(env["lesson_id"])) is not None
    data = player_data(at, "pw.player")
    assert data["src"] is None and "ready" in data["message"]


def test_coach_sees_the_same_lesson(env):
    at = open_prewatch(env, user="okafor")
    assert "Pre-watch" in [t.value for t in at.title]
    # only the owner changes what others see: no face marks, no policy for the coach
    assert "Whose face stays visible?" not in [e.label for e in at.expander]
    assert not [s for s in at.selectbox if str(s.key).startswith("pw.face.") or s.key == "pw.policy"]
    assert player_data(at, "pw.player")["cues"]
    assert "Ms Rivera" in texts(at)
