"""Speed of the transcription stage: wall time, x real time and peak memory per engine.

    python bench/bench_asr.py                    # faster-whisper base vs openai-whisper base on ~2 min of AMI clips
    python bench/bench_asr.py lesson.wav --engines faster-whisper --threads 2

``bench_asr(wav_path)`` is what the whole-pipeline bench calls (faster-whisper base only by default: openai-whisper
runs at about 1x real time, i.e. ~50 minutes for a 50-minute lesson).  Each engine runs in its own child process so
its peak RSS (``resource.getrusage``) is its own; model loading (including a first-time join/conversion into the
cache) is timed separately from transcription.  "x real time" is audio seconds per wall second: higher is faster.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Sequence

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

SHARED = Path(os.environ.get("VIDEOCOACH_SHARED_DATA", REPO.parent / "shared" / "data"))
AMI_CLIPS = ("dev00", "trn01", "trn02", "tst00")  # 4 x 30 s of real meeting speech
OUT = REPO / "bench" / "out"


def bench_asr(
    wav_path: str | Path,
    engines: Sequence[str] = ("faster-whisper",),
    model: str = "base",
    threads: int = 2,
    beam_size: int = 5,
) -> dict:
    """Transcribe ``wav_path`` once per engine, each in a fresh process; return timings and peak RSS.

    ``{"audio_s", "engines": {engine: {"load_s", "run_s", "cpu_s", "x_real_time", "peak_rss_mb", "words", "engine_id"}},
    "openai_over_faster"}`` (the last only when both engines ran: how many times slower openai-whisper is).
    """
    results: dict[str, dict] = {}
    for engine in engines:
        argv = [
            sys.executable, __file__, "--worker", str(wav_path),
            "--engines", engine, "--model", model, "--threads", str(threads), "--beam", str(beam_size),
        ]  # fmt: skip
        proc = subprocess.run(argv, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            raise RuntimeError(f"bench worker for {engine} exited with {proc.returncode}\n{proc.stderr[-2000:]}")
        results[engine] = json.loads(proc.stdout.strip().splitlines()[-1])
    audio_s = next(iter(results.values()))["audio_s"] if results else 0.0
    out: dict = {"wav": str(wav_path), "audio_s": audio_s, "threads": threads, "engines": results}
    if "faster-whisper" in results and "openai-whisper" in results:
        out["openai_over_faster"] = results["openai-whisper"]["run_s"] / results["faster-whisper"]["run_s"]
    return out


def _worker(wav_path: str, engine: str, model: str, threads: int, beam_size: int) -> dict:
    import torch

    from videocoach.audio.transcribe import SAMPLE_RATE, AsrConfig, decode_audio, load_asr

    torch.set_num_threads(threads)
    audio = decode_audio(wav_path)
    config = AsrConfig(engine=engine, model=model, cpu_threads=threads, beam_size=beam_size)  # type: ignore[arg-type]
    t0 = time.perf_counter()
    asr = load_asr(config)
    load_s = time.perf_counter() - t0
    t0, c0 = time.perf_counter(), time.process_time()
    transcript = asr.transcribe(audio)
    run_s, cpu_s = time.perf_counter() - t0, time.process_time() - c0
    audio_s = len(audio) / SAMPLE_RATE
    return {
        "engine_id": transcript.engine,
        "audio_s": audio_s,
        "load_s": load_s,
        "run_s": run_s,
        "cpu_s": cpu_s,  # all threads: on a shared, oversubscribed box this is steadier than wall time
        "x_real_time": audio_s / run_s if run_s else float("inf"),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,  # Linux: KiB
        "words": sum(len(u.words) for u in transcript.utterances),
    }


def default_wav() -> Path:
    """~2 minutes of real meeting speech: the AMI debug clips joined (written once to bench/out/)."""
    import numpy as np
    import soundfile as sf

    OUT.mkdir(parents=True, exist_ok=True)
    target = OUT / "ami_2min.wav"
    if not target.exists():
        pieces = []
        for name in AMI_CLIPS:
            audio, rate = sf.read(SHARED / "speech" / "ami_debug" / f"{name}.wav", dtype="float32")
            if rate != 16000 or audio.ndim != 1:
                raise RuntimeError(f"{name}.wav: expected 16 kHz mono, got {rate} Hz, shape {audio.shape}")
            pieces.append(audio)
        sf.write(target, np.concatenate(pieces), 16000, subtype="FLOAT")
    return target


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("wav", nargs="?", help="audio file (default: ~2 min of AMI debug clips)")
    parser.add_argument("--engines", nargs="+", default=["faster-whisper", "openai-whisper"])
    parser.add_argument("--model", default="base", choices=["base", "tiny.en"])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--beam", type=int, default=5)
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.worker:
        print(json.dumps(_worker(args.wav, args.engines[0], args.model, args.threads, args.beam)))
        return 0

    wav = Path(args.wav) if args.wav else default_wav()
    result = bench_asr(wav, engines=args.engines, model=args.model, threads=args.threads, beam_size=args.beam)
    print(f"{wav} ({result['audio_s']:.1f} s of audio, {args.threads} threads)")
    header = f"{'engine':<34} {'load s':>6} {'run s':>7} {'cpu s':>7} {'x RT':>6} {'peak RSS MB':>11} {'words':>6}"
    print(header)
    print("-" * len(header))
    for r in result["engines"].values():
        print(
            f"{r['engine_id']:<34} {r['load_s']:6.1f} {r['run_s']:7.1f} {r['cpu_s']:7.1f} {r['x_real_time']:6.2f} "
            f"{r['peak_rss_mb']:11.0f} {r['words']:6d}"
        )
    if "openai_over_faster" in result:
        print(f"openai-whisper / faster-whisper wall time: {result['openai_over_faster']:.1f}x")
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "asr.json").write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
