"""Exports and the JSON round trip of the data model, on hand-built lessons."""

import csv
import io
import json

import pytest

from videocoach.storage import exports
from videocoach.core import serialize
from videocoach.core.model import (
    AudioLevels, Diarization, LessonAnalysis, RoleAssignment, Span, Transcript, Turn, Utterance, Word,
)


@pytest.fixture
def analysis():
    words1 = (Word(0.5, 0.9, "Why", 0.9), Word(1.0, 1.4, "<did>", 0.8), Word(1.5, 2.0, "it-->melt?", 0.9))
    u1 = Utterance(0.5, 2.0, " Why <did> it-->melt?", words1)
    u2 = Utterance(4.0, 5.5, " Because of heat.", (Word(4.0, 4.6, "Because"), Word(4.7, 5.5, "of heat.")))
    return LessonAnalysis(
        duration_s=10.0,
        transcript=Transcript((u1, u2), "en", "test"),
        diarization=Diarization((Turn(0.4, 2.1, "SPEAKER_00"), Turn(3.9, 5.6, "SPEAKER_01")),
                                (Span(0.4, 2.1), Span(3.9, 5.6)), "test"),
        roles=RoleAssignment(frozenset({"SPEAKER_00"}), 0.9, "enrolment", (("SPEAKER_00", 0.8), ("SPEAKER_01", 0.2))),
        levels=AudioLevels(0.5, (-30.0,) * 20, (0.5,) * 20),
    )


def test_roundtrip_json(analysis):
    text = serialize.dumps(analysis)
    again = serialize.loads(LessonAnalysis, text)
    assert again == analysis
    assert isinstance(again.roles.teacher_speakers, frozenset)


def test_bad_json_is_refused():
    with pytest.raises(ValueError):
        serialize.loads(Span, '{"start": 3, "end": 1}')
    with pytest.raises(TypeError):
        serialize.loads(Span, '{"start": "x", "end": 1}')


def test_webvtt(analysis):
    vtt = exports.to_webvtt(analysis.utterances())
    assert vtt.startswith("WEBVTT\n")
    assert "00:00:00.500 --> 00:00:02.000" in vtt
    assert "<v Teacher>Why &lt;did&gt; it-&gt;melt?" in vtt
    assert "<v Pupil (SPEAKER_01)>Because of heat." in vtt


def test_srt(analysis):
    srt = exports.to_srt(analysis.utterances())
    blocks = srt.strip().split("\n\n")
    assert len(blocks) == 2
    assert blocks[1].splitlines() == ["2", "00:00:04,000 --> 00:00:05,500", "Pupil (SPEAKER_01): Because of heat."]


def test_rttm(analysis):
    rows = exports.to_rttm(analysis, uri="my lesson/../x").strip().splitlines()
    assert rows[0].split() == ["SPEAKER", "my_lesson_.._x", "1", "0.400", "1.700", "<NA>", "<NA>", "teacher_SPEAKER_00",
                               "<NA>", "<NA>"]
    assert rows[1].split()[7] == "pupil_SPEAKER_01"


def test_json_and_csv(analysis):
    from dataclasses import dataclass

    @dataclass(frozen=True)
    class Q:
        start: float
        text: str

    @dataclass(frozen=True)
    class M:
        teacher_s: float
        questions: tuple

    m = M(1.7, (Q(0.5, "Why did it melt?"),))
    doc = json.loads(exports.to_json(analysis, m, lesson={"id": "x"}))
    assert doc["metrics"]["teacher_s"] == 1.7 and doc["utterances"][0]["role"] == "teacher"
    rows = list(csv.reader(io.StringIO(exports.to_csv(m))))
    assert rows[0] == ["metric", "value"] and ["teacher_s", "1.7"] in rows
    assert ["question.start", "question.text"] in rows and ["0.5", "Why did it melt?"] in rows
