"""A lesson's media files, sealed at rest under ``data_dir/media/<lesson id>/`` with server-made names; transient
plaintext working copies; the per-lesson processing lock.  Part of :class:`~videocoach.storage.store.Store`.
"""

from __future__ import annotations

import contextlib
import secrets
import time
from pathlib import Path
from typing import BinaryIO, Iterator

from videocoach.storage.records import LessonBusy, NotFound, is_lesson_id


class MediaFilesMixin:
    """Part of :class:`Store`."""

    # -- media ----------------------------------------------------------------------------------------------------------
    def _new_media_path(self, lesson_id: str) -> Path:
        if not is_lesson_id(lesson_id):
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
                    "INSERT INTO media(lesson_id, kind, relpath, size_bytes, created_at) VALUES (?,?,?,?,?)"
                    " ON CONFLICT (lesson_id, kind) DO UPDATE SET relpath=excluded.relpath,"
                    " size_bytes=excluded.size_bytes, created_at=excluded.created_at",
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
        """Exclusive processing of one lesson across processes (the CLI and the worker never run it twice at once).
        On PostgreSQL a session advisory lock, across machines; on SQLite (one machine) a lock file."""
        import fcntl

        if not is_lesson_id(lesson_id):
            raise ValueError("bad lesson id")
        if not self._db.is_sqlite:
            with self._db.advisory_lock(f"videocoach lesson {lesson_id}") as got:
                if not got:
                    raise LessonBusy("this lesson is being processed by another process")
                yield
            return
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
