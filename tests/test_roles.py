"""Teacher / pupil roles: enrolment on real audio with the real models, and the pure rules on hand-made turns."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf

from conftest import shared
from videocoach.audio.diarize import DiarizeConfig, load_diarizer
from videocoach.av.ffmpeg import ffmpeg_binary, run
from videocoach.core.model import Diarization, RoleAssignment, Span, Turn
from videocoach.audio.roles import (
    TeacherVoice,
    assign_roles,
    auto_roles,
    enrol_teacher,
    teacher_sample_from_span,
    window_speakers,
)

SR = 16000


@pytest.fixture(scope="module")
def diarizer():
    import torch

    torch.set_num_threads(1)
    return load_diarizer(DiarizeConfig())


def _overlap(turns, spans) -> float:
    return sum(max(0.0, min(t.end, e) - max(t.start, s)) for t in turns for s, e in spans)


@pytest.mark.slow
def test_enrolment_on_pyannote_sample_picks_the_enrolled_speaker(diarizer):
    folder = shared("speech", "pyannote_sample")
    audio, _ = sf.read(folder / "sample.wav", dtype="float32")
    rows = [line.split() for line in (folder / "sample.rttm").read_text().splitlines() if line.strip()]
    ref = {}
    for r in rows:
        ref.setdefault(r[7], []).append((float(r[3]), float(r[3]) + float(r[4])))
    result = diarizer.run(audio)
    turns = result.diarization.turns
    # each reference speaker in turn is "the teacher": enrol from 4 s of their solo speech
    for who, sample_spans in (("speaker90", [Span(6.69, 7.12), Span(8.35, 9.92), Span(11.03, 13.03)]),
                              ("speaker91", [Span(21.78, 25.78)])):
        sample = np.concatenate([teacher_sample_from_span(audio, s) for s in sample_spans])
        voice = enrol_teacher(diarizer, sample, source=f"{who} solo")
        roles = assign_roles(result.diarization, result.windows.spans, result.windows.embeddings, voice)
        assert roles.method == "enrolment" and len(roles.teacher_speakers) == 1
        (teacher,) = roles.teacher_speakers
        # the chosen label is the one that covers most of this reference speaker's talk
        best = max(result.diarization.speakers,
                   key=lambda spk: _overlap([t for t in turns if t.speaker == spk], ref[who]))
        assert teacher == best
        assert roles.confidence >= 0.5
        scores = dict(roles.scores)
        assert scores[teacher] == max(scores.values())


@pytest.mark.slow
def test_enrolment_from_a_stored_sample_of_another_recording(diarizer):
    """The teacher sample is a separate file (kept per teacher): jfk's first 5 s; the 'lesson' has jfk later on."""
    jfk = np.frombuffer(run([ffmpeg_binary(), "-nostdin", "-v", "error", "-i", str(shared("speech", "jfk", "jfk.flac")),
                             "-f", "f32le", "-ac", "1", "-ar", "16000", "-"]), dtype=np.float32)
    other, _ = sf.read(shared("speech", "pyannote_sample", "sample.wav"), dtype="float32")
    pupil_a, pupil_b = other[int(21.8 * SR) : int(27.8 * SR)], other[int(14.5 * SR) : int(17.9 * SR)]
    lesson = np.concatenate([pupil_a, np.zeros(SR // 2, np.float32), jfk[5 * SR :], pupil_b])
    jfk_span = (6.5, 6.5 + (jfk.size - 5 * SR) / SR)
    stored = TeacherVoice.from_list(json.loads(json.dumps(enrol_teacher(diarizer, jfk[: 5 * SR]).to_list())))
    result = diarizer.run(lesson)
    roles = assign_roles(result.diarization, result.windows.spans, result.windows.embeddings, stored)
    teacher_turns = [t for t in result.diarization.turns if roles.role_of(t.speaker) == "teacher"]
    pupil_turns = [t for t in result.diarization.turns if roles.role_of(t.speaker) == "pupil"]
    assert _overlap(teacher_turns, [jfk_span]) > 0.8 * (jfk_span[1] - jfk_span[0])
    assert _overlap(pupil_turns, [jfk_span]) < 1.0
    # without enrolment the guess goes to the most talk, which here is the pupil: a stated, low-ish confidence
    guess = assign_roles(result.diarization, result.windows.spans, result.windows.embeddings, None)
    assert guess.method == "auto" and 0.0 <= guess.confidence < 0.8


def test_auto_guess_picks_the_speaker_with_most_talk():
    turns = (
        Turn(0.0, 30.0, "SPEAKER_00"),  # a pupil who talks first and briefly
        Turn(30.0, 200.0, "SPEAKER_01"),
        Turn(200.0, 205.0, "SPEAKER_00"),
        Turn(205.0, 400.0, "SPEAKER_01"),
        Turn(400.0, 410.0, "SPEAKER_02"),
        Turn(410.0, 600.0, "SPEAKER_01"),
    )
    roles = assign_roles(Diarization(turns, (), "test"), np.zeros((0, 2)), np.zeros((0, 192)), None)
    assert roles.method == "auto" and roles.teacher_speakers == frozenset({"SPEAKER_01"})
    assert 0.5 < roles.confidence <= 1.0
    assert dict(roles.scores)["SPEAKER_01"] == pytest.approx(555 / 600, abs=1e-3)
    # two speakers talking equally: the guess is no better than a coin
    even = auto_roles((Turn(0, 10, "A"), Turn(10, 20, "B")))
    assert even.confidence < 0.1
    lone = auto_roles((Turn(0, 10, "A"),))
    assert lone.teacher_speakers == frozenset({"A"}) and lone.confidence == 0.5


def test_enrolment_rules_on_hand_made_embeddings():
    rng = np.random.default_rng(0)
    teacher = rng.normal(size=16)
    pupil = rng.normal(size=16)

    def noisy(v, n):
        x = v + 0.15 * rng.normal(size=(n, 16))
        return x / np.linalg.norm(x, axis=1, keepdims=True)

    # the teacher's voice was split by diarisation into SPEAKER_00 and SPEAKER_02
    turns = (Turn(0, 10, "SPEAKER_00"), Turn(10, 20, "SPEAKER_01"), Turn(20, 30, "SPEAKER_02"))
    spans = np.array([[i, i + 1.0] for i in range(30)], dtype=float)
    emb = np.concatenate([noisy(teacher, 10), noisy(pupil, 10), noisy(teacher, 10)])
    voice = TeacherVoice(tuple(teacher / np.linalg.norm(teacher)))
    roles = assign_roles(Diarization(turns, (), "test"), spans, emb, voice)
    assert roles.teacher_speakers == frozenset({"SPEAKER_00", "SPEAKER_02"})
    assert roles.role_of("SPEAKER_01") == "pupil" and roles.confidence == 1.0
    # centres instead of spans work too
    assert assign_roles(Diarization(turns, (), "t"), spans.mean(axis=1), emb, voice).teacher_speakers == \
        roles.teacher_speakers
    with pytest.raises(ValueError):
        assign_roles(Diarization(turns, (), "t"), spans, emb[:, :8], voice)


def test_no_speakers_and_manual_correction():
    empty = assign_roles(Diarization((), (), "t"), np.zeros((0, 2)), np.zeros((0, 192)), None)
    assert empty.method == "none" and empty.teacher_speakers == frozenset()
    manual = RoleAssignment(frozenset({"SPEAKER_03"}), 1.0, "manual")
    assert manual.role_of("SPEAKER_03") == "teacher" and manual.role_of("SPEAKER_00") == "pupil"


def test_teacher_voice_storage_and_samples():
    v = TeacherVoice((3.0, 4.0), source="lesson 1")
    assert np.allclose(v.as_array(), [0.6, 0.8])
    assert TeacherVoice.from_list(v.to_list(), "x").embedding == (3.0, 4.0)
    with pytest.raises(ValueError):
        TeacherVoice(())
    with pytest.raises(ValueError):
        TeacherVoice((float("nan"),))
    audio = np.arange(10 * SR, dtype=np.float32)
    piece = teacher_sample_from_span(audio, Span(1.0, 2.5))
    assert piece.size == int(1.5 * SR) and piece[0] == SR
    with pytest.raises(ValueError):
        teacher_sample_from_span(audio, Span(20.0, 25.0))


def test_window_speakers_by_overlap():
    turns = (Turn(0, 5, "A"), Turn(5, 10, "B"))
    got = window_speakers(turns, np.array([[0.0, 1.5], [4.0, 6.5], [3.8, 5.5], [11.0, 12.0]]))
    assert got == ["A", "B", "A", None]
