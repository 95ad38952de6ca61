"""The Lessons page (AppTest, real store with the analysed sample): list, the upload form, sharing, deletion."""

from __future__ import annotations

import subprocess

import pytest

from e2e_helpers import app_test, component_data, copy_store, login, texts, use_settings
from videocoach import pipeline
from videocoach.av.ffmpeg import ffmpeg_binary
from videocoach.storage.store import Store
from videocoach.ui.mediaserver import UPLOAD_PREFIX
from videocoach.ui.media_tokens import MediaTokens


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


def test_teacher_sees_her_analysed_lesson_and_its_sharing(env):
    at = login(app_test(), "rivera", env["pw"]["rivera"])
    page = texts(at)
    assert "Your lessons" in page and "Sample lesson" in page
    assert "Shared with: Mr Okafor" in page
    with Store(env["settings"]) as db:
        status = db.lesson(env["lesson_id"]).status
    assert status in ("ready", "blocked")  # blocked: the redaction audit asks for a review first


def test_upload_form_carries_a_teacher_upload_token(env):
    """The form PUTs the file to the upload route (tested in test_mediaserver.py and the browser test); here: the
    page hands the form a valid upload token for this teacher and the consent policies to choose from."""
    at = login(app_test(), "rivera", env["pw"]["rivera"])
    data = component_data(at, "vc_upload")
    assert data["url"].startswith(UPLOAD_PREFIX)
    claims = MediaTokens.for_settings(env["settings"]).verify(data["url"][len(UPLOAD_PREFIX):])
    with Store(env["settings"]) as db:
        assert claims.user_id == db.user_by_name("rivera").id and claims.kind == "upload"
    names = [p["name"] for p in data["policies"]]
    assert "blur-all-pupils" in names and data["default_policy"] == "blur-all-pupils"
    assert ".mp4" in data["accept"]


def test_a_coach_has_no_upload_form(env):
    at = login(app_test(), "okafor", env["pw"]["okafor"])
    with pytest.raises(AssertionError):
        component_data(at, "vc_upload")


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


def test_delete_needs_confirmation_and_erases(env, small_video, tmp_path):
    path = tmp_path / "to-delete.mp4"
    path.write_bytes(small_video)
    with Store(env["settings"]) as db:
        lesson = pipeline.ingest_file(db, db.user_by_name("rivera"), path, title="Delete me")
    at = login(app_test(), "rivera", env["pw"]["rivera"])
    assert "Delete me" in texts(at)
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
