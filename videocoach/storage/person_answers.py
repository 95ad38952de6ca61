"""The owner's answers about the people of a lesson: "No, not me" about a person the lesson asked about (or showed
as the teacher).  Such a person stays hidden and is not asked about again in that lesson.  Only the person's id in
the lesson's people step is kept (the smallest of its face-track ids), with who answered and when: nothing
biometric.  A new face detection numbers tracks afresh, so the answers go with the old tracks
(``ResultsMixin.clear_stages``).  Part of :class:`~videocoach.storage.store.Store`.
"""

from __future__ import annotations

import time

from videocoach.storage.records import User

NOT_ME = "not_me"


class PersonAnswersMixin:
    """Part of :class:`Store`."""

    def say_not_me(self, user: User, lesson_id: str, person_id: int) -> None:
        """Owner only (it decides who may be shown to everyone who sees the lesson); audited like a face mark."""
        self.require_access(user, lesson_id, "people.not_me", owner_only=True)
        with self.transaction() as db:
            db.execute("INSERT INTO person_answers(lesson_id, person_id, answer, answered_by, created_at)"
                       " VALUES (?,?,?,?,?) ON CONFLICT (lesson_id, person_id) DO NOTHING",
                       (lesson_id, int(person_id), NOT_ME, user.id, time.time()))
        self.audit(user.id, "people.not_me", lesson_id, f"person={int(person_id)}")

    def undo_not_me(self, user: User, lesson_id: str, person_id: int) -> None:
        """Owner only: the person may be asked about again."""
        self.require_access(user, lesson_id, "people.not_me_undo", owner_only=True)
        with self.transaction() as db:
            db.execute("DELETE FROM person_answers WHERE lesson_id=? AND person_id=?", (lesson_id, int(person_id)))
        self.audit(user.id, "people.not_me_undo", lesson_id, f"person={int(person_id)}")

    def not_me(self, lesson_id: str) -> frozenset[int]:
        """The person ids the owner said are not them, for the pipeline (no access check: never for a view)."""
        rows = self._db.execute("SELECT person_id FROM person_answers WHERE lesson_id=? AND answer=?",
                                (lesson_id, NOT_ME)).fetchall()
        return frozenset(int(r["person_id"]) for r in rows)
