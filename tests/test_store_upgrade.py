"""Schema migrations (Alembic): a database made by the store before SQLAlchemy upgrades in place with its sealed
fields intact; on PostgreSQL the audit log stays append-only, for the owner (a trigger) and for the application role
(no UPDATE or DELETE granted)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import sqlalchemy as sa

from videocoach.config import Settings
from videocoach.storage import auth, migrate
from videocoach.storage.store import Store

OLD = Path(__file__).parent / "data" / "store_before_sqlalchemy"
LESSON = "52b442975d4340d2bb61febcd806bbf3"


def test_a_database_from_before_alembic_upgrades_in_place_with_sealed_fields_intact(tmp_path):
    data = tmp_path / "data"
    shutil.copytree(OLD, data, ignore=shutil.ignore_patterns("*.md", "*.py", "store.key"))
    key = tmp_path / "store.key"
    shutil.copy(OLD / "store.key", key)
    raw = sa.create_engine(f"sqlite:///{data / 'videocoach.sqlite3'}")
    with raw.connect() as conn:
        assert not sa.inspect(conn).has_table("alembic_version")
        sealed_before = conn.execute(sa.text("SELECT result FROM stages")).scalar()
    raw.dispose()

    store = Store(Settings(data_dir=data, key_file=key))
    try:
        assert migrate.current_revision(store._db) == migrate.head_revision()
        teacher, coach = store.user_by_name("teacher1"), store.user_by_name("coach1")
        assert [l.id for l in store.lessons_for(coach)] == [LESSON]
        assert "PLAINSTAGE" in store.stage(LESSON, "probe")
        assert "PLAINVOICE" in store.teacher_voice(teacher.id)
        (bm,) = store.bookmarks(teacher, LESSON)
        assert (bm.note, bm.trigger, bm.outcome) == ("PLAINNOTE good wait time", "PLAINTRIGGER", "PLAINOUTCOME")
        assert store.replay_notes(teacher, bm.id)[0].note == "PLAINREPLAY"
        assert store.meeting_record(teacher, LESSON).focus == "PLAINFOCUS"
        with store.open_media(LESSON, "original") as media:
            assert b"".join(media.iter_range(0, media.size)) == b"PLAINVIDEO" * 100
        assert [e.action for e in store.audit_entries(LESSON)][:2] == ["lesson.view", "meeting.save"]
        # the sealed values are the very ones the old store wrote, not re-sealed copies
        assert store._db.execute("SELECT result FROM stages").fetchone()[0] == sealed_before
        store.add_bookmark(coach, LESSON, 3.0, 4.0, note="after the upgrade")
    finally:
        store.close()
    assert b"PLAIN" not in b"".join(p.read_bytes() for p in data.glob("videocoach.sqlite3*"))
    Store(Settings(data_dir=data, key_file=key)).close()  # at the newest revision: opening again changes nothing


def test_postgres_audit_log_is_append_only_for_owner_and_app_role(tmp_path, postgres_admin_url):
    from servers import new_database

    url = new_database(postgres_admin_url)
    store = Store(Settings(data_dir=tmp_path / "data", key_file=tmp_path / "key", database_url=url))
    try:
        teacher = store.add_user("tina", "teacher", None)
        store.create_lesson(teacher, "x", "x.mp4")
        with pytest.raises(sa.exc.DBAPIError, match="append-only"):
            store._db.execute("UPDATE audit_log SET action='x'")
        with pytest.raises(sa.exc.DBAPIError, match="append-only"):
            store._db.execute("DELETE FROM audit_log")
        with pytest.raises(sa.exc.DBAPIError, match="append-only"):
            store._db.execute("TRUNCATE audit_log")
        store._db.execute("CREATE ROLE app_login LOGIN IN ROLE videocoach_app")
    finally:
        store.close()
    # the app and workers log in as a member of videocoach_app: they work, and may not touch audit rows
    app_url = url.replace("postgres@", "app_login@")
    app = Store(Settings(data_dir=tmp_path / "data", key_file=tmp_path / "key", database_url=app_url))
    try:
        lesson = app.create_lesson(app.user_by_name("tina"), "y", "y.mp4")
        app.delete_lesson(None, lesson.id, "test")
        assert [e.action for e in app.audit_entries(lesson.id)] == ["lesson.erase", "lesson.create"]
        for sql in ("UPDATE audit_log SET action='x'", "DELETE FROM audit_log", "CREATE TABLE t (x INT)"):
            with pytest.raises(sa.exc.ProgrammingError, match="permission denied"):
                app._db.execute(sql)
    finally:
        app.close()


# A store written by the code from before the package layout changed (tests/data/store_pre_layout, made by its
# MAKE.py.txt at commit 229a88b, before SQLAlchemy too): it opens with everything in it readable: users and logins,
# the lesson and its share, sealed stage results, the teacher's voice print, face marks, bookmarks with their sealed
# notes, replay notes, the meeting record, and the sealed media file.
PRE_LAYOUT = Path(__file__).parent / "data" / "store_pre_layout"
PRE_LAYOUT_LESSON = "d72dbb389a9548c99bfd1dc0d25b7c88"


@pytest.fixture
def old_store(tmp_path):
    root = tmp_path / "store"
    shutil.copytree(PRE_LAYOUT, root)
    (root / "keys").chmod(0o700)
    (root / "keys" / "media.key").chmod(0o600)
    store = Store(Settings(data_dir=root / "data", key_file=root / "keys" / "media.key"))
    yield store
    store.close()


def test_a_store_from_before_the_layout_change_still_opens(old_store):
    teacher = auth.authenticate(old_store, "rivera", "teacher-password")
    coach = auth.authenticate(old_store, "okafor", "coach-password")
    assert teacher is not None and coach is not None and teacher.display_name == "Ms Rivera"
    lesson = old_store.require_access(coach, PRE_LAYOUT_LESSON, "test.view")
    assert lesson.title == "Before the move" and lesson.status == "ready" and lesson.duration_s == 146.0
    assert json.loads(old_store.stage(PRE_LAYOUT_LESSON, "metrics")) == {"teacher_talk_s": 65.5, "note": "sealed stage result"}
    assert json.loads(old_store.teacher_voice(teacher.id)) == {"embedding": [0.1, 0.2, 0.3]}
    assert old_store.face_marks(PRE_LAYOUT_LESSON) == {3: "teacher"}
    [bookmark] = old_store.bookmarks(teacher, PRE_LAYOUT_LESSON)
    assert (bookmark.start_s, bookmark.end_s, bookmark.note, bookmark.trigger, bookmark.outcome) == (
        32.0, 62.0, "salted ice question", "open question", "pupil reasons")
    assert [n.note for n in old_store.replay_notes(teacher, bookmark.id)] == ["I waited three seconds here"]
    record = old_store.meeting_record(teacher, PRE_LAYOUT_LESSON)
    assert record.follow_up == "wait time" and record.action_steps == (("count to five", "2026-12-20"),)
    sealed = old_store.open_media(PRE_LAYOUT_LESSON, "redacted")
    try:
        assert sealed.read_range(0, 21) == b"redacted video bytes "
    finally:
        sealed.close()
