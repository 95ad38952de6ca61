"""Meeting mode (AppTest, real store): short clips of the bookmarks with adjustable lead-in/out, a note per replay,
and the coaching-conversation record, which the same teacher's next lesson shows as the follow-up."""

from __future__ import annotations

import datetime as dt
import subprocess

import pytest

from e2e_helpers import app_test, copy_store, goto, login, player_data, texts, use_settings
from videocoach import pipeline
from videocoach.av.ffmpeg import ffmpeg_binary
from videocoach.storage.store import Store


@pytest.fixture(scope="module")
def settings(analysed_sample, tmp_path_factory):
    return copy_store(analysed_sample, tmp_path_factory.mktemp("app-meeting"))


@pytest.fixture
def env(settings, monkeypatch, analysed_sample):
    use_settings(monkeypatch, settings)
    return {"settings": settings, "lesson_id": analysed_sample["lesson_id"], "pw": analysed_sample["passwords"]}


def meeting_page(env, user="okafor", lesson_id=None):
    return goto(login(app_test(), user, env["pw"][user]), "meeting", lesson_id=lesson_id or env["lesson_id"])


def test_clips_with_lead_in_and_out_and_a_note_per_replay(env):
    with Store(env["settings"]) as db:
        rivera = db.user_by_name("rivera")
        duration = db.lesson(env["lesson_id"]).duration_s
        first = db.add_bookmark(rivera, env["lesson_id"], 40.0, 45.0, note="Wait time after the salt question",
                                tags=["agreed coaching focus", "question"])
        last = db.add_bookmark(rivera, env["lesson_id"], duration - 5.0, duration - 5.0, note="Plenary")
    at = meeting_page(env)
    clips = player_data(at, "mt.player")["clips"]
    assert [c["id"] for c in clips] == [first.id]  # "agreed coaching focus" clips are chosen first
    assert (clips[0]["start"], clips[0]["end"]) == (30.0, 65.0)  # default: 10 s before, 20 s after
    at.multiselect(key="mt.tags").set_value([])
    at.slider(key="mt.lead_in").set_value(5)
    at.slider(key="mt.lead_out").set_value(30)
    at.run()
    clips = {c["id"]: c for c in player_data(at, "mt.player")["clips"]}
    assert (clips[first.id]["start"], clips[first.id]["end"]) == (35.0, 75.0)
    assert (clips[last.id]["start"], clips[last.id]["end"]) == (duration - 10.0, duration)  # inside the lesson

    at.selectbox(key="mt.note_for").select(first.id)
    at.run()
    note = next(t for t in at.text_input if t.label == "Note on this replay")
    note.input("Looked at it from the pupils' side: Amir was about to answer")
    next(b for b in at.button if b.label == "Add note").click()
    at.run()
    assert "Amir was about to answer" in texts(at)
    with Store(env["settings"]) as db:
        notes = db.replay_notes(db.user_by_name("okafor"), first.id)
    assert [(n.author_name, n.note) for n in notes] == [
        ("Mr Okafor", "Looked at it from the pupils' side: Amir was about to answer")]


def test_the_record_is_saved_and_followed_up_at_the_next_cycle(env, tmp_path):
    at = meeting_page(env)
    areas = {a.label: a for a in at.text_area}
    areas["Successes, their impact, and how to build on them"].input("Pupils explained their predictions")
    areas["Challenges, their impact, steps already taken"].input("Short wait after closed questions")
    next(t for t in at.text_input if t.label == "Agreed focus").input("Wait time after questions")
    next(d for d in at.date_input if d.label == "Next meeting").set_value(dt.date(2026, 12, 7))
    next(b for b in at.button if b.label == "Save record").click()
    at.run()
    assert not at.exception
    with Store(env["settings"]) as db:
        coach, rivera = db.user_by_name("okafor"), db.user_by_name("rivera")
        record = db.meeting_record(coach, env["lesson_id"])
        assert record.focus == "Wait time after questions" and record.next_meeting == "2026-12-07"
        assert record.updated_by == coach.id
        db.save_meeting_record(rivera, record.__class__(
            lesson_id=record.lesson_id, follow_up=record.follow_up, successes=record.successes,
            challenges=record.challenges, focus=record.focus, next_meeting=record.next_meeting,
            action_steps=(("Count to five after every question", "2026-12-01"),)))
        # the next cycle: the same teacher's next lesson, shared with the same coach
        clip = tmp_path / "next.mp4"
        subprocess.run([ffmpeg_binary(), "-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i",
                        "testsrc2=size=320x240:rate=25", "-f", "lavfi", "-i", "sine=frequency=220", "-t", "2",
                        "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac", str(clip)],
                       check=True, capture_output=True, timeout=60)
        nxt = pipeline.ingest_file(db, rivera, clip, title="Next lesson")
        db.share(rivera, nxt.id, coach)
    at = meeting_page(env, lesson_id=nxt.id)
    page = texts(at)
    assert "Follow-up from last cycle: Sample lesson" in page
    assert "Wait time after questions" in page and "Count to five after every question" in page
    follow = next(a for a in at.text_area if a.label.startswith("Follow-up from previous"))
    assert "Count to five after every question" in follow.value  # prefilled from last cycle's action steps


def test_other_teacher_gets_no_clips(env):
    at = meeting_page(env, user="other")
    assert "No such lesson, or you may not open it." in [e.value for e in at.error]
    with pytest.raises(AssertionError):
        player_data(at, "mt.player")
