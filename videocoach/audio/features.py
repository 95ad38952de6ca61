"""Audio features for the speaker encoders, in numpy: Resemblyzer's power mel bands and Kaldi log mel filterbanks
(CAM++), on a 10 ms hop at 16 kHz.  Pure functions; no model here.
"""

from __future__ import annotations

import numpy as np

from videocoach.audio.levels import SAMPLE_RATE

FRAME_SAMPLES = 160  # the 10 ms hop of every feature here, at 16 kHz
FRAME_S = FRAME_SAMPLES / SAMPLE_RATE  # 0.01
MEL_FFT_SAMPLES = 400  # 25 ms analysis window
MEL_CHANNELS = 40  # Resemblyzer input: 40 power mel bands
FBANK_CHANNELS = 80  # CAM++ input: 80 Kaldi log mel filterbanks
FBANK_FFT_SAMPLES = 512  # Kaldi rounds the 400-sample window up to a power of two
CAMPP_CMN_FRAMES = 300  # sliding mean normalisation over 3 s
ENCODER_DBFS = -30.0  # Resemblyzer normalises its training utterances to -30 dBFS
MEL_CHUNK_FRAMES = 6000  # features in 60 s pieces so a long lesson never holds a huge complex array
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


def _kaldi_mel_banks(n_bins: int = 80, n_fft: int = FBANK_FFT_SAMPLES, sr: int = SAMPLE_RATE,
                     low_hz: float = 20.0) -> np.ndarray:
    """Kaldi's triangular mel filters (triangles in mel, 1127 ln(1 + f / 700)): (n_bins, n_fft // 2 + 1)."""
    def mel(f):
        return 1127.0 * np.log(1.0 + np.asarray(f, dtype=np.float64) / 700.0)

    n_fft_bins = n_fft // 2
    lo, hi = mel(low_hz), mel(sr / 2)
    delta = (hi - lo) / (n_bins + 1)
    left = lo + np.arange(n_bins)[:, None] * delta
    centre, right = left + delta, left + 2 * delta
    m = mel(np.arange(n_fft_bins) * sr / n_fft)[None, :]
    banks = np.maximum(0.0, np.minimum((m - left) / (centre - left), (right - m) / (right - centre)))
    return np.pad(banks, ((0, 0), (0, 1))).astype(np.float32)  # the Nyquist bin gets no weight, as in Kaldi


_FBANK_BANKS: list[np.ndarray] = []


def kaldi_fbank(audio: np.ndarray, frames: np.ndarray | None = None) -> np.ndarray:
    """80 log mel filterbanks as Kaldi / torchaudio.compliance.kaldi.fbank compute them (dither 0, povey window,
    pre-emphasis 0.97, DC removal, 512-point power spectrum), one per 10 ms frame centred on sample 160 i.

    Returns (n, 80) float32 for the frames ``frames`` (default all ``len(audio) // 160``), not mean-normalised.
    """
    if not _FBANK_BANKS:
        _FBANK_BANKS.append(_kaldi_mel_banks())
    banks = _FBANK_BANKS[0]
    n_all = audio.size // FRAME_SAMPLES
    frames = np.arange(n_all) if frames is None else np.asarray(frames, dtype=np.int64)
    half = MEL_FFT_SAMPLES // 2
    padded = np.concatenate((np.zeros(half, np.float32), audio, np.zeros(half, np.float32)))
    window = (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(MEL_FFT_SAMPLES) / (MEL_FFT_SAMPLES - 1))) ** 0.85
    offsets = np.arange(MEL_FFT_SAMPLES)
    out = np.empty((frames.size, FBANK_CHANNELS), dtype=np.float32)
    for b in range(0, frames.size, MEL_CHUNK_FRAMES):
        idx = frames[b : b + MEL_CHUNK_FRAMES]
        seg = padded[idx[:, None] * FRAME_SAMPLES + offsets[None, :]].astype(np.float64)
        seg -= seg.mean(axis=1, keepdims=True)
        seg[:, 1:] -= 0.97 * seg[:, :-1].copy()
        seg[:, 0] *= 1.0 - 0.97
        spec = np.abs(np.fft.rfft(seg * window, n=FBANK_FFT_SAMPLES, axis=1)) ** 2
        out[b : b + idx.size] = np.log(np.maximum(spec.astype(np.float32) @ banks.T, np.finfo(np.float32).eps))
    return out


def _sliding_mean(x: np.ndarray, width: int) -> np.ndarray:
    """Centred moving average along axis 0 (the window shrinks at the edges), a few columns at a time."""
    n = x.shape[0]
    lo = np.clip(np.arange(n) - width // 2, 0, n)
    hi = np.clip(np.arange(n) + width - width // 2, 0, n)
    out = np.empty(x.shape, dtype=np.float32)
    for c0 in range(0, x.shape[1], 16):
        c = np.concatenate((np.zeros((1, x[:, c0 : c0 + 16].shape[1])), np.cumsum(x[:, c0 : c0 + 16], axis=0,
                                                                                   dtype=np.float64)), axis=0)
        out[:, c0 : c0 + 16] = (c[hi] - c[lo]) / (hi - lo)[:, None]
    return out


def _frame_power(audio: np.ndarray, frames: np.ndarray) -> np.ndarray:
    seg = audio[: (audio.size // FRAME_SAMPLES) * FRAME_SAMPLES].reshape(-1, FRAME_SAMPLES)
    return (seg[frames].astype(np.float64) ** 2).mean(axis=1)
