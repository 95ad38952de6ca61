"""The Lessons page (AppTest, real store with the analysed sample): list, upload, bad files, sharing, deletion."""

from __future__ import annotations

import subprocess

import pytest

from e2e_helpers import app_test, copy_store, login, texts, use_settings
from videocoach.ffmpeg import ffmpeg_binary
from videocoach.store import Store


@pytest.fixture(scope="module")
def settings(analysed_sample, tmp_path_factory):
    return copy_store(analysed_sample, tmp_path_factory.mktemp("app-lessons"))


@pytest.fixture
def env(settings, monkeypatch, analysed_sample):
    use_settings(monkeypatch, settings)
    return {"settings": settings, "lesson_id": analysed_sample["lesson_id"], "pw": analysed_sample["passwords"]}


@pytest.fixture(scope="module")
def small_video(tmp_path_factory) -> bytes:
    out = tmp_path_factory.mktemp("small") / "small.mp4"
    subprocess.run([ffmpeg_binary(), "-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i",
                    "testsrc2=size=320x240:rate=25", "-f", "lavfi", "-i", "sine=frequency=220", "-t", "3",
                    "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac", str(out)],
                   check=True, capture_output=True, timeout=60)
    return out.read_bytes()


def upload(at, name: str, data: bytes, title: str = ""):
    at.file_uploader[0].upload(name, data, "video/mp4")
    next(t for t in at.text_input if t.label == "Title").input(title)
    next(b for b in at.button if b.label == "Upload and analyse").click()
    at.run()
    return at


def test_teacher_sees_her_analysed_lesson_and_its_sharing(env):
    at = login(app_test(), "rivera", env["pw"]["rivera"])
    page = texts(at)
    assert "Your lessons" in page and "Sample lesson" in page
    assert "Shared with: Mr Okafor" in page
    with Store(env["settings"]) as db:
        status = db.lesson(env["lesson_id"]).status
    assert status in ("ready", "blocked")  # blocked: the redaction audit asks for a review first


def test_a_bad_file_is_refused_plainly(env):
    at = login(app_test(), "rivera", env["pw"]["rivera"])
    with Store(env["settings"]) as db:
        before = len(db.lessons_for(db.user_by_name("rivera")))
    upload(at, "notes.mp4", b"this is a text file pretending to be a video\n" * 50)
    errors = [e.value for e in at.error]
    assert errors and "notes.mp4" in errors[0]
    assert "Traceback" not in errors[0]
    with Store(env["settings"]) as db:
        assert len(db.lessons_for(db.user_by_name("rivera"))) == before  # nothing stored


def test_upload_stores_the_video_sealed_and_queues_analysis(env, small_video):
    at = login(app_test(), "rivera", env["pw"]["rivera"])
    upload(at, "year7-maths.mp4", small_video, title="Year 7 maths")
    assert any("Stored “Year 7 maths”" in s.value for s in at.success), [e.value for e in at.error]
    with Store(env["settings"]) as db:
        lesson = next(l for l in db.lessons_for(db.user_by_name("rivera")) if l.title == "Year 7 maths")
        assert [j.kind for j in db.jobs_for_lesson(lesson.id)] == ["analyse"]
        assert set(db.media_kinds(lesson.id)) == {"original"}
        sealed = db.media_path(lesson.id, "original").read_bytes()
        assert small_video[:64] not in sealed  # encrypted at rest
        assert lesson.policy_name == "blur-all-pupils"
    assert "Year 7 maths" in texts(at)


def test_share_and_withdraw_with_a_coach(env):
    at = login(app_test(), "rivera", env["pw"]["rivera"])
    lesson_key = env["lesson_id"]
    next(b for b in at.button if str(b.key).startswith(f"ls.unshare.{lesson_key}.")
         and b.label == "Withdraw from Mr Okafor").click()
    at.run()
    coach = login(app_test(), "okafor", env["pw"]["okafor"])
    assert "Sample lesson" not in texts(coach)
    picker = next(s for s in at.selectbox if s.key == f"ls.coach.{lesson_key}")
    picker.select_index(0)
    at.run()
    next(b for b in at.button if b.key == f"ls.share.{lesson_key}").click()
    at.run()
    assert "Shared with: Mr Okafor" in texts(at)
    coach = login(app_test(), "okafor", env["pw"]["okafor"])
    assert "Sample lesson" in texts(coach)


def test_delete_needs_confirmation_and_erases(env, small_video):
    at = login(app_test(), "rivera", env["pw"]["rivera"])
    upload(at, "to-delete.mp4", small_video, title="Delete me")
    with Store(env["settings"]) as db:
        lesson = next(l for l in db.lessons_for(db.user_by_name("rivera")) if l.title == "Delete me")
    delete = next(b for b in at.button if b.key == f"ls.delete.{lesson.id}")
    assert delete.disabled
    next(c for c in at.checkbox if c.key == f"ls.sure.{lesson.id}").check()
    at.run()
    next(b for b in at.button if b.key == f"ls.delete.{lesson.id}").click()
    at.run()
    assert "Delete me" not in texts(at)
    with Store(env["settings"]) as db:
        assert all(l.id != lesson.id for l in db.all_lessons())
        assert not (db.media_dir / lesson.id).exists()
