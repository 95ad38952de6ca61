"""The redaction audit's face crops are personal data: sealed in the vault, never in SQLite, deleted once cleared."""

from __future__ import annotations

import subprocess

import pytest

from conftest import SAMPLE_MEDIA
from videocoach import pipeline
from videocoach.core import serialize
from videocoach.config import Settings
from videocoach.storage.store import Store
from videocoach.privacy.tracking import FaceTracks

pytestmark = pytest.mark.slow


def test_missed_faces_are_sealed_and_dropped_after_clearing(tmp_path):
    from videocoach.ui import mediaserver, review

    clip = tmp_path / "clip.mp4"
    subprocess.run(["ffmpeg", "-v", "error", "-ss", "10", "-t", "4", "-i", str(SAMPLE_MEDIA / "lesson.mp4"),
                    "-c:v", "libx264", "-c:a", "aac", str(clip)], check=True)
    store = Store(Settings(tmp_path / "data", tmp_path / "key"))
    owner = store.add_user("t", "teacher", None)
    lesson = pipeline.ingest_file(store, owner, clip, policy_name="blur-all-pupils")
    info = pipeline.load_info(store, lesson.id)
    # A renderer that missed every face: the "redacted" rendition is the original and no track was found.
    nothing = FaceTracks((), info.width, info.height, info.fps, 100, 1, 0.5, 1.0)
    store.save_stage(lesson.id, "faces", serialize.dumps(nothing))
    store.put_media_file(lesson.id, "redacted", clip)
    store.save_stage(lesson.id, "render", "{}")
    pipeline.run(store, lesson.id, stages=["audit"])

    text = store.stage(lesson.id, "audit")
    assert '"crop_png_b64":""' in text and "iVBOR" not in text  # no PNG in the database
    findings = review.audit_findings(store, owner, lesson.id)
    assert findings and all(f.crop_png.startswith(b"\x89PNG") for f in findings)
    assert "audit_crops" in store.media_kinds(lesson.id)
    assert mediaserver.playback_refusal(store, store.lesson(lesson.id)) is not None

    review.clear_audit(store, owner, lesson.id)
    assert "audit_crops" not in store.media_kinds(lesson.id)
    assert all(f.crop_png == b"" for f in review.audit_findings(store, owner, lesson.id))
    store.close()


def test_new_face_detection_forgets_old_marks(tmp_path):
    store = Store(Settings(tmp_path / "data", tmp_path / "key"))
    owner = store.add_user("t", "teacher", None)
    lesson = store.create_lesson(owner, "l", "clip.mp4")
    store.mark_face(owner, lesson.id, 3, "consented", "form 7B-12")
    store.clear_stages(lesson.id, ["render"])
    assert store.face_marks(lesson.id) == {3: "consented"}
    store.clear_stages(lesson.id, ["faces", "render", "audit"])
    assert store.face_marks(lesson.id) == {}
    store.close()
