"""The lesson's activity timeline: exposition, whole-class discussion, group work, independent work.

Figure 9 asks for "the amount of time given to different lesson features, such as teacher talk, group work, whole
class discussion, independent work".  The timeline is classified from who speaks when (diarisation turns with roles),
the VAD's speech regions and, when present, the loudness / speech-probability series (``AudioLevels``):

1. Each ``step_s`` (1 s) of the lesson gets features from a ``window_s`` (10 s) window centred on it: teacher speech,
   pupil speech, time two or more pupils talk at once, speech the diariser could not attribute to anyone, distinct
   pupil voices, pupil turns started, the mean speech probability of the levels series, and the time the babble
   detector (``AudioLevels.babble_prob``, :mod:`videocoach.audio.babble`) heard many voices at once.
2. The window is labelled by the first rule that holds (the rule names are kept in ``ActivitySpan.rule``):
   - ``quiet`` -> ``independent_work``: speech (turns or VAD) under ``quiet_speech_frac`` of the window, with levels
     mean speech probability under ``quiet_speech_prob``, and babble under ``group_babble_frac`` of it (a room of
     pupils talking in pairs at a distance is loud, yet Silero often hears no speech in it);
   - ``babble`` -> ``group_work``: the teacher speaks under ``group_teacher_frac`` of the window and there are signs of
     many voices: pupils overlapping each other for ``group_overlap_s``, ``group_pupils`` or more pupil voices,
     ``group_turns`` or more pupil turns starting, speech that no turn covers for ``group_unattributed_frac`` of
     the window, pupil or unattributed speech in which the ASR found no words for ``group_untranscribed_frac`` of
     it (babble: the diariser often makes one long "pupil" turn of it), or (levels) mean speech probability over
     ``group_speech_prob`` with few attributed turns;
   - ``alternating`` -> ``discussion``: teacher and pupils both speak at least ``discussion_min_s`` and pupils hold at
     least ``discussion_pupil_frac`` of the talk;
   - ``teacher_dominant`` -> ``exposition``: the teacher talks at least as much as pupils;
   - ``pupil_dominant`` -> ``discussion``: pupils talk more (one pupil presenting, answering at length).
3. Runs shorter than ``min_span_s`` are merged into a neighbour (the one with the same label on both sides, else the
   longer one), so the timeline is a few readable spans that cover [0, duration] without gaps or overlaps.

These are heuristics over audio-only evidence: a coach should read them as "probably", and the UI shows the spans
over the talk timeline so they can be checked against the video.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal, Sequence

from videocoach.core.intervals import multi_speaker as _multi_overlap
from videocoach.core.intervals import subtract as _subtract
from videocoach.core.intervals import union as _union
from videocoach.core.model import AudioLevels, RoleTurn, Span

BabbleSpans = list[tuple[float, float]]
ActivityLabel = Literal["exposition", "discussion", "group_work", "independent_work"]
ACTIVITY_LABELS: tuple[ActivityLabel, ...] = ("exposition", "discussion", "group_work", "independent_work")


@dataclass(frozen=True)
class ActivitySettings:
    step_s: float = 1.0
    window_s: float = 10.0
    min_span_s: float = 8.0
    quiet_speech_frac: float = 0.25
    quiet_speech_prob: float = 0.35
    group_teacher_frac: float = 0.25
    group_overlap_s: float = 1.0
    group_pupils: int = 3
    group_turns: int = 5
    group_unattributed_frac: float = 0.3
    group_untranscribed_frac: float = 0.5
    group_speech_prob: float = 0.5
    group_babble_frac: float = 0.3
    group_babble_teacher_frac: float = 0.4
    discussion_min_s: float = 1.0
    discussion_pupil_frac: float = 0.15


@dataclass(frozen=True)
class ActivitySpan:
    start: float
    end: float
    label: ActivityLabel
    rule: str  # the rule that labelled most of the span

    def __post_init__(self) -> None:
        Span(self.start, self.end)  # validates 0 <= start <= end

    @property
    def duration(self) -> float:
        return self.end - self.start


@dataclass(frozen=True)
class ActivityTime:
    label: ActivityLabel
    seconds: float
    minutes: float
    share: float  # of the lesson (0 for an empty lesson)


def activity_timeline(
    duration_s: float,
    turns: Sequence[RoleTurn],
    speech: Sequence[Span] = (),
    levels: AudioLevels | None = None,
    settings: ActivitySettings = ActivitySettings(),
    transcribed: Sequence[Span] | None = None,
) -> tuple[ActivitySpan, ...]:
    """Labelled, contiguous, non-overlapping spans covering [0, duration_s] (empty for an empty lesson).

    ``transcribed``: the spans the ASR found words in (None: no transcript to go by).  Pupil or unattributed speech
    that the ASR could not make out is a sign of many distant voices.
    """
    duration_s = max(0.0, float(duration_s))
    if duration_s <= 0:
        return ()
    st = settings
    n = max(1, math.ceil(duration_s / st.step_s - 1e-9))
    edges = [min(i * st.step_s, duration_s) for i in range(n)] + [duration_s]
    teacher = _union((t.start, t.end) for t in turns if t.role == "teacher")
    pupil = _union((t.start, t.end) for t in turns if t.role == "pupil")
    turned = _union((t.start, t.end) for t in turns)
    vad = _union((s.start, s.end) for s in speech)
    anyone = _union(turned + vad)
    unattributed = _subtract(vad, turned)
    pupil_overlap = _multi_overlap([t for t in turns if t.role == "pupil"])
    # speech nobody could transcribe (pupils' or nobody's), when there is a transcript to compare with
    untranscribed = (
        _subtract(_union(pupil + unattributed), _union((s.start, s.end) for s in transcribed))
        if transcribed is not None
        else []
    )

    teacher_b = _per_bin(teacher, edges)
    pupil_b = _per_bin(pupil, edges)
    speech_b = _per_bin(anyone, edges)
    unattr_b = _per_bin(unattributed, edges)
    babble_b = _per_bin(babble_spans(levels, duration_s), edges)
    overlap_b = _per_bin(pupil_overlap, edges)
    untrans_b = _per_bin(untranscribed, edges)
    voices_b: list[set[str]] = [set() for _ in range(n)]
    starts_b = [0] * n
    for t in turns:
        if t.role != "pupil" or t.end <= 0 or t.start >= duration_s:
            continue
        first = min(n - 1, int(max(t.start, 0.0) // st.step_s))
        last = min(n - 1, int(max(min(t.end, duration_s) - 1e-9, 0.0) // st.step_s))
        starts_b[first] += 1
        for b in range(first, last + 1):
            voices_b[b].add(t.speaker)
    prob_b = _levels_per_bin(levels, edges) if levels is not None and levels.speech_prob else None

    half = max(0, int(round(st.window_s / st.step_s / 2)))
    labels: list[tuple[ActivityLabel, str]] = []
    for b in range(n):
        lo, hi = max(0, b - half), min(n, b + half + 1)
        win = edges[hi] - edges[lo]
        t_s, p_s = sum(teacher_b[lo:hi]), sum(pupil_b[lo:hi])
        s_s, u_s, o_s = sum(speech_b[lo:hi]), sum(unattr_b[lo:hi]), sum(overlap_b[lo:hi])
        x_s = sum(untrans_b[lo:hi])
        b_s = sum(babble_b[lo:hi])
        voices = len(set().union(*voices_b[lo:hi]))
        starts = sum(starts_b[lo:hi])
        prob = None
        if prob_b is not None:
            vals = [p for p in prob_b[lo:hi] if p is not None]
            prob = sum(vals) / len(vals) if vals else None
        labels.append(_classify(win, t_s, p_s, s_s, u_s, o_s, x_s, voices, starts, prob, st, b_s))

    runs: list[list] = []  # [start, end, label, {rule: seconds}]
    for b, (label, rule) in enumerate(labels):
        a, z = edges[b], edges[b + 1]
        if runs and runs[-1][2] == label:
            runs[-1][1] = z
            runs[-1][3][rule] = runs[-1][3].get(rule, 0.0) + (z - a)
        else:
            runs.append([a, z, label, {rule: z - a}])
    runs = _merge_short(runs, st.min_span_s)
    return tuple(
        ActivitySpan(start=r[0], end=r[1], label=r[2], rule=max(r[3], key=r[3].__getitem__)) for r in runs
    )


def activity_time(spans: Sequence[ActivitySpan], duration_s: float) -> tuple[ActivityTime, ...]:
    """Seconds, minutes and share of the lesson per activity label (every label, zeros included)."""
    seconds = {label: 0.0 for label in ACTIVITY_LABELS}
    for s in spans:
        seconds[s.label] += s.duration
    return tuple(
        ActivityTime(label=k, seconds=v, minutes=v / 60.0, share=v / duration_s if duration_s > 0 else 0.0)
        for k, v in seconds.items()
    )


def _classify(
    win: float,
    t_s: float,
    p_s: float,
    s_s: float,
    u_s: float,
    o_s: float,
    x_s: float,
    voices: int,
    starts: int,
    prob: float | None,
    st: ActivitySettings,
    b_s: float = 0.0,
) -> tuple[ActivityLabel, str]:
    if win <= 0:
        return "independent_work", "quiet"
    many_voices = b_s >= st.group_babble_frac * win
    if s_s < st.quiet_speech_frac * win and (prob is None or prob < st.quiet_speech_prob) and not many_voices:
        return "independent_work", "quiet"
    if many_voices and t_s < st.group_babble_teacher_frac * win:
        return "group_work", "babble"
    if t_s < st.group_teacher_frac * win and (
        o_s >= st.group_overlap_s
        or voices >= st.group_pupils
        or starts >= st.group_turns
        or u_s >= st.group_unattributed_frac * win
        or x_s >= st.group_untranscribed_frac * win
        or (prob is not None and prob >= st.group_speech_prob and t_s + p_s < st.group_unattributed_frac * win)
    ):
        return "group_work", "babble"
    if t_s >= st.discussion_min_s and p_s >= st.discussion_min_s and p_s >= st.discussion_pupil_frac * (t_s + p_s):
        return "discussion", "alternating"
    if t_s >= p_s:
        return "exposition", "teacher_dominant"
    return "discussion", "pupil_dominant"


def babble_spans(levels: AudioLevels | None, duration_s: float | None = None) -> BabbleSpans:
    """The stretches the babble detector called many voices at once (steps at or over the levels' threshold), as
    sorted, disjoint (start, end) seconds clamped to [0, duration_s]; empty without levels or a babble series."""
    if levels is None or not levels.babble_prob:
        return []
    out: BabbleSpans = []
    end_cap = float("inf") if duration_s is None else max(0.0, float(duration_s))
    for i, p in enumerate(levels.babble_prob):
        if p < levels.babble_threshold:
            continue
        a, b = i * levels.step_s, min((i + 1) * levels.step_s, end_cap)
        if b <= a:
            break
        if out and out[-1][1] >= a:
            out[-1] = (out[-1][0], b)
        else:
            out.append((a, b))
    return out


def _merge_short(runs: list[list], min_span_s: float) -> list[list]:
    """Fold runs shorter than ``min_span_s`` into a neighbour, shortest first."""
    runs = [list(r) for r in runs]
    while len(runs) > 1:
        i = min(range(len(runs)), key=lambda k: (runs[k][1] - runs[k][0], k))
        if runs[i][1] - runs[i][0] >= min_span_s:
            break
        left = runs[i - 1] if i > 0 else None
        right = runs[i + 1] if i + 1 < len(runs) else None
        if left is not None and right is not None and left[2] == right[2]:
            target = left
        elif left is None or (right is not None and right[1] - right[0] > left[1] - left[0]):
            target = right
        else:
            target = left
        assert target is not None
        target[0], target[1] = min(target[0], runs[i][0]), max(target[1], runs[i][1])
        for rule, secs in runs[i][3].items():
            target[3][rule] = target[3].get(rule, 0.0) + secs
        del runs[i]
        # join equal neighbours that now touch
        joined: list[list] = []
        for r in runs:
            if joined and joined[-1][2] == r[2]:
                joined[-1][1] = r[1]
                for rule, secs in r[3].items():
                    joined[-1][3][rule] = joined[-1][3].get(rule, 0.0) + secs
            else:
                joined.append(r)
        runs = joined
    return runs


# --- interval helpers (half-open [a, b) pairs of floats) -------------------------------------------------------------


def _per_bin(spans: list[tuple[float, float]], edges: list[float]) -> list[float]:
    n = len(edges) - 1
    out = [0.0] * n
    if n <= 0:
        return out
    step = edges[1] - edges[0] if n > 1 else max(edges[1] - edges[0], 1e-9)
    for a, b in spans:
        a, b = max(a, edges[0]), min(b, edges[-1])
        if b <= a:
            continue
        first = min(n - 1, int(a // step))
        for i in range(first, n):
            lo, hi = edges[i], edges[i + 1]
            if lo >= b:
                break
            out[i] += max(0.0, min(b, hi) - max(a, lo))
    return out


def _levels_per_bin(levels: AudioLevels, edges: list[float]) -> list[float | None]:
    """Mean speech probability of the level steps whose centre falls in each bin."""
    n = len(edges) - 1
    sums, counts = [0.0] * n, [0] * n
    step = edges[1] - edges[0] if n > 1 else max(edges[1] - edges[0], 1e-9)
    for i, p in enumerate(levels.speech_prob):
        centre = (i + 0.5) * levels.step_s
        if centre >= edges[-1]:
            break
        b = min(n - 1, int(centre // step))
        sums[b] += p
        counts[b] += 1
    return [s / c if c else None for s, c in zip(sums, counts)]


__all__ = [
    "ACTIVITY_LABELS",
    "ActivityLabel",
    "ActivitySettings",
    "ActivitySpan",
    "ActivityTime",
    "activity_time",
    "activity_timeline",
    "babble_spans",
]
