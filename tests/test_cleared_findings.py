"""A finding a reviewer cleared stays cleared after a re-render while its pixels are unchanged (issue 19, item 6),
and comes back the moment they change."""

from __future__ import annotations

import subprocess

import pytest

from conftest import SAMPLE_MEDIA
from videocoach import pipeline
from videocoach.config import Settings
from videocoach.core import serialize
from videocoach.privacy.tracking import FaceTracks
from videocoach.storage.store import Store

pytestmark = pytest.mark.slow


def _clip(path, *extra: str):
    subprocess.run(["ffmpeg", "-v", "error", "-ss", "10", "-t", "3", "-i", str(SAMPLE_MEDIA / "lesson.mp4"), *extra,
                    "-an", "-c:v", "libx264", str(path)], check=True)  # no sound: no audio stages to run
    return path


def test_cleared_findings_stay_cleared_while_pixels_are_unchanged(tmp_path):
    from videocoach.ui import review

    clip = _clip(tmp_path / "clip.mp4")
    store = Store(Settings(tmp_path / "data", tmp_path / "key"))
    owner = store.add_user("t", "teacher", None)
    lesson = pipeline.ingest_file(store, owner, clip, policy_name="blur-all-pupils")
    info = pipeline.load_info(store, lesson.id)
    # saved tracks that hide nothing: the render leaves faces visible and its audit (in the same pass) finds them
    nothing = FaceTracks((), info.width, info.height, info.fps, 10_000, 1, 0.05, 1.0)
    store.save_stage(lesson.id, "faces", serialize.dumps(nothing))
    pipeline.run(store, lesson.id, stages=["people", "render"])  # who is who (nobody here), then the render
    assert pipeline._settle_status(store, lesson.id).status == "blocked"
    first = review.audit_findings(store, owner, lesson.id)
    assert first

    review.clear_audit(store, owner, lesson.id)
    # a re-render that changes nothing where the findings are: they stay cleared, the lesson plays
    assert pipeline.rerender(store, lesson.id).status == "ready"
    assert store.lesson(lesson.id).settings.get("audit_cleared_at")
    assert len(review.audit_findings(store, owner, lesson.id)) == len(first)

    # the same lesson with its pixels changed (brighter): the findings are new to the reviewer, playback blocks
    store.put_media_file(lesson.id, "original", _clip(tmp_path / "bright.mp4", "-vf", "eq=brightness=0.06"))
    assert pipeline.rerender(store, lesson.id).status == "blocked"
    assert not store.lesson(lesson.id).settings.get("audit_cleared_at")
    store.close()


def test_still_cleared_needs_every_finding_listed_and_known():
    known = {"a", "b"}
    assert pipeline.still_cleared([{"pixels_sha256": "a"}, {"pixels_sha256": "b"}], 2, known)
    assert not pipeline.still_cleared([{"pixels_sha256": "a"}, {"pixels_sha256": "c"}], 2, known)
    assert not pipeline.still_cleared([{"pixels_sha256": "a"}], 60, known)  # only some findings listed
    assert not pipeline.still_cleared([{"pixels_sha256": ""}], 1, {""})
    assert not pipeline.still_cleared([], 0, known)
