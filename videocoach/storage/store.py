"""The store: a database (SQLite in WAL mode by default, PostgreSQL with ``VIDEOCOACH_DATABASE_URL``; see
:mod:`videocoach.storage.database` and :mod:`videocoach.storage.migrate`) for lessons, stage results, users, shares, bookmarks, meeting records and the audit log;
media files sealed by :mod:`videocoach.storage.vault` under ``data_dir/media/<lesson id>/`` with server-generated names.

Access rule, checked here and nowhere else: a lesson is visible to its owner (a teacher) and to the coaches the owner
shares it with.  Every refusal is written to the append-only audit log.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import time
import uuid
from pathlib import Path
from typing import Any, Sequence

from videocoach.config import Settings
from videocoach.storage.audit_log import AuditLogMixin
from videocoach.storage.jobs import JobsMixin
from videocoach.storage.media_files import MediaFilesMixin
from videocoach.storage.people import PeopleMixin
from videocoach.storage.person_answers import PersonAnswersMixin
from videocoach.storage.records import (
    DAY_S,
    AccessDenied,
    Lesson,
    NotFound,
    User,
    clean_text,
    is_lesson_id,
    lesson_from_row,
)
from videocoach.storage.results import ResultsMixin
from videocoach.storage.teacher_faces import TeacherFacesMixin
from videocoach.storage.review_notes import ReviewNotesMixin
from videocoach.storage import migrate
from videocoach.storage.database import Database, Tx, sqlite_url
from videocoach.storage.schema import field_context
from videocoach.storage.vault import Vault, load_or_create_key


class Store(PeopleMixin, PersonAnswersMixin, MediaFilesMixin, ResultsMixin, TeacherFacesMixin, ReviewNotesMixin,
            JobsMixin, AuditLogMixin):
    """One deployment's database and media.  Cheap to open; open one per thread/process."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.data_dir = Path(settings.data_dir)
        self.media_dir = self.data_dir / "media"
        # transient plaintext working files only, one folder per process; a killed process's folder is removed by the
        # next store opened on this machine (SIGKILL runs no cleanup of its own).  With a shared queue the data
        # directory is a shared mount: unless a local VIDEOCOACH_WORK_DIR is set, each machine keeps to a folder of
        # its own there (another machine's process ids mean nothing here)
        work_root = Path(settings.work_dir) if settings.work_dir else self.data_dir / "work"
        if settings.queue_url and not settings.work_dir:
            work_root = work_root / socket.gethostname()
        self.work_dir = work_root / str(os.getpid())
        for d in (self.data_dir, self.media_dir, work_root, self.work_dir):
            d.mkdir(parents=True, exist_ok=True, mode=0o700)
        _remove_dead_work_dirs(work_root)
        self.vault = Vault(load_or_create_key(settings.key_file, self.data_dir), work_dir=self.work_dir)
        self.db_path = self.data_dir / "videocoach.sqlite3"  # the embedded default; unused with a database URL
        self._db = Database(settings.database_url or sqlite_url(self.db_path))
        try:
            if migrate.upgrade(self._db, self._seal) and self._db.is_sqlite:
                # old plaintext fields were sealed: rewrite the file so none stays in free pages or the WAL
                self._db.execute("VACUUM")
                self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            self._forget_unrecorded_consent()
        except BaseException:
            self._db.close()
            raise

    # -- sealed fields ----------------------------------------------------------------------------------------------
    def _seal(self, table: str, column: str, key: Sequence[object], text: str) -> str:
        return self.vault.seal_text(text, field_context(table, column, key))

    def _open(self, table: str, column: str, key: Sequence[object], value: str) -> str:
        return self.vault.open_text(value, field_context(table, column, key))

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

    def transaction(self) -> contextlib.AbstractContextManager[Tx]:
        """BEGIN (IMMEDIATE on SQLite) … COMMIT: writers queue on the lock instead of failing or losing updates."""
        return self._db.transaction()


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
                    clean_text(title, 200) or "Untitled lesson",
                    clean_text(original_name, 255),
                    now,
                    "uploaded",
                    policy_name,
                    None,
                    json.dumps(settings or {}),
                ),
            )
        self.audit(owner.id, "lesson.create", lesson_id, clean_text(original_name, 255))
        return self.lesson(lesson_id)

    def lesson(self, lesson_id: str) -> Lesson:
        row = self._db.execute("SELECT * FROM lessons WHERE id=?", (lesson_id,)).fetchone()
        if row is None:
            raise NotFound(f"no lesson {lesson_id}")
        return lesson_from_row(row)

    def all_lessons(self) -> list[Lesson]:
        """Every lesson: for operator commands (CLI, purge), never for a user-facing page."""
        return [lesson_from_row(r) for r in self._db.execute("SELECT * FROM lessons ORDER BY created_at").fetchall()]

    def lessons_for(self, user: User) -> list[Lesson]:
        """The lessons this user may see: their own, and those shared with them."""
        rows = self._db.execute(
            "SELECT * FROM lessons WHERE owner_id=? OR id IN (SELECT lesson_id FROM shares WHERE coach_id=?)"
            " ORDER BY created_at DESC",
            (user.id, user.id),
        ).fetchall()
        return [lesson_from_row(r) for r in rows]

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
            self.audit(user.id if user else None, action, lesson_id if is_lesson_id(lesson_id) else None,
                       "refused", allowed=False)
            raise AccessDenied("no such lesson, or you may not open it")
        return lesson  # type: ignore[return-value]


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


    # -- erasure --------------------------------------------------------------------------------------------------------
    def delete_lesson(self, user: User | None, lesson_id: str, reason: str) -> None:
        """Erase a lesson: media files, stage results, bookmarks, records, jobs.  ``user`` None = operator/purge."""
        if user is not None:
            self.require_access(user, lesson_id, "lesson.delete", owner_only=True)
        lesson_dir = self.media_dir / lesson_id
        with self.transaction() as db:
            db.execute("DELETE FROM lessons WHERE id=?", (lesson_id,))  # cascades to every child table
        if is_lesson_id(lesson_id) and lesson_dir.is_dir():
            shutil.rmtree(lesson_dir)
        self.audit(user.id if user else None, "lesson.erase", lesson_id, reason)

    def expired_lessons(self, now: float | None = None) -> list[Lesson]:
        now = time.time() if now is None else now
        rows = self._db.execute(
            "SELECT * FROM lessons WHERE expires_at IS NOT NULL AND expires_at <= ?", (now,)
        ).fetchall()
        return [lesson_from_row(r) for r in rows]

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
