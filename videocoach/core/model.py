"""The data model shared by every stage.

Small frozen dataclasses; times are float seconds everywhere and are converted to samples or frames only at the
edges (media decoding, model input).  Changes go through ``dataclasses.replace``.
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass, replace
from typing import Callable, Iterable, Literal

Role = Literal["teacher", "pupil"]
ROLES: tuple[Role, ...] = ("teacher", "pupil")


def _check_span(start: float, end: float) -> None:
    if not (math.isfinite(start) and math.isfinite(end)):
        raise ValueError(f"times must be finite, got start={start!r} end={end!r}")
    if not 0.0 <= start <= end:
        raise ValueError(f"need 0 <= start <= end, got start={start!r} end={end!r}")


@dataclass(frozen=True, order=True)
class Span:
    """A stretch of the lesson, in seconds."""

    start: float
    end: float

    def __post_init__(self) -> None:
        _check_span(self.start, self.end)

    @property
    def duration(self) -> float:
        return self.end - self.start

    @property
    def middle(self) -> float:
        return (self.start + self.end) / 2

    def __and__(self, other: "Span") -> "Span | None":
        """The intersection, or None when the spans do not overlap."""
        start, end = max(self.start, other.start), min(self.end, other.end)
        return Span(start, end) if start < end else None

    def __or__(self, other: "Span") -> "Span":
        """The smallest span covering both."""
        return Span(min(self.start, other.start), max(self.end, other.end))

    def __contains__(self, t: float) -> bool:
        return self.start <= t <= self.end

    def overlap_s(self, other: "Span") -> float:
        both = self & other
        return both.duration if both else 0.0


@dataclass(frozen=True)
class Word:
    """One recognised word with its timing (as faster-whisper's ``Word``)."""

    start: float
    end: float
    text: str
    probability: float = 1.0

    def __post_init__(self) -> None:
        _check_span(self.start, self.end)


@dataclass(frozen=True)
class Utterance:
    """A transcript segment: text with word timings and, once attributed, its speaker and role."""

    start: float
    end: float
    text: str
    words: tuple[Word, ...] = ()
    speaker: str | None = None
    role: Role | None = None
    avg_logprob: float = 0.0
    no_speech_prob: float = 0.0

    def __post_init__(self) -> None:
        _check_span(self.start, self.end)
        if self.role is not None and self.role not in ROLES:
            raise ValueError(f"unknown role {self.role!r}")

    @property
    def span(self) -> Span:
        return Span(self.start, self.end)

    @property
    def duration(self) -> float:
        return self.end - self.start


@dataclass(frozen=True)
class Transcript:
    """What the ASR stage produced."""

    utterances: tuple[Utterance, ...]
    language: str
    engine: str  # e.g. "faster-whisper:base:int8"

    @property
    def text(self) -> str:
        return " ".join(u.text.strip() for u in self.utterances).strip()


@dataclass(frozen=True)
class Turn:
    """A diarisation turn: one anonymous speaker label over a span (an RTTM row)."""

    start: float
    end: float
    speaker: str

    def __post_init__(self) -> None:
        _check_span(self.start, self.end)

    @property
    def span(self) -> Span:
        return Span(self.start, self.end)

    @property
    def duration(self) -> float:
        return self.end - self.start


@dataclass(frozen=True)
class Diarization:
    """Who spoke when, with the speech regions the VAD found (used for silence and activity measures)."""

    turns: tuple[Turn, ...]
    speech: tuple[Span, ...]
    method: str

    @property
    def speakers(self) -> tuple[str, ...]:
        return tuple(sorted({t.speaker for t in self.turns}))


@dataclass(frozen=True)
class RoleAssignment:
    """Which diarisation speakers are the teacher.  Everyone else is a pupil.

    ``method`` is "enrolment", "auto" (a guess; ``confidence`` says how sure) or "manual" (a reviewer said so).
    """

    teacher_speakers: frozenset[str]
    confidence: float
    method: Literal["enrolment", "auto", "manual", "none"]
    scores: tuple[tuple[str, float], ...] = ()  # per speaker: similarity to the teacher, or share of talk for "auto"

    def __post_init__(self) -> None:
        if not 0.0 <= self.confidence <= 1.0:
            raise ValueError(f"confidence must be in [0, 1], got {self.confidence!r}")

    def role_of(self, speaker: str | None) -> Role | None:
        if speaker is None:
            return None
        return "teacher" if speaker in self.teacher_speakers else "pupil"


@dataclass(frozen=True)
class RoleTurn:
    """A diarisation turn with its role: the unit most talk metrics are computed over."""

    start: float
    end: float
    speaker: str
    role: Role

    def __post_init__(self) -> None:
        _check_span(self.start, self.end)
        if self.role not in ROLES:
            raise ValueError(f"unknown role {self.role!r}")

    @property
    def duration(self) -> float:
        return self.end - self.start


@dataclass(frozen=True)
class AudioLevels:
    """A regular series of loudness and voice activity over the lesson, for activity detection.

    ``rms_dbfs[i]``, ``speech_prob[i]`` and ``babble_prob[i]`` describe [i * step_s, (i + 1) * step_s).
    ``babble_prob``: how likely many people talk at once there (``videocoach.audio.babble``); empty in results stored
    before the detector existed, and the step counts as babble at ``babble_threshold`` or over.
    """

    step_s: float
    rms_dbfs: tuple[float, ...]
    speech_prob: tuple[float, ...]
    babble_prob: tuple[float, ...] = ()
    babble_threshold: float = 0.5

    def __post_init__(self) -> None:
        if self.step_s <= 0:
            raise ValueError("step_s must be positive")
        if len(self.rms_dbfs) != len(self.speech_prob):
            raise ValueError("rms_dbfs and speech_prob must have the same length")
        if self.babble_prob and len(self.babble_prob) != len(self.rms_dbfs):
            raise ValueError("babble_prob must be empty or as long as rms_dbfs")


@dataclass(frozen=True)
class MediaInfo:
    """What ffprobe says about an input file."""

    duration_s: float
    container: str
    has_audio: bool
    has_video: bool
    audio_codec: str | None = None
    video_codec: str | None = None
    width: int = 0
    height: int = 0
    fps: float = 0.0
    size_bytes: int = 0


@dataclass(frozen=True)
class LessonAnalysis:
    """Everything the audio pipeline knows about a lesson: the input of every pure metric."""

    duration_s: float
    transcript: Transcript
    diarization: Diarization
    roles: RoleAssignment
    levels: AudioLevels | None = None

    def role_turns(self) -> tuple[RoleTurn, ...]:
        return tuple(
            RoleTurn(t.start, t.end, t.speaker, self.roles.role_of(t.speaker) or "pupil")
            for t in self.diarization.turns
        )

    def utterances(self) -> tuple[Utterance, ...]:
        """Transcript utterances with speaker and role filled in from the diarisation."""
        return attribute_speakers(self.transcript.utterances, self.diarization.turns, self.roles)


def attribute_speakers(
    utterances: Iterable[Utterance], turns: Iterable[Turn], roles: RoleAssignment
) -> tuple[Utterance, ...]:
    """Give each utterance the speaker who talks most during it.

    Each word votes with its overlap with every turn, so that a segment spanning a speaker change goes to whoever
    said most of it; a word in a gap between turns votes a little (1 ms) for the nearest turn at most
    ``NEAREST_TURN_S`` away.  Turns are looked up by bisection, so a 50-minute lesson takes milliseconds.
    """
    index = _TurnIndex(tuple(turns))
    out = []
    for u in utterances:
        weights: dict[str, float] = {}
        for a, b in [(w.start, w.end) for w in u.words] or [(u.start, u.end)]:
            if not index.vote(a, b, weights):
                nearest = index.nearest(a, b)
                if nearest is not None:
                    weights[nearest] = weights.get(nearest, 0.0) + 1e-3
        speaker = max(weights, key=weights.__getitem__) if weights else None
        out.append(replace(u, speaker=speaker, role=roles.role_of(speaker)))
    return tuple(out)


NEAREST_TURN_S = 1.0  # a word in a gap between turns goes to a turn at most this far away


class _TurnIndex:
    """Sorted turns with a running maximum of their ends, for overlap look-ups in O(log n + hits)."""

    def __init__(self, turns: tuple[Turn, ...]) -> None:
        self.turns = sorted(turns, key=lambda t: t.start)  # stable: ties keep the listed order
        self.starts = [t.start for t in self.turns]
        self.reach: list[float] = []  # reach[k]: the latest end among turns[:k + 1]
        self.reach_at: list[int] = []  # ... and which turn has it
        for k, t in enumerate(self.turns):
            if not self.reach or t.end > self.reach[-1]:
                self.reach.append(t.end)
                self.reach_at.append(k)
            else:
                self.reach.append(self.reach[-1])
                self.reach_at.append(self.reach_at[-1])

    def vote(self, a: float, b: float, weights: dict[str, float]) -> bool:
        hi = bisect.bisect_left(self.starts, b)  # turns starting before the piece ends
        lo = bisect.bisect_right(self.reach, a)  # the first turn that could still be going at its start
        hit = False
        for t in self.turns[lo:hi]:
            overlap = min(b, t.end) - max(a, t.start)
            if overlap > 0:
                weights[t.speaker] = weights.get(t.speaker, 0.0) + overlap
                hit = True
        return hit

    def nearest(self, a: float, b: float) -> str | None:
        gaps = []
        hi = bisect.bisect_left(self.starts, b)
        if hi < len(self.turns):
            gaps.append((self.turns[hi].start - b, self.turns[hi].speaker))
        before = bisect.bisect_left(self.starts, a) - 1
        if before >= 0:
            t = self.turns[self.reach_at[before]]
            gaps.append((a - t.end, t.speaker))
        if not gaps:
            return None
        gap, speaker = min(gaps)
        return speaker if gap <= NEAREST_TURN_S else None


# Typed progress callback: (stage name, fraction done in [0, 1]).  The CLI and the UI adapt it.
Progress = Callable[[str, float], None]


def no_progress(stage: str, fraction: float) -> None:  # the no-op default
    return None


__all__ = [
    "AudioLevels",
    "Diarization",
    "LessonAnalysis",
    "MediaInfo",
    "Progress",
    "ROLES",
    "Role",
    "RoleAssignment",
    "RoleTurn",
    "Span",
    "Transcript",
    "Turn",
    "Utterance",
    "Word",
    "attribute_speakers",
    "no_progress",
]
