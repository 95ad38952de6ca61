"""The whole pipeline end to end on real media with the real models: the sample lesson (analysed once per session,
with outbound network blocked), exports, role correction without new ASR, resume, the CLI, and odd lessons."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import REPO, SAMPLE_MEDIA, blocked_network, shared
from videocoach import ingest, pipeline
from videocoach.audio import question_lm
from videocoach.core import serialize
from videocoach.config import Settings
from videocoach.av.ffmpeg import ffmpeg_binary
from videocoach.audio.question_lm import QuestionLMConfig
from videocoach.measures.question_model import default_question_model, lm_text
from videocoach.measures.sentences import split_sentences
from videocoach.storage.store import Store

pytestmark = pytest.mark.slow


def _copy_store(sample, tmp_path) -> Settings:
    """A private copy of the analysed sample store, for tests that change things."""
    src = sample["settings"]
    dst = Settings(tmp_path / "data", tmp_path / "keys" / "media.key")
    shutil.copytree(src.data_dir, dst.data_dir, ignore=shutil.ignore_patterns("work", "*.lock", "worker.log"))
    dst.key_file.parent.mkdir(parents=True)
    shutil.copy2(src.key_file, dst.key_file)
    return dst


def _cli(settings: Settings, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    env = dict(os.environ, VIDEOCOACH_DATA=str(settings.data_dir), VIDEOCOACH_KEY_FILE=str(settings.key_file))
    return subprocess.run([sys.executable, "-m", "videocoach.cli", "-q", *args], env=env, cwd=REPO,
                          capture_output=True, text=True, timeout=timeout)


def test_sample_lesson_fully_analysed(analysed_sample):
    store = Store(analysed_sample["settings"])
    lesson_id = analysed_sample["lesson_id"]
    lesson = store.lesson(lesson_id)
    assert lesson.status in ("ready", "blocked")
    assert set(store.finished_stages(lesson_id)) == set(pipeline.STAGES) | set(pipeline.AUX_RESULTS)
    assert pipeline.pending_stages(store, lesson_id) == []
    assert set(store.media_kinds(lesson_id)) >= {"original", "audio", "redacted", "voice_windows"}
    analysis = pipeline.load_analysis(store, lesson_id)
    script = analysed_sample["script"]
    assert abs(analysis.duration_s - script["duration_s"]) < 0.2
    utterances = analysis.transcript.utterances
    assert len(utterances) >= 15
    previous = 0.0
    for u in utterances:  # invariants, as whisper's own tests check them
        assert 0 <= u.start <= u.end <= analysis.duration_s + 0.01
        for w in u.words:
            assert u.start - 1e-6 <= w.start <= w.end <= u.end + 1e-6
            assert w.start >= previous - 1e-6
            previous = w.start
    text = analysis.transcript.text.lower()
    for phrase in ("good morning", "solid or a liquid", "evaporat", "hypothesis"):
        assert phrase in text
    # enrolment from the scripted teacher sample: the teacher is found with confidence
    assert analysis.roles.method == "enrolment" and analysis.roles.teacher_speakers
    assert analysis.roles.confidence >= 0.5
    # the question-LM score for every sentence, kept for role corrections: questions score higher than statements
    lm = json.loads(store.stage(lesson_id, "question_lm"))
    model = default_question_model()
    assert lm["method"] == model.lm_method and model.lm_decoder == QuestionLMConfig().method
    sentences = split_sentences(utterances)
    assert set(lm["scores"]) == {lm_text(s.text) for s in sentences} - {""}
    asked = [lm["scores"][lm_text(s.text)] for s in sentences if s.text.strip().endswith("?")]
    told = [lm["scores"][lm_text(s.text)] for s in sentences if s.text.strip().endswith(".")]
    assert asked and told and np.median(asked) > np.median(told) + 1.0
    # scores of another LM (a lesson analysed under the last release's "?" logit) are not reused: model alone
    assert pipeline._stored_lm_scores(store, lesson_id, model.lm_method) == lm["scores"]
    assert pipeline._stored_lm_scores(store, lesson_id, "whisper-base-decoder:50f") is None
    store.close()


def test_sample_lesson_measures_match_the_script(analysed_sample):
    """The real pipeline's measures against the script that generated the lesson (tolerances cover ASR and
    diarisation error on synthetic voices; the exact golden values are in tests/test_sample_golden.py)."""
    store = Store(analysed_sample["settings"])
    metrics = pipeline.load_metrics(store, analysed_sample["lesson_id"])
    script = analysed_sample["script"]
    duration = script["duration_s"]
    teacher_lines = [l for l in script["lines"] if script["speakers"][l["speaker"]]["role"] == "teacher"]
    teacher_s = sum(l["end"] - l["start"] for l in teacher_lines)
    talk = metrics.talk
    assert abs(talk.teacher_s - teacher_s) <= 0.2 * teacher_s
    assert abs(talk.teacher_s + talk.pupil_s + talk.many_pupils_s + talk.silence_s - talk.overlap_s - duration) <= 0.15 * duration
    scripted_questions = [l for l in script["lines"] if l.get("question")]
    assert abs(len(metrics.questions) - len(scripted_questions)) <= 3
    teacher_qs = [q for q in metrics.questions if q.role == "teacher"]
    assert len(teacher_qs) >= 4
    assert any(q.role == "pupil" for q in metrics.questions)
    labels = {a.label for a in metrics.activities}
    assert {"exposition", "discussion", "independent_work"} <= labels
    quiet = next(a for a in script["activities"] if a["label"] == "independent_work")
    found = [a for a in metrics.activities if a.label == "independent_work"]
    assert any(min(a.end, quiet["end"]) - max(a.start, quiet["start"]) >= 0.6 * (quiet["end"] - quiet["start"])
               for a in found)
    store.close()


def test_exports_are_well_formed(analysed_sample, tmp_path):
    settings = analysed_sample["settings"]
    lesson = analysed_sample["lesson_id"][:8]
    outputs = {}
    for fmt in ("vtt", "srt", "rttm", "json", "csv"):
        out = tmp_path / f"lesson.{fmt}"
        result = _cli(settings, "export", lesson, "--format", fmt, "-o", str(out))
        assert result.returncode == 0, result.stderr
        outputs[fmt] = out.read_text(encoding="utf-8")
    vtt = outputs["vtt"]
    assert vtt.startswith("WEBVTT")
    cue_times = re.findall(r"(\d\d):(\d\d):(\d\d)\.(\d\d\d) --> (\d\d):(\d\d):(\d\d)\.(\d\d\d)", vtt)
    assert len(cue_times) >= 10
    starts = [int(h) * 3600 + int(m) * 60 + int(s) + int(ms) / 1000 for h, m, s, ms, *_ in cue_times]
    assert starts == sorted(starts)
    assert "<v Teacher>" in vtt and "<v Pupil" in vtt
    assert len(re.findall(r"-->", outputs["srt"])) == len(cue_times)
    rows = outputs["rttm"].strip().splitlines()
    assert rows and all(len(r.split()) == 10 and r.startswith("SPEAKER ") for r in rows)
    doc = json.loads(outputs["json"])
    assert doc["metrics"]["questions"] and doc["utterances"] and doc["analysis"]["transcript"]["utterances"]
    table = list(csv.reader(io.StringIO(outputs["csv"])))
    assert table[0] == ["metric", "value"]
    assert any(row and row[0] == "talk.teacher_s" for row in table)


def test_role_correction_recomputes_metrics_without_new_asr(analysed_sample, tmp_path, monkeypatch):
    settings = _copy_store(analysed_sample, tmp_path)
    store = Store(settings)
    lesson_id = analysed_sample["lesson_id"]
    before_transcript = store.stage(lesson_id, "transcribe")
    asr_finished = store._db.execute("SELECT finished_at FROM stages WHERE lesson_id=? AND stage='transcribe'",
                                     (lesson_id,)).fetchone()[0]
    analysis = pipeline.load_analysis(store, lesson_id)
    old_teacher = set(analysis.roles.teacher_speakers)
    other = next(s for s in analysis.diarization.speakers if s not in old_teacher)
    owner = store.user_by_name(analysed_sample["teacher"])
    old_metrics = pipeline.load_metrics(store, lesson_id)

    def no_model(*args, **kwargs):
        raise AssertionError("a role correction must not load the question LM")

    monkeypatch.setattr(question_lm, "cached_question_lm", no_model)
    new_metrics = pipeline.set_teacher_speakers(store, owner, lesson_id, [other])
    assert pipeline.load_analysis(store, lesson_id).roles.method == "manual"
    assert new_metrics.talk.teacher_s != pytest.approx(old_metrics.talk.teacher_s)
    assert store.stage(lesson_id, "transcribe") == before_transcript
    assert store._db.execute("SELECT finished_at FROM stages WHERE lesson_id=? AND stage='transcribe'",
                             (lesson_id,)).fetchone()[0] == asr_finished
    with pytest.raises(ValueError):
        pipeline.set_teacher_speakers(store, owner, lesson_id, ["SPEAKER_99"])
    # the CLI does the same and prints the new summary
    result = _cli(settings, "roles", lesson_id[:8], "--teacher", ",".join(sorted(old_teacher)))
    assert result.returncode == 0, result.stderr
    assert "manual" in result.stdout
    store.close()


def _roles_again(store, lesson_id, options):
    lesson = store.lesson(lesson_id)
    store.update_lesson(lesson_id, settings={**lesson.settings, **ingest._options_to_settings(options)})
    store.clear_stages(lesson_id, ["roles", "metrics"])
    pipeline.run(store, lesson_id)
    return pipeline.load_analysis(store, lesson_id).roles


def test_teacher_voice_file_is_kept_for_later_lessons(analysed_sample, tmp_path):
    """Enrolment from a voice file; the voice is kept per teacher and used when a later lesson gives no sample; a
    kept voice from an older voice model falls back to the automatic guess and says so."""
    from videocoach.audio import roles as roles_mod

    settings = _copy_store(analysed_sample, tmp_path)
    store = Store(settings)
    lesson_id = analysed_sample["lesson_id"]
    owner = store.user_by_name(analysed_sample["teacher"])
    expected = pipeline.load_analysis(store, lesson_id).roles.teacher_speakers
    with blocked_network():
        got = _roles_again(store, lesson_id, pipeline.AnalyseOptions(
            teacher_sample_file=str(SAMPLE_MEDIA / "teacher_voice.wav")))
        assert got.method == "enrolment" and got.teacher_speakers == expected
        kept = store.teacher_voice(owner.id)
        assert kept is not None and "teacher_voice.wav" in kept

        got = _roles_again(store, lesson_id, pipeline.AnalyseOptions())  # no sample: the kept voice
        assert got.method == "enrolment" and got.teacher_speakers == expected

        stale = roles_mod.TeacherVoice(tuple([0.1] * 256), "enrolled with the old resemblyzer model")
        store.save_teacher_voice(owner.id, serialize.dumps(stale))
        got = _roles_again(store, lesson_id, pipeline.AnalyseOptions())
        assert got.method == "auto"
        assert "enrol" in store.lesson(lesson_id).settings["roles_note"]
        pipeline.set_teacher_speakers(store, owner, lesson_id, sorted(expected))  # a correction clears the note
        assert "roles_note" not in store.lesson(lesson_id).settings
    store.close()


def test_a_pyannote_config_is_checked_before_anything_changes(analysed_sample, tmp_path):
    settings = _copy_store(analysed_sample, tmp_path)
    sample = "{start}-{end}".format(**analysed_sample["script"]["teacher_sample"])
    base = ("analyse", str(SAMPLE_MEDIA / "lesson.mp4"), "--owner", analysed_sample["teacher"], "--teacher-sample", sample)
    before = Store(settings)
    stages = {s: before.stage(analysed_sample["lesson_id"], s) for s in pipeline.STAGES}
    before.close()
    hub = _cli(settings, *base, "--pyannote-config", "pyannote/speaker-diarization-3.1")
    assert hub.returncode == 2 and "Traceback" not in hub.stderr and "not a local file" in hub.stderr
    (tmp_path / "seg.bin").write_bytes(b"")
    local = tmp_path / "config.yaml"
    local.write_text("pipeline:\n  name: x\n  params:\n    segmentation: seg.bin\n")
    result = _cli(settings, *base, "--pyannote-config", str(local))
    try:
        import pyannote.audio  # noqa: F401
    except ImportError:
        assert result.returncode == 2 and "pyannote.audio is not installed" in result.stderr, result.stderr
    after = Store(settings)
    if result.returncode == 2:  # refused: nothing stored was touched
        assert {s: after.stage(analysed_sample["lesson_id"], s) for s in pipeline.STAGES} == stages
    after.close()


def test_rerun_resumes_and_does_nothing_new(analysed_sample, tmp_path):
    settings = _copy_store(analysed_sample, tmp_path)
    result = _cli(settings, "analyse", str(SAMPLE_MEDIA / "lesson.mp4"), "--owner", analysed_sample["teacher"],
                  "--teacher-sample", "{start}-{end}".format(**analysed_sample["script"]["teacher_sample"]))
    assert result.returncode == 0, result.stderr
    assert "resuming lesson" in result.stderr
    store = Store(settings)
    assert len(store.all_lessons()) == 1
    listing = _cli(settings, "lessons")
    assert analysed_sample["lesson_id"][:8] in listing.stdout
    store.close()


def test_scores_of_an_older_question_lm_are_refreshed_by_a_rerun(analysed_sample, tmp_path):
    """A lesson analysed before an upgrade keeps the last release's "?" scores: it stays ready (decided by the
    model alone meanwhile), and re-running the analysis re-scores its sentences with the shipped probe."""
    settings = _copy_store(analysed_sample, tmp_path)
    store = Store(settings)
    lesson_id = analysed_sample["lesson_id"]
    fresh = json.loads(store.stage(lesson_id, "question_lm"))
    status = store.lesson(lesson_id).status  # "blocked": the sample's redaction audit has findings to review
    assert pipeline.stale_stages(store, lesson_id) == []
    old = {"method": "whisper-base-decoder:50f", "scores": {k: -1.0 for k in fresh["scores"]}}
    store.save_stage(lesson_id, "question_lm", json.dumps(old))
    assert pipeline.pending_stages(store, lesson_id) == [] and pipeline.stale_stages(store, lesson_id) == ["metrics"]
    done = []
    with blocked_network():
        pipeline.run(store, lesson_id, progress=lambda stage, frac: done.append(stage))
    assert set(done) == {"metrics"}  # nothing else is redone
    again = json.loads(store.stage(lesson_id, "question_lm"))
    assert again["method"] == fresh["method"] and pipeline.stale_stages(store, lesson_id) == []
    assert again["scores"] == pytest.approx(fresh["scores"], abs=1e-3)
    assert store.lesson(lesson_id).status == status
    store.close()


def _make(path: Path, *args: str) -> Path:
    subprocess.run([ffmpeg_binary(), "-v", "error", "-y", *args, str(path)], check=True)
    return path


def test_odd_lessons_give_a_clear_result(tmp_path):
    """A silent lesson, a one-speaker lesson, a video without audio and an audio-only file."""
    store = Store(Settings(tmp_path / "data", tmp_path / "keys" / "k"))
    owner = store.add_user("t", "teacher", None)
    silent = _make(tmp_path / "silent lesson.mp4", "-f", "lavfi", "-i", "testsrc=size=320x240:rate=10:duration=6",
                   "-f", "lavfi", "-i", "anullsrc=r=16000:cl=mono", "-t", "6", "-c:v", "libx264", "-c:a", "aac")
    jfk = shared("speech", "jfk", "jfk.flac")
    one_speaker = _make(tmp_path / "-one speaker é.mp4", "-f", "lavfi", "-i", "testsrc=size=320x240:rate=10:duration=11",
                        "-i", str(jfk), "-shortest", "-c:v", "libx264", "-c:a", "aac")
    no_audio = _make(tmp_path / "no audio.mp4", "-f", "lavfi", "-i", "testsrc=size=320x240:rate=10:duration=3",
                     "-c:v", "libx264")
    audio_only = _make(tmp_path / "audio only.m4a", "-i", str(jfk), "-c:a", "aac")

    with blocked_network():
        lesson = pipeline.analyse(store, owner, silent)
        metrics = pipeline.load_metrics(store, lesson.id)
        assert pipeline.load_analysis(store, lesson.id).transcript.utterances == ()
        assert metrics.talk.silence_s == pytest.approx(lesson.duration_s, abs=0.5)
        assert metrics.questions == ()

        lesson = pipeline.analyse(store, owner, one_speaker)
        analysis = pipeline.load_analysis(store, lesson.id)
        assert len(analysis.diarization.speakers) == 1
        assert analysis.roles.teacher_speakers == frozenset(analysis.diarization.speakers)
        assert "ask not what your country" in analysis.transcript.text.lower()

        lesson = pipeline.analyse(store, owner, no_audio)
        assert lesson.status in ("ready", "blocked")
        assert "redacted" in store.media_kinds(lesson.id) and store.stage(lesson.id, "transcribe") is None

        lesson = pipeline.analyse(store, owner, audio_only)
        assert lesson.status == "ready"
        assert "redacted" not in store.media_kinds(lesson.id)
        assert pipeline.load_analysis(store, lesson.id).transcript.utterances
    store.close()


@pytest.mark.parametrize("content", [b"", b"not a video at all\n" * 100])
def test_cli_bad_input_is_one_clear_line(tmp_path, content):
    bad = tmp_path / "-bad lesson.mp4"
    bad.write_bytes(content)
    settings = Settings(tmp_path / "data", tmp_path / "key")
    result = _cli(settings, "analyse", str(bad), timeout=120)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().startswith("videocoach: ")
    assert len(result.stderr.strip().splitlines()) <= 3
    store = Store(settings)
    assert store.all_lessons() == []
    store.close()


def test_cli_unknown_lesson_and_missing_file(tmp_path):
    settings = Settings(tmp_path / "data", tmp_path / "key")
    for args in (("export", "abcdef12", "--format", "vtt"), ("analyse", str(tmp_path / "nope.mp4"))):
        result = _cli(settings, *args, timeout=60)
        assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
