"""The append-only audit log: who did what to which lesson, allowed or refused; refusals of people not logged in
arrive counted per address and minute.  Part of :class:`~videocoach.storage.store.Store`.
"""

from __future__ import annotations

import time

from videocoach.storage.records import AuditEntry, clean_text


class AuditLogMixin:
    """Part of :class:`Store`."""

    # -- audit ----------------------------------------------------------------------------------------------------------
    def audit(self, actor_id: int | None, action: str, lesson_id: str | None, detail: str = "", *, allowed: bool = True) -> None:
        with self.transaction() as db:
            db.execute(
                "INSERT INTO audit_log(at, actor_id, action, lesson_id, detail, allowed) VALUES (?,?,?,?,?,?)",
                (time.time(), actor_id, action, lesson_id, clean_text(detail, 500), 1 if allowed else 0),
            )

    def audit_refusals(self, counts) -> None:
        """Counted refusals of people not logged in (``refusals.RefusalCount``): one refused row per count, no
        actor, no lesson, stamped at the end of its window (or now, if earlier), all in one transaction."""
        now = time.time()
        with self.transaction() as db:
            db.executemany(
                "INSERT INTO audit_log(at, actor_id, action, lesson_id, detail, allowed) VALUES (?,?,?,NULL,?,0)",
                [(min(now, c.window_end), None, c.action, clean_text(c.detail, 500)) for c in counts],
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

    def views_of_lessons_owned_by(self, owner_id: int, limit: int = 200) -> list[AuditEntry]:
        """Who else opened the videos of this teacher's lessons (allowed ``media.*`` rows by another account),
        newest first: the teacher sees when her coach watched.  Reads only rows about lessons she owns."""
        rows = self._db.execute(
            "SELECT a.* FROM audit_log a JOIN lessons l ON a.lesson_id = l.id WHERE l.owner_id = ? "
            "AND a.actor_id IS NOT NULL AND a.actor_id != ? AND a.allowed = 1 AND a.action LIKE 'media.%' "
            "ORDER BY a.id DESC LIMIT ?", (owner_id, owner_id, limit)
        ).fetchall()
        return [AuditEntry(r["id"], r["at"], r["actor_id"], r["action"], r["lesson_id"], r["detail"], bool(r["allowed"]))
                for r in rows]
