"""What coach and coachee write while reviewing: bookmarks of critical incidents, notes on replayed clips, and the
meeting record.  Part of :class:`~videocoach.storage.store.Store`.
"""

from __future__ import annotations

import json
import time
from typing import Any, Sequence

from videocoach.storage.database import Row
from videocoach.storage.records import (
    Bookmark,
    MeetingRecord,
    NotFound,
    ReplayNote,
    User,
    clamp_range,
    clean_tags,
    clean_text,
)


class ReviewNotesMixin:
    """Part of :class:`Store`."""

    # -- bookmarks ------------------------------------------------------------------------------------------------------
    def add_bookmark(
        self, user: User, lesson_id: str, start_s: float, end_s: float, note: str = "", tags: Sequence[str] = (),
        trigger: str = "", outcome: str = "",
    ) -> Bookmark:
        lesson = self.require_access(user, lesson_id, "bookmark.add")
        start_s, end_s = clamp_range(start_s, end_s, lesson.duration_s)
        now = time.time()
        with self.transaction() as db:
            cur = db.execute(
                "INSERT INTO bookmarks(lesson_id, author_id, start_s, end_s, note, tags, trigger, outcome, created_at,"
                " updated_at) VALUES (?,?,?,?,?,?,?,?,?,?) RETURNING id",
                (lesson_id, user.id, start_s, end_s,
                 self._seal("bookmarks", "note", (lesson_id,), clean_text(note, 5000)), json.dumps(clean_tags(tags)),
                 self._seal("bookmarks", "trigger", (lesson_id,), clean_text(trigger, 2000)),
                 self._seal("bookmarks", "outcome", (lesson_id,), clean_text(outcome, 2000)), now, now),
            )
            bookmark_id = int(cur.fetchone()[0])
        self.audit(user.id, "bookmark.add", lesson_id, f"bookmark={bookmark_id}")
        return self.bookmark(bookmark_id)

    def _bookmark(self, row: Row) -> Bookmark:
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
        start_s, end_s = clamp_range(values.pop("start_s", bm.start_s), values.pop("end_s", bm.end_s), lesson.duration_s)
        fields = {
            "note": clean_text(values.pop("note", bm.note), 5000),
            "tags": json.dumps(clean_tags(values.pop("tags", bm.tags))),
            "trigger": clean_text(values.pop("trigger", bm.trigger), 2000),
            "outcome": clean_text(values.pop("outcome", bm.outcome), 2000),
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
                "INSERT INTO replay_notes(bookmark_id, author_id, note, created_at) VALUES (?,?,?,?) RETURNING id",
                (bookmark_id, user.id, self._seal("replay_notes", "note", (bookmark_id,), clean_text(note, 5000)),
                 time.time()),
            )
            note_id = int(cur.fetchone()[0])
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
            "follow_up": clean_text(record.follow_up, 10000),
            "successes": clean_text(record.successes, 10000),
            "challenges": clean_text(record.challenges, 10000),
            "focus": clean_text(record.focus, 2000),
            "action_steps": [[clean_text(s, 1000), clean_text(d, 40)] for s, d in record.action_steps],
            "next_meeting": clean_text(record.next_meeting, 40),
        }
        now = time.time()
        with self.transaction() as db:
            db.execute(
                "INSERT INTO meeting_records(lesson_id, record, updated_by, updated_at) VALUES (?,?,?,?)"
                " ON CONFLICT (lesson_id) DO UPDATE SET record=excluded.record, updated_by=excluded.updated_by,"
                " updated_at=excluded.updated_at",
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
