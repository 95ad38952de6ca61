"""Who spoke when: Silero VAD speech regions + Resemblyzer voice embeddings of sliding windows + clustering.

The recipe (``Diarizer.run``):

1. Silero VAD gives a speech probability every 32 ms; hysteresis, gap filling and padding turn it into speech
   regions on a 10 ms grid.
2. The speech frames are joined into one speech-only stream (as Resemblyzer's own training data had its silences
   trimmed), and the voice encoder embeds 1.6 s windows of it every ``hop_s``.
3. Average-linkage agglomerative clustering of the window embeddings with a cosine-distance threshold finds the
   speakers (or exactly ``num_speakers``); clusters with too little speech are merged into their nearest neighbour.
4. Re-segmentation: every speech frame is scored against the cluster centroids through the windows that cover it,
   takes the best speaker, and short turns are absorbed by their neighbours.

Weights: Silero's ONNX model from the ``silero-vad`` wheel and Resemblyzer's ``pretrained.pt`` from the
``resemblyzer`` wheel, both read from the installed packages' own files.  Nothing is downloaded.
"""

from __future__ import annotations

import importlib.util
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from videocoach.levels import SAMPLE_RATE, VAD_FRAME_S, SileroVad, _as_mono_float32
from videocoach.model import Diarization, Progress, Span, Turn, no_progress

FRAME_SAMPLES = 160  # the encoder's mel hop: 10 ms at 16 kHz
FRAME_S = FRAME_SAMPLES / SAMPLE_RATE  # 0.01
MEL_FFT_SAMPLES = 400  # 25 ms mel window
MEL_CHANNELS = 40
EMBEDDING_SIZE = 256
ENCODER_DBFS = -30.0  # Resemblyzer normalises its training utterances to -30 dBFS
MEL_CHUNK_FRAMES = 6000  # STFT in 60 s pieces so a long lesson never holds a huge complex array
ENCODER_BATCH = 64
METHOD = "silero-vad+resemblyzer+ahc"


@dataclass(frozen=True)
class DiarizeConfig:
    """Settings of the baseline diariser (tuned on the AMI debug dev/train clips; see eval/eval_diarization.py)."""

    window_s: float = 1.6  # voice-encoder window (Resemblyzer's partial utterance is 1.6 s)
    hop_s: float = 0.2  # between window starts, in speech time
    vad_onset: float = 0.5  # a speech region starts where Silero's probability reaches this ...
    vad_offset: float = 0.35  # ... and lasts while it stays above this
    vad_pad_s: float = 0.1  # added on each side of a speech region
    min_speech_s: float = 0.25  # shorter speech regions are dropped
    min_silence_s: float = 0.2  # shorter gaps between speech regions are filled
    num_speakers: int | None = None  # known speaker count; None = estimate it
    max_speakers: int = 8
    clustering: str = "ahc"  # "ahc" (average-linkage agglomerative) or "spectral" (eigengap speaker count)
    cluster_threshold: float = 0.9  # centred cosine distance at which average-linkage clustering stops merging
    merge_similarity: float = 0.85  # clusters whose raw centroids are at least this similar are one voice
    merge_rule: str = "contrast"  # "contrast" (relative, see _merge_by_contrast) or "similarity" (raw centroids)
    merge_contrast: float = 0.075  # merge two clusters while cross-similarity >= mean within-similarity - this
    affinity_keep: float = 1.0  # spectral: share of each row's largest affinities kept
    resegment_centred: bool = True  # score frames against centroids in the centred space
    frame_weighting: str = "uniform"  # how a window's score spreads over its frames: uniform, hann, ramp
    min_cluster_s: float = 1.0  # a cluster with less speech than this joins its nearest cluster
    min_turn_s: float = 0.3  # shorter turns are absorbed by their neighbours
    max_cluster_windows: int = 2000  # cluster at most this many windows (pairwise distances grow as n^2)
    normalize: str = "window"  # "window": each window to -30 dBFS; "global": the whole speech to -30 dBFS
    num_threads: int = 1

    def __post_init__(self) -> None:
        if not 0.3 <= self.window_s <= 5.0:
            raise ValueError(f"window_s must be in [0.3, 5] s, got {self.window_s!r}")
        if not 0.0 < self.hop_s <= self.window_s:
            raise ValueError(f"hop_s must be in (0, window_s], got {self.hop_s!r}")
        if not 0.0 < self.vad_offset <= self.vad_onset < 1.0:
            raise ValueError("need 0 < vad_offset <= vad_onset < 1")
        if self.num_speakers is not None and not 1 <= self.num_speakers <= self.max_speakers:
            raise ValueError(f"num_speakers must be in [1, max_speakers={self.max_speakers}]")
        if self.max_speakers < 1:
            raise ValueError("max_speakers must be at least 1")
        if self.clustering not in ("ahc", "spectral"):
            raise ValueError(f"clustering must be 'ahc' or 'spectral', got {self.clustering!r}")
        if self.normalize not in ("window", "global"):
            raise ValueError(f"normalize must be 'window' or 'global', got {self.normalize!r}")
        if min(self.vad_pad_s, self.min_speech_s, self.min_silence_s, self.min_cluster_s, self.min_turn_s) < 0:
            raise ValueError("durations must be non-negative")


@dataclass(frozen=True, eq=False)
class WindowEmbeddings:
    """Voice embeddings of the windows the diariser clustered.

    ``spans[i] = (start_s, end_s)`` is where window ``i``'s first and last speech frame lie in the lesson (a window
    may bridge a pause, since windows are cut from the speech-only stream); ``frames[i]`` are the 10 ms lesson frames
    it is made of; ``embeddings[i]`` is L2-normalised (256 floats).
    """

    spans: np.ndarray  # (n, 2) float seconds
    embeddings: np.ndarray  # (n, 256) float32
    frames: tuple[np.ndarray, ...] = ()

    def __len__(self) -> int:
        return int(self.embeddings.shape[0])

    @property
    def centres(self) -> np.ndarray:
        return self.spans.mean(axis=1) if len(self) else np.zeros(0)

    @staticmethod
    def empty() -> "WindowEmbeddings":
        return WindowEmbeddings(np.zeros((0, 2)), np.zeros((0, EMBEDDING_SIZE), dtype=np.float32), ())


@dataclass(frozen=True, eq=False)
class DiarizeResult:
    diarization: Diarization
    windows: WindowEmbeddings
    window_labels: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))  # speaker index


class Diarizer:
    """Loaded models plus the recipe.  Build with ``load_diarizer``; reuse for many lessons."""

    def __init__(self, config: DiarizeConfig, vad: SileroVad, encoder: "VoiceEncoderNet") -> None:
        self.config = config
        self.vad = vad
        self.encoder = encoder

    # -- entry points -------------------------------------------------------------------------------------------
    def diarize(self, audio: np.ndarray, progress: Progress = no_progress) -> Diarization:
        return self.run(audio, progress).diarization

    def embed_windows(self, audio: np.ndarray, progress: Progress = no_progress) -> WindowEmbeddings:
        """Per-window voice embeddings of the speech in ``audio`` (what the roles stage scores against a teacher)."""
        audio = _as_mono_float32(audio)
        speech_frames = self.speech_frames(audio)
        return self._embed(audio, speech_frames, progress)

    def embed_sample(self, audio: np.ndarray) -> np.ndarray:
        """One L2-normalised embedding of a short voice sample (mean of its windows' embeddings)."""
        windows = self.embed_windows(audio)
        if len(windows) == 0:
            raise ValueError("the voice sample has no speech the VAD can find")
        mean = windows.embeddings.mean(axis=0)
        return (mean / max(float(np.linalg.norm(mean)), 1e-9)).astype(np.float32)

    def run(self, audio: np.ndarray, progress: Progress = no_progress) -> DiarizeResult:
        cfg = self.config
        audio = _as_mono_float32(audio)
        progress("diarize", 0.0)
        speech_frames = self.speech_frames(audio)
        speech = _frames_to_spans(speech_frames, audio.size / SAMPLE_RATE)
        progress("diarize", 0.05)
        windows = self._embed(audio, speech_frames, lambda s, f: progress("diarize", 0.05 + 0.8 * f))
        if len(windows) == 0:
            progress("diarize", 1.0)
            return DiarizeResult(Diarization((), speech, METHOD), windows)

        labels = self._cluster(windows)
        progress("diarize", 0.9)
        frame_labels, window_labels = self._resegment(windows, labels, speech_frames.size)
        turns = _labels_to_turns(frame_labels, cfg.min_turn_s, audio.size / SAMPLE_RATE)
        turns, window_labels = _rename_by_first_turn(turns, window_labels)
        progress("diarize", 1.0)
        return DiarizeResult(Diarization(tuple(turns), speech, METHOD), windows, window_labels)

    # -- steps --------------------------------------------------------------------------------------------------
    def speech_frames(self, audio: np.ndarray) -> np.ndarray:
        """Boolean speech mask on the 10 ms grid (frame ``i`` is [i * 0.01, (i + 1) * 0.01) s)."""
        cfg = self.config
        n_frames = audio.size // FRAME_SAMPLES
        if n_frames == 0:
            return np.zeros(0, dtype=bool)
        probs = self.vad.frame_probs(audio)
        idx = np.minimum((np.arange(n_frames) * FRAME_S / VAD_FRAME_S).astype(np.int64), probs.size - 1)
        return speech_mask(probs[idx], cfg.vad_onset, cfg.vad_offset, cfg.min_silence_s, cfg.min_speech_s,
                           cfg.vad_pad_s)

    def _embed(self, audio: np.ndarray, speech_frames: np.ndarray, progress: Progress) -> WindowEmbeddings:
        cfg = self.config
        speech_idx = np.flatnonzero(speech_frames)
        if speech_idx.size < 10:  # under 0.1 s of speech: nothing to embed
            return WindowEmbeddings.empty()
        mel = mel_spectrogram(audio, speech_idx)  # (n_speech, 40), only the speech frames
        power = _frame_power(audio, speech_idx)
        if cfg.normalize == "global":
            mel = mel * (_dbfs_power(ENCODER_DBFS) / max(float(power.mean()), 1e-10))
        win = max(10, int(round(cfg.window_s / FRAME_S)))
        hop = max(1, int(round(cfg.hop_s / FRAME_S)))
        n = speech_idx.size
        if n <= win:
            starts = [0]
            win = n
        else:
            starts = list(range(0, n - win + 1, hop))
            if starts[-1] + win < n:
                starts.append(n - win)  # the last window ends with the speech
        batches = []
        for b in range(0, len(starts), ENCODER_BATCH):
            chunk = starts[b : b + ENCODER_BATCH]
            x = np.stack([mel[s : s + win] for s in chunk])
            if cfg.normalize == "window":
                p = np.stack([power[s : s + win].mean() for s in chunk])
                x = x * (_dbfs_power(ENCODER_DBFS) / np.maximum(p, 1e-10))[:, None, None]
            batches.append(self.encoder.embed(x))
            progress("embed", min(1.0, (b + len(chunk)) / len(starts)))
        emb = np.concatenate(batches).astype(np.float32)
        starts_arr = np.asarray(starts)
        spans = np.stack([speech_idx[starts_arr] * FRAME_S, (speech_idx[starts_arr + win - 1] + 1) * FRAME_S], 1)
        frames = tuple(speech_idx[s : s + win] for s in starts)
        return WindowEmbeddings(spans, emb, frames)

    def _cluster(self, windows: WindowEmbeddings) -> np.ndarray:
        """Cluster labels per window.

        Resemblyzer's embeddings are non-negative, so any two voices have cosine similarity 0.6-0.8 and clustering
        on raw cosine finds outliers, not speakers.  Centring on the recording's mean embedding spreads the voices
        apart (on pyannote_sample: same speaker 0.21, different -0.19), so the clusters are found in that space.
        Centring also spreads a lone voice apart, so clusters are then merged while their raw (uncentred)
        centroids are more similar than ``merge_similarity`` -- two halves of one voice score 0.87-0.96, two
        different voices 0.73-0.82 on the dev/train clips.
        """
        cfg = self.config
        emb = windows.embeddings.astype(np.float64)
        n = emb.shape[0]
        if n == 1 or cfg.num_speakers == 1:
            return np.zeros(n, dtype=np.int64)
        step = max(1, math.ceil(n / cfg.max_cluster_windows))
        sub = np.arange(0, n, step)
        centred = _centre(emb)
        if cfg.clustering == "spectral":
            labels_sub = spectral(centred[sub], cfg.num_speakers, cfg.max_speakers, cfg.affinity_keep)
        else:
            labels_sub = agglomerative(centred[sub], cfg.cluster_threshold, cfg.num_speakers, cfg.max_speakers)
        # every window to the nearest centroid of the subsample's clusters (in the centred space)
        labels = np.argmax(centred @ _centroids(centred[sub], labels_sub).T, axis=1)
        if cfg.num_speakers is None:
            if cfg.merge_rule == "contrast":
                labels = _merge_by_contrast(emb, _compact(labels), _shares_frames(windows), cfg.merge_contrast)
            else:
                labels = _merge_similar_clusters(emb, _compact(labels), cfg.merge_similarity)
            labels = _merge_small_clusters(emb, labels, cfg.min_cluster_s / cfg.hop_s)
        return _compact(labels)

    def _resegment(
        self, windows: WindowEmbeddings, labels: np.ndarray, n_frames: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """Score each speech frame against the centroids through the windows covering it; best speaker wins."""
        emb = _centre(windows.embeddings) if self.config.resegment_centred else windows.embeddings
        centroids = _centroids(emb, labels)
        window_scores = emb @ centroids.T  # (n_windows, k) cosine similarities
        k = centroids.shape[0]
        total = np.zeros((n_frames, k))
        count = np.zeros(n_frames)
        profiles: dict[int, np.ndarray] = {}
        for frames, score in zip(windows.frames, window_scores):
            m = frames.size
            if m not in profiles:
                profiles[m] = _window_profile(m, self.config.frame_weighting)
            w = profiles[m]
            total[frames] += w[:, None] * score[None, :]
            count[frames] += w
        frame_labels = np.full(n_frames, -1, dtype=np.int64)
        covered = count > 0
        frame_labels[covered] = np.argmax(total[covered], axis=1)
        return frame_labels, np.argmax(window_scores, axis=1)


class VoiceEncoderNet:
    """Resemblyzer's voice encoder (3-layer LSTM + linear + ReLU, L2-normalised), weights from its wheel."""

    def __init__(self, weights_path: Path | None = None, num_threads: int = 1) -> None:
        import torch
        from torch import nn

        torch.set_num_threads(max(1, int(num_threads)))
        self._torch = torch
        self.weights_path = Path(weights_path) if weights_path is not None else resemblyzer_weights_path()
        self.lstm = nn.LSTM(MEL_CHANNELS, 256, 3, batch_first=True)
        self.linear = nn.Linear(256, EMBEDDING_SIZE)
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


def resemblyzer_weights_path() -> Path:
    """``resemblyzer/pretrained.pt`` inside the installed wheel (found without importing resemblyzer)."""
    spec = importlib.util.find_spec("resemblyzer")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the resemblyzer package is not installed (pip install resemblyzer==0.1.4)")
    path = Path(next(iter(spec.submodule_search_locations))) / "pretrained.pt"
    if not path.is_file():
        raise RuntimeError(f"resemblyzer is installed but its bundled weights are missing: {path}")
    return path


def load_diarizer(config: DiarizeConfig = DiarizeConfig()) -> Diarizer:
    """Load the VAD and the voice encoder from the installed packages' files (no network)."""
    return Diarizer(config, SileroVad(num_threads=config.num_threads), VoiceEncoderNet(num_threads=config.num_threads))


# -- numpy helpers ----------------------------------------------------------------------------------------------
def speech_mask(
    probs: np.ndarray, onset: float, offset: float, min_silence_s: float, min_speech_s: float, pad_s: float
) -> np.ndarray:
    """Hysteresis on per-10-ms speech probabilities, then fill short gaps, drop short bursts, pad."""
    n = probs.size
    mask = np.zeros(n, dtype=bool)
    active = False
    above_on = probs >= onset
    above_off = probs >= offset
    for i in range(n):  # a tight loop over 100 values a second: a 50-minute lesson takes well under a second
        active = above_on[i] or (active and above_off[i])
        mask[i] = active
    runs = _runs(mask)
    min_sil = int(round(min_silence_s / FRAME_S))
    for start, end in _runs(~mask):
        if 0 < start and end < n and end - start < min_sil:
            mask[start:end] = True
    min_sp = int(round(min_speech_s / FRAME_S))
    for start, end in _runs(mask):
        if end - start < min_sp:
            mask[start:end] = False
    pad = int(round(pad_s / FRAME_S))
    if pad:
        padded = mask.copy()
        for start, end in _runs(mask):
            padded[max(0, start - pad) : min(n, end + pad)] = True
        mask = padded
    del runs
    return mask


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """[start, end) index pairs of the True runs of a boolean array."""
    if mask.size == 0:
        return []
    d = np.diff(np.concatenate(([0], mask.astype(np.int8), [0])))
    return list(zip(np.flatnonzero(d == 1).tolist(), np.flatnonzero(d == -1).tolist()))


def _frames_to_spans(mask: np.ndarray, duration_s: float) -> tuple[Span, ...]:
    return tuple(
        Span(round(s * FRAME_S, 3), round(min(e * FRAME_S, duration_s), 3)) for s, e in _runs(mask)
    )


_MEL_FILTERS: dict[tuple[int, int, int], np.ndarray] = {}


def mel_filters(sr: int = SAMPLE_RATE, n_fft: int = MEL_FFT_SAMPLES, n_mels: int = MEL_CHANNELS) -> np.ndarray:
    """Slaney-style mel filterbank (as ``librosa.filters.mel`` with its defaults): (n_mels, 1 + n_fft // 2)."""
    key = (sr, n_fft, n_mels)
    if key not in _MEL_FILTERS:

        def hz_to_mel(f: np.ndarray) -> np.ndarray:
            f = np.asarray(f, dtype=np.float64)
            lin = f / (200.0 / 3)
            log_region = f >= 1000.0
            return np.where(log_region, 15.0 + np.log(np.maximum(f, 1e-9) / 1000.0) / (np.log(6.4) / 27.0), lin)

        def mel_to_hz(m: np.ndarray) -> np.ndarray:
            lin = m * (200.0 / 3)
            return np.where(m >= 15.0, 1000.0 * np.exp((np.log(6.4) / 27.0) * (m - 15.0)), lin)

        fft_freqs = np.linspace(0, sr / 2, 1 + n_fft // 2)
        mel_f = mel_to_hz(np.linspace(hz_to_mel(0.0), hz_to_mel(sr / 2), n_mels + 2))
        fdiff = np.diff(mel_f)
        ramps = np.subtract.outer(mel_f, fft_freqs)
        lower = -ramps[:-2] / fdiff[:-1, None]
        upper = ramps[2:] / fdiff[1:, None]
        weights = np.maximum(0, np.minimum(lower, upper))
        weights *= (2.0 / (mel_f[2 : n_mels + 2] - mel_f[:n_mels]))[:, None]
        _MEL_FILTERS[key] = weights.astype(np.float32)
    return _MEL_FILTERS[key]


def mel_spectrogram(audio: np.ndarray, frames: np.ndarray | None = None) -> np.ndarray:
    """Power mel spectrogram as Resemblyzer computes it (librosa defaults: centred 25 ms Hann, 10 ms hop).

    Returns (n, 40) float32 for the 10 ms frames ``frames`` (all ``len(audio) // 160`` frames when None).
    """
    n_all = audio.size // FRAME_SAMPLES
    frames = np.arange(n_all) if frames is None else np.asarray(frames, dtype=np.int64)
    half = MEL_FFT_SAMPLES // 2
    padded = np.concatenate((np.zeros(half, np.float32), audio, np.zeros(half, np.float32)))
    window = (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(MEL_FFT_SAMPLES) / MEL_FFT_SAMPLES)).astype(np.float32)
    filters = mel_filters()
    out = np.empty((frames.size, MEL_CHANNELS), dtype=np.float32)
    offsets = np.arange(MEL_FFT_SAMPLES)
    for b in range(0, frames.size, MEL_CHUNK_FRAMES):
        idx = frames[b : b + MEL_CHUNK_FRAMES]
        # frame i is centred on sample 160 i, i.e. padded[160 i : 160 i + 400]
        seg = padded[idx[:, None] * FRAME_SAMPLES + offsets[None, :]] * window
        spec = np.abs(np.fft.rfft(seg, axis=1)) ** 2
        out[b : b + idx.size] = spec.astype(np.float32) @ filters.T
    return out


def _frame_power(audio: np.ndarray, frames: np.ndarray) -> np.ndarray:
    seg = audio[: (audio.size // FRAME_SAMPLES) * FRAME_SAMPLES].reshape(-1, FRAME_SAMPLES)
    return (seg[frames].astype(np.float64) ** 2).mean(axis=1)


def _dbfs_power(dbfs: float) -> float:
    return 10.0 ** (dbfs / 10.0)


def agglomerative(
    embeddings: np.ndarray, threshold: float, num_speakers: int | None, max_speakers: int
) -> np.ndarray:
    """Average-linkage clustering on cosine distance: cut at ``threshold``, or into exactly ``num_speakers``."""
    from scipy.cluster.hierarchy import fcluster, linkage

    n = embeddings.shape[0]
    if n < 2:
        return np.zeros(n, dtype=np.int64)
    tree = linkage(embeddings.astype(np.float64), method="average", metric="cosine")
    if num_speakers is not None:
        labels = fcluster(tree, t=min(num_speakers, n), criterion="maxclust")
    else:
        labels = fcluster(tree, t=threshold, criterion="distance")
        if labels.max() > max_speakers:
            labels = fcluster(tree, t=max_speakers, criterion="maxclust")
    return _compact(labels)


def spectral(
    embeddings: np.ndarray, num_speakers: int | None, max_speakers: int, keep: float = 1.0
) -> np.ndarray:
    """Spectral clustering of L2-normalised embeddings; the speaker count from the largest eigengap.

    ``keep`` < 1 prunes the affinity: each row keeps only its ``keep`` share of largest values (then symmetrised),
    which sharpens the block structure the eigengap reads.
    """
    from sklearn.cluster import SpectralClustering

    n = embeddings.shape[0]
    if n < 3:
        return np.zeros(n, dtype=np.int64)
    affinity = np.clip(embeddings @ embeddings.T, 0.0, 1.0)
    if keep < 1.0:
        k_keep = max(2, int(math.ceil(keep * n)))
        thresholds = -np.partition(-affinity, k_keep - 1, axis=1)[:, k_keep - 1]
        affinity = np.where(affinity >= thresholds[:, None], affinity, 0.0)
        affinity = (affinity + affinity.T) / 2
    if num_speakers is None:
        degree = affinity.sum(axis=1)
        d = 1.0 / np.sqrt(np.maximum(degree, 1e-9))
        laplacian = np.eye(n) - d[:, None] * affinity * d[None, :]
        eig = np.sort(np.linalg.eigvalsh(laplacian))[: max_speakers + 1]
        num_speakers = int(np.argmax(np.diff(eig))) + 1
    if num_speakers <= 1:
        return np.zeros(n, dtype=np.int64)
    model = SpectralClustering(n_clusters=min(num_speakers, n - 1), affinity="precomputed", random_state=0)
    return _compact(model.fit_predict(affinity))


def _window_profile(m: int, kind: str) -> np.ndarray:
    """How much a window's score counts for each of its ``m`` frames when frames are re-scored."""
    x = (np.arange(m) + 0.5) / m
    if kind == "hann":
        return 0.05 + np.sin(np.pi * x) ** 2
    if kind == "ramp":  # the LSTM's last state weighs the end of the window most
        return 0.05 + x
    if kind == "late":
        return 0.05 + np.sin(np.pi * np.clip(x * 0.8 + 0.1, 0, 1) ** 0.7) ** 2
    return np.ones(m)


def _centre(embeddings: np.ndarray) -> np.ndarray:
    z = embeddings - embeddings.mean(axis=0, keepdims=True)
    return z / np.maximum(np.linalg.norm(z, axis=1, keepdims=True), 1e-9)


_STABLE_NEIGHBOURS = 2


def _shares_frames(windows: WindowEmbeddings) -> np.ndarray:
    """(n, n) True where two windows share speech frames (windows are contiguous runs of the speech stream)."""
    first = np.array([f[0] for f in windows.frames])
    last = np.array([f[-1] for f in windows.frames])
    return (first[:, None] <= last[None, :]) & (first[None, :] <= last[:, None])


def _merge_by_contrast(emb: np.ndarray, labels: np.ndarray, overlapping: np.ndarray, contrast: float) -> np.ndarray:
    """Merge clusters that are one voice, judged relative to this recording.

    For clusters A and B: contrast = mean raw similarity of A-B window pairs minus the mean of A's and B's own
    within-cluster similarities (pairs of windows sharing frames left out, as they are similar because they
    overlap).  Two halves of one voice score about -0.05..+0.03, two voices about -0.11..-0.15 (dev/train clips,
    pyannote_sample, jfk), so the most alike pair is merged while its contrast is above ``-contrast``.
    Absolute similarities vary with the room and microphone; this difference mostly does not.
    """
    labels = _compact(labels)
    if labels.max() == 0:
        return labels
    sims = emb @ emb.T
    apart = ~overlapping
    # windows straddling a change of speaker blur both clusters: judge on windows whose neighbours agree
    reach = _STABLE_NEIGHBOURS
    while labels.max() > 0:
        k = int(labels.max()) + 1
        stable = np.ones(labels.size, dtype=bool)
        for shift in range(1, reach + 1):
            stable[shift:] &= labels[shift:] == labels[:-shift]
            stable[:-shift] &= labels[:-shift] == labels[shift:]
        for c in range(k):  # a cluster with no stable window keeps all its windows
            if not stable[labels == c].any():
                stable[labels == c] = True
        onehot = np.eye(k)[labels] * stable[:, None]  # (n, k)
        ok = apart.astype(np.float64)
        pair_sum = onehot.T @ (sims * ok) @ onehot  # (k, k) sums of similarities over pairs kept
        pair_cnt = onehot.T @ ok @ onehot
        mean = np.divide(pair_sum, pair_cnt, out=np.full((k, k), np.nan), where=pair_cnt > 0)
        within = np.diag(mean).copy()
        if np.all(np.isnan(within)):
            within[:] = np.nanmean(mean) if np.any(~np.isnan(mean)) else 1.0
        within = np.where(np.isnan(within), np.nanmedian(within), within)
        score = mean - (within[:, None] + within[None, :]) / 2
        score[np.isnan(score)] = -np.inf
        np.fill_diagonal(score, -np.inf)
        a, b = np.unravel_index(int(np.argmax(score)), score.shape)
        if score[a, b] < -contrast:
            break
        labels = _compact(np.where(labels == max(a, b), min(a, b), labels))
    return labels


def _merge_similar_clusters(emb: np.ndarray, labels: np.ndarray, min_similarity: float) -> np.ndarray:
    """Merge the two clusters with the most similar centroids while that similarity is at least ``min_similarity``."""
    labels = _compact(labels)
    while labels.max() > 0:
        c = _centroids(emb, labels)
        sims = c @ c.T
        np.fill_diagonal(sims, -np.inf)
        a, b = np.unravel_index(int(np.argmax(sims)), sims.shape)
        if sims[a, b] < min_similarity:
            break
        labels = _compact(np.where(labels == max(a, b), min(a, b), labels))
    return labels


def _centroids(embeddings: np.ndarray, labels: np.ndarray) -> np.ndarray:
    k = int(labels.max()) + 1
    c = np.zeros((k, embeddings.shape[1]))
    np.add.at(c, labels, embeddings)
    return c / np.maximum(np.linalg.norm(c, axis=1, keepdims=True), 1e-9)


def _merge_small_clusters(emb: np.ndarray, labels: np.ndarray, min_windows: float) -> np.ndarray:
    """Repeatedly give the smallest cluster under ``min_windows`` windows to the nearest other cluster."""
    labels = labels.copy()
    while True:
        ids, counts = np.unique(labels, return_counts=True)
        if ids.size <= 1 or counts.min() >= min_windows:
            return labels
        small = ids[np.argmin(counts)]
        centroids = _centroids(emb, _compact(labels))
        remap = {old: new for new, old in enumerate(ids)}
        sims = centroids @ centroids[remap[small]]
        sims[remap[small]] = -np.inf
        target = ids[int(np.argmax(sims))]
        labels[labels == small] = target


def _compact(labels: np.ndarray) -> np.ndarray:
    _, inverse = np.unique(np.asarray(labels), return_inverse=True)
    return inverse.astype(np.int64).reshape(-1)


def _labels_to_turns(frame_labels: np.ndarray, min_turn_s: float, duration_s: float) -> list[Turn]:
    """Runs of one label on the 10 ms grid -> turns; a turn shorter than ``min_turn_s`` goes to a neighbour."""
    labels = frame_labels.copy()
    min_frames = int(round(min_turn_s / FRAME_S))
    # runs of speech (label >= 0) split where the label changes
    while True:
        runs = _label_runs(labels)
        short = [(s, e, lab) for s, e, lab in runs if lab >= 0 and e - s < min_frames]
        if not short:
            break
        changed = False
        for s, e, lab in sorted(short, key=lambda r: r[1] - r[0]):
            left = labels[s - 1] if s > 0 else -1
            right = labels[e] if e < labels.size else -1
            neighbour = left if left >= 0 else right
            if left >= 0 and right >= 0 and left != right:
                neighbour = left  # either would do; keep the earlier speaker talking
            if neighbour >= 0 and neighbour != lab:
                labels[s:e] = neighbour
                changed = True
                break
        if not changed:
            break
    turns = []
    for s, e, lab in _label_runs(labels):
        if lab < 0:
            continue
        start, end = round(s * FRAME_S, 3), round(min(e * FRAME_S, duration_s), 3)
        if end > start:
            turns.append(Turn(start, end, f"S{lab}"))
    return turns


def _label_runs(labels: np.ndarray) -> list[tuple[int, int, int]]:
    if labels.size == 0:
        return []
    change = np.flatnonzero(np.diff(labels)) + 1
    starts = np.concatenate(([0], change))
    ends = np.concatenate((change, [labels.size]))
    return [(int(s), int(e), int(labels[s])) for s, e in zip(starts, ends)]


def _rename_by_first_turn(turns: list[Turn], window_labels: np.ndarray) -> tuple[list[Turn], np.ndarray]:
    """Anonymous labels SPEAKER_00, SPEAKER_01, ... in order of first appearance."""
    order: dict[str, str] = {}
    for t in turns:
        order.setdefault(t.speaker, f"SPEAKER_{len(order):02d}")
    renamed = [Turn(t.start, t.end, order[t.speaker]) for t in turns]
    index = {int(k[1:]): int(v.split("_")[1]) for k, v in order.items()}
    new_labels = np.array([index.get(int(x), -1) for x in window_labels], dtype=np.int64)
    return renamed, new_labels


__all__ = [
    "DiarizeConfig",
    "DiarizeResult",
    "Diarizer",
    "VoiceEncoderNet",
    "WindowEmbeddings",
    "load_diarizer",
    "mel_spectrogram",
    "speech_mask",
]
