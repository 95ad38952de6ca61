"""What the store hands out: small frozen records (users, lessons, bookmarks, notes, face marks, audit entries, jobs),
the store's errors, and the row converters and input cleaners its parts share.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any, Literal, Sequence

UserRole = Literal["teacher", "coach", "admin"]
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


def user_from_row(row: Any) -> User:
    return User(int(row["id"]), row["username"], row["display_name"], row["role"])


def lesson_from_row(row: Any) -> Lesson:
    return Lesson(
        id=row["id"], owner_id=int(row["owner_id"]), title=row["title"], original_name=row["original_name"],
        created_at=row["created_at"], status=row["status"], duration_s=float(row["duration_s"]),
        policy_name=row["policy_name"], policy_version=int(row["policy_version"]), meeting_at=row["meeting_at"],
        expires_at=row["expires_at"], error=row["error"], settings=json.loads(row["settings"] or "{}"),
    )


def job_from_row(row: Any) -> Job:
    return Job(int(row["id"]), row["lesson_id"], row["kind"], row["status"], row["stage"], float(row["progress"]),
               row["message"], row["created_at"], row["updated_at"])


def session_hash(raw: str) -> str:
    return hashlib.sha256(b"videocoach login session\0" + raw.encode()).hexdigest()


def is_lesson_id(value: str) -> bool:
    return isinstance(value, str) and len(value) == 32 and all(c in "0123456789abcdef" for c in value)


def clean_text(value: Any, limit: int) -> str:
    text = "" if value is None else str(value)
    text = "".join(c for c in text if c in "\n\t" or c.isprintable())
    return text[:limit]


def clean_tags(tags: Sequence[str]) -> list[str]:
    out: list[str] = []
    for t in tags:
        t = clean_text(t, 60).strip()
        if t and t not in out:
            out.append(t)
    return out[:20]


def clamp_range(start_s: float, end_s: float, duration_s: float) -> tuple[float, float]:
    start_s, end_s = float(start_s), float(end_s)
    if end_s < start_s:
        start_s, end_s = end_s, start_s
    start_s = max(0.0, start_s)
    if duration_s > 0:
        start_s, end_s = min(start_s, duration_s), min(end_s, duration_s)
    return start_s, max(start_s, end_s)
