"""Golden values: the metrics of the bundled sample lesson, computed from its SCRIPT, against the script's own truth.

Turns and utterances are built from ``sample_media/lesson_script.json`` (one diarisation turn and one transcript
segment per scripted line, the VAD speech = the lines plus the background babble), not from the audio pipeline, so
this checks the measures themselves.  The script and our scheme differ in two documented places, asserted
explicitly below so that any change shows:

- the script has no "procedural" type: its "closed" may be our "closed" or "procedural" ("Can we use a calculator?");
- a rhetorical question: the script says response "none" and no wait time (nobody was meant to answer); we record
  who spoke next, the teacher herself after 1.0 s ("self", wait time 1.0 s), which is how we decide "rhetorical".
"""

from __future__ import annotations

import dataclasses
import json
import re

import numpy as np
import pytest

from conftest import SAMPLE_MEDIA
from videocoach.measures.metrics import compute_metrics
from videocoach.core.model import Diarization, LessonAnalysis, RoleAssignment, Span, Transcript, Turn, Utterance, Word

SCRIPT = SAMPLE_MEDIA / "lesson_script.json"


@pytest.fixture(scope="module")
def script():
    if not SCRIPT.is_file():
        pytest.skip(f"no sample lesson script at {SCRIPT}")
    return json.loads(SCRIPT.read_text())


def _analysis(script, strip_question_marks=False):
    lines = script["lines"]
    text = (lambda t: t.replace("?", ".")) if strip_question_marks else (lambda t: t)
    turns = tuple(Turn(l["start"], l["end"], l["speaker"]) for l in lines)
    utts = tuple(Utterance(l["start"], l["end"], text(l["text"])) for l in lines)
    speech = tuple(Span(l["start"], l["end"]) for l in lines) + tuple(
        Span(b["start"], b["end"]) for b in script.get("background", ())
    )
    teachers = frozenset(k for k, v in script["speakers"].items() if v["role"] == "teacher")
    return LessonAnalysis(
        duration_s=script["duration_s"],
        transcript=Transcript(utts, "en", "script"),
        diarization=Diarization(turns, speech, "script"),
        roles=RoleAssignment(teachers, 1.0, "manual"),
    )


@pytest.fixture(scope="module")
def metrics(script):
    return compute_metrics(_analysis(script))


def _question_lines(script):
    return [l for l in script["lines"] if l.get("question")]


def _question_sentence(line):
    """The question sentence of a scripted line (a line may start with a statement)."""
    sentences = re.findall(r"[^.?!]+[.?!]", line["text"])
    return next(s.strip() for s in sentences if s.strip().endswith("?"))


@pytest.mark.parametrize("strip", [False, True], ids=["with-question-marks", "words-only"])
def test_every_scripted_question_is_found_and_nothing_else(script, strip):
    m = compute_metrics(_analysis(script, strip_question_marks=strip))
    expected = _question_lines(script)
    assert len(m.questions) == len(expected)
    for q, line in zip(m.questions, expected):
        assert line["start"] - 1e-6 <= q.start and q.end == pytest.approx(line["end"])
        assert q.text.rstrip(".?") == _question_sentence(line).rstrip("?")
        assert q.speaker == line["speaker"]
        assert q.role == line["question"]["by"]
    if strip:
        assert all(q.detect_rule != "question_mark" for q in m.questions)


def test_question_types_responses_and_wait_times(script, metrics):
    for q, line in zip(metrics.questions, _question_lines(script)):
        truth = line["question"]
        sentence = _question_sentence(line)
        # type
        if truth["type"] == "closed":
            assert q.qtype in ("closed", "procedural"), sentence
        else:
            assert q.qtype == truth["type"], sentence
        # response
        if truth["type"] == "rhetorical":
            assert (truth["response"], q.response) == ("none", "self")
        else:
            assert q.response == truth["response"], sentence
        # wait time 1: the silence from the question's end to the next line
        if truth["wait_s"] is None:
            next_line = min((l for l in script["lines"] if l["start"] >= line["end"]), key=lambda l: l["start"])
            assert q.wait_time_1_s == pytest.approx(next_line["start"] - line["end"], abs=1e-6)
        else:
            assert q.wait_time_1_s == pytest.approx(truth["wait_s"], abs=0.05), sentence
        assert q.is_open == (q.qtype == "open")


def test_responders_answer_length_and_wait_time_2(script, metrics):
    lines = script["lines"]
    for q, line in zip(metrics.questions, _question_lines(script)):
        if q.response not in ("pupil", "pupils"):
            assert q.wait_time_2_s is None and q.responders == 0
            continue
        # the answer: the pupil lines between the question and the teacher's next line
        nxt_t = min(l["start"] for l in lines if l["speaker"] == "T" and l["start"] > line["end"])
        answer = [l for l in lines if l["speaker"] != "T" and line["end"] <= l["start"] < nxt_t]
        assert q.responders == len({l["speaker"] for l in answer})
        assert q.answer_end_s == pytest.approx(max(l["end"] for l in answer))
        assert q.wait_time_2_s == pytest.approx(nxt_t - max(l["end"] for l in answer))
    stats = metrics.question_stats
    assert stats.teacher_questions == sum(l["question"]["by"] == "teacher" for l in _question_lines(script))
    assert stats.pupil_questions == len(metrics.pupil_questions) == 3
    assert stats.distinct_pupils_engaged == 4  # P1..P4 all answered a teacher question


def test_teacher_and_pupil_seconds(script, metrics):
    ms = 1000
    n = int(round(script["duration_s"] * ms))
    teacher, pupil = np.zeros(n, bool), np.zeros(n, bool)
    for l in script["lines"]:
        role = script["speakers"][l["speaker"]]["role"]
        a, b = int(round(l["start"] * ms)), int(round(l["end"] * ms))
        (teacher if role == "teacher" else pupil)[a:b] = True
    talk = metrics.talk
    assert talk.teacher_s == pytest.approx(teacher.sum() / ms, abs=0.01)
    assert talk.pupil_s == pytest.approx(pupil.sum() / ms, abs=0.01)
    assert talk.overlap_s == pytest.approx((teacher & pupil).sum() / ms, abs=0.01)
    assert talk.silence_s == pytest.approx((~(teacher | pupil)).sum() / ms, abs=0.01)
    assert talk.pupil_overlap_s > 5.0  # the group work is voices over voices
    assert sum(m.teacher_s for m in talk.per_minute) == pytest.approx(talk.teacher_s)


def test_activities_overlap_the_script(script, metrics):
    step = 0.1
    times = np.arange(0.0, script["duration_s"], step) + step / 2

    def label_at(spans, t):  # times are bin centres, inside [0, duration)
        return next(label for start, end, label in spans if start <= t < end)

    truth = [label_at([(a["start"], a["end"], a["label"]) for a in script["activities"]], t) for t in times]
    ours = [label_at([(a.start, a.end, a.label) for a in metrics.activities], t) for t in times]
    agreement = np.mean([a == b for a, b in zip(truth, ours)])
    assert agreement >= 0.85, agreement
    for act in script["activities"]:  # each scripted activity is mostly labelled as such
        inside = [o for t, o in zip(times, ours) if act["start"] <= t < act["end"]]
        assert max(set(inside), key=inside.count) == act["label"], act
    minutes = {a.label: a.minutes for a in metrics.activity_time}
    for label in ("exposition", "discussion", "independent_work", "group_work"):
        scripted = sum(a["end"] - a["start"] for a in script["activities"] if a["label"] == label) / 60
        assert minutes[label] == pytest.approx(scripted, abs=0.15), label


def test_language_mirrors_the_terms_the_teacher_introduced(script, metrics):
    def first(role, stem):
        return min(l["start"] for l in script["lines"]
                   if (l["speaker"] == "T") == (role == "teacher") and stem in l["text"].lower())

    mirrored = {m.term: m for m in metrics.language.mirrored}
    for term, stem in (("evaporation", "evapor"), ("hypothesis", "hypothes")):
        m = mirrored[term]
        line_t = next(l for l in script["lines"] if l["start"] == first("teacher", stem))
        assert line_t["start"] <= m.teacher_first_s <= line_t["end"]
        assert m.pupil_first_s == pytest.approx(first("pupil", stem))
    thinking_pupil = {t.term for t in metrics.language.thinking_pupil}
    assert {"because", "predict", "evidence", "hypothesis"} <= thinking_pupil


def test_moments_point_at_pupil_questions_and_mirroring(script, metrics):
    kinds = [m.kind for m in metrics.moments]
    assert kinds.count("pupil_question") == 3
    assert "pupil_uses_term" in kinds and "wait_time" in kinds
    pupil_q_starts = [q.start for q in metrics.pupil_questions]
    for m in metrics.moments:
        if m.kind == "pupil_question":
            assert any(m.start <= s <= m.end for s in pupil_q_starts)
    json.dumps(dataclasses.asdict(metrics))


# -- the key question, "Why do you think the salty ice melted faster?" ------------------------------------------------
KEY_QUESTION = "Why do you think the salty ice melted faster?"


def _with_words(script, stranded: bool):
    """The script's analysis with word timings (shared out evenly over each line).  ``stranded``: the first word of
    the pupil's answer to the key question placed as Whisper placed it on the real audio -- pulled back across
    the 3.2 s pause to the end of the teacher's question, mostly in silence, a full second long."""
    analysis = _analysis(script)
    lines = script["lines"]
    key = next(i for i, l in enumerate(lines) if l["text"] == KEY_QUESTION)
    utts = []
    for i, (u, line) in enumerate(zip(analysis.transcript.utterances, lines)):
        words = line["text"].split()
        step = (line["end"] - line["start"]) / len(words)
        timed = [Word(line["start"] + k * step, line["start"] + (k + 1) * step, (" " if k else "") + w)
                 for k, w in enumerate(words)]
        if stranded and i == key + 1:
            q_end = lines[key]["end"]
            timed[0] = Word(q_end, q_end + 1.08, timed[0].text, 0.008)
        utts.append(dataclasses.replace(u, words=tuple(timed)))
    return dataclasses.replace(analysis, transcript=dataclasses.replace(analysis.transcript, utterances=tuple(utts)))


@pytest.mark.parametrize("stranded", [False, True], ids=["as-scripted", "whisper-pulls-the-answer-back"])
def test_the_key_question_is_open_and_answered_by_a_pupil(script, stranded):
    """Found on the real sample: the pupil's "Because" stranded after the question made a one-word sentence of
    the teacher's, so the question read as rhetorical, answered by the asker after 0.0 s.  The stranded word
    belongs to the sentence after the pause (``sentences._stranded``)."""
    m = compute_metrics(_with_words(script, stranded))
    q = next(q for q in m.questions if q.text == KEY_QUESTION)
    line = next(l for l in script["lines"] if l["text"] == KEY_QUESTION)
    assert (q.qtype, q.qtype_rule, q.response) == ("open", "open_why", "pupil")
    assert q.wait_time_1_s == pytest.approx(line["question"]["wait_s"], abs=0.05)
    assert q.responder_speakers == ("P2",)


@pytest.mark.slow
def test_the_key_question_on_the_analysed_sample(analysed_sample):
    """The same question through the real pipeline (ASR, diariser, roles): open, a pupil answers after the pause."""
    from videocoach import pipeline
    from videocoach.storage.store import Store

    with Store(analysed_sample["settings"]) as db:
        metrics = pipeline.load_metrics(db, analysed_sample["lesson_id"])
    found = [q for q in metrics.questions if q.text.lower().startswith("why do you think the salt")]
    assert len(found) == 1, [q.text for q in metrics.questions]
    q = found[0]
    assert (q.role, q.qtype, q.response) == ("teacher", "open", "pupil"), q
    assert 2.5 <= q.wait_time_1_s <= 4.0, q  # the script's 3.2 s, measured on the diariser's turns
