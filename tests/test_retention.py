"""Retention: expiry after the coaching meeting, purge, and a teacher's export of everything held."""

import json
import time
import zipfile

import pytest

from videocoach import retention
from videocoach.config import Settings
from videocoach.storage.records import MeetingRecord
from videocoach.storage.store import Store

DAY = 24 * 3600


@pytest.fixture
def store(tmp_path, database_url):
    s = Store(Settings(tmp_path / "data", tmp_path / "keys" / "k", retention_days_after_meeting=30,
                       database_url=database_url))
    yield s
    s.close()


def test_purge_erases_only_expired_lessons(store):
    t = store.add_user("t", "teacher", None)
    now = time.time()
    old = store.create_lesson(t, "met long ago", "a.mp4")
    recent = store.create_lesson(t, "met yesterday", "b.mp4")
    unmet = store.create_lesson(t, "no meeting yet", "c.mp4")
    for lesson in (old, recent, unmet):
        store.put_media_bytes(lesson.id, "original", b"video")
    store.set_meeting_date(t, old.id, now - 31 * DAY)
    store.set_meeting_date(t, recent.id, now - 1 * DAY)
    assert store.lesson(recent.id).expires_at == pytest.approx(now - DAY + 30 * DAY, abs=5)
    erased = retention.purge_expired(store, now=now)
    assert erased == [old.id]
    assert {l.id for l in store.all_lessons()} == {recent.id, unmet.id}
    assert not (store.media_dir / old.id).exists()
    # a lesson never met is erased once it is past the unmet-lesson limit
    later = now + (retention.DEFAULT_UNMET_RETENTION_DAYS + 1) * DAY
    assert set(retention.purge_expired(store, now=later)) == {recent.id, unmet.id}
    assert store.all_lessons() == []
    erase_records = [e for e in store.audit_entries() if e.action == "lesson.erase"]
    assert len(erase_records) == 3 and all("retention" in e.detail for e in erase_records)


def test_export_my_data_holds_everything_of_own_lessons_only(store, tmp_path):
    t = store.add_user("t", "teacher", None)
    other = store.add_user("o", "teacher", None)
    coach = store.add_user("c", "coach", None)
    mine = store.create_lesson(t, "mine", "a.mp4")
    theirs = store.create_lesson(other, "theirs", "b.mp4")
    store.put_media_bytes(mine.id, "redacted", b"redacted video bytes")
    store.put_media_bytes(theirs.id, "redacted", b"not yours")
    store.share(t, mine.id, coach)
    store.add_bookmark(coach, mine.id, 1, 2, "nice question")
    store.save_meeting_record(t, MeetingRecord(mine.id, focus="wait time"))
    out = retention.export_user_data(store, t, tmp_path / "export")
    with zipfile.ZipFile(out) as zf:
        names = zf.namelist()
        assert f"lessons/{mine.id}/media/redacted" in names
        assert zf.read(f"lessons/{mine.id}/media/redacted") == b"redacted video bytes"
        assert json.loads(zf.read(f"lessons/{mine.id}/bookmarks.json"))[0]["note"] == "nice question"
        assert json.loads(zf.read(f"lessons/{mine.id}/meeting_record.json"))["focus"] == "wait time"
        assert json.loads(zf.read(f"lessons/{mine.id}/shared_with.json")) == ["c"]
        assert not any(theirs.id in n for n in names)


def test_the_worker_purges_expired_lessons_by_itself(store):
    from videocoach import worker

    t = store.add_user("t", "teacher", None)
    old = store.create_lesson(t, "met long ago", "a.mp4")
    kept = store.create_lesson(t, "met yesterday", "b.mp4")
    store.put_media_bytes(old.id, "original", b"video")
    store.set_meeting_date(t, old.id, time.time() - 31 * DAY)
    store.set_meeting_date(t, kept.id, time.time() - DAY)
    assert worker.work(store.settings, once=True) == 0  # no jobs; the purge runs at start
    assert [l.id for l in store.all_lessons()] == [kept.id]
    assert not (store.media_dir / old.id).exists()


def test_purge_skips_a_lesson_being_processed(store):
    t = store.add_user("t", "teacher", None)
    old = store.create_lesson(t, "met long ago", "a.mp4")
    store.set_meeting_date(t, old.id, time.time() - 31 * DAY)
    with store.lesson_lock(old.id):
        with Store(store.settings) as other:  # another process's view
            assert retention.purge_expired(other) == []
    assert retention.purge_expired(store) == [old.id]
