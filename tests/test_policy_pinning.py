"""A lesson keeps the consent policy it was stored with; a policy hiding no face needs a named consent record."""

from __future__ import annotations

import subprocess

import pytest

from videocoach import pipeline
from videocoach.config import Settings
from videocoach.privacy.policy import POLICY_DIR, PolicyError
from videocoach.storage.store import Store


@pytest.fixture
def clip(tmp_path):
    out = tmp_path / "clip.mp4"
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc=size=160x120:rate=10:duration=2",
                    "-c:v", "libx264", str(out)], check=True)
    return out


@pytest.fixture
def store(tmp_path):
    s = Store(Settings(tmp_path / "data", tmp_path / "key"))
    yield s
    s.close()


def test_all_consented_is_refused_without_a_record_and_stores_nothing(store, clip):
    owner = store.add_user("t", "teacher", None)
    with pytest.raises(PolicyError, match="consent_record"):
        pipeline.ingest_file(store, owner, clip, policy_name="all-consented")
    assert store.all_lessons() == []
    lesson = pipeline.ingest_file(store, owner, clip, policy_name="all-consented",
                                  consent_record="Year 9 forms 2026/27, held by the school office")
    pol = pipeline.lesson_policy(lesson)
    assert not pol.hide_faces and pol.consent_record.startswith("Year 9 forms")
    assert any("Year 9 forms" in e.detail for e in store.audit_entries(lesson.id) if e.action == "lesson.policy")


def test_a_policy_file_given_by_path_stays_with_the_lesson(store, clip, tmp_path):
    owner = store.add_user("t", "teacher", None)
    custom = tmp_path / "back-row.toml"
    custom.write_text((POLICY_DIR / "zones.toml").read_text().replace('name = "zones"', 'name = "back-row"'))
    lesson = pipeline.ingest_file(store, owner, clip, policy_name=str(custom))
    custom.unlink()  # the file is gone; the lesson still renders with what it was given
    pol = pipeline.lesson_policy(store.lesson(lesson.id))
    assert pol.name == "back-row" and pol.zones


def test_changing_the_policy_forgets_face_marks(store, clip):
    owner = store.add_user("t", "teacher", None)
    lesson = pipeline.ingest_file(store, owner, clip)
    store.mark_face(owner, lesson.id, 1, "consented", "form 7B-12")
    pipeline.rerender(store, lesson.id, policy_name="zones")  # runs detection again: track ids are new
    assert store.face_marks(lesson.id) == {}
    assert pipeline.lesson_policy(store.lesson(lesson.id)).name == "zones"
