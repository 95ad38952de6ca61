"""The Figure 9 measures of a lesson, as pure functions over the data model (no I/O, no models).

``compute_metrics(analysis)`` bundles them into ``LessonMetrics``; it is cheap, and is simply run again whenever a
reviewer corrects which speaker is the teacher.  ``compare_lessons`` lines up several lessons of one teacher.

Talk time (``TalkStats``) is measured over the diarisation turns, clamped to [0, duration], and the babble
detector's stretches (``AudioLevels.babble_prob``).  At every instant the lesson is in exactly one of five states,
and the five **shares** are of this partition, so they sum to 1:

- teacher only (``teacher_only_s``, ``teacher_share``): a teacher speaker talks and no pupil does;
- pupil only (``pupil_only_s``, ``pupil_share``): one or more pupils talk, the teacher does not;
- overlap (``overlap_s``, ``overlap_share``): teacher and at least one pupil at once;
- many pupils at once (``many_pupils_s``, ``many_pupils_share``): no turn, but the babble detector hears many
  voices at once (pair and group talk, which the diariser cannot split into speakers);
- silence (``silence_s``, ``silence_share``): neither (the VAD may still hear speech nobody was given: that is
  reported as ``unattributed_speech_s``, a part of the silence by turns).  Without a babble series (no levels, or
  levels stored before the detector) many pupils at once is 0 and this is the old four-way partition.

``teacher_s`` / ``pupil_s`` are all the time each role talks (overlap counted in both), and ``teacher_talk_share`` /
``pupil_talk_share`` their fractions of the lesson (these two do not form a partition).  ``pupil_overlap_s`` is the
time two or more different pupils talk at once (a sign of group work).

Turns: a speaking turn is a run of one speaker's diarisation turns with gaps under ``turn_gap_s`` and nobody else
starting in between.  The longest teacher monologue joins teacher speech across gaps under ``monologue_gap_s`` that
hold no pupil speech.  An exchange teacher -> pupil is a teacher turn followed by a pupil turn that starts no later
than ``exchange_gap_s`` after it ends and runs on past it (a pupil's back-channel inside the teacher's turn is not
one); pupil -> teacher likewise.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Mapping, Sequence

from videocoach.measures.activities import (
    ActivitySettings,
    ActivitySpan,
    ActivityTime,
    activity_time,
    activity_timeline,
    babble_spans,
)
from videocoach.core.intervals import intersect as _intersect
from videocoach.core.intervals import multi_speaker as _multi_speaker
from videocoach.core.intervals import subtract as _subtract
from videocoach.core.intervals import total as _total
from videocoach.core.intervals import union as _union
from videocoach.measures.language import LanguageSettings, LanguageStats, language_stats
from videocoach.core.model import LessonAnalysis, Progress, RoleTurn, Span, no_progress
from videocoach.measures.moments import Moment, MomentSettings, find_moments
if TYPE_CHECKING:
    from videocoach.measures.question_model import QuestionModel
from videocoach.measures.questions import Question, QuestionSettings, QuestionStats, find_questions, question_stats
from videocoach.measures.sentences import split_sentences
from videocoach.measures.uptake import (
    UptakeInstance,
    UptakeSettings,
    UptakeStats,
    find_exchanges,
    score_exchanges,
    uptake_stats,
)
if TYPE_CHECKING:
    from videocoach.measures.uptake import UptakeModel

MINUTE_S = 60.0


@dataclass(frozen=True)
class MetricsSettings:
    turn_gap_s: float = 1.0
    monologue_gap_s: float = 1.0
    exchange_gap_s: float = 3.0
    minute_s: float = MINUTE_S
    questions: QuestionSettings = QuestionSettings()
    activities: ActivitySettings = ActivitySettings()
    language: LanguageSettings = LanguageSettings()
    moments: MomentSettings = MomentSettings()
    uptake: UptakeSettings = UptakeSettings()


@dataclass(frozen=True)
class MinuteTalk:
    """Talk in one minute of the lesson ([minute_start_s, minute_end_s); the last one may be shorter)."""

    minute_start_s: float
    teacher_s: float
    pupil_s: float
    silence_s: float
    overlap_s: float
    minute_end_s: float
    many_pupils_s: float = 0.0


@dataclass(frozen=True)
class TalkStats:
    duration_s: float
    teacher_s: float
    pupil_s: float
    teacher_only_s: float
    pupil_only_s: float
    overlap_s: float
    silence_s: float
    pupil_overlap_s: float
    unattributed_speech_s: float
    teacher_share: float  # teacher only / duration  } a partition:
    pupil_share: float  # pupil only / duration      } these four sum to 1
    overlap_share: float  # overlap / duration       } when duration > 0
    silence_share: float  # silence / duration       }
    teacher_talk_share: float  # teacher_s / duration (overlap included)
    pupil_talk_share: float  # pupil_s / duration (overlap included)
    per_minute: tuple[MinuteTalk, ...]
    teacher_turns: int
    pupil_turns: int
    mean_teacher_turn_s: float
    mean_pupil_turn_s: float
    longest_teacher_monologue_s: float
    longest_teacher_monologue: Span | None
    teacher_to_pupil_exchanges: int
    pupil_to_teacher_exchanges: int
    many_pupils_s: float = 0.0  # babble heard where no turn is (a fifth state of the partition)
    many_pupils_share: float = 0.0  # many_pupils_s / duration


@dataclass(frozen=True)
class LessonMetrics:
    duration_s: float
    talk: TalkStats
    questions: tuple[Question, ...]  # every question, teacher's and pupils', in time order
    pupil_questions: tuple[Question, ...]  # the pupils' own (proactive) questions
    question_stats: QuestionStats
    activities: tuple[ActivitySpan, ...]
    activity_time: tuple[ActivityTime, ...]
    language: LanguageStats
    moments: tuple[Moment, ...]
    roles_method: str  # how the teacher was identified ("enrolment", "auto", "manual", "none")
    roles_confidence: float
    # uptake (measures.uptake): every pupil -> teacher exchange with its score; empty for metrics stored before it
    uptake: tuple[UptakeInstance, ...] = ()
    uptake_stats: UptakeStats | None = None


@dataclass(frozen=True)
class LessonTrend:
    """One lesson's row in a teacher's progress chart."""

    lesson_id: str
    label: str
    duration_s: float
    teacher_talk_share: float
    pupil_talk_share: float
    silence_share: float
    teacher_questions: int
    pupil_questions: int
    open_questions: int
    closed_questions: int
    procedural_questions: int
    checking_questions: int
    rhetorical_questions: int
    open_share: float
    answered_share: float
    mean_wait_time_1_s: float | None
    median_wait_time_1_s: float | None
    mean_wait_time_2_s: float | None
    teacher_questions_per_min: float
    distinct_pupils_engaged: int
    longest_teacher_monologue_s: float
    group_work_min: float
    discussion_min: float
    independent_work_min: float
    exposition_min: float
    many_pupils_share: float = 0.0
    uptake_exchanges: int = 0  # pupil -> teacher exchanges scored for uptake
    uptake_taken_up: int = 0  # of those, the teacher took up what the pupil said
    uptake_share: float | None = None  # taken up / exchanges (None: no exchange, or metrics from before uptake)


def compute_metrics(
    analysis: LessonAnalysis,
    settings: MetricsSettings = MetricsSettings(),
    progress: Progress = no_progress,
    question_model: "QuestionModel | None" = None,
    lm_scores: "Mapping[str, float] | None" = None,
    uptake_scores: "Mapping[str, float] | None" = None,
    uptake_model: "UptakeModel | None" = None,
) -> LessonMetrics:
    """Every Figure 9 measure of one analysed lesson.  ``question_model``: the loaded question model (the pipeline
    passes it, so this stays free of I/O); ``None`` loads the packaged one once.  ``lm_scores``: the question-LM score
    per sentence (``question_lm``, computed by the pipeline), which the question model weighs in.  ``uptake_scores``:
    the uptake score per exchange key (``audio.uptake_lm``, with the decoder state; computed by the pipeline); an
    exchange without one is scored from its words alone (``uptake_model``: default the packaged one)."""
    duration = max(0.0, float(analysis.duration_s))
    turns = analysis.role_turns()
    progress("metrics", 0.0)
    # sentences attributed once, by word, for questions, language and moments
    sentences = split_sentences(analysis.transcript.utterances, turns, settings.questions.pause_split_s)
    talk = talk_stats(duration, turns, analysis.diarization.speech, settings, babble=babble_spans(analysis.levels))
    progress("metrics", 0.2)
    questions = find_questions(sentences, turns, duration, settings.questions, presplit=True, model=question_model,
                               lm_scores=lm_scores)
    progress("metrics", 0.5)
    utts = analysis.transcript.utterances
    transcribed = tuple(Span(u.start, u.end) for u in utts if u.text.strip()) if utts else None
    activities = activity_timeline(
        duration, turns, analysis.diarization.speech, analysis.levels, settings.activities, transcribed
    )
    progress("metrics", 0.7)
    language = language_stats(sentences, turns, settings.language, presplit=True)
    progress("metrics", 0.85)
    moments = find_moments(duration, questions, language.mirrored, activities, sentences, turns, settings.moments,
                           presplit=True)
    uptake = score_exchanges(find_exchanges(sentences, settings.uptake), uptake_model, uptake_scores)
    progress("metrics", 1.0)
    return LessonMetrics(
        duration_s=duration,
        talk=talk,
        questions=questions,
        pupil_questions=tuple(q for q in questions if q.role == "pupil"),
        question_stats=question_stats(questions, duration),
        activities=activities,
        activity_time=activity_time(activities, duration),
        language=language,
        moments=moments,
        roles_method=analysis.roles.method,
        roles_confidence=analysis.roles.confidence,
        uptake=uptake,
        uptake_stats=uptake_stats(uptake, duration),
    )


def talk_stats(
    duration_s: float,
    turns: Sequence[RoleTurn],
    speech: Sequence[Span] = (),
    settings: MetricsSettings = MetricsSettings(),
    babble: Sequence[tuple[float, float]] = (),
) -> TalkStats:
    """Talk, overlap, many-pupils and silence seconds, shares, a per-minute series and turn-taking (see the module
    docstring).  ``babble``: the stretches the babble detector called many voices at once (``babble_spans``)."""
    d = max(0.0, float(duration_s))
    turns = tuple(t for t in (_clamp(t, d) for t in turns) if t is not None)
    teacher = _union((t.start, t.end) for t in turns if t.role == "teacher")
    pupil = _union((t.start, t.end) for t in turns if t.role == "pupil")
    both = _intersect(teacher, pupil)
    anyone = _union(teacher + pupil)
    vad = _union((min(max(s.start, 0.0), d), min(max(s.end, 0.0), d)) for s in speech)
    teacher_s, pupil_s, overlap_s = _total(teacher), _total(pupil), _total(both)
    many = _subtract(_union((min(max(a, 0.0), d), min(max(b, 0.0), d)) for a, b in babble), anyone)
    many_s = _total(many)
    silence_s = max(0.0, d - _total(anyone) - many_s)
    teacher_only_s = max(0.0, teacher_s - overlap_s)
    pupil_only_s = max(0.0, pupil_s - overlap_s)

    per_minute = []
    step = settings.minute_s if settings.minute_s > 0 else MINUTE_S
    n_minutes = max(1, math.ceil(d / step - 1e-9)) if d > 0 else 0
    for k in range(n_minutes):
        lo, hi = k * step, (d if k == n_minutes - 1 else (k + 1) * step)  # the last one runs to the end
        if hi <= lo:
            continue
        window = [(lo, hi)]
        per_minute.append(
            MinuteTalk(
                minute_start_s=lo,
                teacher_s=_total(_intersect(teacher, window)),
                pupil_s=_total(_intersect(pupil, window)),
                silence_s=max(0.0, (hi - lo) - _total(_intersect(anyone, window)) - _total(_intersect(many, window))),
                overlap_s=_total(_intersect(both, window)),
                minute_end_s=hi,
                many_pupils_s=_total(_intersect(many, window)),
            )
        )

    runs = _speaking_turns(turns, settings.turn_gap_s)
    t_runs = [r for r in runs if r.role == "teacher"]
    p_runs = [r for r in runs if r.role == "pupil"]
    monologue = _longest_monologue(teacher, pupil, settings.monologue_gap_s)
    t2p = p2t = 0
    # back-channels (a turn wholly inside another speaker's) do not break an exchange, nor make one; a speaker's
    # own runs never overlap, so a run is inside another speaker's when an earlier-starting run ends after it
    spoken, reach = [], -math.inf
    for r in sorted(runs, key=lambda r: (r.start, -r.end)):
        if r.end > reach:
            spoken.append(r)
        reach = max(reach, r.end)
    for a, b in zip(spoken, spoken[1:]):
        if a.role != b.role and b.start >= a.start and b.end > a.end and b.start - a.end <= settings.exchange_gap_s:
            if a.role == "teacher":
                t2p += 1
            else:
                p2t += 1

    def share(x: float) -> float:
        return x / d if d > 0 else 0.0

    # the partition's shares, with the last computed as the remainder so that they sum to 1 exactly
    teacher_share, pupil_share, overlap_share = share(teacher_only_s), share(pupil_only_s), share(overlap_s)
    many_share = share(many_s)
    silence_share = max(0.0, 1.0 - teacher_share - pupil_share - overlap_share - many_share) if d > 0 else 0.0
    return TalkStats(
        duration_s=d,
        teacher_s=teacher_s,
        pupil_s=pupil_s,
        teacher_only_s=teacher_only_s,
        pupil_only_s=pupil_only_s,
        overlap_s=overlap_s,
        silence_s=silence_s,
        pupil_overlap_s=_total(_multi_speaker(p for p in turns if p.role == "pupil")),
        unattributed_speech_s=_total(_subtract(vad, anyone)),
        teacher_share=teacher_share,
        pupil_share=pupil_share,
        overlap_share=overlap_share,
        silence_share=silence_share,
        teacher_talk_share=share(teacher_s),
        pupil_talk_share=share(pupil_s),
        per_minute=tuple(per_minute),
        teacher_turns=len(t_runs),
        pupil_turns=len(p_runs),
        mean_teacher_turn_s=sum(r.duration for r in t_runs) / len(t_runs) if t_runs else 0.0,
        mean_pupil_turn_s=sum(r.duration for r in p_runs) / len(p_runs) if p_runs else 0.0,
        longest_teacher_monologue_s=monologue.duration if monologue else 0.0,
        longest_teacher_monologue=monologue,
        teacher_to_pupil_exchanges=t2p,
        pupil_to_teacher_exchanges=p2t,
        many_pupils_s=many_s,
        many_pupils_share=many_share,
    )


def compare_lessons(items: Sequence[tuple[str, str, LessonMetrics]]) -> tuple[LessonTrend, ...]:
    """One row per lesson, in the order given: ``(lesson_id, label such as a date, metrics)``."""
    rows = []
    for lesson_id, label, m in items:
        qs, by_type = m.question_stats, m.question_stats.teacher_by_type
        minutes = {a.label: a.minutes for a in m.activity_time}
        rows.append(
            LessonTrend(
                lesson_id=str(lesson_id),
                label=str(label),
                duration_s=m.duration_s,
                teacher_talk_share=m.talk.teacher_talk_share,
                pupil_talk_share=m.talk.pupil_talk_share,
                silence_share=m.talk.silence_share,
                teacher_questions=qs.teacher_questions,
                pupil_questions=qs.pupil_questions,
                open_questions=by_type.open,
                closed_questions=by_type.closed,
                procedural_questions=by_type.procedural,
                checking_questions=by_type.checking,
                rhetorical_questions=by_type.rhetorical,
                open_share=qs.open_share,
                answered_share=qs.answered_share,
                mean_wait_time_1_s=qs.mean_wait_time_1_s,
                median_wait_time_1_s=qs.median_wait_time_1_s,
                mean_wait_time_2_s=qs.mean_wait_time_2_s,
                teacher_questions_per_min=qs.teacher_questions_per_min,
                distinct_pupils_engaged=qs.distinct_pupils_engaged,
                longest_teacher_monologue_s=m.talk.longest_teacher_monologue_s,
                group_work_min=minutes.get("group_work", 0.0),
                discussion_min=minutes.get("discussion", 0.0),
                independent_work_min=minutes.get("independent_work", 0.0),
                exposition_min=minutes.get("exposition", 0.0),
                many_pupils_share=m.talk.many_pupils_share,
                uptake_exchanges=m.uptake_stats.exchanges if m.uptake_stats else 0,
                uptake_taken_up=m.uptake_stats.taken_up if m.uptake_stats else 0,
                uptake_share=m.uptake_stats.share if m.uptake_stats else None,
            )
        )
    return tuple(rows)


# --- turns ----------------------------------------------------------------------------------------------------------


def _clamp(t: RoleTurn, d: float) -> RoleTurn | None:
    start, end = min(max(t.start, 0.0), d), min(max(t.end, 0.0), d)
    if end <= start:
        return None
    return t if (start, end) == (t.start, t.end) else RoleTurn(start, end, t.speaker, t.role)


def _speaking_turns(turns: Sequence[RoleTurn], gap_s: float) -> list[RoleTurn]:
    """Join a speaker's consecutive turns across gaps under ``gap_s`` when nobody else starts in between."""
    ordered = sorted(turns, key=lambda t: (t.start, t.end))
    runs: list[RoleTurn] = []
    for t in ordered:
        if runs and runs[-1].speaker == t.speaker and t.start - runs[-1].end < gap_s:
            last = runs[-1]
            runs[-1] = RoleTurn(last.start, max(last.end, t.end), last.speaker, last.role)
        else:
            runs.append(t)
    return runs


def _longest_monologue(
    teacher: list[tuple[float, float]], pupil: list[tuple[float, float]], gap_s: float
) -> Span | None:
    best: tuple[float, float] | None = None
    cur: tuple[float, float] | None = None
    for a, b in teacher:
        if cur is not None and a - cur[1] < gap_s and not _intersect(pupil, [(cur[1], a)]):
            cur = (cur[0], b)
        else:
            cur = (a, b)
        if best is None or cur[1] - cur[0] > best[1] - best[0]:
            best = cur
    return Span(best[0], best[1]) if best else None


# --- interval arithmetic over sorted, disjoint (start, end) lists ---------------------------------------------------


__all__ = [
    "LessonMetrics",
    "LessonTrend",
    "MetricsSettings",
    "MinuteTalk",
    "TalkStats",
    "compare_lessons",
    "compute_metrics",
    "talk_stats",
]
