"""Loudness and voice activity over the lesson, for activity detection (and the VAD the diariser uses).

Group work reads as loud, speechy stretches, and as babble (many voices at once, :mod:`videocoach.audio.babble`,
which Silero alone often hears as no speech); independent work as quiet ones.  Everything here is numpy apart from
Silero VAD, whose ONNX model ships inside the ``silero-vad`` PyPI package and is loaded from that local file with
onnxruntime: nothing is ever downloaded.
"""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import numpy as np

from videocoach.core.model import AudioLevels

SAMPLE_RATE = 16000
VAD_FRAME_SAMPLES = 512  # Silero's frame at 16 kHz: 32 ms
VAD_CONTEXT_SAMPLES = 64  # each frame is fed with the last 64 samples of the previous one
VAD_FRAME_S = VAD_FRAME_SAMPLES / SAMPLE_RATE  # 0.032
VAD_BLOCK_FRAMES = 512  # frames per ONNX call: 512 * 32 ms = 16.4 s
LEVELS_BLOCK_SAMPLES = 60 * SAMPLE_RATE  # RMS a minute at a time
SILENCE_DBFS = -120.0  # what an all-zero step reads as (log of zero is -inf)

# The "sequence" export runs a block of frames in one call (same numbers as the streaming model, no Python loop
# per 32 ms frame).  It is a file inside the silero-vad wheel.
SILERO_SEQUENCE_ONNX = "silero_vad_16k_sequence.onnx"


def silero_model_path(name: str = SILERO_SEQUENCE_ONNX) -> Path:
    """The bundled ONNX file in the installed ``silero_vad`` package (found without importing it, so no torch)."""
    spec = importlib.util.find_spec("silero_vad")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the silero-vad package is not installed (pip install 'silero-vad>=6')")
    path = Path(next(iter(spec.submodule_search_locations))) / "data" / name
    if not path.is_file():
        raise RuntimeError(f"silero-vad is installed but has no bundled model {name} at {path}")
    return path


class SileroVad:
    """Silero VAD on onnxruntime: per-32-ms-frame speech probabilities of 16 kHz mono audio."""

    def __init__(self, model_path: Path | None = None, num_threads: int = 1) -> None:
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.inter_op_num_threads = 1
        options.intra_op_num_threads = max(1, int(num_threads))
        self.model_path = Path(model_path) if model_path is not None else silero_model_path()
        self._session = onnxruntime.InferenceSession(
            str(self.model_path), sess_options=options, providers=["CPUExecutionProvider"]
        )

    def frame_probs(self, audio: np.ndarray) -> np.ndarray:
        """Speech probability of each 32 ms frame: ``probs[i]`` covers samples [512 i, 512 (i + 1))."""
        audio = _as_mono_float32(audio)
        n_frames = math.ceil(audio.size / VAD_FRAME_SAMPLES)
        if n_frames == 0:
            return np.zeros(0, dtype=np.float32)
        padded = np.zeros(n_frames * VAD_FRAME_SAMPLES, dtype=np.float32)
        padded[: audio.size] = audio
        frames = padded.reshape(n_frames, VAD_FRAME_SAMPLES)
        contexts = np.zeros((n_frames, VAD_CONTEXT_SAMPLES), dtype=np.float32)
        contexts[1:] = frames[:-1, -VAD_CONTEXT_SAMPLES:]
        blocks = np.concatenate((contexts, frames), axis=1)
        hidden = np.zeros((1, 1, 128), dtype=np.float32)
        cell = np.zeros((1, 1, 128), dtype=np.float32)
        out = []
        for first in range(0, n_frames, VAD_BLOCK_FRAMES):
            probs, hidden, cell = self._session.run(
                ["speech_probs", "hn", "cn"],
                {"input": blocks[first : first + VAD_BLOCK_FRAMES], "h": hidden, "c": cell},
            )
            out.append(np.asarray(probs, dtype=np.float32).reshape(-1))
        return np.concatenate(out)


def load_vad(num_threads: int = 1) -> SileroVad:
    return SileroVad(num_threads=num_threads)


def compute_levels(
    audio: np.ndarray,
    sample_rate: int = SAMPLE_RATE,
    step_s: float = 0.5,
    vad: SileroVad | None = None,
    frame_probs: np.ndarray | None = None,
    babble: bool = True,
) -> AudioLevels:
    """RMS loudness (dBFS, full scale = 1.0), mean Silero speech probability and (``babble``) the probability that
    many people talk at once (:mod:`videocoach.audio.babble`) for each ``step_s`` of audio.

    Step ``i`` describes [i * step_s, (i + 1) * step_s); a last partial step is kept.  ``frame_probs`` lets a
    caller that already ran the VAD (the diariser) pass its 32 ms probabilities instead of running it again.
    """
    if sample_rate != SAMPLE_RATE:
        raise ValueError(f"audio must be {SAMPLE_RATE} Hz mono (media.extract_audio gives that), got {sample_rate}")
    if not step_s > 0:
        raise ValueError(f"step_s must be positive, got {step_s!r}")
    audio = _as_mono_float32(audio)
    step_samples = max(1, int(round(step_s * sample_rate)))
    n_steps = math.ceil(audio.size / step_samples)
    if n_steps == 0:
        return AudioLevels(step_s=step_s, rms_dbfs=(), speech_prob=(), babble_prob=())

    sums = np.zeros(n_steps)
    block = max(1, LEVELS_BLOCK_SAMPLES // step_samples)  # steps per block: no full-length float64 copy
    for s0 in range(0, n_steps, block):
        piece = audio[s0 * step_samples : (s0 + block) * step_samples].astype(np.float64)
        k = math.ceil(piece.size / step_samples)
        padded = np.zeros(k * step_samples)
        padded[: piece.size] = piece
        sums[s0 : s0 + k] = (padded.reshape(k, step_samples) ** 2).sum(axis=1)
    counts = np.full(n_steps, step_samples, dtype=np.float64)
    counts[-1] = audio.size - (n_steps - 1) * step_samples  # the last step may be partial
    rms = np.sqrt(sums / counts)
    with np.errstate(divide="ignore"):
        rms_dbfs = np.maximum(20.0 * np.log10(rms), SILENCE_DBFS)

    if frame_probs is None:
        frame_probs = (vad or load_vad()).frame_probs(audio)
    speech_prob = _mean_per_step(np.asarray(frame_probs, dtype=np.float64), VAD_FRAME_S, step_s, n_steps)
    babble_prob: tuple[float, ...] = ()
    threshold = 0.5
    if babble:
        from videocoach.audio.babble import babble_probs, default_model

        model = default_model()
        babble_prob = tuple(round(float(x), 4) for x in babble_probs(audio, frame_probs, step_s, model, VAD_FRAME_S))
        threshold = model.threshold
    return AudioLevels(
        step_s=step_s,
        rms_dbfs=tuple(round(float(x), 2) for x in rms_dbfs),
        speech_prob=tuple(round(float(x), 4) for x in speech_prob),
        babble_prob=babble_prob,
        babble_threshold=threshold,
    )


def _mean_per_step(values: np.ndarray, value_step_s: float, step_s: float, n_steps: int) -> np.ndarray:
    """Average a regular series (one value per ``value_step_s``) into ``n_steps`` bins of ``step_s``."""
    if values.size == 0:
        return np.zeros(n_steps)
    centres = (np.arange(values.size) + 0.5) * value_step_s
    bins = np.minimum((centres / step_s).astype(np.int64), n_steps - 1)
    sums = np.bincount(bins, weights=values, minlength=n_steps)
    counts = np.bincount(bins, minlength=n_steps)
    means = np.divide(sums, counts, out=np.zeros(n_steps), where=counts > 0)
    # a step shorter than a VAD frame gets no frame centre: borrow the frame that covers it
    empty = counts == 0
    if empty.any():
        idx = np.minimum(((np.nonzero(empty)[0] + 0.5) * step_s / value_step_s).astype(np.int64), values.size - 1)
        means[empty] = values[idx]
    return means


def _as_mono_float32(audio: np.ndarray) -> np.ndarray:
    audio = np.asarray(audio)
    if audio.ndim != 1:
        raise ValueError(f"audio must be a 1-D mono array, got shape {audio.shape}")
    if not np.issubdtype(audio.dtype, np.floating):
        raise ValueError(f"audio must be float samples in [-1, 1], got dtype {audio.dtype}")
    audio = np.ascontiguousarray(audio, dtype=np.float32)
    if not np.isfinite(audio).all():
        audio = np.nan_to_num(audio, nan=0.0, posinf=0.0, neginf=0.0)
    return audio


__all__ = ["SileroVad", "compute_levels", "load_vad", "silero_model_path", "SAMPLE_RATE", "VAD_FRAME_S"]
