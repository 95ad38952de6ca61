"""Classroom babble: many people talking at once, none dominant, often far from the microphone.

Silero VAD is trained to find *a* voice; the sum of a dozen distant pupils in pair or group talk is loud but reads to
it as noise (a real 68 s lesson: 24 s of partner talk at -25 to -33 dBFS, Silero speech probability near zero).  This
module gives each ``step_s`` (0.5 s) of a lesson a babble probability from a few cheap, level-free descriptions of
the sound around it (a 2 s window centred on the step), all numpy over the whole signal:

- ``speech_band``: the share of the power in 300-3400 Hz (voices) against the rest (hum, rumble, hiss);
- ``flatness``: spectral flatness in 300-4000 Hz (many voices smear each other's harmonics: flatter than one voice,
  less flat than fan noise, much less tonal than music);
- ``mod_4hz``: the 2-8 Hz modulation of the voice-band envelope (syllables), relative to its mean: babble keeps some
  of it, steady noise has almost none, one voice with pauses has a lot;
- ``mod_share``: the share of the 0.5-15 Hz envelope modulation that lies in 2-8 Hz;
- ``env_range``: the spread (10th to 90th percentile) of the voice-band level, in dB: one voice with pauses swings
  widely, babble fills the gaps;
- ``flux``: how much the voice-band spectrum changes from one 16 ms frame to the next (music holds its notes);
- ``vad_mean`` / ``vad_max``: Silero's speech probability (low to middle on babble, high on one clear voice);
- ``level``: the step's loudness in dBFS, only as a gate: under ``MIN_LEVEL_DBFS`` nothing is babble.

A logistic regression over these (its coefficients and their provenance in ``videocoach/data/babble_model.json``,
fitted by ``eval/eval_babble.py --fit`` on the mixtures of ``eval/babble_mix.py``: real AMI / pyannote / jfk speech,
no non-commercial data) gives the probability; a step is babble when it is at least ``threshold`` (0.8: the lowest
that kept every negative kind of the fit mixtures at or under 4 %).  Silero's probability is computed but not used by
the model: on the real lesson of issue 21 it stayed near zero through partner talk.

Measured (``python eval/eval_babble.py``), per half second, on mixtures of 8 *held-out* speakers: babble recall
0.942 (4-8 voices), 1.000 on a "crowd" of 16-24 far voices where Silero's mean is 0.07; false babble 0.000 on a
quiet room, one near voice, a fan, chairs and music, 0.019 on one far voice; 0.006 of the AMI debug clips' half
seconds (real meetings); the sample lesson's scripted group work 0.467 (everything else 0.000).  Cost
(``bench/bench_babble.py``): 1.8 s of CPU per 50 minutes of audio (wall time on the loaded, shared 2-core machine:
4-7.5 s).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from importlib import resources

import numpy as np

SAMPLE_RATE = 16000
FRAME = 512  # 32 ms
HOP = 256  # 16 ms: the envelope runs at 62.5 Hz
CONTEXT_FRAMES = 256  # 4.1 s of envelope around each step (2 s was measured: more false babble on one far voice)
BLOCK_FRAMES = 4096  # frames per FFT block (about 65 s): bounded memory on long lessons
MIN_LEVEL_DBFS = -60.0
SUBBANDS = ((300.0, 800.0), (800.0, 1500.0), (1500.0, 2500.0), (2500.0, 4000.0))
FEATURES = ("speech_band", "flatness", "mod_4hz", "mod_share", "env_range", "flux", "vad_mean", "vad_max", "level",
            "pitch_mean", "pitch_p90", "gap_depth", "band_corr")
MODEL_RESOURCE = "babble_model.json"
_EPS = 1e-12
# the summed half-spectrum power of a Hann-windowed frame of a signal with mean square 1 (the "level" in dBFS)
_POWER_SCALE = float(FRAME / 2 * np.sum(np.hanning(FRAME) ** 2))


@dataclass(frozen=True)
class BabbleModel:
    """Logistic regression over standardised features and their squares (babble sits *between* steady noise and one
    clear voice on most of them, which a line cannot draw):

    z = (x - mean) / scale;  p = sigmoid(bias + weights . z + sq_weights . z**2).
    """

    features: tuple[str, ...]
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    weights: tuple[float, ...]
    sq_weights: tuple[float, ...]
    bias: float
    threshold: float = 0.5
    provenance: str = ""

    def __post_init__(self) -> None:
        n = len(self.features)
        if not (len(self.mean) == len(self.scale) == len(self.weights) == len(self.sq_weights) == n):
            raise ValueError("babble model: features, mean, scale, weights and sq_weights must have the same length")
        unknown = set(self.features) - set(FEATURES)
        if unknown:
            raise ValueError(f"babble model: unknown features {sorted(unknown)}")
        if any(not x > 0 for x in self.scale):
            raise ValueError("babble model: scales must be positive")

    def probs(self, table: np.ndarray) -> np.ndarray:
        """Probability per row of a (n_steps, len(FEATURES)) feature table."""
        if table.shape[0] == 0:
            return np.zeros(0)
        cols = [FEATURES.index(f) for f in self.features]
        z = (table[:, cols] - np.asarray(self.mean)) / np.asarray(self.scale)
        logit = self.bias + z @ np.asarray(self.weights) + (z**2) @ np.asarray(self.sq_weights)
        p = 1.0 / (1.0 + np.exp(-np.clip(logit, -40, 40)))
        p[table[:, FEATURES.index("level")] < MIN_LEVEL_DBFS] = 0.0
        return p


_MODEL: BabbleModel | None = None


def default_model() -> BabbleModel:
    """The packaged model (read once)."""
    global _MODEL
    if _MODEL is None:
        data = json.loads(resources.files("videocoach.data").joinpath(MODEL_RESOURCE).read_text(encoding="utf-8"))
        _MODEL = BabbleModel(
            features=tuple(data["features"]),
            mean=tuple(float(x) for x in data["mean"]),
            scale=tuple(float(x) for x in data["scale"]),
            weights=tuple(float(x) for x in data["weights"]),
            sq_weights=tuple(float(x) for x in data["sq_weights"]),
            bias=float(data["bias"]),
            threshold=float(data.get("threshold", 0.5)),
            provenance=str(data.get("provenance", "")),
        )
    return _MODEL


def babble_probs(
    audio: np.ndarray,
    frame_probs: np.ndarray,
    step_s: float = 0.5,
    model: BabbleModel | None = None,
    vad_frame_s: float = FRAME / SAMPLE_RATE,
) -> np.ndarray:
    """Babble probability of each ``step_s`` of 16 kHz mono ``audio`` (step ``i`` is [i step_s, (i + 1) step_s)).

    ``frame_probs``: Silero's speech probability per ``vad_frame_s`` frame (the levels stage has them already).
    """
    table = step_features(audio, frame_probs, step_s, vad_frame_s)
    return (model or default_model()).probs(table)


def step_features(
    audio: np.ndarray, frame_probs: np.ndarray, step_s: float = 0.5, vad_frame_s: float = FRAME / SAMPLE_RATE
) -> np.ndarray:
    """The (n_steps, len(FEATURES)) feature table (see the module docstring)."""
    audio = np.asarray(audio, dtype=np.float32).reshape(-1)
    step = max(1, int(round(step_s * SAMPLE_RATE)))
    n_steps = math.ceil(audio.size / step)
    if n_steps == 0:
        return np.zeros((0, len(FEATURES)))
    total, band, flat, flux, pitch, subbands = _frame_series(audio)
    n_frames = total.size
    # per step: the frames whose centre lies in it, and the context window of frames around its centre
    centres = (np.arange(n_steps) + 0.5) * step / HOP
    first = np.clip(np.round(centres - CONTEXT_FRAMES / 2).astype(np.int64), 0, max(0, n_frames - CONTEXT_FRAMES))
    win = min(CONTEXT_FRAMES, n_frames)
    idx = first[:, None] + np.arange(win)[None, :]  # (n_steps, win)

    band_w = band[idx]
    total_w = total[idx]
    speech_band = 10 * np.log10((band_w.sum(1) + _EPS) / (total_w.sum(1) + _EPS))
    flatness = flat[idx].mean(1)
    flux_s = flux[idx].mean(1)
    env_db = 10 * np.log10(band_w + _EPS)
    lo, hi = np.percentile(env_db, [10, 90], axis=1)
    env_range = hi - lo
    gap_depth = np.median(env_db, axis=1) - lo
    # co-modulation: one voice's syllables and pauses move every band together; many voices do not
    sub = np.log(subbands[idx] + 1e-10)  # (n_steps, win, 4)
    sub = sub - sub.mean(1, keepdims=True)
    sub = sub / (np.sqrt((sub**2).mean(1, keepdims=True)) + 1e-9)
    corr = np.einsum("swi,swj->sij", sub, sub) / win
    iu = np.triu_indices(sub.shape[2], 1)
    band_corr = corr[:, iu[0], iu[1]].mean(1)
    pitch_w = pitch[idx]
    pitch_mean = pitch_w.mean(1)
    pitch_p90 = np.percentile(pitch_w, 90, axis=1)
    env = np.sqrt(band_w)
    rel = env / (env.mean(1, keepdims=True) + _EPS) - 1.0
    spec = np.abs(np.fft.rfft(rel * np.hanning(win)[None, :], axis=1)) ** 2 / max(1, win) ** 2
    freqs = np.fft.rfftfreq(win, HOP / SAMPLE_RATE)
    in_4 = (freqs >= 2.0) & (freqs <= 8.0)
    in_all = (freqs >= 0.5) & (freqs <= 15.0)
    mod_4hz = 10 * np.log10(spec[:, in_4].sum(1) + 1e-6)
    mod_share = spec[:, in_4].sum(1) / (spec[:, in_all].sum(1) + _EPS)

    # the step's own level, from the frames centred in it (falls back to the context for very short steps)
    frame_step = np.minimum(((np.arange(n_frames) * HOP + FRAME / 2) / step).astype(np.int64), n_steps - 1)
    sums = np.bincount(frame_step, weights=total, minlength=n_steps)
    counts = np.bincount(frame_step, minlength=n_steps)
    own = np.divide(sums, counts, out=total_w.mean(1), where=counts > 0)
    level = 10 * np.log10(own / _POWER_SCALE + _EPS)  # mean square of the samples (Parseval, Hann window)

    vad = np.asarray(frame_probs, dtype=np.float64).reshape(-1)
    if vad.size:
        vc = np.minimum(((np.arange(vad.size) + 0.5) * vad_frame_s * SAMPLE_RATE / HOP).astype(np.int64), n_frames - 1)
        vad_frames = np.zeros(n_frames)
        vcount = np.bincount(vc, minlength=n_frames)
        vad_frames = np.bincount(vc, weights=vad, minlength=n_frames) / np.maximum(vcount, 1)
        # frames with no VAD centre take the previous one's value
        have = np.maximum.accumulate(np.where(vcount > 0, np.arange(n_frames), 0))
        vad_frames = vad_frames[have]
        vad_w = vad_frames[idx]
        vad_mean, vad_max = vad_w.mean(1), vad_w.max(1)
    else:
        vad_mean = vad_max = np.zeros(n_steps)
    return np.column_stack((speech_band, flatness, mod_4hz, mod_share, env_range, flux_s, vad_mean, vad_max, level,
                            pitch_mean, pitch_p90, gap_depth, band_corr))


def _frame_series(audio: np.ndarray) -> tuple[np.ndarray, ...]:
    """Per 16 ms frame: total power, 300-3400 Hz power, log spectral flatness in 300-4000 Hz, and spectral flux."""
    n_frames = max(1, 1 + math.ceil(max(0, audio.size - FRAME) / HOP))
    padded = np.zeros((n_frames - 1) * HOP + FRAME, dtype=np.float32)
    padded[: audio.size] = audio
    window = np.hanning(FRAME).astype(np.float32)
    freqs = np.fft.rfftfreq(FRAME, 1 / SAMPLE_RATE)
    voice = (freqs >= 300) & (freqs <= 3400)
    flat_band = (freqs >= 300) & (freqs <= 4000)
    total = np.empty(n_frames)
    band = np.empty(n_frames)
    flat = np.empty(n_frames)
    flux = np.empty(n_frames)
    pitch = np.empty(n_frames)
    subbands = np.empty((n_frames, len(SUBBANDS)))
    sub_masks = [(freqs >= lo) & (freqs < hi) for lo, hi in SUBBANDS]
    low = freqs <= 4000
    lag_lo, lag_hi = SAMPLE_RATE // 400, SAMPLE_RATE // 80  # 2.5-12.5 ms: a voice's pitch period
    prev = None
    from scipy import fft as sfft  # several times faster than numpy.fft on float32 blocks; same numbers

    frames_view = np.lib.stride_tricks.sliding_window_view(padded, FRAME)[::HOP]
    for a in range(0, n_frames, BLOCK_FRAMES):
        frames = frames_view[a : a + BLOCK_FRAMES] * window
        spectrum = sfft.rfft(frames, axis=1)
        power = spectrum.real**2 + spectrum.imag**2
        total[a : a + len(power)] = power.sum(1)
        band[a : a + len(power)] = power[:, voice].sum(1)
        for k, mask in enumerate(sub_masks):
            subbands[a : a + len(power), k] = power[:, mask].sum(1)
        fb = power[:, flat_band] + 1e-10
        logp = np.log(fb)
        flat[a : a + len(power)] = logp.mean(1) - np.log(fb.mean(1))
        norm = logp - logp.mean(1, keepdims=True)
        if prev is not None:
            norm_prev = np.vstack((prev[None, :], norm[:-1]))
        else:
            norm_prev = np.vstack((norm[:1], norm[:-1]))
        flux[a : a + len(power)] = np.sqrt(np.mean((norm - norm_prev) ** 2, axis=1))
        prev = norm[-1]
        # periodicity: the highest normalised autocorrelation at a pitch lag (one voice: high when voiced; many
        # voices, noise: low), from the power spectrum below 4 kHz
        acf = sfft.irfft(np.where(low[None, :], power, np.float32(0.0)), n=FRAME, axis=1)
        pitch[a : a + len(power)] = acf[:, lag_lo : lag_hi + 1].max(1) / (acf[:, 0] + 1e-10)
    return total, band, flat, flux, pitch, subbands


__all__ = ["BabbleModel", "FEATURES", "babble_probs", "default_model", "step_features"]
