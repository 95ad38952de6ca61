"""The figures a coach sees, computed once: the command line (``videocoach show``), the Pre-watch page and the
Progress page all read them from here, so they agree to the digit.  Pure: metrics and role turns in, numbers out.

Talk is the partition of ``TalkStats`` (teacher only, pupils only, both at once, many pupils at once where the
babble detector hears group talk nobody was given a turn in, silence), shown as whole percents
that always add up to 100 (largest remainder rounding: the shares are rounded down, and the points left over go to
the shares that lost most).  A turn is a *speaking turn* as ``metrics`` defines it (one speaker's diarisation turns
joined across gaps under ``turn_gap_s`` when nobody else starts in between); the per-voice counts use the same
definition, so a voice panel's teacher turns add up to the summary's.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

from videocoach.core.model import RoleTurn
from videocoach.measures.metrics import LessonMetrics, MetricsSettings, TalkStats, _clamp, _speaking_turns

TALK_PARTS = ("teacher only", "pupils only", "both", "many pupils at once", "silence")


@dataclass(frozen=True)
class TalkPercents:
    """The talk partition in whole percents summing to 100 (0 everywhere for an empty lesson)."""

    teacher_only: int
    pupils_only: int
    both: int
    silence: int
    many_pupils: int = 0  # many pupils at once (group talk without turns): listed only where there is some

    def items(self) -> tuple[tuple[str, int], ...]:
        values = (self.teacher_only, self.pupils_only, self.both, self.many_pupils, self.silence)
        return tuple((name, v) for name, v in zip(TALK_PARTS, values) if name != "many pupils at once" or v)

    def sentence(self) -> str:
        """ "teacher only 44 %, pupils only 24 %, both 1 %, silence 31 %" """
        return ", ".join(f"{name} {pct} %" for name, pct in self.items())


@dataclass(frozen=True)
class LessonFigures:
    """One lesson's headline figures, as every surface shows them."""

    duration_s: float
    talk: TalkPercents
    teacher_turns: int
    pupil_turns: int
    pupil_voices: int  # distinct pupil voices the diariser told apart
    teacher_voices: int
    questions: int
    teacher_questions: int
    pupil_questions: int
    open_percent: int | None  # of the teacher's questions; None when she asked none
    answered_percent: int | None  # of the teacher's questions, answered by one or more pupils
    answered: int
    pupils_engaged: int  # distinct pupil voices who answered a teacher's question
    mean_wait_1_s: float | None
    longest_teacher_talk_s: float


def whole_percents(parts: Sequence[float]) -> tuple[int, ...]:
    """Non-negative parts as whole percents of their sum that add up to exactly 100 (largest remainder)."""
    total = sum(max(0.0, p) for p in parts)
    if total <= 0:
        return tuple(0 for _ in parts)
    exact = [100.0 * max(0.0, p) / total for p in parts]
    floors = [math.floor(x) for x in exact]
    left = 100 - sum(floors)
    for i in sorted(range(len(parts)), key=lambda i: (-(exact[i] - floors[i]), i))[:left]:
        floors[i] += 1
    return tuple(floors)


def talk_percents(talk: TalkStats) -> TalkPercents:
    teacher, pupils, both, many, silence = whole_percents(
        (talk.teacher_only_s, talk.pupil_only_s, talk.overlap_s, talk.many_pupils_s, talk.silence_s))
    return TalkPercents(teacher, pupils, both, silence, many)


def turns_by_speaker(turns: Sequence[RoleTurn], duration_s: float,
                     settings: MetricsSettings = MetricsSettings()) -> dict[str, int]:
    """Speaking turns per voice, by the same definition (and the same clamping to the lesson) as
    ``TalkStats.teacher_turns`` / ``pupil_turns``: a role's counts add up to its total."""
    d = max(0.0, float(duration_s))
    clamped = [c for c in (_clamp(t, d) for t in turns) if c is not None]
    counts: dict[str, int] = {}
    for run in _speaking_turns(clamped, settings.turn_gap_s):
        counts[run.speaker] = counts.get(run.speaker, 0) + 1
    return counts


def _percent(part: int, whole: int) -> int | None:
    return None if whole <= 0 else int(math.floor(100.0 * part / whole + 0.5))


def lesson_figures(metrics: LessonMetrics, turns: Sequence[RoleTurn]) -> LessonFigures:
    """The figures of one lesson from its metrics and its role turns (``LessonAnalysis.role_turns()``)."""
    qs = metrics.question_stats
    teacher_qs = [q for q in metrics.questions if q.role == "teacher"]
    answered = sum(1 for q in teacher_qs if q.response in ("pupil", "pupils"))
    opened = sum(1 for q in teacher_qs if q.qtype == "open")
    voices = {t.speaker: t.role for t in turns}
    return LessonFigures(
        duration_s=metrics.duration_s,
        talk=talk_percents(metrics.talk),
        teacher_turns=metrics.talk.teacher_turns,
        pupil_turns=metrics.talk.pupil_turns,
        pupil_voices=sum(1 for r in voices.values() if r == "pupil"),
        teacher_voices=sum(1 for r in voices.values() if r == "teacher"),
        questions=len(metrics.questions),
        teacher_questions=len(teacher_qs),
        pupil_questions=len(metrics.questions) - len(teacher_qs),
        open_percent=_percent(opened, len(teacher_qs)),
        answered_percent=_percent(answered, len(teacher_qs)),
        answered=answered,
        pupils_engaged=qs.distinct_pupils_engaged,
        mean_wait_1_s=qs.mean_wait_time_1_s,
        longest_teacher_talk_s=metrics.talk.longest_teacher_monologue_s,
    )


__all__ = ["LessonFigures", "TalkPercents", "lesson_figures", "talk_percents", "turns_by_speaker", "whole_percents"]
