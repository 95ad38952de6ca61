"""The transcription on one worker against two (``AsrConfig.workers``): wall and CPU seconds, and the WER.

    python bench/bench_asr_workers.py              # the sample lesson (146 s), workers 1 then 2, in one process
    python bench/bench_asr_workers.py --repeat 4   # the lesson 4 times over (584 s): more chunks, a steadier figure
    python bench/bench_asr_workers.py --workers 1 2 1 2
    python bench/bench_asr_workers.py --repeat 4 --estimate   # + each chunk's CPU s: an idle-machine estimate

faster-whisper base int8, one CPU thread per worker (``cpu_threads=1``), as the pipeline runs it.  Each setting
loads its own model (not timed) and transcribes the same audio; "cpu s" is the process's CPU time over the run (all
threads; ``time.process_time``), "wall s" its wall time.  On a shared machine the wall time depends on what else
runs: the load average before and after each run is printed beside it.  Start it under ``nice`` on a shared box.
The WER is against the lesson's script (lines nobody speaks over: ``eval_asr.lesson_reference``).  Nothing here
asserts: figures only.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "eval"))

import numpy as np  # noqa: E402

from eval_asr import lesson_reference, wer  # noqa: E402
from videocoach.audio.transcribe import SAMPLE_RATE, AsrConfig, decode_audio, load_asr  # noqa: E402

LESSON = REPO / "sample_media" / "lesson.mp4"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2], help="settings to run, in this order")
    parser.add_argument("--repeat", type=int, default=1, help="the lesson this many times end to end")
    parser.add_argument("--estimate", action="store_true",
                        help="also: each chunk alone (CPU s) and what 2 workers would take on an idle machine")
    args = parser.parse_args()

    os.environ.setdefault("OMP_NUM_THREADS", "1")
    one = decode_audio(LESSON)
    audio = np.concatenate([one] * args.repeat)
    reference = " ".join([lesson_reference()] * args.repeat)
    audio_s = len(audio) / SAMPLE_RATE
    print(f"audio: {LESSON.name} x{args.repeat} = {audio_s:.1f} s; faster-whisper base int8, cpu_threads=1")
    header = f"{'workers':>7} {'wall s':>7} {'cpu s':>7} {'cpu/wall':>8} {'x RT':>5} {'WER %':>6}  load before/after"
    print(header)
    print("-" * len(header))
    models = {}
    for workers in args.workers:
        if workers not in models:
            models[workers] = load_asr(AsrConfig(cpu_threads=1, workers=workers))
        model = models[workers]
        load_before = os.getloadavg()[0]
        w0, c0 = time.perf_counter(), time.process_time()
        transcript = model.transcribe(audio)
        wall, cpu = time.perf_counter() - w0, time.process_time() - c0
        load_after = os.getloadavg()[0]
        print(
            f"{workers:>7} {wall:7.1f} {cpu:7.1f} {cpu / wall:8.2f} {audio_s / wall:5.1f} "
            f"{100 * wer(reference, transcript.text):6.1f} {load_before:8.1f} / {load_after:<7.1f}",
            flush=True,
        )
    if args.estimate:
        estimate(models.get(2) or load_asr(AsrConfig(cpu_threads=1, workers=2)), audio)
    return 0


def estimate(model, audio: np.ndarray) -> None:
    """What two workers would take on an idle 2-core machine, from CPU seconds only (the wall of a shared machine
    says little): the VAD, then each chunk decoded alone (its CPU s), dealt to 2 workers in queue order."""
    from videocoach.audio.transcribe import _MonotonicProgress

    c0 = time.process_time()
    chunks = model._chunks(audio)
    vad_cpu = time.process_time() - c0
    costs = []
    for chunk in chunks:
        c0 = time.process_time()
        model._transcribe_chunks(audio, [chunk], _MonotonicProgress(lambda stage, f: None))
        costs.append(time.process_time() - c0)
    free = [0.0, 0.0]  # when each worker is next free
    for cost in costs:
        free[free.index(min(free))] += cost
    print(f"\nchunks (s): {[round(c.duration_s) for c in chunks]}; CPU s each: {[round(c, 1) for c in costs]}")
    print(f"idle 2-core estimate, 2 workers: VAD {vad_cpu:.1f} + slowest worker {max(free):.1f} = "
          f"{vad_cpu + max(free):.1f} s (all chunks {sum(costs):.1f} CPU s)")


if __name__ == "__main__":
    raise SystemExit(main())
