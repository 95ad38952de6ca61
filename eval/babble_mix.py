"""Classroom-babble mixtures built from real speech in ../shared/data/speech (never copied into the repository).

The recipe (deterministic: every clip is made from ``numpy.random.default_rng(seed)``):

- **Sources.**  Single-speaker pieces cut with the reference RTTMs: every stretch of at least 0.4 s where exactly
  one speaker talks, from the AMI debug clips (22 speakers have such stretches; CC BY 4.0), the pyannote sample (2 speakers, MIT) and
  jfk (1 speaker, MIT).  No non-commercial data.  Speakers are split by a fixed hash into a *fit* set and a
  *held-out* set (``split="fit"`` / ``"test"``): the detector's weights are fitted on mixtures of fit speakers only,
  and measured on mixtures of held-out speakers only.
- **Room.**  A room impulse response is exponentially decaying Gaussian noise (RT60 0.3-0.8 s, classroom-like,
  with a direct path); "distance" is a first-order low-pass (cut-off 2-6 kHz), a level drop and a larger
  reverberant share.
- **Pupils.**  Every talker (in babble and the single-voice negatives alike) is made child-like half the time: sped
  up 1.15-1.35 times, which raises pitch and formants (the sources are adults).
- **babble** (positive): 4-12 different speakers, each talking (pieces end to end with 0.1-0.8 s pauses) at a
  random gain (0 to -12 dB) and a random distance; summed over a quiet-room floor; overall level -42 to -22 dBFS.
- **Negatives**:
  - ``quiet``: room noise only (low-passed pink noise, a faint 50/60 Hz hum), -62 to -45 dBFS;
  - ``single_near`` / ``single_far``: one speaker (near: little reverb, -30 to -16 dBFS; far: reverberant and
    low-passed, -42 to -28 dBFS) over the room floor;
  - ``fan``: a projector/ventilation fan, broadband pink/brown noise with blade-rate hum and harmonics, -45 to -25;
  - ``chairs``: chair scrapes and knocks (0.05-0.6 s band-passed noise bursts and clicks at random times, 1-4 per
    second) over the room floor;
  - ``music``: synthesised chords (3-4 harmonic tones with attack/decay envelopes, a new chord every 0.25-1 s, some
    with a drum-like click track), -40 to -18 dBFS.
  A ``pair`` class (2-3 speakers close together) is also made but not counted either way: it is what the activity
  timeline reads from the diariser's turns, not from the babble detector.
- **crowd** (a stress check, not fitted on): a whole class in pair talk, every speaker of the split talking 2-3
  times at once (16-24 streams, different pieces), all far (direct share 0.1-0.6), -35 to -25 dBFS.  This is where
  Silero hears little (mean speech probability about 0.07; near zero on the real lesson of issue 21).

Each clip is ``CLIP_S`` (8 s) long and carries one label for all its half-second steps.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("VIDEOCOACH_SHARED_DATA", REPO.parent / "shared" / "data"))
SPEECH = DATA / "speech"
SR = 16000
CLIP_S = 8.0
MIN_PIECE_S = 0.4
POSITIVE = "babble"
NEGATIVES = ("quiet", "single_near", "single_far", "fan", "chairs", "music")
KINDS = (POSITIVE,) + NEGATIVES + ("pair",)


@dataclass(frozen=True)
class Clip:
    kind: str
    audio: np.ndarray  # float32, 16 kHz mono
    n_speakers: int
    seed: int


def _read(path: Path) -> np.ndarray:
    audio, sr = sf.read(str(path), dtype="float32", always_2d=True)
    audio = audio.mean(axis=1)
    if sr != SR:
        from scipy.signal import resample_poly

        g = np.gcd(sr, SR)
        audio = resample_poly(audio, SR // g, sr // g).astype(np.float32)
    return audio


def _rttm(path: Path) -> dict[str, list[tuple[float, float, str]]]:
    out: dict[str, list[tuple[float, float, str]]] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        p = line.split()
        if len(p) >= 8 and p[0] == "SPEAKER":
            out.setdefault(p[1], []).append((float(p[3]), float(p[3]) + float(p[4]), p[7]))
    return out


def _solo_pieces(turns: list[tuple[float, float, str]], duration: float) -> list[tuple[float, float, str]]:
    """Stretches where exactly one speaker talks, at least MIN_PIECE_S long."""
    step = 0.01
    n = int(duration / step) + 1
    count = np.zeros(n, dtype=np.int32)
    who = np.full(n, -1, dtype=np.int32)
    names = sorted({t[2] for t in turns})
    for a, b, s in turns:
        i, j = int(a / step), min(n, int(b / step))
        count[i:j] += 1
        who[i:j] = names.index(s)
    out = []
    i = 0
    while i < n:
        if count[i] == 1:
            j = i
            while j < n and count[j] == 1 and who[j] == who[i]:
                j += 1
            if (j - i) * step >= MIN_PIECE_S:
                out.append((i * step, j * step, names[who[i]]))
            i = j
        else:
            i += 1
    return out


def load_speakers() -> dict[str, list[np.ndarray]]:
    """Single-speaker pieces per speaker id, from every clip with an RTTM (and jfk, one speaker throughout)."""
    pieces: dict[str, list[np.ndarray]] = {}
    ami = SPEECH / "ami_debug"
    for rttm in sorted(ami.glob("*.rttm")):
        for uri, turns in _rttm(rttm).items():
            wav = ami / f"{uri}.wav"
            if not wav.is_file():
                continue
            audio = _read(wav)
            for a, b, s in _solo_pieces(turns, audio.size / SR):
                pieces.setdefault(f"ami:{s}", []).append(audio[int(a * SR) : int(b * SR)])
    sample = SPEECH / "pyannote_sample"
    if (sample / "sample.wav").is_file():
        audio = _read(sample / "sample.wav")
        for a, b, s in _solo_pieces(_rttm(sample / "sample.rttm")["sample"], audio.size / SR):
            pieces.setdefault(f"pyannote:{s}", []).append(audio[int(a * SR) : int(b * SR)])
    jfk = SPEECH / "jfk" / "jfk.flac"
    if jfk.is_file():
        pieces["jfk"] = [_read(jfk)]
    if not pieces:
        raise FileNotFoundError(f"no reference speech under {SPEECH}")
    # level-normalise each piece (its own RMS), so that gains are what the recipe says
    for k, v in pieces.items():
        pieces[k] = [p / max(1e-6, float(np.sqrt(np.mean(p.astype(np.float64) ** 2)))) * 0.1 for p in v if p.size]
    return pieces


def split_of(speaker: str) -> str:
    """A fixed, content-free split of speakers: about a third held out."""
    return "test" if int(hashlib.sha256(speaker.encode()).hexdigest(), 16) % 3 == 0 else "fit"


# --- signal pieces ---------------------------------------------------------------------------------------------------


def _db(x: float) -> float:
    return 10 ** (x / 20)


def _set_level(x: np.ndarray, dbfs: float) -> np.ndarray:
    rms = float(np.sqrt(np.mean(x.astype(np.float64) ** 2)))
    return (x * (_db(dbfs) / max(rms, 1e-9))).astype(np.float32)


def _pink(rng: np.random.Generator, n: int, exponent: float = 1.0) -> np.ndarray:
    spec = np.fft.rfft(rng.standard_normal(n))
    f = np.fft.rfftfreq(n, 1 / SR)
    f[0] = f[1]
    return np.fft.irfft(spec / f ** (exponent / 2), n).astype(np.float32)


def _lowpass(x: np.ndarray, cutoff: float) -> np.ndarray:
    from scipy.signal import lfilter

    a = np.exp(-2 * np.pi * cutoff / SR)
    return lfilter([1 - a], [1, -a], x).astype(np.float32)


def _bandpass(x: np.ndarray, lo: float, hi: float) -> np.ndarray:
    from scipy.signal import butter, sosfilt

    sos = butter(2, [lo, hi], btype="band", fs=SR, output="sos")
    return sosfilt(sos, x).astype(np.float32)


def _room(rng: np.random.Generator, x: np.ndarray, rt60: float, direct: float) -> np.ndarray:
    """Convolve with an exponentially decaying noise tail plus a direct path of relative weight ``direct``."""
    from scipy.signal import fftconvolve

    n = int(rt60 * SR)
    t = np.arange(n) / SR
    tail = rng.standard_normal(n) * np.exp(-6.9 * t / rt60)
    tail /= np.sqrt(np.sum(tail**2))
    ir = (1 - direct) * tail
    ir[0] += direct
    return fftconvolve(x, ir)[: x.size].astype(np.float32)


def _childlike(rng: np.random.Generator, pieces: list[np.ndarray]) -> list[np.ndarray]:
    """Half the talkers are made more child-like: played 1.15-1.35 times faster (pitch and formants up, as in a
    child's voice; the syllable rate goes up too).  The others are left as they are."""
    if rng.random() < 0.5:
        return pieces
    from scipy.signal import resample_poly

    up = 20
    down = int(round(up * rng.uniform(1.15, 1.35)))
    return [resample_poly(p, up, down).astype(np.float32) for p in pieces]


def _talker(rng: np.random.Generator, pieces: list[np.ndarray], n: int) -> np.ndarray:
    """One speaker talking for ``n`` samples: their pieces end to end, in random order, with short pauses."""
    pieces = _childlike(rng, pieces)
    out = np.zeros(n, dtype=np.float32)
    pos = int(rng.uniform(0, 1.0) * SR)
    while pos < n:
        p = pieces[int(rng.integers(len(pieces)))]
        if p.size > 4 * SR:
            a = int(rng.integers(0, p.size - 3 * SR))
            p = p[a : a + int(rng.uniform(1.0, 4.0) * SR)]
        k = min(p.size, n - pos)
        out[pos : pos + k] += p[:k]
        pos += k + int(rng.uniform(0.1, 0.8) * SR)
    return out


def _placed(rng: np.random.Generator, x: np.ndarray, far: bool) -> np.ndarray:
    if far:
        x = _lowpass(x, rng.uniform(2000, 6000))
        return _room(rng, x, rng.uniform(0.4, 0.8), rng.uniform(0.25, 0.6))
    return _room(rng, x, rng.uniform(0.3, 0.6), rng.uniform(0.7, 0.95))


def _floor(rng: np.random.Generator, n: int, dbfs: float) -> np.ndarray:
    room = _lowpass(_pink(rng, n), rng.uniform(1500, 5000))
    t = np.arange(n) / SR
    mains = rng.choice([50.0, 60.0])
    hum = sum(np.sin(2 * np.pi * mains * k * t + rng.uniform(0, 6.28)) / k for k in (1, 2, 3))
    room = _set_level(room, 0.0) + _set_level(hum.astype(np.float32), rng.uniform(-20, -8))
    return _set_level(room, dbfs)


def _fan(rng: np.random.Generator, n: int) -> np.ndarray:
    noise = _pink(rng, n, exponent=rng.uniform(0.5, 2.0))
    t = np.arange(n) / SR
    blade = rng.uniform(80, 300)
    hum = sum(np.sin(2 * np.pi * blade * k * t + rng.uniform(0, 6.28)) * rng.uniform(0.2, 1) / k for k in range(1, 6))
    x = _set_level(noise, 0.0) + _set_level(hum.astype(np.float32), rng.uniform(-15, 0))
    return _set_level(x, rng.uniform(-45, -25))


def _chairs(rng: np.random.Generator, n: int) -> np.ndarray:
    x = np.zeros(n, dtype=np.float32)
    n_events = int(rng.uniform(1, 4) * n / SR)
    for _ in range(n_events):
        at = int(rng.integers(0, n))
        if rng.random() < 0.5:  # scrape: a band-passed noise burst with a wobbling envelope
            k = int(rng.uniform(0.15, 0.6) * SR)
            lo = rng.uniform(200, 1500)
            burst = _bandpass(rng.standard_normal(k).astype(np.float32), lo, lo * rng.uniform(1.5, 4))
            env = np.hanning(k) * (1 + 0.5 * np.sin(2 * np.pi * rng.uniform(5, 30) * np.arange(k) / SR))
        else:  # knock / drop: a short decaying click
            k = int(rng.uniform(0.03, 0.15) * SR)
            burst = rng.standard_normal(k).astype(np.float32)
            env = np.exp(-np.arange(k) / (0.2 * k))
        piece = (burst * env * _db(rng.uniform(-30, 0))).astype(np.float32)
        m = min(k, n - at)
        x[at : at + m] += piece[:m]
    return _set_level(x, rng.uniform(-40, -22)) + _floor(rng, n, rng.uniform(-60, -48))


def _music(rng: np.random.Generator, n: int) -> np.ndarray:
    t = np.arange(n) / SR
    x = np.zeros(n, dtype=np.float32)
    pos = 0
    while pos < n:
        k = min(n - pos, int(rng.uniform(0.25, 1.0) * SR))
        root = 110 * 2 ** (rng.integers(0, 24) / 12)
        shapes = ([0, 4, 7], [0, 3, 7], [0, 4, 7, 11], [0, 5, 9])
        chord = [root * 2 ** (s / 12) for s in shapes[int(rng.integers(len(shapes)))]]
        tt = t[:k]
        env = np.minimum(1, tt / 0.02) * np.exp(-tt * rng.uniform(0.5, 4))
        tone = np.zeros(k)
        for f in chord:
            for h in range(1, 6):
                if f * h < SR / 2:
                    tone += np.sin(2 * np.pi * f * h * tt) * rng.uniform(0.2, 1.0) / h
        x[pos : pos + k] += (tone * env).astype(np.float32)
        pos += k
    if rng.random() < 0.4:  # a click track
        beat = int(rng.uniform(0.3, 0.6) * SR)
        for at in range(0, n, beat):
            k = min(400, n - at)
            x[at : at + k] += (rng.standard_normal(k) * np.exp(-np.arange(k) / 60) * 0.5).astype(np.float32)
    return _set_level(x, rng.uniform(-40, -18)) + _floor(rng, n, rng.uniform(-60, -48))


def make_clip(kind: str, speakers: dict[str, list[np.ndarray]], seed: int) -> Clip:
    rng = np.random.default_rng(seed)
    n = int(CLIP_S * SR)
    names = sorted(speakers)
    if kind in ("babble", "pair", "single_near", "single_far"):
        k = {"babble": int(rng.integers(4, 13)), "pair": int(rng.integers(2, 4))}.get(kind, 1)
        chosen = rng.choice(len(names), size=min(k, len(names)), replace=False)
        mix = np.zeros(n, dtype=np.float32)
        for i in chosen:
            voice = _talker(rng, speakers[names[i]], n)
            far = kind == "single_far" or (kind == "babble" and rng.random() < 0.7)
            mix += _placed(rng, voice, far) * _db(rng.uniform(-12, 0) if kind == "babble" else 0.0)
        level = {"babble": (-42, -22), "pair": (-36, -20), "single_near": (-30, -16), "single_far": (-42, -28)}[kind]
        mix = _set_level(mix, rng.uniform(*level))
        audio = mix + _floor(rng, n, rng.uniform(-62, -48))
        return Clip(kind, audio.astype(np.float32), len(chosen), seed)
    if kind == "quiet":
        return Clip(kind, _floor(rng, n, rng.uniform(-62, -45)), 0, seed)
    if kind == "fan":
        return Clip(kind, _fan(rng, n) + _floor(rng, n, -60), 0, seed)
    if kind == "chairs":
        return Clip(kind, _chairs(rng, n), 0, seed)
    if kind == "music":
        return Clip(kind, _music(rng, n), 0, seed)
    raise ValueError(f"unknown kind {kind!r}")


def make_crowd(speakers: dict[str, list[np.ndarray]], seed: int) -> Clip:
    rng = np.random.default_rng(seed)
    n = int(CLIP_S * SR)
    mix = np.zeros(n, dtype=np.float32)
    streams = 0
    copies = int(rng.integers(2, 4))
    for name in sorted(speakers):
        for _ in range(copies):
            voice = _lowpass(_talker(rng, speakers[name], n), rng.uniform(2000, 5000))
            mix += _room(rng, voice, rng.uniform(0.5, 0.9), rng.uniform(0.1, 0.6)) * _db(rng.uniform(-9, 0))
            streams += 1
    audio = _set_level(mix, rng.uniform(-35, -25)) + _floor(rng, n, rng.uniform(-62, -48))
    return Clip("crowd", audio.astype(np.float32), streams, seed)


def make_set(split: str, per_kind: int, seed: int = 0) -> list[Clip]:
    """``per_kind`` clips of every kind, from the speakers of ``split`` ("fit" or "test")."""
    speakers = {k: v for k, v in load_speakers().items() if split_of(k) == split}
    base = {"fit": 1_000_000, "test": 2_000_000}[split] + seed * 10_000
    return [make_clip(kind, speakers, base + 100 * i + j) for j, kind in enumerate(KINDS) for i in range(per_kind)]
