"""The database schema (SQLite), its version, and which text fields are sealed with the media key.
"""

from __future__ import annotations

from typing import Sequence

SCHEMA_VERSION = 2  # 2: sensitive text fields sealed (``SEALED_FIELDS``); a version-1 database is sealed on open
# (table, column, columns of the row key that go into the sealed value's associated data)
SEALED_FIELDS = (
    ("stages", "result", ("lesson_id", "stage")),
    ("teacher_voices", "voice", ("user_id",)),
    ("teacher_faces", "face", ("user_id",)),
    ("bookmarks", "note", ("lesson_id",)),
    ("bookmarks", "trigger", ("lesson_id",)),
    ("bookmarks", "outcome", ("lesson_id",)),
    ("replay_notes", "note", ("bookmark_id",)),
    ("meeting_records", "record", ("lesson_id",)),
)


SCHEMA_SQL = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS users (
    id INTEGER PRIMARY KEY,
    username TEXT NOT NULL UNIQUE,
    display_name TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('teacher', 'coach', 'admin')),
    password_hash TEXT,
    created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS login_sessions (
    id_hash TEXT PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    browser TEXT,
    created_at REAL NOT NULL,
    expires_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS lessons (
    id TEXT PRIMARY KEY,
    owner_id INTEGER NOT NULL REFERENCES users(id),
    title TEXT NOT NULL,
    original_name TEXT NOT NULL,
    created_at REAL NOT NULL,
    status TEXT NOT NULL,
    duration_s REAL NOT NULL DEFAULT 0,
    policy_name TEXT NOT NULL DEFAULT 'blur-all-pupils',
    policy_version INTEGER NOT NULL DEFAULT 0,
    meeting_at REAL,
    expires_at REAL,
    error TEXT,
    settings TEXT NOT NULL DEFAULT '{}'
);
CREATE TABLE IF NOT EXISTS shares (
    lesson_id TEXT NOT NULL REFERENCES lessons(id) ON DELETE CASCADE,
    coach_id INTEGER NOT NULL REFERENCES users(id),
    created_at REAL NOT NULL,
    PRIMARY KEY (lesson_id, coach_id)
);
CREATE TABLE IF NOT EXISTS media (
    lesson_id TEXT NOT NULL REFERENCES lessons(id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    relpath TEXT NOT NULL,
    size_bytes INTEGER NOT NULL,
    created_at REAL NOT NULL,
    PRIMARY KEY (lesson_id, kind)
);
CREATE TABLE IF NOT EXISTS stages (
    lesson_id TEXT NOT NULL REFERENCES lessons(id) ON DELETE CASCADE,
    stage TEXT NOT NULL,
    result TEXT NOT NULL,
    finished_at REAL NOT NULL,
    PRIMARY KEY (lesson_id, stage)
);
CREATE TABLE IF NOT EXISTS bookmarks (
    id INTEGER PRIMARY KEY,
    lesson_id TEXT NOT NULL REFERENCES lessons(id) ON DELETE CASCADE,
    author_id INTEGER NOT NULL REFERENCES users(id),
    start_s REAL NOT NULL,
    end_s REAL NOT NULL,
    note TEXT NOT NULL DEFAULT '',
    tags TEXT NOT NULL DEFAULT '[]',
    trigger TEXT NOT NULL DEFAULT '',
    outcome TEXT NOT NULL DEFAULT '',
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    CHECK (0 <= start_s AND start_s <= end_s)
);
CREATE TABLE IF NOT EXISTS replay_notes (
    id INTEGER PRIMARY KEY,
    bookmark_id INTEGER NOT NULL REFERENCES bookmarks(id) ON DELETE CASCADE,
    author_id INTEGER NOT NULL REFERENCES users(id),
    note TEXT NOT NULL,
    created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS meeting_records (
    lesson_id TEXT PRIMARY KEY REFERENCES lessons(id) ON DELETE CASCADE,
    record TEXT NOT NULL,
    updated_by INTEGER REFERENCES users(id),
    updated_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS teacher_voices (
    user_id INTEGER PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    voice TEXT NOT NULL,
    created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS teacher_faces (
    user_id INTEGER PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    face TEXT NOT NULL,
    created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS face_marks (
    lesson_id TEXT NOT NULL REFERENCES lessons(id) ON DELETE CASCADE,
    track_id INTEGER NOT NULL,
    label TEXT NOT NULL CHECK (label IN ('teacher', 'consented')),
    marked_by INTEGER REFERENCES users(id),
    created_at REAL NOT NULL,
    consent_record TEXT,
    PRIMARY KEY (lesson_id, track_id)
);
CREATE TABLE IF NOT EXISTS login_failures (
    scope TEXT NOT NULL,
    at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS login_failures_scope ON login_failures(scope, at);
CREATE TABLE IF NOT EXISTS login_grants (
    id_hash TEXT PRIMARY KEY,
    session_sealed TEXT NOT NULL,
    expires_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS jobs (
    id INTEGER PRIMARY KEY,
    lesson_id TEXT NOT NULL REFERENCES lessons(id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    status TEXT NOT NULL,
    stage TEXT NOT NULL DEFAULT '',
    progress REAL NOT NULL DEFAULT 0,
    message TEXT NOT NULL DEFAULT '',
    params TEXT NOT NULL DEFAULT '{}',
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS audit_log (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at REAL NOT NULL,
    actor_id INTEGER,
    action TEXT NOT NULL,
    lesson_id TEXT,
    detail TEXT NOT NULL DEFAULT '',
    allowed INTEGER NOT NULL
);
-- the audit log is append-only: no code path may change or remove a row
CREATE TRIGGER IF NOT EXISTS audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
CREATE INDEX IF NOT EXISTS bookmarks_lesson ON bookmarks(lesson_id);
CREATE INDEX IF NOT EXISTS audit_lesson ON audit_log(lesson_id);
CREATE INDEX IF NOT EXISTS jobs_status ON jobs(status);
"""


def field_context(table: str, column: str, key: Sequence[object]) -> str:
    return f"{table}.{column}:" + ":".join(str(k) for k in key)
