"""The background jobs table: queued analyses and re-renders, the durable record of each (the task queue only
carries job ids, see :mod:`videocoach.tasks`), claimed by a worker.  Part of
:class:`~videocoach.storage.store.Store`.
"""

from __future__ import annotations

import json
import time
from typing import Any

from videocoach.storage.records import Job, NotFound, job_from_row


class JobsMixin:
    """Part of :class:`Store`."""

    # -- jobs (background processing) -----------------------------------------------------------------------------------
    def enqueue_job(self, lesson_id: str, kind: str, params: dict | None = None) -> int:
        now = time.time()
        with self.transaction() as db:
            cur = db.execute(
                "INSERT INTO jobs(lesson_id, kind, status, params, created_at, updated_at) VALUES (?,?,?,?,?,?)"
                " RETURNING id",
                (lesson_id, kind, "queued", json.dumps(params or {}), now, now),
            )
        return int(cur.fetchone()[0])

    def claim_job(self) -> tuple[Job, dict] | None:
        """Take the oldest queued job (atomically: two workers never take the same one)."""
        with self.transaction() as db:
            row = db.execute("SELECT * FROM jobs WHERE status='queued' ORDER BY id LIMIT 1"
                             + ("" if self._db.is_sqlite else " FOR UPDATE SKIP LOCKED")).fetchone()
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
        return job_from_row(row)

    def jobs_for_lesson(self, lesson_id: str) -> list[Job]:
        rows = self._db.execute("SELECT * FROM jobs WHERE lesson_id=? ORDER BY id", (lesson_id,)).fetchall()
        return [job_from_row(r) for r in rows]

    def start_job(self, job_id: int) -> tuple[Job, dict] | None:
        """Take this queued job (atomically: of two workers handed the same job, one gets it); None when it is not
        queued (done, failed, running elsewhere, or erased with its lesson)."""
        with self.transaction() as db:
            row = db.execute("UPDATE jobs SET status='running', updated_at=? WHERE id=? AND status='queued'"
                             " RETURNING *", (time.time(), job_id)).fetchone()
        return (job_from_row(row), json.loads(row["params"])) if row else None

    def queued_job_ids(self, older_than_s: float = 0.0) -> list[int]:
        """Jobs waiting to run (with ``older_than_s``: only those queued at least that long ago)."""
        rows = self._db.execute("SELECT id FROM jobs WHERE status='queued' AND updated_at <= ? ORDER BY id",
                                (time.time() - older_than_s,)).fetchall()
        return [int(r[0]) for r in rows]

    def requeue_stale_job_ids(self, older_than_s: float = 0.0) -> list[int]:
        """Jobs left 'running' by a killed worker (no heartbeat for ``older_than_s``) go back to the queue; their
        ids, for the task queue to hand out again (the pipeline resumes from its last finished stage)."""
        with self.transaction() as db:
            rows = db.execute(
                "UPDATE jobs SET status='queued', message='resumed after interruption' WHERE status='running'"
                " AND updated_at <= ? RETURNING id",
                (time.time() - older_than_s,),
            ).fetchall()
        return sorted(int(r[0]) for r in rows)

    def requeue_stale_jobs(self, older_than_s: float = 0.0) -> int:
        """Jobs left 'running' by a killed worker go back to the queue (the pipeline resumes from its last stage)."""
        return len(self.requeue_stale_job_ids(older_than_s))
