"""Talk time, turns, per-minute series, the bundled LessonMetrics and cross-lesson comparison: golden values."""

from __future__ import annotations

import dataclasses
import json

import pytest

from videocoach.measures.metrics import MetricsSettings, compare_lessons, compute_metrics, talk_stats
from videocoach.core.model import (
    Diarization,
    LessonAnalysis,
    RoleAssignment,
    RoleTurn,
    Span,
    Transcript,
    Turn,
    Utterance,
)
from videocoach.measures.moments import find_moments
from videocoach.measures.questions import find_questions


def _t(start, end, speaker="T"):
    return RoleTurn(start, end, speaker, "teacher" if speaker.startswith("T") else "pupil")


def _partition_sum(talk):
    return talk.teacher_share + talk.pupil_share + talk.overlap_share + talk.silence_share


def test_empty_lesson_is_all_zeros():
    for duration in (0.0, -1.0):
        talk = talk_stats(duration, [])
        assert talk.duration_s == 0.0 and talk.per_minute == ()
        assert (talk.teacher_s, talk.pupil_s, talk.silence_s, talk.overlap_s) == (0.0, 0.0, 0.0, 0.0)
        assert _partition_sum(talk) == 0.0
        assert (talk.teacher_turns, talk.longest_teacher_monologue, talk.teacher_to_pupil_exchanges) == (0, None, 0)


def test_lesson_with_no_turns_is_silence():
    talk = talk_stats(90.0, [], speech=[Span(10.0, 20.0)])
    assert talk.silence_s == 90.0 and talk.silence_share == 1.0
    assert talk.unattributed_speech_s == 10.0  # the VAD heard speech that no turn covers
    assert [m.silence_s for m in talk.per_minute] == [60.0, 30.0]
    assert talk.mean_teacher_turn_s == 0.0


def test_one_speaker():
    talk = talk_stats(100.0, [_t(0, 30), _t(30.5, 50), _t(70, 80)])
    assert talk.teacher_s == pytest.approx(59.5) and talk.pupil_s == 0.0
    assert talk.teacher_share == pytest.approx(0.595) and talk.silence_share == pytest.approx(0.405)
    assert _partition_sum(talk) == pytest.approx(1.0, abs=1e-12)
    assert talk.teacher_turns == 2  # 0-30 and 30.5-50 join across a 0.5 s gap
    assert talk.mean_teacher_turn_s == pytest.approx((50 + 10) / 2)
    assert talk.longest_teacher_monologue == Span(0.0, 50.0)
    assert talk.teacher_to_pupil_exchanges == talk.pupil_to_teacher_exchanges == 0


def test_overlap_only():
    talk = talk_stats(20.0, [_t(0, 20), _t(0, 20, "P1")])
    assert (talk.teacher_only_s, talk.pupil_only_s, talk.overlap_s, talk.silence_s) == (0.0, 0.0, 20.0, 0.0)
    assert talk.overlap_share == 1.0 and talk.teacher_talk_share == talk.pupil_talk_share == 1.0
    assert _partition_sum(talk) == pytest.approx(1.0)


def test_partition_overlap_and_pupil_pupil_overlap_golden():
    turns = [_t(0, 10), _t(8, 12, "P1"), _t(11, 14, "P2"), _t(20, 25), _t(30, 40, "P1"), _t(30, 40, "P1")]
    talk = talk_stats(50.0, turns)
    assert talk.teacher_s == 15.0 and talk.pupil_s == 16.0  # P1 8-12, P2 11-14 (union 8-14), P1 30-40
    assert talk.overlap_s == 2.0  # 8-10
    assert (talk.teacher_only_s, talk.pupil_only_s) == (13.0, 14.0)
    assert talk.silence_s == 50.0 - 29.0
    assert talk.pupil_overlap_s == 1.0  # P1 and P2 at once, 11-12; a speaker never overlaps herself
    assert _partition_sum(talk) == pytest.approx(1.0)


def test_per_minute_series_golden():
    turns = [_t(50, 70), _t(100, 130, "P1"), _t(125, 150)]
    talk = talk_stats(150.0, turns)
    assert [(m.minute_start_s, m.minute_end_s) for m in talk.per_minute] == [(0, 60), (60, 120), (120, 150)]
    assert [m.teacher_s for m in talk.per_minute] == [10.0, 10.0, 25.0]
    assert [m.pupil_s for m in talk.per_minute] == [0.0, 20.0, 10.0]
    assert [m.overlap_s for m in talk.per_minute] == [0.0, 0.0, 5.0]
    assert [m.silence_s for m in talk.per_minute] == [50.0, 30.0, 0.0]
    assert sum(m.teacher_s for m in talk.per_minute) == talk.teacher_s
    assert sum(m.silence_s for m in talk.per_minute) == talk.silence_s


def test_turns_are_clamped_to_the_lesson():
    talk = talk_stats(30.0, [_t(0, 10), _t(25, 40, "P1"), _t(35, 45)])
    assert talk.teacher_s == 10.0 and talk.pupil_s == 5.0
    assert talk.teacher_s + talk.pupil_s + talk.silence_s == 30.0


def test_monologue_stops_at_pupil_speech_and_long_gaps():
    turns = [_t(0, 10), _t(10.5, 20), _t(20.2, 20.4, "P1"), _t(20.6, 30), _t(32, 70)]
    talk = talk_stats(80.0, turns)
    # 0-20 joins across 0.5 s; the pupil speaks in the 20-20.6 gap; 30-32 is a 2 s gap: the longest is 32-70
    assert talk.longest_teacher_monologue == Span(32.0, 70.0)
    assert talk.longest_teacher_monologue_s == 38.0
    wider = talk_stats(80.0, turns, settings=MetricsSettings(monologue_gap_s=3.0))
    assert wider.longest_teacher_monologue == Span(20.6, 70.0)


def test_turn_counts_and_exchanges():
    turns = [
        _t(0, 10),
        _t(4, 4.5, "P1"),  # back-channel inside the teacher's turn: not an exchange
        _t(11, 13, "P1"),  # T -> P1 within 1 s
        _t(14, 20),  # P1 -> T
        _t(30, 32, "P2"),  # 10 s after the teacher: not an exchange
        _t(32.5, 33, "P2"),  # same speaker, joins the previous turn
        _t(34, 36),  # P2 -> T
        _t(36.5, 38, "P3"),  # T -> P3
    ]
    talk = talk_stats(40.0, turns)
    assert (talk.teacher_turns, talk.pupil_turns) == (3, 4)
    assert talk.mean_pupil_turn_s == pytest.approx((0.5 + 2 + 3 + 1.5) / 4)
    assert (talk.teacher_to_pupil_exchanges, talk.pupil_to_teacher_exchanges) == (2, 2)


# --- the whole bundle -----------------------------------------------------------------------------------------------


def _analysis(teacher="A", levels=None):
    turns = (
        Turn(0.0, 20.0, "A"),
        Turn(21.0, 24.0, "B"),
        Turn(25.0, 40.0, "A"),
        Turn(43.0, 47.0, "C"),
        Turn(46.0, 50.0, "B"),
        Turn(51.0, 60.0, "A"),
        Turn(62.0, 64.0, "B"),
    )
    utts = (
        Utterance(0.0, 20.0, "Today we study evaporation. When a liquid turns into a gas we call it evaporation. "
                  "What is evaporation"),
        Utterance(21.0, 24.0, "water turning into gas"),
        Utterance(25.0, 40.0, "Good. Why do you think puddles dry faster in the sun"),
        Utterance(43.0, 47.0, "because the sun heats them"),
        Utterance(46.0, 50.0, "the evaporation is faster when its hot"),
        Utterance(51.0, 60.0, "Great reasoning. Does everyone understand"),
        Utterance(62.0, 64.0, "can we do an experiment"),
    )
    return LessonAnalysis(
        duration_s=70.0,
        transcript=Transcript(utts, "en", "test"),
        diarization=Diarization(turns, tuple(Span(t.start, t.end) for t in turns), "test"),
        roles=RoleAssignment(frozenset({teacher}), 0.9, "manual"),
        levels=levels,
    )


def test_compute_metrics_bundles_every_measure_and_serialises():
    m = compute_metrics(_analysis())
    assert m.duration_s == 70.0 and m.roles_method == "manual"
    assert m.talk.teacher_s == pytest.approx(44.0) and m.talk.pupil_s == pytest.approx(12.0)
    assert m.talk.overlap_s == 0.0 and m.talk.pupil_overlap_s == pytest.approx(1.0)
    texts = [q.text for q in m.questions]
    assert texts == ["What is evaporation", "Why do you think puddles dry faster in the sun",
                     "Does everyone understand", "can we do an experiment"]
    what, why, check, pupil_q = m.questions
    assert (what.qtype, what.response, what.wait_time_1_s, what.wait_time_2_s) == ("closed", "pupil", 1.0, 1.0)
    assert (why.qtype, why.response, why.responders) == ("open", "pupils", 2)
    assert why.wait_time_1_s == pytest.approx(3.0) and why.wait_time_2_s == pytest.approx(1.0)
    assert (check.qtype, check.response) == ("checking", "pupil")
    assert m.pupil_questions == (pupil_q,) and pupil_q.response == "none"
    assert m.question_stats.distinct_pupils_engaged == 2
    assert [t.term for t in m.language.mirrored] == ["evaporation"]
    assert {k.kind for k in m.moments} >= {"several_pupils_answer", "pupil_question", "pupil_uses_term"}
    assert m.activities[0].start == 0.0 and m.activities[-1].end == 70.0
    assert sum(a.seconds for a in m.activity_time) == pytest.approx(70.0)
    text = json.dumps(dataclasses.asdict(m))  # plain JSON: tuples, floats, str, None; no numpy
    assert json.loads(text)["talk"]["teacher_s"] == pytest.approx(44.0)


def test_correcting_the_teacher_recomputes_everything():
    right = compute_metrics(_analysis("A"))
    wrong = compute_metrics(_analysis("B"))
    assert wrong.talk.teacher_s == pytest.approx(9.0) and wrong.talk.pupil_s == pytest.approx(48.0)
    assert right.question_stats.teacher_questions == 3 and wrong.question_stats.teacher_questions == 1
    assert wrong.question_stats.pupil_questions == 3


def test_empty_analysis():
    empty = LessonAnalysis(0.0, Transcript((), "en", "x"), Diarization((), (), "x"),
                           RoleAssignment(frozenset(), 0.0, "none"))
    m = compute_metrics(empty)
    assert m.questions == () and m.activities == () and m.moments == ()
    assert m.question_stats.total == 0 and m.language.teacher_words == 0
    assert all(a.seconds == 0.0 and a.share == 0.0 for a in m.activity_time)
    json.dumps(dataclasses.asdict(m))


def test_progress_is_reported():
    seen = []
    compute_metrics(_analysis(), progress=lambda stage, f: seen.append((stage, f)))
    assert seen[0] == ("metrics", 0.0) and seen[-1] == ("metrics", 1.0)
    assert [f for _, f in seen] == sorted(f for _, f in seen)


def test_compare_lessons_rows_in_order():
    a, b = compute_metrics(_analysis("A")), compute_metrics(_analysis("B"))
    rows = compare_lessons([("l1", "2024-01-10", a), ("l2", "2024-02-01", b)])
    assert [(r.lesson_id, r.label) for r in rows] == [("l1", "2024-01-10"), ("l2", "2024-02-01")]
    assert rows[0].teacher_talk_share == pytest.approx(44 / 70)
    assert rows[1].teacher_talk_share == pytest.approx(9 / 70)
    assert (rows[0].teacher_questions, rows[0].pupil_questions, rows[0].open_questions) == (3, 1, 1)
    assert rows[0].mean_wait_time_1_s == pytest.approx((1.0 + 3.0 + 2.0) / 3)
    assert compare_lessons([]) == ()
    json.dumps([dataclasses.asdict(r) for r in rows])


def test_moments_are_few_neutral_and_in_time_order():
    turns = [_t(0, 2), _t(6, 14, "P1"), _t(15, 16)]
    utts = [Utterance(0, 2, "how did you work that out", (), "T", "teacher"),
            Utterance(6, 14, "I added them and then because it doubles I multiplied by two", (), "P1", "pupil"),
            Utterance(15, 16, "lovely", (), "T", "teacher")]
    qs = find_questions(utts, turns, 20.0)
    moments = find_moments(20.0, qs, utterances=utts, turns=turns)
    assert [m.kind for m in moments] == ["long_answer_after_wait", "pupil_reasoning"]
    assert moments[0].start == 0.0 and moments[0].end == pytest.approx(14.0)
    assert "4.0 s of wait time" in moments[0].description
    assert [m.start for m in moments] == sorted(m.start for m in moments)
    capped = find_moments(20.0, qs, utterances=utts, turns=turns, settings=dataclasses.replace(
        MetricsSettings().moments, max_moments=1))
    assert [m.kind for m in capped] == ["long_answer_after_wait"]


def test_metrics_round_trip_through_the_stored_json():
    from videocoach.core import serialize

    m = compute_metrics(_analysis())
    again = serialize.loads(type(m), serialize.dumps(m))
    assert again == m
