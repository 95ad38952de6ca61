"""The store: SQLite (WAL) for lessons, stage results, users, shares, bookmarks, meeting records and the audit log;
media files sealed by :mod:`videocoach.storage.vault` under ``data_dir/media/<lesson id>/`` with server-generated names.

Access rule, checked here and nowhere else: a lesson is visible to its owner (a teacher) and to the coaches the owner
shares it with.  Every refusal is written to the append-only audit log.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import secrets
import shutil
import sqlite3
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Iterator, Literal, Sequence

from videocoach.config import Settings
from videocoach.storage.vault import FIELD_PREFIX, Vault, load_or_create_key

UserRole = Literal["teacher", "coach", "admin"]
SCHEMA_VERSION = 2  # 2: sensitive text fields sealed (``SEALED_FIELDS``); a version-1 database is sealed on open
# (table, column, columns of the row key that go into the sealed value's associated data)
SEALED_FIELDS = (
    ("stages", "result", ("lesson_id", "stage")),
    ("teacher_voices", "voice", ("user_id",)),
    ("bookmarks", "note", ("lesson_id",)),
    ("bookmarks", "trigger", ("lesson_id",)),
    ("bookmarks", "outcome", ("lesson_id",)),
    ("replay_notes", "note", ("bookmark_id",)),
    ("meeting_records", "record", ("lesson_id",)),
)
DAY_S = 24 * 3600


class AccessDenied(PermissionError):
    """The user may not see or change this lesson (or it does not exist: the two are not told apart)."""


class NotFound(KeyError):
    pass


class LessonBusy(RuntimeError):
    """Another process is processing this lesson right now."""


@dataclass(frozen=True)
class User:
    id: int
    username: str
    display_name: str
    role: UserRole


@dataclass(frozen=True)
class Lesson:
    id: str
    owner_id: int
    title: str
    original_name: str
    created_at: float
    status: str  # "uploaded" | "processing" | "ready" | "failed" | "blocked" (audit findings)
    duration_s: float = 0.0
    policy_name: str = "blur-all-pupils"
    policy_version: int = 0
    meeting_at: float | None = None
    expires_at: float | None = None
    error: str | None = None
    settings: dict = field(default_factory=dict, compare=False, hash=False)


@dataclass(frozen=True)
class Bookmark:
    id: int
    lesson_id: str
    author_id: int
    author_name: str
    start_s: float
    end_s: float
    note: str
    tags: tuple[str, ...]
    trigger: str
    outcome: str
    created_at: float
    updated_at: float


@dataclass(frozen=True)
class ReplayNote:
    id: int
    bookmark_id: int
    author_id: int
    author_name: str
    note: str
    created_at: float


@dataclass(frozen=True)
class MeetingRecord:
    """The coaching-conversation record (seeds' guide): follow-up, successes, challenges, focus, action steps, next."""

    lesson_id: str
    follow_up: str = ""
    successes: str = ""
    challenges: str = ""
    focus: str = ""
    action_steps: tuple[tuple[str, str], ...] = ()  # (step, due date ISO)
    next_meeting: str = ""
    updated_by: int | None = None
    updated_at: float | None = None


@dataclass(frozen=True)
class FaceMark:
    """A reviewer's mark on one face track: who made it, when, and the consent record a visible pupil rests on."""

    track_id: int
    label: str  # "teacher" | "consented"
    marked_by: int | None
    marked_by_name: str
    created_at: float
    consent_record: str | None


@dataclass(frozen=True)
class AuditEntry:
    id: int
    at: float
    actor_id: int | None
    action: str
    lesson_id: str | None
    detail: str
    allowed: bool


@dataclass(frozen=True)
class Job:
    id: int
    lesson_id: str
    kind: str
    status: str  # "queued" | "running" | "done" | "failed"
    stage: str
    progress: float
    message: str
    created_at: float
    updated_at: float


_SCHEMA = """
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


class Store:
    """One deployment's database and media.  Cheap to open; open one per thread/process."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.data_dir = Path(settings.data_dir)
        self.media_dir = self.data_dir / "media"
        # transient plaintext working files only, one folder per process; a killed process's folder is removed
        # by the next store opened on this data directory (SIGKILL runs no cleanup of its own)
        work_root = self.data_dir / "work"
        self.work_dir = work_root / str(os.getpid())
        for d in (self.data_dir, self.media_dir, work_root, self.work_dir):
            d.mkdir(parents=True, exist_ok=True, mode=0o700)
        _remove_dead_work_dirs(work_root)
        self.vault = Vault(load_or_create_key(settings.key_file, self.data_dir), work_dir=self.work_dir)
        self.db_path = self.data_dir / "videocoach.sqlite3"
        self._db = sqlite3.connect(self.db_path, timeout=30.0, isolation_level=None, check_same_thread=False)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA foreign_keys=ON")
        self._db.execute("PRAGMA busy_timeout=30000")
        self._db.execute("PRAGMA secure_delete=ON")  # deleted rows are overwritten, not left in free pages
        fresh = self._db.execute(
            "SELECT name FROM sqlite_master WHERE type='table' AND name='meta'"
        ).fetchone() is None
        self._db.executescript(_SCHEMA)
        columns = {r["name"] for r in self._db.execute("PRAGMA table_info(face_marks)").fetchall()}
        if "consent_record" not in columns:  # a database from before marks named their consent record
            self._db.execute("ALTER TABLE face_marks ADD COLUMN consent_record TEXT")
        self._forget_unrecorded_consent()
        self._db.execute(
            "INSERT OR IGNORE INTO meta(key, value) VALUES ('schema_version', ?)",
            (str(SCHEMA_VERSION if fresh else 1),),
        )
        self._seal_legacy_fields()

    def _forget_unrecorded_consent(self) -> None:
        """Fail closed on an older database: a "consented" mark that names no consent record is dropped, and its
        lesson's rendition stops playing until it is rendered again (a re-render is queued)."""
        rows = self._db.execute("SELECT DISTINCT lesson_id FROM face_marks WHERE label='consented'"
                                " AND (consent_record IS NULL OR consent_record='')").fetchall()
        for r in rows:
            lesson_id = r["lesson_id"]
            with self.transaction() as db:
                db.execute("DELETE FROM face_marks WHERE lesson_id=? AND label='consented'"
                           " AND (consent_record IS NULL OR consent_record='')", (lesson_id,))
                db.executemany("DELETE FROM stages WHERE lesson_id=? AND stage=?",
                               [(lesson_id, "render"), (lesson_id, "audit")])
                db.execute("UPDATE lessons SET status='processing' WHERE id=?", (lesson_id,))
            self.enqueue_job(lesson_id, "rerender", {})
            self.audit(None, "faces.mark", lesson_id, "consented marks without a consent record dropped")

    # -- sealed fields ----------------------------------------------------------------------------------------------
    def _seal(self, table: str, column: str, key: Sequence[object], text: str) -> str:
        return self.vault.seal_text(text, _field_context(table, column, key))

    def _open(self, table: str, column: str, key: Sequence[object], value: str) -> str:
        return self.vault.open_text(value, _field_context(table, column, key))

    def _seal_legacy_fields(self) -> None:
        """A database written before fields were sealed (schema 1): seal every such field once, then rewrite the
        file so no plaintext stays behind in free pages or the write-ahead log."""
        row = self._db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
        if row is None or int(row["value"]) >= SCHEMA_VERSION:
            return
        with self.transaction() as db:
            version = db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()["value"]
            if int(version) >= SCHEMA_VERSION:
                return  # another process sealed them meanwhile
            for table, column, key_cols in SEALED_FIELDS:
                rows = db.execute(f"SELECT rowid AS rid, {column}, {', '.join(key_cols)} FROM {table}").fetchall()
                for r in rows:
                    value = r[column]
                    if isinstance(value, str) and not value.startswith(FIELD_PREFIX):
                        sealed = self._seal(table, column, [r[c] for c in key_cols], value)
                        db.execute(f"UPDATE {table} SET {column}=? WHERE rowid=?", (sealed, r["rid"]))
            db.execute("UPDATE meta SET value=? WHERE key='schema_version'", (str(SCHEMA_VERSION),))
        self._db.execute("VACUUM")
        self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    @staticmethod
    def open_default() -> "Store":
        return Store(Settings.from_env())

    def close(self) -> None:
        self._db.close()
        with contextlib.suppress(OSError):
            self.work_dir.rmdir()  # only if empty: another Store in this process may be using it

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE … COMMIT: writers queue on the WAL lock instead of failing or losing updates."""
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield self._db
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        else:
            self._db.execute("COMMIT")

    # -- users ----------------------------------------------------------------------------------------------------------
    def add_user(self, username: str, role: UserRole, password_hash: str | None, display_name: str = "") -> User:
        username = username.strip().lower()
        if not username or len(username) > 64 or not all(c.isalnum() or c in "._-@" for c in username):
            raise ValueError("a user name is 1-64 letters, digits or . _ - @")
        with self.transaction() as db:
            cur = db.execute(
                "INSERT INTO users(username, display_name, role, password_hash, created_at) VALUES (?,?,?,?,?)",
                (username, display_name or username, role, password_hash, time.time()),
            )
            user = User(int(cur.lastrowid), username, display_name or username, role)
        self.audit(user.id, "user.create", None, f"role={role}")
        return user

    def user(self, user_id: int) -> User:
        row = self._db.execute("SELECT * FROM users WHERE id=?", (user_id,)).fetchone()
        if row is None:
            raise NotFound(f"no user {user_id}")
        return _user(row)

    def user_by_name(self, username: str) -> User | None:
        row = self._db.execute("SELECT * FROM users WHERE username=?", (username.strip().lower(),)).fetchone()
        return _user(row) if row else None

    def password_hash(self, user_id: int) -> str | None:
        row = self._db.execute("SELECT password_hash FROM users WHERE id=?", (user_id,)).fetchone()
        return row["password_hash"] if row else None

    def set_password_hash(self, user_id: int, password_hash: str) -> None:
        with self.transaction() as db:
            db.execute("UPDATE users SET password_hash=? WHERE id=?", (password_hash, user_id))
            db.execute("DELETE FROM login_sessions WHERE user_id=?", (user_id,))  # a new password logs out everywhere
        self.audit(user_id, "user.password", None, "")

    # -- remembered logins (a browser that reloads the page stays logged in) ----------------------------------------
    def create_login_session(self, user: User, ttl_s: float, browser: str | None = None) -> str:
        """A random session id for a browser cookie; only its hash is stored.  ``browser``: what binds it to one
        browser (a hash of Streamlit's XSRF secret), checked again when it is resumed."""
        raw = secrets.token_urlsafe(32)
        now = time.time()
        with self.transaction() as db:
            db.execute("DELETE FROM login_sessions WHERE expires_at <= ?", (now,))
            db.execute("INSERT INTO login_sessions VALUES (?,?,?,?,?)",
                       (_session_hash(raw), user.id, browser, now, now + ttl_s))
        return raw

    def resume_login_session(self, raw: str | None, browser: str | None = None) -> User | None:
        """The user of a live session id presented by the same browser, else None."""
        if not raw or len(raw) > 128:
            return None
        row = self._db.execute("SELECT user_id, browser, expires_at FROM login_sessions WHERE id_hash=?",
                               (_session_hash(raw),)).fetchone()
        if row is None or row["expires_at"] <= time.time():
            return None
        if row["browser"] is not None and row["browser"] != browser:
            return None
        try:
            return self.user(int(row["user_id"]))
        except NotFound:
            return None

    def end_login_session(self, raw: str | None) -> None:
        if raw:
            with self.transaction() as db:
                db.execute("DELETE FROM login_sessions WHERE id_hash=?", (_session_hash(raw),))

    @staticmethod
    def login_session_tag(raw: str | None) -> str | None:
        """What a media / export link carries to end with the login: a hash of the session id (not the id)."""
        return _session_hash(raw)[:32] if raw else None

    def login_session_live(self, tag: str | None) -> bool:
        """Whether the login session a link was made for still exists (not logged out, not expired)."""
        if not tag or len(tag) != 32:
            return False
        row = self._db.execute("SELECT 1 FROM login_sessions WHERE substr(id_hash, 1, 32)=? AND expires_at > ?",
                               (tag, time.time())).fetchone()
        return row is not None

    def create_login_grant(self, raw: str, ttl_s: float = 60.0) -> str:
        """A one-time id for the page's cookie grant: the session id itself never goes into the page.  The
        session id is kept sealed until the grant is used (once) or expires."""
        grant = secrets.token_urlsafe(24)
        now = time.time()
        with self.transaction() as db:
            db.execute("DELETE FROM login_grants WHERE expires_at <= ?", (now,))
            db.execute("INSERT INTO login_grants VALUES (?,?,?)",
                       (_session_hash(grant), self._seal("login_grants", "session", (_session_hash(grant),), raw),
                        now + ttl_s))
        return grant

    def consume_login_grant(self, grant: str | None) -> str | None:
        """The session id behind a live one-time grant, which is used up; None for an unknown, used or old one."""
        if not grant or len(grant) > 128:
            return None
        key = _session_hash(grant)
        with self.transaction() as db:
            row = db.execute("SELECT session_sealed, expires_at FROM login_grants WHERE id_hash=?", (key,)).fetchone()
            db.execute("DELETE FROM login_grants WHERE id_hash=?", (key,))
        if row is None or row["expires_at"] <= time.time():
            return None
        return self._open("login_grants", "session", (key,), row["session_sealed"])

    # -- failed logins (back-off per account and per address) --------------------------------------------------------
    def record_login_failure(self, scopes: Sequence[str], now: float | None = None, max_rows: int | None = None) -> None:
        """One failure per scope at ``now``; with ``max_rows``, a scope that already has that many rows gets its
        latest one moved to ``now`` instead (the wait restarts, the table stays bounded under a flood)."""
        now = time.time() if now is None else now
        with self.transaction() as db:
            db.execute("DELETE FROM login_failures WHERE at <= ?", (now - DAY_S,))
            for scope in (s[:200] for s in scopes):
                count = db.execute("SELECT COUNT(*) FROM login_failures WHERE scope=?", (scope,)).fetchone()[0]
                if max_rows is not None and count >= max_rows:
                    db.execute("UPDATE login_failures SET at=? WHERE rowid=(SELECT rowid FROM login_failures "
                               "WHERE scope=? ORDER BY at DESC LIMIT 1)", (now, scope))
                else:
                    db.execute("INSERT INTO login_failures VALUES (?,?)", (scope, now))

    def login_failures(self, scope: str, since: float) -> tuple[int, float | None]:
        """(failures of ``scope`` since ``since``, the time of the last one)."""
        row = self._db.execute("SELECT COUNT(*) AS n, MAX(at) AS last FROM login_failures WHERE scope=? AND at > ?",
                               (scope[:200], since)).fetchone()
        return int(row["n"]), (float(row["last"]) if row["last"] is not None else None)

    def clear_login_failures(self, scope: str) -> None:
        with self.transaction() as db:
            db.execute("DELETE FROM login_failures WHERE scope=?", (scope[:200],))

    def users(self, role: UserRole | None = None) -> list[User]:
        if role:
            rows = self._db.execute("SELECT * FROM users WHERE role=? ORDER BY username", (role,)).fetchall()
        else:
            rows = self._db.execute("SELECT * FROM users ORDER BY username").fetchall()
        return [_user(r) for r in rows]

    # -- lessons and access -------------------------------------------------------------------------------------------
    def create_lesson(
        self, owner: User, title: str, original_name: str, policy_name: str = "blur-all-pupils", settings: dict | None = None
    ) -> Lesson:
        if owner.role != "teacher":
            raise AccessDenied("only a teacher can own a lesson")
        lesson_id = uuid.uuid4().hex
        now = time.time()
        with self.transaction() as db:
            db.execute(
                "INSERT INTO lessons(id, owner_id, title, original_name, created_at, status, policy_name, expires_at,"
                " settings) VALUES (?,?,?,?,?,?,?,?,?)",
                (
                    lesson_id,
                    owner.id,
                    _clean_text(title, 200) or "Untitled lesson",
                    _clean_text(original_name, 255),
                    now,
                    "uploaded",
                    policy_name,
                    None,
                    json.dumps(settings or {}),
                ),
            )
        self.audit(owner.id, "lesson.create", lesson_id, _clean_text(original_name, 255))
        return self.lesson(lesson_id)

    def lesson(self, lesson_id: str) -> Lesson:
        row = self._db.execute("SELECT * FROM lessons WHERE id=?", (lesson_id,)).fetchone()
        if row is None:
            raise NotFound(f"no lesson {lesson_id}")
        return _lesson(row)

    def all_lessons(self) -> list[Lesson]:
        """Every lesson: for operator commands (CLI, purge), never for a user-facing page."""
        return [_lesson(r) for r in self._db.execute("SELECT * FROM lessons ORDER BY created_at").fetchall()]

    def lessons_for(self, user: User) -> list[Lesson]:
        """The lessons this user may see: their own, and those shared with them."""
        rows = self._db.execute(
            "SELECT * FROM lessons WHERE owner_id=? OR id IN (SELECT lesson_id FROM shares WHERE coach_id=?)"
            " ORDER BY created_at DESC",
            (user.id, user.id),
        ).fetchall()
        return [_lesson(r) for r in rows]

    def can_access(self, user: User | None, lesson_id: str) -> bool:
        if user is None:
            return False
        row = self._db.execute(
            "SELECT 1 FROM lessons WHERE id=? AND (owner_id=? OR id IN (SELECT lesson_id FROM shares WHERE coach_id=?))",
            (lesson_id, user.id, user.id),
        ).fetchone()
        return row is not None

    def require_access(self, user: User | None, lesson_id: str, action: str, *, owner_only: bool = False) -> Lesson:
        """The lesson, if ``user`` may do ``action`` on it; otherwise the refusal is logged and AccessDenied raised."""
        allowed = self.can_access(user, lesson_id)
        lesson = None
        if allowed:
            lesson = self.lesson(lesson_id)
            if owner_only and lesson.owner_id != user.id:  # type: ignore[union-attr]
                allowed = False
        if not allowed:
            self.audit(user.id if user else None, action, lesson_id if _is_lesson_id(lesson_id) else None,
                       "refused", allowed=False)
            raise AccessDenied("no such lesson, or you may not open it")
        return lesson  # type: ignore[return-value]

    def shared_with(self, lesson_id: str) -> list[User]:
        rows = self._db.execute(
            "SELECT u.* FROM users u JOIN shares s ON s.coach_id=u.id WHERE s.lesson_id=? ORDER BY u.username",
            (lesson_id,),
        ).fetchall()
        return [_user(r) for r in rows]

    def share(self, owner: User, lesson_id: str, coach: User) -> None:
        self.require_access(owner, lesson_id, "lesson.share", owner_only=True)
        if coach.role != "coach":
            raise ValueError(f"{coach.username} is not a coach")
        with self.transaction() as db:
            db.execute("INSERT OR IGNORE INTO shares VALUES (?,?,?)", (lesson_id, coach.id, time.time()))
        self.audit(owner.id, "lesson.share", lesson_id, f"coach={coach.username}")

    def unshare(self, owner: User, lesson_id: str, coach: User) -> None:
        self.require_access(owner, lesson_id, "lesson.unshare", owner_only=True)
        with self.transaction() as db:
            db.execute("DELETE FROM shares WHERE lesson_id=? AND coach_id=?", (lesson_id, coach.id))
        self.audit(owner.id, "lesson.unshare", lesson_id, f"coach={coach.username}")

    def update_lesson(self, lesson_id: str, **values: Any) -> Lesson:
        allowed = {"title", "status", "duration_s", "policy_name", "policy_version", "meeting_at", "expires_at", "error",
                   "settings"}
        if not values or set(values) - allowed:
            raise ValueError(f"cannot update {sorted(set(values) - allowed)}")
        if "settings" in values:
            values["settings"] = json.dumps(values["settings"])
        cols = ", ".join(f"{k}=?" for k in values)
        with self.transaction() as db:
            db.execute(f"UPDATE lessons SET {cols} WHERE id=?", (*values.values(), lesson_id))
        return self.lesson(lesson_id)

    # -- media ----------------------------------------------------------------------------------------------------------
    def _new_media_path(self, lesson_id: str) -> Path:
        if not _is_lesson_id(lesson_id):
            raise ValueError("bad lesson id")
        return self.media_dir / lesson_id / f"{secrets.token_hex(16)}.vcm"

    def put_media_file(self, lesson_id: str, kind: str, src: Path) -> int:
        """Seal ``src`` as the lesson's ``kind`` media (replacing an earlier one); returns the plaintext size."""
        dst = self._new_media_path(lesson_id)
        size = self.vault.seal_file(src, dst)
        self._register_media(lesson_id, kind, dst, size)
        return size

    def put_media_stream(self, lesson_id: str, kind: str, src: BinaryIO, max_bytes: int | None = None) -> int:
        dst = self._new_media_path(lesson_id)
        size = self.vault.seal_stream(src, dst, max_bytes=max_bytes)
        self._register_media(lesson_id, kind, dst, size)
        return size

    def put_media_bytes(self, lesson_id: str, kind: str, data: bytes) -> None:
        dst = self._new_media_path(lesson_id)
        self.vault.write_bytes(dst, data)
        self._register_media(lesson_id, kind, dst, len(data))

    def _register_media(self, lesson_id: str, kind: str, path: Path, size: int) -> None:
        old = self.media_path(lesson_id, kind)
        try:
            with self.transaction() as db:
                db.execute(
                    "INSERT OR REPLACE INTO media(lesson_id, kind, relpath, size_bytes, created_at) VALUES (?,?,?,?,?)",
                    (lesson_id, kind, str(path.relative_to(self.data_dir)), size, time.time()),
                )
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
            raise
        if old is not None and old != path:
            with contextlib.suppress(FileNotFoundError):
                old.unlink()

    def media_path(self, lesson_id: str, kind: str) -> Path | None:
        row = self._db.execute("SELECT relpath FROM media WHERE lesson_id=? AND kind=?", (lesson_id, kind)).fetchone()
        return self.data_dir / row["relpath"] if row else None

    def media_kinds(self, lesson_id: str) -> dict[str, int]:
        rows = self._db.execute("SELECT kind, size_bytes FROM media WHERE lesson_id=?", (lesson_id,)).fetchall()
        return {r["kind"]: int(r["size_bytes"]) for r in rows}

    def delete_media(self, lesson_id: str, kind: str) -> None:
        path = self.media_path(lesson_id, kind)
        with self.transaction() as db:
            db.execute("DELETE FROM media WHERE lesson_id=? AND kind=?", (lesson_id, kind))
        if path is not None:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()

    @contextlib.contextmanager
    def lesson_lock(self, lesson_id: str) -> Iterator[None]:
        """Exclusive processing of one lesson across processes (the CLI and the worker never run it twice at once)."""
        import fcntl

        if not _is_lesson_id(lesson_id):
            raise ValueError("bad lesson id")
        lock_dir = self.media_dir / lesson_id
        lock_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        with open(lock_dir / ".lock", "a+") as fh:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError as exc:
                raise LessonBusy("this lesson is being processed by another process") from exc
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def remove_orphan_media(self, lesson_id: str) -> int:
        """Remove sealed files no row points at (a process killed between writing a file and recording it).
        Call only while holding :meth:`lesson_lock`."""
        lesson_dir = self.media_dir / lesson_id
        if not lesson_dir.is_dir():
            return 0
        known = {self.data_dir / r["relpath"] for r in
                 self._db.execute("SELECT relpath FROM media WHERE lesson_id=?", (lesson_id,)).fetchall()}
        removed = 0
        for entry in lesson_dir.iterdir():
            if entry.name == ".lock" or entry in known:
                continue
            entry.unlink(missing_ok=True)
            removed += 1
        return removed

    @contextlib.contextmanager
    def media_plaintext(self, lesson_id: str, kind: str, suffix: str = "") -> Iterator[Path]:
        """A transient decrypted copy of a media file for ffmpeg; removed afterwards, also on failure."""
        path = self.media_path(lesson_id, kind)
        if path is None:
            raise NotFound(f"lesson {lesson_id} has no {kind} media")
        with self.vault.plaintext(path, suffix=suffix) as plain:
            yield plain

    def open_media(self, lesson_id: str, kind: str):
        """A random-access reader of decrypted media (for range requests).  Callers check access first."""
        path = self.media_path(lesson_id, kind)
        if path is None:
            raise NotFound(f"lesson {lesson_id} has no {kind} media")
        return self.vault.open(path)

    # -- stage results --------------------------------------------------------------------------------------------------
    def save_stage(self, lesson_id: str, stage: str, result_json: str) -> None:
        with self.transaction() as db:
            db.execute(
                "INSERT OR REPLACE INTO stages(lesson_id, stage, result, finished_at) VALUES (?,?,?,?)",
                (lesson_id, stage, self._seal("stages", "result", (lesson_id, stage), result_json), time.time()),
            )

    def stage(self, lesson_id: str, stage: str) -> str | None:
        row = self._db.execute("SELECT result FROM stages WHERE lesson_id=? AND stage=?", (lesson_id, stage)).fetchone()
        return self._open("stages", "result", (lesson_id, stage), row["result"]) if row else None

    def finished_stages(self, lesson_id: str) -> list[str]:
        rows = self._db.execute(
            "SELECT stage FROM stages WHERE lesson_id=? ORDER BY finished_at", (lesson_id,)
        ).fetchall()
        return [r["stage"] for r in rows]

    def clear_stages(self, lesson_id: str, stages: Sequence[str]) -> None:
        with self.transaction() as db:
            db.executemany("DELETE FROM stages WHERE lesson_id=? AND stage=?", [(lesson_id, s) for s in stages])
            if "faces" in stages:
                # Face marks name track ids of one detection run; a new run numbers tracks afresh, so an old
                # "consented" mark could unblur someone else.  Fail closed: everyone is hidden until marked again.
                db.execute("DELETE FROM face_marks WHERE lesson_id=?", (lesson_id,))

    # -- teacher voices -------------------------------------------------------------------------------------------------
    def save_teacher_voice(self, user_id: int, voice_json: str) -> None:
        with self.transaction() as db:
            db.execute("INSERT OR REPLACE INTO teacher_voices VALUES (?,?,?)",
                       (user_id, self._seal("teacher_voices", "voice", (user_id,), voice_json), time.time()))

    def teacher_voice(self, user_id: int) -> str | None:
        row = self._db.execute("SELECT voice FROM teacher_voices WHERE user_id=?", (user_id,)).fetchone()
        return self._open("teacher_voices", "voice", (user_id,), row["voice"]) if row else None

    # -- face marks (who stays visible) --------------------------------------------------------------------------------
    def mark_face(self, user: User, lesson_id: str, track_id: int, label: str | None,
                  consent_record: str | None = None) -> None:
        """Owner only: a mark changes what every viewer of the lesson sees.  A "consented" pupil mark must name the
        consent record it rests on (refused without one)."""
        self.require_access(user, lesson_id, "faces.mark", owner_only=True)
        if label not in (None, "teacher", "consented"):
            raise ValueError(f"unknown face label {label!r}")
        record = _clean_text(consent_record, 500).strip() or None
        if label == "consented" and record is None:
            self.audit(user.id, "faces.mark", lesson_id, f"track={track_id} refused: no consent record", allowed=False)
            raise ValueError("a consented pupil needs a consent record (which form shows this pupil agreed)")
        if label != "consented":
            record = None
        with self.transaction() as db:
            db.execute("DELETE FROM face_marks WHERE lesson_id=? AND track_id=?", (lesson_id, track_id))
            if label is not None:
                db.execute(
                    "INSERT INTO face_marks(lesson_id, track_id, label, marked_by, created_at, consent_record)"
                    " VALUES (?,?,?,?,?,?)", (lesson_id, int(track_id), label, user.id, time.time(), record)
                )
        self.audit(user.id, "faces.mark", lesson_id, f"track={track_id} label={label}"
                   + (f" consent_record={record}" if record else ""))

    def face_marks(self, lesson_id: str) -> dict[int, str]:
        """Track id -> label, for the pipeline (no access check: never call it for a user-facing view)."""
        rows = self._db.execute("SELECT track_id, label FROM face_marks WHERE lesson_id=?", (lesson_id,)).fetchall()
        return {int(r["track_id"]): r["label"] for r in rows}

    def face_mark_details(self, user: User, lesson_id: str) -> list[FaceMark]:
        """Every current mark with who made it and when: the owner's view (owner only)."""
        self.require_access(user, lesson_id, "faces.marks", owner_only=True)
        rows = self._db.execute(
            "SELECT f.*, u.display_name AS who FROM face_marks f LEFT JOIN users u ON u.id=f.marked_by"
            " WHERE f.lesson_id=? ORDER BY f.track_id", (lesson_id,)
        ).fetchall()
        return [FaceMark(int(r["track_id"]), r["label"], r["marked_by"], r["who"] or "(deleted account)",
                         float(r["created_at"]), r["consent_record"]) for r in rows]

    def begin_policy_change(self, user: User, lesson_id: str, policy_name: str) -> Lesson:
        """Owner only: the lesson gets another consent policy.  Playback stops at once (render and audit results
        are cleared) until the re-render and its audit have run."""
        self.require_access(user, lesson_id, "lesson.policy", owner_only=True)
        self.clear_stages(lesson_id, ["render", "audit"])
        return self.update_lesson(lesson_id, status="processing")

    def clear_audit_findings(self, user: User, lesson_id: str) -> Lesson:
        """Owner only: the owner has looked at every finding of the redaction audit and lets the rendition play."""
        lesson = self.require_access(user, lesson_id, "audit.clear", owner_only=True)
        if self.stage(lesson_id, "audit") is None:
            raise ValueError("the redaction check has not finished yet")
        settings = dict(lesson.settings)
        settings["audit_cleared_at"] = time.time()
        settings["audit_cleared_by"] = user.id
        self.update_lesson(lesson_id, settings=settings)
        self.delete_media(lesson_id, "audit_crops")  # looked at: the face crops are not kept
        self.audit(user.id, "audit.clear", lesson_id, "reviewer cleared the redaction findings")
        return self.lesson(lesson_id)

    # -- bookmarks ------------------------------------------------------------------------------------------------------
    def add_bookmark(
        self, user: User, lesson_id: str, start_s: float, end_s: float, note: str = "", tags: Sequence[str] = (),
        trigger: str = "", outcome: str = "",
    ) -> Bookmark:
        lesson = self.require_access(user, lesson_id, "bookmark.add")
        start_s, end_s = _clamp_range(start_s, end_s, lesson.duration_s)
        now = time.time()
        with self.transaction() as db:
            cur = db.execute(
                "INSERT INTO bookmarks(lesson_id, author_id, start_s, end_s, note, tags, trigger, outcome, created_at,"
                " updated_at) VALUES (?,?,?,?,?,?,?,?,?,?)",
                (lesson_id, user.id, start_s, end_s,
                 self._seal("bookmarks", "note", (lesson_id,), _clean_text(note, 5000)), json.dumps(_clean_tags(tags)),
                 self._seal("bookmarks", "trigger", (lesson_id,), _clean_text(trigger, 2000)),
                 self._seal("bookmarks", "outcome", (lesson_id,), _clean_text(outcome, 2000)), now, now),
            )
            bookmark_id = int(cur.lastrowid)
        self.audit(user.id, "bookmark.add", lesson_id, f"bookmark={bookmark_id}")
        return self.bookmark(bookmark_id)

    def _bookmark(self, row: sqlite3.Row) -> Bookmark:
        lesson_id = row["lesson_id"]
        return Bookmark(
            id=int(row["id"]), lesson_id=lesson_id, author_id=int(row["author_id"]), author_name=row["author_name"],
            start_s=float(row["start_s"]), end_s=float(row["end_s"]),
            note=self._open("bookmarks", "note", (lesson_id,), row["note"]), tags=tuple(json.loads(row["tags"])),
            trigger=self._open("bookmarks", "trigger", (lesson_id,), row["trigger"]),
            outcome=self._open("bookmarks", "outcome", (lesson_id,), row["outcome"]),
            created_at=row["created_at"], updated_at=row["updated_at"],
        )

    def bookmark(self, bookmark_id: int) -> Bookmark:
        row = self._db.execute(
            "SELECT b.*, u.display_name AS author_name FROM bookmarks b JOIN users u ON u.id=b.author_id WHERE b.id=?",
            (bookmark_id,),
        ).fetchone()
        if row is None:
            raise NotFound(f"no bookmark {bookmark_id}")
        return self._bookmark(row)

    def bookmarks(self, user: User, lesson_id: str) -> list[Bookmark]:
        self.require_access(user, lesson_id, "bookmark.list")
        rows = self._db.execute(
            "SELECT b.*, u.display_name AS author_name FROM bookmarks b JOIN users u ON u.id=b.author_id"
            " WHERE b.lesson_id=? ORDER BY b.start_s, b.id",
            (lesson_id,),
        ).fetchall()
        return [self._bookmark(r) for r in rows]

    def update_bookmark(self, user: User, bookmark_id: int, **values: Any) -> Bookmark:
        bm = self.bookmark(bookmark_id)
        lesson = self.require_access(user, bm.lesson_id, "bookmark.edit")
        start_s, end_s = _clamp_range(values.pop("start_s", bm.start_s), values.pop("end_s", bm.end_s), lesson.duration_s)
        fields = {
            "note": _clean_text(values.pop("note", bm.note), 5000),
            "tags": json.dumps(_clean_tags(values.pop("tags", bm.tags))),
            "trigger": _clean_text(values.pop("trigger", bm.trigger), 2000),
            "outcome": _clean_text(values.pop("outcome", bm.outcome), 2000),
        }
        if values:
            raise ValueError(f"cannot update {sorted(values)}")
        with self.transaction() as db:
            db.execute(
                "UPDATE bookmarks SET start_s=?, end_s=?, note=?, tags=?, trigger=?, outcome=?, updated_at=? WHERE id=?",
                (start_s, end_s, self._seal("bookmarks", "note", (bm.lesson_id,), fields["note"]), fields["tags"],
                 self._seal("bookmarks", "trigger", (bm.lesson_id,), fields["trigger"]),
                 self._seal("bookmarks", "outcome", (bm.lesson_id,), fields["outcome"]), time.time(),
                 bookmark_id),
            )
        self.audit(user.id, "bookmark.edit", bm.lesson_id, f"bookmark={bookmark_id}")
        return self.bookmark(bookmark_id)

    def delete_bookmark(self, user: User, bookmark_id: int) -> None:
        bm = self.bookmark(bookmark_id)
        self.require_access(user, bm.lesson_id, "bookmark.delete")
        with self.transaction() as db:
            db.execute("DELETE FROM bookmarks WHERE id=?", (bookmark_id,))
        self.audit(user.id, "bookmark.delete", bm.lesson_id, f"bookmark={bookmark_id}")

    def add_replay_note(self, user: User, bookmark_id: int, note: str) -> ReplayNote:
        bm = self.bookmark(bookmark_id)
        self.require_access(user, bm.lesson_id, "bookmark.replay_note")
        with self.transaction() as db:
            cur = db.execute(
                "INSERT INTO replay_notes(bookmark_id, author_id, note, created_at) VALUES (?,?,?,?)",
                (bookmark_id, user.id, self._seal("replay_notes", "note", (bookmark_id,), _clean_text(note, 5000)),
                 time.time()),
            )
            note_id = int(cur.lastrowid)
        self.audit(user.id, "bookmark.replay_note", bm.lesson_id, f"bookmark={bookmark_id}")
        return next(n for n in self.replay_notes(user, bookmark_id) if n.id == note_id)

    def replay_notes(self, user: User, bookmark_id: int) -> list[ReplayNote]:
        bm = self.bookmark(bookmark_id)
        self.require_access(user, bm.lesson_id, "bookmark.replay_notes")
        rows = self._db.execute(
            "SELECT r.*, u.display_name AS author_name FROM replay_notes r JOIN users u ON u.id=r.author_id"
            " WHERE r.bookmark_id=? ORDER BY r.id",
            (bookmark_id,),
        ).fetchall()
        return [ReplayNote(r["id"], r["bookmark_id"], r["author_id"], r["author_name"],
                           self._open("replay_notes", "note", (bookmark_id,), r["note"]), r["created_at"])
                for r in rows]

    # -- meeting record -------------------------------------------------------------------------------------------------
    def save_meeting_record(self, user: User, record: MeetingRecord) -> MeetingRecord:
        self.require_access(user, record.lesson_id, "meeting.save")
        payload = {
            "follow_up": _clean_text(record.follow_up, 10000),
            "successes": _clean_text(record.successes, 10000),
            "challenges": _clean_text(record.challenges, 10000),
            "focus": _clean_text(record.focus, 2000),
            "action_steps": [[_clean_text(s, 1000), _clean_text(d, 40)] for s, d in record.action_steps],
            "next_meeting": _clean_text(record.next_meeting, 40),
        }
        now = time.time()
        with self.transaction() as db:
            db.execute(
                "INSERT OR REPLACE INTO meeting_records VALUES (?,?,?,?)",
                (record.lesson_id, self._seal("meeting_records", "record", (record.lesson_id,), json.dumps(payload)),
                 user.id, now),
            )
        self.audit(user.id, "meeting.save", record.lesson_id, "")
        return self.meeting_record(user, record.lesson_id)  # type: ignore[return-value]

    def meeting_record(self, user: User, lesson_id: str) -> MeetingRecord | None:
        self.require_access(user, lesson_id, "meeting.view")
        row = self._db.execute("SELECT * FROM meeting_records WHERE lesson_id=?", (lesson_id,)).fetchone()
        if row is None:
            return None
        data = json.loads(self._open("meeting_records", "record", (lesson_id,), row["record"]))
        return MeetingRecord(
            lesson_id=lesson_id,
            follow_up=data["follow_up"],
            successes=data["successes"],
            challenges=data["challenges"],
            focus=data["focus"],
            action_steps=tuple((s, d) for s, d in data["action_steps"]),
            next_meeting=data["next_meeting"],
            updated_by=row["updated_by"],
            updated_at=row["updated_at"],
        )

    # -- jobs (background processing) -----------------------------------------------------------------------------------
    def enqueue_job(self, lesson_id: str, kind: str, params: dict | None = None) -> int:
        now = time.time()
        with self.transaction() as db:
            cur = db.execute(
                "INSERT INTO jobs(lesson_id, kind, status, params, created_at, updated_at) VALUES (?,?,?,?,?,?)",
                (lesson_id, kind, "queued", json.dumps(params or {}), now, now),
            )
        return int(cur.lastrowid)

    def claim_job(self) -> tuple[Job, dict] | None:
        """Take the oldest queued job (atomically: two workers never take the same one)."""
        with self.transaction() as db:
            row = db.execute("SELECT * FROM jobs WHERE status='queued' ORDER BY id LIMIT 1").fetchone()
            if row is None:
                return None
            db.execute("UPDATE jobs SET status='running', updated_at=? WHERE id=?", (time.time(), row["id"]))
        return self.job(int(row["id"])), json.loads(row["params"])

    def update_job(self, job_id: int, **values: Any) -> None:
        allowed = {"status", "stage", "progress", "message"}
        if set(values) - allowed:
            raise ValueError(f"cannot update {sorted(set(values) - allowed)}")
        values["updated_at"] = time.time()
        cols = ", ".join(f"{k}=?" for k in values)
        with self.transaction() as db:
            db.execute(f"UPDATE jobs SET {cols} WHERE id=?", (*values.values(), job_id))

    def job(self, job_id: int) -> Job:
        row = self._db.execute("SELECT * FROM jobs WHERE id=?", (job_id,)).fetchone()
        if row is None:
            raise NotFound(f"no job {job_id}")
        return _job(row)

    def jobs_for_lesson(self, lesson_id: str) -> list[Job]:
        rows = self._db.execute("SELECT * FROM jobs WHERE lesson_id=? ORDER BY id", (lesson_id,)).fetchall()
        return [_job(r) for r in rows]

    def requeue_stale_jobs(self, older_than_s: float = 0.0) -> int:
        """Jobs left 'running' by a killed worker go back to the queue (the pipeline resumes from its last stage)."""
        with self.transaction() as db:
            cur = db.execute(
                "UPDATE jobs SET status='queued', message='resumed after interruption' WHERE status='running'"
                " AND updated_at <= ?",
                (time.time() - older_than_s,),
            )
        return cur.rowcount

    # -- audit ----------------------------------------------------------------------------------------------------------
    def audit(self, actor_id: int | None, action: str, lesson_id: str | None, detail: str = "", *, allowed: bool = True) -> None:
        with self.transaction() as db:
            db.execute(
                "INSERT INTO audit_log(at, actor_id, action, lesson_id, detail, allowed) VALUES (?,?,?,?,?,?)",
                (time.time(), actor_id, action, lesson_id, _clean_text(detail, 500), 1 if allowed else 0),
            )

    def audit_refusals(self, counts) -> None:
        """Counted refusals of people not logged in (``refusals.RefusalCount``): one refused row per count, no
        actor, no lesson, stamped at the end of its window (or now, if earlier), all in one transaction."""
        now = time.time()
        with self.transaction() as db:
            db.executemany(
                "INSERT INTO audit_log(at, actor_id, action, lesson_id, detail, allowed) VALUES (?,?,?,NULL,?,0)",
                [(min(now, c.window_end), None, c.action, _clean_text(c.detail, 500)) for c in counts],
            )

    def audit_entries(self, lesson_id: str | None = None, limit: int = 1000) -> list[AuditEntry]:
        if lesson_id:
            rows = self._db.execute(
                "SELECT * FROM audit_log WHERE lesson_id=? ORDER BY id DESC LIMIT ?", (lesson_id, limit)
            ).fetchall()
        else:
            rows = self._db.execute("SELECT * FROM audit_log ORDER BY id DESC LIMIT ?", (limit,)).fetchall()
        return [AuditEntry(r["id"], r["at"], r["actor_id"], r["action"], r["lesson_id"], r["detail"], bool(r["allowed"]))
                for r in rows]

    # -- erasure --------------------------------------------------------------------------------------------------------
    def delete_lesson(self, user: User | None, lesson_id: str, reason: str) -> None:
        """Erase a lesson: media files, stage results, bookmarks, records, jobs.  ``user`` None = operator/purge."""
        if user is not None:
            self.require_access(user, lesson_id, "lesson.delete", owner_only=True)
        lesson_dir = self.media_dir / lesson_id
        with self.transaction() as db:
            db.execute("DELETE FROM lessons WHERE id=?", (lesson_id,))  # cascades to every child table
        if _is_lesson_id(lesson_id) and lesson_dir.is_dir():
            shutil.rmtree(lesson_dir)
        self.audit(user.id if user else None, "lesson.erase", lesson_id, reason)

    def expired_lessons(self, now: float | None = None) -> list[Lesson]:
        now = time.time() if now is None else now
        rows = self._db.execute(
            "SELECT * FROM lessons WHERE expires_at IS NOT NULL AND expires_at <= ?", (now,)
        ).fetchall()
        return [_lesson(r) for r in rows]

    def set_meeting_date(self, user: User, lesson_id: str, meeting_at: float) -> Lesson:
        self.require_access(user, lesson_id, "meeting.date")
        expires = meeting_at + self.settings.retention_days_after_meeting * DAY_S
        return self.update_lesson(lesson_id, meeting_at=meeting_at, expires_at=expires)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _remove_dead_work_dirs(work_root: Path) -> None:
    for entry in work_root.iterdir():
        if entry.is_dir() and entry.name.isdigit() and not _pid_alive(int(entry.name)):
            shutil.rmtree(entry, ignore_errors=True)
        elif entry.is_file():  # never expected: plaintext outside a process folder
            entry.unlink(missing_ok=True)


def _user(row: sqlite3.Row) -> User:
    return User(int(row["id"]), row["username"], row["display_name"], row["role"])


def _lesson(row: sqlite3.Row) -> Lesson:
    return Lesson(
        id=row["id"], owner_id=int(row["owner_id"]), title=row["title"], original_name=row["original_name"],
        created_at=row["created_at"], status=row["status"], duration_s=float(row["duration_s"]),
        policy_name=row["policy_name"], policy_version=int(row["policy_version"]), meeting_at=row["meeting_at"],
        expires_at=row["expires_at"], error=row["error"], settings=json.loads(row["settings"] or "{}"),
    )


def _field_context(table: str, column: str, key: Sequence[object]) -> str:
    return f"{table}.{column}:" + ":".join(str(k) for k in key)


def _job(row: sqlite3.Row) -> Job:
    return Job(int(row["id"]), row["lesson_id"], row["kind"], row["status"], row["stage"], float(row["progress"]),
               row["message"], row["created_at"], row["updated_at"])


def _session_hash(raw: str) -> str:
    return hashlib.sha256(b"videocoach login session\0" + raw.encode()).hexdigest()


def _is_lesson_id(value: str) -> bool:
    return isinstance(value, str) and len(value) == 32 and all(c in "0123456789abcdef" for c in value)


def _clean_text(value: Any, limit: int) -> str:
    text = "" if value is None else str(value)
    text = "".join(c for c in text if c in "\n\t" or c.isprintable())
    return text[:limit]


def _clean_tags(tags: Sequence[str]) -> list[str]:
    out: list[str] = []
    for t in tags:
        t = _clean_text(t, 60).strip()
        if t and t not in out:
            out.append(t)
    return out[:20]


def _clamp_range(start_s: float, end_s: float, duration_s: float) -> tuple[float, float]:
    start_s, end_s = float(start_s), float(end_s)
    if end_s < start_s:
        start_s, end_s = end_s, start_s
    start_s = max(0.0, start_s)
    if duration_s > 0:
        start_s, end_s = min(start_s, duration_s), min(end_s, duration_s)
    return start_s, max(start_s, end_s)

