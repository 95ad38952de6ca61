"""Optional backend: a pyannote.audio pipeline the user already has on disk (a local ``config.yaml``).

Never a model hub: a hub id ("pyannote/speaker-diarization-3.1") is refused, and so is a config whose models
(segmentation, embedding, plda) are not local paths, because pyannote would fetch them.  Telemetry is switched off
before pyannote is imported.  pyannote.audio is not a dependency of videocoach (its torchaudio wheels are CUDA
builds that fail on CPU-only machines): without it, ``load_pyannote_diarizer`` raises a clear error.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from videocoach.audio.levels import SAMPLE_RATE, _as_mono_float32
from videocoach.core.model import Diarization, Progress, Span, Turn, no_progress

MODEL_KEYS = ("segmentation", "embedding", "plda")


class PyannoteUnavailable(RuntimeError):
    """pyannote.audio is not installed, or the pipeline is not a usable local one."""


def check_local_config(config_yaml: str | Path) -> Path:
    """The resolved path of a local pipeline config; raise if it is a hub id or points at non-local models."""
    path = Path(config_yaml).expanduser()
    if not path.is_file():
        raise PyannoteUnavailable(
            f"{config_yaml!s} is not a local file: give the path of a pipeline config.yaml on this machine "
            "(hub ids are refused: videocoach never downloads models)"
        )
    try:
        import yaml
    except ImportError as exc:  # pyannote.audio depends on pyyaml, so this means it is not installed either
        raise PyannoteUnavailable("pyyaml is needed to read a pyannote config (pip install pyannote.audio)") from exc
    config = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    params = ((config.get("pipeline") or {}).get("params") or {}) if isinstance(config, dict) else {}
    for key in MODEL_KEYS:
        value = params.get(key)
        if value is None or not isinstance(value, str):
            continue
        local = Path(value).expanduser()
        if not local.is_absolute():
            local = path.parent / local
        if not local.exists():
            raise PyannoteUnavailable(
                f"{path}: pipeline.params.{key} = {value!r} is not a local path; pyannote would fetch it from a "
                "model hub.  Point it at files on this machine."
            )
    return path.resolve()


class PyannoteDiarizer:
    """A loaded local pyannote pipeline with the same entry point as ``videocoach.audio.diarize.Diarizer``."""

    def __init__(self, pipeline: Any, config_path: Path) -> None:
        self.pipeline = pipeline
        self.config_path = config_path

    def diarize(self, audio: np.ndarray, progress: Progress = no_progress) -> Diarization:
        import torch

        audio = _as_mono_float32(audio)
        progress("diarize", 0.0)
        if audio.size < SAMPLE_RATE // 10:
            progress("diarize", 1.0)
            return Diarization((), (), "pyannote")
        output = self.pipeline({"waveform": torch.from_numpy(audio)[None], "sample_rate": SAMPLE_RATE})
        annotation = getattr(output, "speaker_diarization", output)  # pyannote 4 wraps it; 3.x returns it
        duration_s = audio.size / SAMPLE_RATE
        names: dict[str, str] = {}
        turns = []
        for segment, _track, label in sorted(annotation.itertracks(yield_label=True), key=lambda r: r[0].start):
            start, end = max(0.0, float(segment.start)), min(duration_s, float(segment.end))
            if end > start:
                name = names.setdefault(str(label), f"SPEAKER_{len(names):02d}")
                turns.append(Turn(round(start, 3), round(end, 3), name))
        support = annotation.get_timeline().support()
        speech = tuple(Span(round(max(0.0, s.start), 3), round(min(duration_s, s.end), 3)) for s in support
                       if min(duration_s, s.end) > max(0.0, s.start))
        progress("diarize", 1.0)
        return Diarization(tuple(turns), speech, f"pyannote:{self.config_path.name}")


def check_installed() -> None:
    """Raise PyannoteUnavailable when pyannote.audio is not installed (found without importing it)."""
    import importlib.util

    try:
        found = importlib.util.find_spec("pyannote.audio") is not None
    except ModuleNotFoundError:  # the pyannote namespace itself is missing
        found = False
    if not found:
        raise PyannoteUnavailable(
            "pyannote.audio is not installed (pip install pyannote.audio, with the CPU torch); the built-in "
            "diariser needs neither"
        )


def load_pyannote_diarizer(config_yaml: str | Path) -> PyannoteDiarizer:
    """Load a local pyannote.audio pipeline (refusing hub ids and non-local models)."""
    path = check_local_config(config_yaml)
    os.environ["PYANNOTE_METRICS_ENABLED"] = "0"  # pyannote's telemetry is on by default
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # a second guard; the check above is the real one
    try:
        from pyannote.audio import Pipeline
    except ImportError as exc:
        raise PyannoteUnavailable(
            "pyannote.audio is not installed (or its torchaudio cannot load on this machine); the built-in "
            "diariser (videocoach.audio.diarize) needs neither"
        ) from exc
    pipeline = Pipeline.from_pretrained(str(path))
    if pipeline is None:
        raise PyannoteUnavailable(f"pyannote could not build a pipeline from {path}")
    return PyannoteDiarizer(pipeline, path)


__all__ = ["PyannoteDiarizer", "PyannoteUnavailable", "check_installed", "check_local_config", "load_pyannote_diarizer"]
