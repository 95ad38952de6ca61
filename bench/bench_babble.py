"""How long the babble detector takes, in seconds per 50 minutes of audio (Silero's frame probabilities are an input:
the levels stage has them already, so they are not timed here).

    python bench/bench_babble.py [--minutes 50]

The audio is synthesised (a speech-shaped noise with a syllable-rate envelope, switching every minute between one
voice, many voices and quiet), 16 kHz mono float32 like the pipeline's.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from videocoach.audio.babble import babble_probs  # noqa: E402

SR = 16000


def synth(minutes: float, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    n = int(minutes * 60 * SR)
    out = np.empty(n, dtype=np.float32)
    minute = 60 * SR
    for a in range(0, n, minute):
        k = min(minute, n - a)
        t = np.arange(k) / SR
        noise = rng.standard_normal(k).astype(np.float32)
        voices = (1, 8, 0)[(a // minute) % 3]
        env = np.zeros(k, dtype=np.float32)
        for _ in range(voices):
            env += (0.5 + 0.5 * np.sin(2 * np.pi * rng.uniform(3, 6) * t + rng.uniform(0, 6.3))).astype(np.float32)
        out[a : a + k] = noise * (0.003 + 0.05 * env / max(1, voices))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--minutes", type=float, default=50.0)
    args = ap.parse_args()
    audio = synth(args.minutes)
    frame_probs = np.zeros(int(np.ceil(audio.size / 512)), dtype=np.float32)
    babble_probs(audio[:SR], frame_probs[:32])  # read the packaged model and import scipy.fft outside the timing
    t0, c0 = time.perf_counter(), time.process_time()
    probs = babble_probs(audio, frame_probs)
    secs, cpu = time.perf_counter() - t0, time.process_time() - c0
    # CPU time too: on a shared, loaded machine the wall time says more about the neighbours than about this code
    print(f"babble detector: {secs:.2f} s wall, {cpu:.2f} s CPU for {args.minutes:g} min of audio "
          f"({secs * 50 / args.minutes:.2f} s wall, {cpu * 50 / args.minutes:.2f} s CPU per 50 min; "
          f"{probs.size} half-second steps)")


if __name__ == "__main__":
    main()
