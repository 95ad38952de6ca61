"""The bundled sample lesson: its ground truth is consistent, covers what the analysis needs, and matches the audio."""

from __future__ import annotations

import importlib.util
import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile

from conftest import REPO, SAMPLE_MEDIA
from videocoach.av import media

SCRIPT = json.loads((SAMPLE_MEDIA / "lesson_script.json").read_text())
LINES = SCRIPT["lines"]
ROLE = {key: s["role"] for key, s in SCRIPT["speakers"].items()}
QUESTION_TYPES = {"closed", "open", "checking", "rhetorical"}
RESPONSES = {"pupil", "pupils", "self", "teacher", "none"}
ACTIVITIES = {"exposition", "discussion", "group_work", "independent_work"}


def _overlaps(a: dict, b: dict) -> bool:
    return a["start"] < b["end"] and b["start"] < a["end"]


def _questions(**match) -> list[dict]:
    return [
        line for line in LINES if line["question"] and all(line["question"][k] == v for k, v in match.items())
    ]


@pytest.fixture(scope="module")
def lesson_audio(tmp_path_factory) -> np.ndarray:
    out = media.extract_audio(SAMPLE_MEDIA / "lesson.mp4", tmp_path_factory.mktemp("lesson") / "lesson.wav")
    return media.load_wav(out)


def _dbfs(samples: np.ndarray, start_s: float, end_s: float) -> float:
    seg = samples[round(start_s * media.SAMPLE_RATE) : round(end_s * media.SAMPLE_RATE)].astype(np.float64)
    return float(20 * np.log10(np.sqrt(np.mean(seg**2)) + 1e-12))


# --- the script is consistent -----------------------------------------------------------------------------------------


def test_header_and_speakers():
    assert set(SCRIPT) >= {"title", "duration_s", "sample_rate", "speakers", "lines", "activities", "teacher_sample"}
    assert SCRIPT["sample_rate"] == 16000
    assert 90.0 <= SCRIPT["duration_s"] <= 150.0  # 1.5-2.5 minutes
    roles = sorted(ROLE.values())
    assert roles.count("teacher") == 1 and roles.count("pupil") >= 3
    assert len({s["voice"] for s in SCRIPT["speakers"].values()}) == len(ROLE)  # every speaker a different voice


def test_lines_are_sorted_and_inside_the_lesson():
    assert [(line["start"], line["end"]) for line in LINES] == sorted((line["start"], line["end"]) for line in LINES)
    for line in LINES:
        assert 0.0 <= line["start"] < line["end"] <= SCRIPT["duration_s"], line
        assert line["speaker"] in ROLE and line["text"].strip()
        others = [o for o in LINES if o is not line and _overlaps(o, line)]
        assert line["overlapping"] == bool(others), line  # the flag says exactly which lines are spoken over others
        assert all(o["speaker"] != line["speaker"] for o in others), "a speaker overlaps themself"


def test_every_question_is_fully_described():
    questions = [line for line in LINES if line["question"]]
    assert len(questions) >= 8
    for line in questions:
        q = line["question"]
        assert q["type"] in QUESTION_TYPES and q["response"] in RESPONSES, line
        assert q["by"] == ROLE[line["speaker"]], line
        assert line["text"].rstrip().endswith("?"), line
        if q["response"] == "none":
            assert q["wait_s"] is None
        else:
            assert 0.0 < q["wait_s"] <= 4.5, line
            after = LINES[LINES.index(line) + 1]
            assert abs(after["start"] - line["end"] - q["wait_s"]) < 1e-3  # wait = silence before the next line
            responder = {"pupil": "pupil", "pupils": "pupil", "self": "teacher", "teacher": "teacher"}
            assert ROLE[after["speaker"]] == responder[q["response"]], line
    statements = [line for line in LINES if not line["question"]]
    assert all(not line["text"].rstrip().endswith("?") for line in statements)


def test_the_lesson_has_the_talk_moves_the_analysis_looks_for():
    teacher_q = _questions(by="teacher")
    assert _questions(by="teacher", type="open") and _questions(by="teacher", type="closed")
    assert _questions(type="checking") and _questions(type="rhetorical", response="none")
    assert _questions(response="self")  # an unanswered question the teacher answers herself
    assert _questions(response="pupils")  # a chorus
    assert len(_questions(by="pupil")) >= 2
    waits = [line["question"]["wait_s"] for line in teacher_q if line["question"]["response"] in ("pupil", "pupils")]
    assert min(waits) >= 1.0 and max(waits) <= 4.0 and max(waits) - min(waits) >= 1.5  # realistic, varied waits
    # subject terms the teacher introduces and pupils reuse, and "thinking" language
    for term in ("evaporat", "hypothesis"):
        said = [line for line in LINES if term in line["text"].lower()]
        assert ROLE[said[0]["speaker"]] == "teacher" and any(ROLE[line["speaker"]] == "pupil" for line in said)
    text = " ".join(line["text"].lower() for line in LINES)
    assert all(word in text for word in ("explain", "because", "predict", "evidence"))


def test_activities_cover_the_lesson_without_overlap():
    acts = SCRIPT["activities"]
    assert acts[0]["start"] == 0.0 and acts[-1]["end"] == SCRIPT["duration_s"]
    for before, after in zip(acts, acts[1:]):
        assert before["end"] == after["start"] and before["label"] != after["label"]
    assert all(a["label"] in ACTIVITIES and a["start"] < a["end"] for a in acts)
    assert {a["label"] for a in acts} == ACTIVITIES
    for line in LINES:  # every line sits in the activity it names
        (act,) = [a for a in acts if a["start"] <= line["start"] < a["end"]]
        assert act["label"] == line["activity"]
    (quiet,) = [a for a in acts if a["label"] == "independent_work"]
    assert 15.0 <= quiet["end"] - quiet["start"] <= 20.0
    assert not [line for line in LINES if _overlaps(line, quiet)]
    (group,) = [a for a in acts if a["label"] == "group_work"]
    chatter = [line for line in LINES if line["activity"] == "group_work" and line["overlapping"]]
    assert len({line["speaker"] for line in chatter}) >= 3
    assert max(line["end"] for line in chatter) - min(line["start"] for line in chatter) >= 15.0
    assert all(line["start"] >= group["start"] and line["end"] <= group["end"] for line in chatter)


def test_teacher_sample_is_teacher_alone():
    span = SCRIPT["teacher_sample"]
    assert 4.0 <= span["end"] - span["start"] <= 6.0
    inside = [line for line in LINES if _overlaps(line, span)]
    assert inside and all(ROLE[line["speaker"]] == "teacher" for line in inside)
    covered = sum(min(line["end"], span["end"]) - max(line["start"], span["start"]) for line in inside)
    assert covered >= 0.9 * (span["end"] - span["start"])  # she is speaking through it, not silent


# --- the media match the script ---------------------------------------------------------------------------------------


def test_mp4_probes_to_the_stated_duration():
    info = media.probe(SAMPLE_MEDIA / "lesson.mp4")
    assert abs(info.duration_s - SCRIPT["duration_s"]) < 0.1
    assert info.has_audio and info.has_video and (info.width, info.height) == (1280, 720)
    assert info.size_bytes < 8 * 1024**2  # small enough to ship in the repository


def test_audio_levels_follow_the_script(lesson_audio):
    """Speech where the script has lines, room noise in its gaps: the times are exact, to a few tens of ms."""
    assert abs(len(lesson_audio) / media.SAMPLE_RATE - SCRIPT["duration_s"]) < 0.1
    solo = [line for line in LINES if not line["overlapping"]]
    assert min(_dbfs(lesson_audio, line["start"], line["end"]) for line in solo) > -35.0
    gaps = [(a["end"], b["start"]) for a, b in zip(LINES, LINES[1:]) if b["start"] - a["end"] >= 0.3]
    assert len(gaps) >= 15 and max(_dbfs(lesson_audio, *gap) for gap in gaps) < -40.0
    before = np.mean([_dbfs(lesson_audio, line["start"] - 0.05, line["start"]) for line in solo])
    after = np.mean([_dbfs(lesson_audio, line["start"], line["start"] + 0.05) for line in solo])
    assert before < -40.0 and after > before + 10.0  # onsets are where the script says
    level = {a["label"]: _dbfs(lesson_audio, a["start"], a["end"]) for a in SCRIPT["activities"]}
    assert -50.0 < level["independent_work"] < -40.0  # near silence, but room noise, not digital zero
    assert level["group_work"] > level["independent_work"] + 12.0


def test_teacher_voice_sample():
    path = SAMPLE_MEDIA / "teacher_voice.wav"
    info = soundfile.info(str(path))
    assert (info.samplerate, info.channels) == (16000, 1)
    assert 5.0 <= info.frames / info.samplerate <= 8.0
    samples = media.load_wav(path)
    assert _dbfs(samples, 0.5, len(samples) / 16000 - 0.5) > -30.0  # speech, not silence
    said = SCRIPT["teacher_voice"]["text"].lower()
    assert not any(line["text"].lower() in said or said in line["text"].lower() for line in LINES)


@pytest.mark.slow
def test_generator_reproduces_the_committed_ground_truth(tmp_path, monkeypatch):
    """Re-synthesising the lesson (audio only, no video encode) gives the same lines and activities, to 0.1 ms."""
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng not installed")
    spec = importlib.util.spec_from_file_location("make_sample_lesson", REPO / "scripts" / "make_sample_lesson.py")
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, module)  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    mix, script = module.build(Path(tmp_path))
    assert script["lines"] == LINES
    assert script["activities"] == SCRIPT["activities"]
    assert script["teacher_sample"] == SCRIPT["teacher_sample"]
    assert len(mix) / module.SAMPLE_RATE == pytest.approx(SCRIPT["duration_s"], abs=1e-3)
