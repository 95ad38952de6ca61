"""The database schema (SQLAlchemy Core tables, the same on SQLite and PostgreSQL), its sealing version, and which
text fields are sealed with the media key.
"""

from __future__ import annotations

from typing import Sequence

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    Double,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Table,
    Text,
    text,
)

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


# The tables, in SQLAlchemy Core: one definition for SQLite and PostgreSQL.  Alembic's first revision creates them
# (``migrations/versions/0001_schema.py``); a later change to the schema is a new revision, never an edit here alone.
metadata = MetaData()
_cascade = {"ondelete": "CASCADE"}

Table("meta", metadata, Column("key", Text, primary_key=True), Column("value", Text, nullable=False))
Table(
    "users", metadata,
    Column("id", Integer, primary_key=True),
    Column("username", Text, nullable=False, unique=True),
    Column("display_name", Text, nullable=False),
    Column("role", Text, nullable=False),
    Column("password_hash", Text),
    Column("created_at", Double, nullable=False),
    CheckConstraint("role IN ('teacher', 'coach', 'admin')"),
)
Table(
    "login_sessions", metadata,
    Column("id_hash", Text, primary_key=True),
    Column("user_id", Integer, ForeignKey("users.id", **_cascade), nullable=False),
    Column("browser", Text),
    Column("created_at", Double, nullable=False),
    Column("expires_at", Double, nullable=False),
)
Table(
    "lessons", metadata,
    Column("id", Text, primary_key=True),
    Column("owner_id", Integer, ForeignKey("users.id"), nullable=False),
    Column("title", Text, nullable=False),
    Column("original_name", Text, nullable=False),
    Column("created_at", Double, nullable=False),
    Column("status", Text, nullable=False),
    Column("duration_s", Double, nullable=False, server_default=text("0")),
    Column("policy_name", Text, nullable=False, server_default=text("'blur-all-pupils'")),
    Column("policy_version", Integer, nullable=False, server_default=text("0")),
    Column("meeting_at", Double),
    Column("expires_at", Double),
    Column("error", Text),
    Column("settings", Text, nullable=False, server_default=text("'{}'")),
)
Table(
    "shares", metadata,
    Column("lesson_id", Text, ForeignKey("lessons.id", **_cascade), primary_key=True),
    Column("coach_id", Integer, ForeignKey("users.id"), primary_key=True),
    Column("created_at", Double, nullable=False),
)
Table(
    "media", metadata,
    Column("lesson_id", Text, ForeignKey("lessons.id", **_cascade), primary_key=True),
    Column("kind", Text, primary_key=True),
    Column("relpath", Text, nullable=False),
    Column("size_bytes", BigInteger, nullable=False),
    Column("created_at", Double, nullable=False),
)
Table(
    "stages", metadata,
    Column("lesson_id", Text, ForeignKey("lessons.id", **_cascade), primary_key=True),
    Column("stage", Text, primary_key=True),
    Column("result", Text, nullable=False),
    Column("finished_at", Double, nullable=False),
)
Table(
    "bookmarks", metadata,
    Column("id", Integer, primary_key=True),
    Column("lesson_id", Text, ForeignKey("lessons.id", **_cascade), nullable=False, index=True),
    Column("author_id", Integer, ForeignKey("users.id"), nullable=False),
    Column("start_s", Double, nullable=False),
    Column("end_s", Double, nullable=False),
    Column("note", Text, nullable=False, server_default=text("''")),
    Column("tags", Text, nullable=False, server_default=text("'[]'")),
    Column("trigger", Text, nullable=False, server_default=text("''")),
    Column("outcome", Text, nullable=False, server_default=text("''")),
    Column("created_at", Double, nullable=False),
    Column("updated_at", Double, nullable=False),
    CheckConstraint("0 <= start_s AND start_s <= end_s"),
)
Table(
    "replay_notes", metadata,
    Column("id", Integer, primary_key=True),
    Column("bookmark_id", Integer, ForeignKey("bookmarks.id", **_cascade), nullable=False),
    Column("author_id", Integer, ForeignKey("users.id"), nullable=False),
    Column("note", Text, nullable=False),
    Column("created_at", Double, nullable=False),
)
Table(
    "meeting_records", metadata,
    Column("lesson_id", Text, ForeignKey("lessons.id", **_cascade), primary_key=True),
    Column("record", Text, nullable=False),
    Column("updated_by", Integer, ForeignKey("users.id")),
    Column("updated_at", Double, nullable=False),
)
Table(
    "teacher_voices", metadata,
    Column("user_id", Integer, ForeignKey("users.id", **_cascade), primary_key=True),
    Column("voice", Text, nullable=False),
    Column("created_at", Double, nullable=False),
)
Table(
    "teacher_faces", metadata,  # revision 0003
    Column("user_id", Integer, ForeignKey("users.id", **_cascade), primary_key=True, autoincrement=False),
    Column("face", Text, nullable=False),
    Column("created_at", Double, nullable=False),
)
Table(
    "person_answers", metadata,  # revision 0004: the owner said "not me" about a person of a lesson (no biometrics)
    Column("lesson_id", Text, ForeignKey("lessons.id", **_cascade), primary_key=True),
    Column("person_id", BigInteger, primary_key=True, autoincrement=False),  # track ids reach 2**31 (redact)
    Column("answer", Text, nullable=False),
    Column("answered_by", Integer, ForeignKey("users.id")),
    Column("created_at", Double, nullable=False),
    CheckConstraint("answer IN ('not_me')"),
)
Table(
    "face_marks", metadata,
    Column("lesson_id", Text, ForeignKey("lessons.id", **_cascade), primary_key=True),
    Column("track_id", Integer, primary_key=True, autoincrement=False),
    Column("label", Text, nullable=False),
    Column("marked_by", Integer, ForeignKey("users.id")),
    Column("created_at", Double, nullable=False),
    Column("consent_record", Text),
    CheckConstraint("label IN ('teacher', 'consented')"),
)
Table(
    "login_failures", metadata,
    Column("scope", Text, nullable=False),
    Column("at", Double, nullable=False),
    Index("login_failures_scope", "scope", "at"),
)
Table(
    "login_grants", metadata,
    Column("id_hash", Text, primary_key=True),
    Column("session_sealed", Text, nullable=False),
    Column("expires_at", Double, nullable=False),
)
Table(
    "jobs", metadata,
    Column("id", Integer, primary_key=True),
    Column("lesson_id", Text, ForeignKey("lessons.id", **_cascade), nullable=False),
    Column("kind", Text, nullable=False),
    Column("status", Text, nullable=False, index=True),
    Column("stage", Text, nullable=False, server_default=text("''")),
    Column("progress", Double, nullable=False, server_default=text("0")),
    Column("message", Text, nullable=False, server_default=text("''")),
    Column("params", Text, nullable=False, server_default=text("'{}'")),
    Column("created_at", Double, nullable=False),
    Column("updated_at", Double, nullable=False),
)
Table(
    "audit_log", metadata,
    Column("id", Integer, primary_key=True),
    Column("at", Double, nullable=False),
    Column("actor_id", Integer),
    Column("action", Text, nullable=False),
    Column("lesson_id", Text, index=True),
    Column("detail", Text, nullable=False, server_default=text("''")),
    Column("allowed", Integer, nullable=False),
    sqlite_autoincrement=True,
)


def field_context(table: str, column: str, key: Sequence[object]) -> str:
    return f"{table}.{column}:" + ":".join(str(k) for k in key)
