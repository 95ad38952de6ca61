"""Activity timeline: each label from hand-built turns (and levels), and the partition of the lesson."""

from __future__ import annotations

import pytest

from videocoach.measures.activities import ActivitySettings, activity_time, activity_timeline
from videocoach.core.model import AudioLevels, RoleTurn, Span


def T(a, b):
    return RoleTurn(a, b, "T", "teacher")


def P(a, b, who="P1"):
    return RoleTurn(a, b, who, "pupil")


def _covers(spans, duration):
    assert spans[0].start == 0.0 and spans[-1].end == duration
    assert all(a.end == b.start for a, b in zip(spans, spans[1:]))
    assert all(a.label != b.label for a, b in zip(spans, spans[1:]))


def _label_at(spans, t):
    return next(s.label for s in spans if s.start <= t < s.end)


def test_empty_lesson_has_no_spans():
    assert activity_timeline(0.0, []) == ()
    assert [a.seconds for a in activity_time((), 0.0)] == [0.0, 0.0, 0.0, 0.0]


def test_silent_lesson_is_independent_work():
    spans = activity_timeline(30.0, [])
    assert [(s.start, s.end, s.label, s.rule) for s in spans] == [(0.0, 30.0, "independent_work", "quiet")]


def test_teacher_talk_then_discussion_then_quiet_then_group_work():
    turns = [T(0, 60)]  # 0-60: exposition
    t = 60.0
    while t < 120:  # 60-120: question / answer
        turns += [T(t, t + 3), P(t + 4, t + 7, f"P{int(t) % 3 + 1}")]
        t += 8
    # 120-150: nothing (independent work)
    for k in range(6):  # 150-180: four pupils talking over each other, the teacher silent
        base = 150 + 5 * k
        turns += [P(base, base + 3, "P1"), P(base + 1, base + 4, "P2"), P(base + 2, base + 5, "P3"),
                  P(base + 0.5, base + 2, "P4")]
    spans = activity_timeline(180.0, turns)
    _covers(spans, 180.0)
    assert [s.label for s in spans] == ["exposition", "discussion", "independent_work", "group_work"]
    bounds = [s.end for s in spans[:-1]]
    assert bounds == pytest.approx([60.0, 120.0, 150.0], abs=6.0)
    minutes = {a.label: a.minutes for a in activity_time(spans, 180.0)}
    assert minutes["exposition"] == pytest.approx(1.0, abs=0.1)
    assert sum(minutes.values()) == pytest.approx(3.0)


def test_group_work_from_unattributed_speech_and_from_levels():
    # the VAD hears speech that the diariser left unattributed: distant voices
    spans = activity_timeline(60.0, [T(0, 30)], speech=[Span(0, 30), Span(30, 60)])
    assert [s.label for s in spans] == ["exposition", "group_work"]
    # only the levels tell: loud speech-like sound with no turns at all
    step = 0.5
    probs = tuple(0.05 if i * step < 30 else 0.8 for i in range(int(60 / step)))
    levels = AudioLevels(step, tuple(-50.0 if p < 0.5 else -25.0 for p in probs), probs)
    spans = activity_timeline(60.0, [], levels=levels)
    assert [s.label for s in spans] == ["independent_work", "group_work"]
    assert spans[1].rule == "babble" and spans[0].end == pytest.approx(30.0, abs=5.0)


def test_quiet_needs_low_speech_probability_when_levels_exist():
    probs = tuple(0.9 for _ in range(120))  # 60 s of speech-like sound that no turn covers
    levels = AudioLevels(0.5, tuple(-30.0 for _ in probs), probs)
    spans = activity_timeline(60.0, [], levels=levels)
    assert {s.label for s in spans} == {"group_work"}


def test_short_spells_are_merged_into_their_neighbours():
    turns = [T(0, 28), P(28.5, 31), T(31.5, 60)]  # a 2.5 s answer inside a minute of teacher talk
    spans = activity_timeline(60.0, turns, settings=ActivitySettings(min_span_s=20.0))
    assert [s.label for s in spans] == ["exposition"]


def test_one_pupil_presenting_is_discussion_not_group_work():
    spans = activity_timeline(40.0, [T(0, 5), P(6, 40, "P1")])
    assert _label_at(spans, 30.0) == "discussion"
    assert spans[-1].rule in ("pupil_dominant", "alternating")


def test_a_long_pupil_turn_without_words_is_group_work():
    """Babble often comes out of the diariser as one long "pupil" turn in which the ASR finds no words."""
    turns = [T(0, 20), P(21, 45, "P3"), T(46, 60)]
    said = [Span(0, 20), Span(46, 60)]
    spans = activity_timeline(60.0, turns, transcribed=said)
    assert [s.label for s in spans] == ["exposition", "group_work", "exposition"]
    # the same pupil turn with words in it is a pupil talking to the class
    spans = activity_timeline(60.0, turns, transcribed=said + [Span(21, 45)])
    assert "group_work" not in {s.label for s in spans}
    # without a transcript to compare with, nothing is inferred from it
    assert "group_work" not in {s.label for s in activity_timeline(60.0, turns)}
