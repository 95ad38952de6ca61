"""Which diarisation speakers are the teacher.

With an enrolled teacher voice (a few seconds of the teacher alone: a time range of this lesson or a stored sample)
each speaker's windows are scored against it; without one, an automatic guess from talk time, long turns and spread
through the lesson.  A reviewer's correction is simply ``RoleAssignment(frozenset({...}), 1.0, "manual")``.

Pure functions over what is passed in: no I/O and no model loading here (the diariser embeds the teacher sample).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterable, Protocol, Sequence

import numpy as np

from videocoach.core.model import Diarization, RoleAssignment, Span, Turn

SAMPLE_RATE = 16000
# A speaker other than the best match is also the teacher when its windows are at least this similar to the
# enrolled voice (diarisation may split one voice in two) and within EXTRA_TEACHER_MARGIN of the best match.
EXTRA_TEACHER_SIMILARITY = 0.80
EXTRA_TEACHER_MARGIN = 0.05
# Confidence of an enrolment: the margin between the teacher and the best pupil, over this margin, is 1.0.
FULL_CONFIDENCE_MARGIN = 0.15
# Below this similarity the best match is probably not the enrolled teacher at all.
MIN_TEACHER_SIMILARITY = 0.60


class EmbeddingsSource(Protocol):
    """What can turn a voice sample into one embedding (``videocoach.audio.diarize.Diarizer`` is one)."""

    def embed_sample(self, audio: np.ndarray) -> np.ndarray: ...


@dataclass(frozen=True)
class TeacherVoice:
    """An enrolled teacher voice: the mean L2-normalised voice embedding of a sample of the teacher alone."""

    embedding: tuple[float, ...]
    source: str = ""  # where it came from, e.g. "lesson 12.0-16.0 s" or a stored sample's name

    def __post_init__(self) -> None:
        if not self.embedding or not all(math.isfinite(x) for x in self.embedding):
            raise ValueError("a teacher voice needs a non-empty, finite embedding")

    def as_array(self) -> np.ndarray:
        v = np.asarray(self.embedding, dtype=np.float64)
        return v / max(float(np.linalg.norm(v)), 1e-12)

    def to_list(self) -> list[float]:
        """For storing per teacher (JSON); ``TeacherVoice.from_list`` reads it back."""
        return [float(x) for x in self.embedding]

    @staticmethod
    def from_list(values: Iterable[float], source: str = "") -> "TeacherVoice":
        return TeacherVoice(tuple(float(x) for x in values), source)


def teacher_sample_from_span(audio: np.ndarray, span: Span, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """The samples of ``audio`` inside ``span`` (a stretch of this lesson where the teacher talks alone)."""
    audio = np.asarray(audio)
    if audio.ndim != 1:
        raise ValueError("audio must be 1-D mono")
    start = int(round(span.start * sample_rate))
    end = min(int(round(span.end * sample_rate)), audio.size)
    if end <= start:
        raise ValueError(f"the teacher sample {span.start:.2f}-{span.end:.2f} s lies outside the audio")
    return audio[start:end]


def enrol_teacher(embeddings_source: EmbeddingsSource, audio_sample: np.ndarray, source: str = "") -> TeacherVoice:
    """Enrol a teacher from a voice sample (16 kHz mono; a few seconds of the teacher alone)."""
    emb = np.asarray(embeddings_source.embed_sample(np.asarray(audio_sample, dtype=np.float32)), dtype=np.float64)
    emb = emb / max(float(np.linalg.norm(emb)), 1e-12)
    return TeacherVoice(tuple(float(x) for x in emb), source)


def assign_roles(
    diarization: Diarization,
    window_times: np.ndarray,
    window_embeddings: np.ndarray,
    teacher: TeacherVoice | None,
) -> RoleAssignment:
    """Pick the teacher's speaker label(s).

    ``window_times`` is (n, 2) window spans in seconds (or (n,) centres) and ``window_embeddings`` (n, d) their
    L2-normalised embeddings, as ``Diarizer.run(...).windows`` gives them.  With ``teacher``: each speaker's mean
    window embedding is compared with the enrolled voice; the best is the teacher, plus any speaker almost as
    similar (a split teacher).  Without: ``auto_roles``.
    """
    speakers = diarization.speakers
    if not speakers:
        return RoleAssignment(frozenset(), 0.0, "none")
    if teacher is None:
        return auto_roles(diarization.turns)

    emb = np.asarray(window_embeddings, dtype=np.float64)
    owner = window_speakers(diarization.turns, window_times)
    voice = teacher.as_array()
    if emb.ndim != 2 or emb.shape[0] != len(owner):
        raise ValueError(f"window embeddings {emb.shape} do not match {len(owner)} window times")
    if emb.shape[1] != voice.size:
        raise ValueError(
            f"the teacher voice has {voice.size} numbers but this lesson's voice windows have {emb.shape[1]}: it was "
            "enrolled with another voice model; enrol the teacher again"
        )
    scores: dict[str, float] = {}
    for spk in speakers:
        mine = emb[np.array([o == spk for o in owner], dtype=bool)] if len(owner) else emb[:0]
        if mine.shape[0] == 0:
            continue
        centroid = mine.mean(axis=0)
        scores[spk] = float(centroid @ voice / max(float(np.linalg.norm(centroid)), 1e-12))
    if not scores:  # no window lies inside any turn: fall back to the guess
        return auto_roles(diarization.turns)

    ranked = sorted(scores.items(), key=lambda kv: -kv[1])
    best_spk, best = ranked[0]
    teacher_spks = {best_spk} | {
        s for s, v in ranked[1:] if v >= EXTRA_TEACHER_SIMILARITY and v >= best - EXTRA_TEACHER_MARGIN
    }
    pupils = [v for s, v in ranked if s not in teacher_spks]
    margin = best - max(pupils) if pupils else best - MIN_TEACHER_SIMILARITY
    confidence = float(np.clip(margin / FULL_CONFIDENCE_MARGIN, 0.0, 1.0))
    if best < MIN_TEACHER_SIMILARITY:  # nobody sounds like the enrolled teacher
        confidence *= 0.5
    return RoleAssignment(
        frozenset(teacher_spks), round(confidence, 3), "enrolment",
        tuple((s, round(v, 4)) for s, v in sorted(scores.items())),
    )


def auto_roles(turns: Sequence[Turn]) -> RoleAssignment:
    """Guess the teacher without enrolment: most talk, longest turns, and talk spread through the lesson.

    Score = 0.6 * share of talk + 0.2 * share of the ten longest turns + 0.2 * share of lesson tenths spoken in.
    Confidence is the relative lead of the top score over the runner-up (0.5 for a lone speaker: the only voice in
    a lesson is most likely the teacher, but nothing confirms it).  ``scores`` holds each speaker's share of talk.
    """
    turns = [t for t in turns if t.duration > 0]
    if not turns:
        return RoleAssignment(frozenset(), 0.0, "none")
    speakers = sorted({t.speaker for t in turns})
    talk = {s: sum(t.duration for t in turns if t.speaker == s) for s in speakers}
    total_talk = sum(talk.values())
    share = {s: talk[s] / total_talk for s in speakers}
    longest = sorted(turns, key=lambda t: -t.duration)[:10]
    long_total = sum(t.duration for t in longest)
    long_share = {s: sum(t.duration for t in longest if t.speaker == s) / long_total for s in speakers}
    t0, t1 = min(t.start for t in turns), max(t.end for t in turns)
    tenths = [Span(t0 + (t1 - t0) * i / 10, t0 + (t1 - t0) * (i + 1) / 10) for i in range(10)]
    spread = {s: sum(any(t.span.overlap_s(p) > 0 for t in turns if t.speaker == s) for p in tenths) / 10
              for s in speakers}
    spread_total = sum(spread.values()) or 1.0
    score = {s: 0.6 * share[s] + 0.2 * long_share[s] + 0.2 * spread[s] / spread_total for s in speakers}
    ranked = sorted(speakers, key=lambda s: -score[s])
    top = ranked[0]
    if len(ranked) == 1:
        confidence = 0.5
    else:
        confidence = (score[top] - score[ranked[1]]) / score[top]
    return RoleAssignment(
        frozenset({top}), round(float(np.clip(confidence, 0.0, 1.0)), 3), "auto",
        tuple((s, round(share[s], 4)) for s in speakers),
    )


def window_speakers(turns: Sequence[Turn], window_times: np.ndarray) -> list[str | None]:
    """The speaker whose turns overlap each window most (None for a window outside every turn)."""
    times = np.asarray(window_times, dtype=np.float64)
    if times.ndim == 1:
        times = np.stack([times, times], axis=1)
    if times.size == 0:
        return []
    ordered = sorted(turns, key=lambda t: t.start)
    starts = np.array([t.start for t in ordered])
    out: list[str | None] = []
    for ws, we in times:
        weights: dict[str, float] = {}
        hi = int(np.searchsorted(starts, we, side="right"))
        for t in ordered[max(0, hi - 64) : hi]:  # turns starting before the window ends (and recent enough)
            if we > ws:
                ov = min(we, t.end) - max(ws, t.start)
            else:  # a centre point
                ov = 1.0 if t.start <= ws <= t.end else 0.0
            if ov > 0:
                weights[t.speaker] = weights.get(t.speaker, 0.0) + ov
        out.append(max(weights, key=weights.__getitem__) if weights else None)
    return out


__all__ = [
    "EmbeddingsSource",
    "TeacherVoice",
    "assign_roles",
    "auto_roles",
    "enrol_teacher",
    "teacher_sample_from_span",
    "window_speakers",
]
