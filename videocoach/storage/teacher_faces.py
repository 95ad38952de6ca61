"""The teacher's face print: face descriptors kept per teacher (sealed like the voice print), so that later lessons
show the teacher without any marking; the teacher can withdraw it.  Part of :class:`~videocoach.storage.store.Store`.

Withdrawing deletes the print and stops every lesson of that teacher whose rendition showed the teacher through it:
the rendition is deleted at once (nothing plays), and a re-render with the teacher hidden is queued.  A lesson that
only asked "Is this you?" because of the print stops asking.
"""

from __future__ import annotations

import json
import time

from videocoach.storage.records import User

PEOPLE_STAGE = "people"


class TeacherFacesMixin:
    """Part of :class:`Store`."""

    def save_teacher_face(self, user: User, face_json: str, source: str) -> None:
        """Keep (replace) this teacher's face print: their own only."""
        json.loads(face_json)  # refuse anything that is not JSON before sealing it
        with self.transaction() as db:
            db.execute("INSERT INTO teacher_faces(user_id, face, created_at) VALUES (?,?,?) ON CONFLICT (user_id)"
                       " DO UPDATE SET face=excluded.face, created_at=excluded.created_at",
                       (user.id, self._seal("teacher_faces", "face", (user.id,), face_json), time.time()))
        self.audit(user.id, "face.enrol", None, f"teacher face print kept ({source[:200]})")

    def teacher_face(self, user_id: int) -> str | None:
        """The sealed face print, opened (for the pipeline of that teacher's own lessons only)."""
        row = self._db.execute("SELECT face FROM teacher_faces WHERE user_id=?", (user_id,)).fetchone()
        return self._open("teacher_faces", "face", (user_id,), row["face"]) if row else None

    def withdraw_teacher_face(self, user: User) -> list[str]:
        """Delete this teacher's face print; every lesson that showed them through it is stopped and re-rendered
        with the teacher hidden.  Returns the ids of those lessons."""
        with self.transaction() as db:
            db.execute("DELETE FROM teacher_faces WHERE user_id=?", (user.id,))
        affected = []
        for lesson in self.lessons_for(user):
            if lesson.owner_id != user.id:
                continue
            text = self.stage(lesson.id, PEOPLE_STAGE)
            if text is None:
                continue
            found = json.loads(text)
            if not found.get("teacher_track_ids"):
                if found.get("suggested_by") == "print":  # "Is this you?" asked because of the print: not any more
                    found.update(suggested_teacher=None, suggested_by=None, enrolled=False)
                    self.save_stage(lesson.id, PEOPLE_STAGE, json.dumps(found, separators=(",", ":")))
                continue
            with self.transaction() as db:
                db.executemany("DELETE FROM stages WHERE lesson_id=? AND stage=?",
                               [(lesson.id, s) for s in (PEOPLE_STAGE, "render", "audit")])
                db.execute("UPDATE lessons SET status='processing' WHERE id=?", (lesson.id,))
            self.delete_media(lesson.id, "redacted")  # nothing plays with the teacher shown meanwhile
            self.enqueue_job(lesson.id, "rerender", {})
            affected.append(lesson.id)
        self.audit(user.id, "face.withdraw", None, f"teacher face print withdrawn; {len(affected)} lessons re-rendered")
        return affected
