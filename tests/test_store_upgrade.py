"""Schema migrations (Alembic): a database made by the store before SQLAlchemy upgrades in place with its sealed
fields intact; on PostgreSQL the audit log stays append-only, for the owner (a trigger) and for the application role
(no UPDATE or DELETE granted)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import sqlalchemy as sa

from videocoach.config import Settings
from videocoach.storage import migrate
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
