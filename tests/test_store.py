"""The store: access rules, append-only audit, erasure, concurrent writers, jobs."""

import multiprocessing as mp
import sqlalchemy.exc

import pytest

from videocoach.config import Settings
from videocoach.storage.records import AccessDenied, MeetingRecord
from videocoach.storage.store import Store


@pytest.fixture
def settings(tmp_path, database_url):
    """On SQLite and on PostgreSQL (``database_url``, conftest.py)."""
    return Settings(data_dir=tmp_path / "data", key_file=tmp_path / "keys" / "key", database_url=database_url)


@pytest.fixture
def sqlite_settings(tmp_path):
    return Settings(data_dir=tmp_path / "data", key_file=tmp_path / "keys" / "key")


@pytest.fixture
def store(settings):
    s = Store(settings)
    yield s
    s.close()


@pytest.fixture
def people(store):
    return {
        "alice": store.add_user("alice", "teacher", None),
        "bob": store.add_user("bob", "teacher", None),
        "carol": store.add_user("carol", "coach", None),
        "dave": store.add_user("dave", "coach", None),
    }


def test_lesson_visible_only_to_owner_and_shared_coach(store, people):
    lesson = store.create_lesson(people["alice"], "Fractions", "fractions.mp4")
    assert [l.id for l in store.lessons_for(people["alice"])] == [lesson.id]
    for other in ("bob", "carol", "dave"):
        assert store.lessons_for(people[other]) == []
        with pytest.raises(AccessDenied):
            store.require_access(people[other], lesson.id, "view")
    store.share(people["alice"], lesson.id, people["carol"])
    assert [l.id for l in store.lessons_for(people["carol"])] == [lesson.id]
    store.require_access(people["carol"], lesson.id, "view")
    with pytest.raises(AccessDenied):  # a coach cannot re-share or delete
        store.share(people["carol"], lesson.id, people["dave"])
    with pytest.raises(AccessDenied):
        store.delete_lesson(people["carol"], lesson.id, "no")
    store.unshare(people["alice"], lesson.id, people["carol"])
    assert store.lessons_for(people["carol"]) == []
    with pytest.raises(AccessDenied):
        store.bookmarks(people["carol"], lesson.id)
    refused = [e for e in store.audit_entries() if not e.allowed]
    assert len(refused) >= 5
    assert {e.action for e in refused} >= {"view", "lesson.share", "lesson.delete", "bookmark.list"}


def test_only_teachers_own_and_only_coaches_are_shared_with(store, people):
    with pytest.raises(AccessDenied):
        store.create_lesson(people["carol"], "x", "x.mp4")
    lesson = store.create_lesson(people["alice"], "x", "x.mp4")
    with pytest.raises(ValueError):
        store.share(people["alice"], lesson.id, people["bob"])


def test_audit_log_is_append_only(store, people):
    store.audit(people["alice"].id, "view", None)
    with pytest.raises(sqlalchemy.exc.DBAPIError, match="append-only"):
        store._db.execute("UPDATE audit_log SET action='x'")
    with pytest.raises(sqlalchemy.exc.DBAPIError, match="append-only"):
        store._db.execute("DELETE FROM audit_log")
    assert store.audit_entries()[0].action == "view"


def test_erasure_removes_rows_and_files_and_is_recorded(store, people, settings):
    lesson = store.create_lesson(people["alice"], "x", "x.mp4")
    store.put_media_bytes(lesson.id, "original", b"raw video bytes" * 100)
    store.save_stage(lesson.id, "probe", "{}")
    store.add_bookmark(people["alice"], lesson.id, 1, 2, "note")
    store.save_meeting_record(people["alice"], MeetingRecord(lesson.id, focus="wait time"))
    media_file = store.media_path(lesson.id, "original")
    assert media_file.exists()
    store.delete_lesson(people["alice"], lesson.id, "teacher asked")
    assert not media_file.exists()
    assert not (settings.data_dir / "media" / lesson.id).exists()
    for table in ("lessons", "media", "stages", "bookmarks", "meeting_records", "shares"):
        col = "id" if table == "lessons" else "lesson_id"
        assert store._db.execute(f"SELECT COUNT(*) FROM {table} WHERE {col}=?", (lesson.id,)).fetchone()[0] == 0
    assert any(e.action == "lesson.erase" and e.lesson_id == lesson.id for e in store.audit_entries())


def test_media_files_are_sealed_with_server_names(store, people):
    lesson = store.create_lesson(people["alice"], "x", "../../etc/passwd -i.mp4")
    store.put_media_bytes(lesson.id, "original", b"PLAINTEXT-MARKER" * 1000)
    path = store.media_path(lesson.id, "original")
    assert path.parent.parent == store.media_dir
    assert "passwd" not in path.name and path.suffix == ".vcm"
    assert b"PLAINTEXT-MARKER" not in path.read_bytes()
    with store.open_media(lesson.id, "original") as f:
        assert f.read_range(0, 16) == b"PLAINTEXT-MARKER"


def _add_bookmarks(args):
    settings, user_id, lesson_id, n = args
    store = Store(settings)
    user = store.user(user_id)
    for i in range(n):
        store.add_bookmark(user, lesson_id, i, i + 1, f"note {user_id}-{i}")
    store.close()


def test_two_sessions_writing_bookmarks_lose_nothing(store, people, settings):
    lesson = store.create_lesson(people["alice"], "x", "x.mp4")
    store.share(people["alice"], lesson.id, people["carol"])
    n = 40
    ctx = mp.get_context("spawn")
    with ctx.Pool(2) as pool:
        pool.map(_add_bookmarks, [(settings, people["alice"].id, lesson.id, n), (settings, people["carol"].id, lesson.id, n)])
    marks = store.bookmarks(people["alice"], lesson.id)
    assert len(marks) == 2 * n
    assert {b.author_name for b in marks} == {"alice", "carol"}


def test_bookmark_edit_and_replay_notes(store, people):
    lesson = store.create_lesson(people["alice"], "x", "x.mp4")
    store.update_lesson(lesson.id, duration_s=100.0)
    store.share(people["alice"], lesson.id, people["carol"])
    bm = store.add_bookmark(people["carol"], lesson.id, 120, 90, "late", ["critical incident", "critical incident"])
    assert (bm.start_s, bm.end_s) == (90.0, 100.0)  # ordered and clamped to the lesson
    assert bm.tags == ("critical incident",)
    bm = store.update_bookmark(people["alice"], bm.id, note="edited", trigger="pupil question", outcome="discussion")
    assert (bm.note, bm.trigger, bm.outcome) == ("edited", "pupil question", "discussion")
    note = store.add_replay_note(people["alice"], bm.id, "looked at it from the pupils' side")
    assert note.author_name == "alice"
    with pytest.raises(AccessDenied):
        store.add_replay_note(people["bob"], bm.id, "intruder")
    store.delete_bookmark(people["carol"], bm.id)
    assert store.bookmarks(people["alice"], lesson.id) == []


def test_meeting_record_round_trip(store, people):
    lesson = store.create_lesson(people["alice"], "x", "x.mp4")
    rec = MeetingRecord(lesson.id, follow_up="tried think-pair-share", successes="more pupil talk",
                        challenges="wait time", focus="wait 3 s after open questions",
                        action_steps=(("count to three silently", "2026-12-01"),), next_meeting="2026-12-08")
    saved = store.save_meeting_record(people["alice"], rec)
    assert saved.action_steps == rec.action_steps and saved.focus == rec.focus
    assert store.meeting_record(people["alice"], lesson.id).updated_by == people["alice"].id


def test_jobs_are_claimed_once_and_requeued_after_a_crash(store, people):
    lesson = store.create_lesson(people["alice"], "x", "x.mp4")
    job_id = store.enqueue_job(lesson.id, "analyse")
    job, params = store.claim_job()
    assert job.id == job_id and job.status == "running" and params == {}
    assert store.claim_job() is None
    assert store.requeue_stale_jobs() == 1
    assert store.claim_job()[0].id == job_id


SECRET = "Zebediah whispered the answer"  # a phrase that must never be readable in the database file


def _fill_sensitive_fields(store, people):
    alice, carol = people["alice"], people["carol"]
    lesson = store.create_lesson(alice, "Fractions", "fractions.mp4")
    store.share(alice, lesson.id, carol)
    store.save_stage(lesson.id, "transcribe", '{"text": "%s"}' % SECRET)
    store.save_teacher_voice(alice.id, '{"voice": "%s"}' % SECRET)
    bm = store.add_bookmark(carol, lesson.id, 1.0, 2.0, note=SECRET, trigger=SECRET, outcome=SECRET)
    store.add_replay_note(alice, bm.id, SECRET)
    store.save_meeting_record(carol, MeetingRecord(lesson_id=lesson.id, follow_up=SECRET, successes="", challenges="",
                                                   focus="", action_steps=(), next_meeting=""))
    return lesson, bm


def _database_bytes(store) -> bytes:
    """SQLite: the database files themselves.  PostgreSQL: every stored value of every table, as text."""
    if store._db.is_sqlite:
        store._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return b"".join(p.read_bytes() for p in store.data_dir.glob("videocoach.sqlite3*"))
    tables = [r[0] for r in store._db.execute("SELECT tablename FROM pg_tables WHERE schemaname='public'").fetchall()]
    return b"".join(str(tuple(r)).encode() for t in tables for r in store._db.execute(f"SELECT * FROM {t}").fetchall())


def test_sensitive_fields_are_sealed_in_the_database_file(store, people):
    lesson, bm = _fill_sensitive_fields(store, people)
    # through the store everything reads back as written ...
    assert SECRET in store.stage(lesson.id, "transcribe") and SECRET in store.teacher_voice(people["alice"].id)
    got = store.bookmark(bm.id)
    assert got.note == got.trigger == got.outcome == SECRET
    assert store.replay_notes(people["alice"], bm.id)[0].note == SECRET
    assert store.meeting_record(people["alice"], lesson.id).follow_up == SECRET
    store.update_bookmark(people["carol"], bm.id, note=SECRET + " again")
    assert store.bookmark(bm.id).note == SECRET + " again"
    # ... but the database file never holds the words
    assert SECRET.encode() not in _database_bytes(store)
    # a sealed value moved to another lesson's row does not open there
    other = store.create_lesson(people["alice"], "Other", "other.mp4")
    store._db.execute("INSERT INTO stages SELECT ?, stage, result, finished_at FROM stages WHERE lesson_id=?",
                      (other.id, lesson.id))
    with pytest.raises(Exception, match="does not open"):
        store.stage(other.id, "transcribe")


def test_a_version_1_database_is_sealed_when_opened(sqlite_settings, tmp_path):
    """A database written before fields were sealed: its plaintext is sealed once and leaves the file."""
    settings = sqlite_settings
    store = Store(settings)
    people = {n: store.add_user(n, r, None) for n, r in (("alice", "teacher"), ("carol", "coach"))}
    lesson, bm = _fill_sensitive_fields(store, people)
    # turn it back into what version 1 wrote: plaintext fields
    from videocoach.storage.schema import SEALED_FIELDS, field_context

    for table, column, key_cols in SEALED_FIELDS:
        for r in store._db.execute(f"SELECT rowid AS rid, {column}, {', '.join(key_cols)} FROM {table}").fetchall():
            plain = store.vault.open_text(r[column], field_context(table, column, [r[c] for c in key_cols]))
            store._db.execute(f"UPDATE {table} SET {column}=? WHERE rowid=?", (plain, r["rid"]))
    store._db.execute("UPDATE meta SET value='1' WHERE key='schema_version'")
    store._db.execute("DROP TABLE alembic_version")  # version 1 knew nothing of Alembic
    assert SECRET.encode() in _database_bytes(store)
    store.close()

    reopened = Store(settings)
    try:
        assert reopened._db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()[0] == "2"
        assert SECRET.encode() not in _database_bytes(reopened)
        assert SECRET in reopened.stage(lesson.id, "transcribe")
        assert reopened.bookmark(bm.id).note == SECRET
        assert reopened.meeting_record(people["alice"], lesson.id).follow_up == SECRET
        assert reopened.replay_notes(people["alice"], bm.id)[0].note == SECRET
    finally:
        reopened.close()
    Store(settings).close()  # opening again changes nothing
