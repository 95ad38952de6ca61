"""A store written before the package layout changed (tests/data/store_pre_layout, made by its MAKE.py.txt with the
code of commit 229a88b) still opens with everything in it readable: users and logins, the lesson and its share,
sealed stage results, the teacher's voice print, face marks, bookmarks with their sealed notes, replay notes, the
meeting record, and the sealed media file."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from videocoach.config import Settings
from videocoach.storage import auth
from videocoach.storage.store import Store

FIXTURE = Path(__file__).parent / "data" / "store_pre_layout"
LESSON = "d72dbb389a9548c99bfd1dc0d25b7c88"


@pytest.fixture
def old_store(tmp_path):
    root = tmp_path / "store"
    shutil.copytree(FIXTURE, root)
    (root / "keys").chmod(0o700)
    (root / "keys" / "media.key").chmod(0o600)
    store = Store(Settings(data_dir=root / "data", key_file=root / "keys" / "media.key"))
    yield store
    store.close()


def test_a_store_from_before_the_layout_change_still_opens(old_store):
    teacher = auth.authenticate(old_store, "rivera", "teacher-password")
    coach = auth.authenticate(old_store, "okafor", "coach-password")
    assert teacher is not None and coach is not None and teacher.display_name == "Ms Rivera"
    lesson = old_store.require_access(coach, LESSON, "test.view")
    assert lesson.title == "Before the move" and lesson.status == "ready" and lesson.duration_s == 146.0
    assert json.loads(old_store.stage(LESSON, "metrics")) == {"teacher_talk_s": 65.5, "note": "sealed stage result"}
    assert json.loads(old_store.teacher_voice(teacher.id)) == {"embedding": [0.1, 0.2, 0.3]}
    assert old_store.face_marks(LESSON) == {3: "teacher"}
    [bookmark] = old_store.bookmarks(teacher, LESSON)
    assert (bookmark.start_s, bookmark.end_s, bookmark.note, bookmark.trigger, bookmark.outcome) == (
        32.0, 62.0, "salted ice question", "open question", "pupil reasons")
    assert [n.note for n in old_store.replay_notes(teacher, bookmark.id)] == ["I waited three seconds here"]
    record = old_store.meeting_record(teacher, LESSON)
    assert record.follow_up == "wait time" and record.action_steps == (("count to five", "2026-12-20"),)
    sealed = old_store.open_media(LESSON, "redacted")
    try:
        assert sealed.read_range(0, 21) == b"redacted video bytes "
    finally:
        sealed.close()
