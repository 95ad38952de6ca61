"""Property tests (hypothesis): invariants of the measures over arbitrary turn layouts."""

from __future__ import annotations

import dataclasses
import json

from hypothesis import given, settings
from hypothesis import strategies as st

from videocoach.measures.activities import ACTIVITY_LABELS, activity_time, activity_timeline
from videocoach.measures.metrics import compute_metrics, talk_stats
from videocoach.core.model import (
    AudioLevels,
    Diarization,
    LessonAnalysis,
    RoleAssignment,
    RoleTurn,
    Span,
    Transcript,
    Turn,
    Utterance,
)
from videocoach.measures.questions import find_questions

SPEAKERS = ("T", "T2", "P1", "P2", "P3", "P4")
SENTENCES = ("what is seven times eight", "why do you think so", "okay", "the salt lowers the freezing point",
             "does everyone understand", "can we use a calculator", "because it is hot", "right")

times = st.floats(min_value=0.0, max_value=420.0, allow_nan=False, allow_infinity=False)
lengths = st.floats(min_value=0.0, max_value=40.0, allow_nan=False, allow_infinity=False)


@st.composite
def lessons(draw):
    duration = draw(st.one_of(st.just(0.0), st.floats(min_value=0.0, max_value=400.0, allow_nan=False)))
    raw = draw(st.lists(st.tuples(times, lengths, st.sampled_from(SPEAKERS), st.sampled_from(SENTENCES)),
                        max_size=25))
    turns = [RoleTurn(s, s + n, spk, "teacher" if spk.startswith("T") else "pupil") for s, n, spk, _ in raw]
    utts = [Utterance(s, s + n, text, (), spk, "teacher" if spk.startswith("T") else "pupil")
            for s, n, spk, text in raw]
    return duration, turns, utts


@settings(max_examples=150, deadline=None)
@given(lessons())
def test_talk_and_silence_never_exceed_the_lesson_and_shares_sum_to_one(lesson):
    duration, turns, _ = lesson
    talk = talk_stats(duration, turns)
    d = talk.duration_s
    eps = 1e-6
    for x in (talk.teacher_s, talk.pupil_s, talk.overlap_s, talk.silence_s, talk.pupil_overlap_s):
        assert -eps <= x <= d + eps
    assert talk.teacher_s + talk.pupil_s - talk.overlap_s + talk.silence_s <= d + eps
    assert abs(talk.teacher_only_s + talk.pupil_only_s + talk.overlap_s + talk.silence_s - d) <= eps
    shares = (talk.teacher_share, talk.pupil_share, talk.overlap_share, talk.silence_share)
    assert all(0.0 <= s <= 1.0 + 1e-12 for s in shares)
    if d > 0:
        assert abs(sum(shares) - 1.0) <= 1e-9
    else:
        assert sum(shares) == 0.0 and talk.per_minute == ()
    assert talk.longest_teacher_monologue_s <= talk.duration_s + eps


@settings(max_examples=150, deadline=None)
@given(lessons())
def test_per_minute_series_sums_to_the_totals(lesson):
    duration, turns, _ = lesson
    talk = talk_stats(duration, turns)
    pm = talk.per_minute
    if talk.duration_s > 0:
        assert pm[0].minute_start_s == 0.0 and pm[-1].minute_end_s == talk.duration_s
        assert all(a.minute_end_s == b.minute_start_s for a, b in zip(pm, pm[1:]))
    for field in ("teacher_s", "pupil_s", "silence_s", "overlap_s"):
        assert abs(sum(getattr(m, field) for m in pm) - getattr(talk, field)) <= 1e-6
    for m in pm:
        assert m.teacher_s + m.pupil_s - m.overlap_s + m.silence_s <= m.minute_end_s - m.minute_start_s + 1e-6


@settings(max_examples=100, deadline=None)
@given(lessons(), st.booleans())
def test_activities_partition_the_lesson(lesson, with_levels):
    duration, turns, _ = lesson
    levels = None
    if with_levels:
        n = int(duration / 0.5) + 1
        levels = AudioLevels(0.5, tuple(-40.0 + (i % 7) for i in range(n)), tuple((i % 10) / 10 for i in range(n)))
    speech = tuple(Span(t.start, t.end) for t in turns[::2])
    spans = activity_timeline(duration, turns, speech, levels)
    if duration <= 0:
        assert spans == ()
        return
    assert spans[0].start == 0.0 and spans[-1].end == duration
    assert all(a.end == b.start for a, b in zip(spans, spans[1:]))
    assert all(s.end > s.start and s.label in ACTIVITY_LABELS for s in spans)
    assert abs(sum(a.seconds for a in activity_time(spans, duration)) - duration) <= 1e-6


@settings(max_examples=100, deadline=None)
@given(lessons())
def test_question_records_stay_inside_the_lesson(lesson):
    duration, turns, utts = lesson
    for q in find_questions(utts, turns, duration):
        assert 0.0 <= q.start <= q.end <= duration
        assert q.wait_time_1_s is None or q.wait_time_1_s >= 0.0
        assert q.wait_time_2_s is None or (q.wait_time_2_s >= 0.0 and q.response in ("pupil", "pupils"))
        assert 0.0 <= q.answer_s <= duration
        assert q.responders == len(q.responder_speakers)
        assert (q.responders >= 2) == (q.response == "pupils")
        assert q.is_open == (q.qtype == "open")


@settings(max_examples=40, deadline=None)
@given(lessons())
def test_compute_metrics_always_serialises(lesson):
    duration, turns, utts = lesson
    analysis = LessonAnalysis(
        duration_s=duration,
        transcript=Transcript(tuple(dataclasses.replace(u, speaker=None, role=None) for u in utts), "en", "x"),
        diarization=Diarization(tuple(Turn(t.start, t.end, t.speaker) for t in turns), (), "x"),
        roles=RoleAssignment(frozenset({"T", "T2"}), 0.5, "auto"),
    )
    m = compute_metrics(analysis)
    json.dumps(dataclasses.asdict(m), allow_nan=False)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(times, lengths, st.sampled_from(SPEAKERS)), min_size=1, max_size=12),
       st.lists(st.tuples(times, st.floats(min_value=0.05, max_value=3.0)), min_size=1, max_size=8))
def test_sentence_attribution_agrees_with_the_data_model(raw_turns, raw_words):
    """split_sentences' fast look-up gives the speaker model.attribute_speakers gives (words that overlap a turn)."""
    from videocoach.core.model import Word, attribute_speakers
    from videocoach.measures.sentences import split_sentences

    turns = [RoleTurn(s, s + n, spk, "teacher" if spk.startswith("T") else "pupil") for s, n, spk in raw_turns]
    words = tuple(sorted((Word(s, s + n, " w") for s, n in raw_words), key=lambda w: (w.start, w.end)))
    words = tuple(w for w in words if any(min(w.end, t.end) - max(w.start, t.start) > 0 for t in turns))
    if not words:
        return
    u = Utterance(words[0].start, max(w.end for w in words), "w " * len(words), words)
    (ours,) = split_sentences([u], turns, pause_split_s=1e9)
    roles = RoleAssignment(frozenset(t.speaker for t in turns if t.role == "teacher"), 1.0, "manual")
    (theirs,) = attribute_speakers([u], [Turn(t.start, t.end, t.speaker) for t in turns], roles)
    assert (ours.speaker, ours.role) == (theirs.speaker, theirs.role)
