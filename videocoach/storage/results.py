"""What the pipeline stores for a lesson: each stage's result (sealed JSON), the teacher's voice print, and the face
marks and findings that decide what others see (owner only).  Part of :class:`~videocoach.storage.store.Store`.
"""

from __future__ import annotations

import time
from typing import Sequence

from videocoach.storage.records import FaceMark, Lesson, User, clean_text


class ResultsMixin:
    """Part of :class:`Store`."""

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

    # -- stage results --------------------------------------------------------------------------------------------------
    def save_stage(self, lesson_id: str, stage: str, result_json: str) -> None:
        with self.transaction() as db:
            db.execute(
                "INSERT INTO stages(lesson_id, stage, result, finished_at) VALUES (?,?,?,?) ON CONFLICT (lesson_id, stage)"
                " DO UPDATE SET result=excluded.result, finished_at=excluded.finished_at",
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
                # the people found (and the teacher's tracks shown) name track ids of that run too
                db.execute("DELETE FROM stages WHERE lesson_id=? AND stage='people'", (lesson_id,))
                db.execute("DELETE FROM person_answers WHERE lesson_id=?", (lesson_id,))  # "not me" named them too

    # -- teacher voices -------------------------------------------------------------------------------------------------
    def save_teacher_voice(self, user_id: int, voice_json: str) -> None:
        with self.transaction() as db:
            db.execute("INSERT INTO teacher_voices(user_id, voice, created_at) VALUES (?,?,?) ON CONFLICT (user_id)"
                       " DO UPDATE SET voice=excluded.voice, created_at=excluded.created_at",
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
        record = clean_text(consent_record, 500).strip() or None
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
