"""Speed of the whole audio analysis on a 50-minute lesson-like recording built from real speech clips.

    python bench/bench_pipeline.py [--minutes 50] [--openai-minutes 5] [--keep DIR]

Prints wall time, × real time and peak RSS per stage (each stage runs in its own process, so its peak memory is its
own), the total, and the openai-whisper engine on the same input (its first ``--openai-minutes``; it is ~1× real
time here, so the whole 50 minutes would take an hour) with the faster-whisper / openai-whisper speed ratio.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import random
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
SHARED = Path(os.environ.get("VIDEOCOACH_SHARED_DATA", REPO.parent / "shared" / "data"))
SR = 16000


def build_lesson_audio(out: Path, minutes: float, seed: int = 0) -> float:
    """Real clips (AMI meetings, a phone call, JFK) in random order with quiet spells between them."""
    from videocoach.av.media import load_wav

    clips = sorted((SHARED / "speech" / "ami_debug").glob("[dt]*.wav")) + [
        SHARED / "speech" / "pyannote_sample" / "sample.wav"]
    audio = [load_wav(p) for p in clips]
    rng = random.Random(seed)
    target = int(minutes * 60 * SR)
    parts, n = [], 0
    noise = np.random.default_rng(seed)
    while n < target:
        clip = audio[rng.randrange(len(audio))]
        parts.append(clip)
        gap = noise.normal(0, 0.003, int(rng.uniform(0.5, 8.0 if rng.random() < 0.9 else 25.0) * SR)).astype(np.float32)
        parts.append(gap)
        n += len(clip) + len(gap)
    wav = np.concatenate(parts)[:target]
    sf.write(out, wav, SR, subtype="PCM_16")
    return len(wav) / SR


def _stage_child(args) -> tuple[str, float, float]:
    data_dir, key_file, lesson_id, stage = args
    import torch

    torch.set_num_threads(2)
    from videocoach import pipeline
    from videocoach.config import Settings
    from videocoach.storage.store import Store

    store = Store(Settings(Path(data_dir), Path(key_file)))
    t0 = time.perf_counter()
    pipeline.run(store, lesson_id, stages=[stage])
    wall = time.perf_counter() - t0
    rss_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
    return stage, wall, rss_gb


def _openai_child(args) -> tuple[float, float, int]:
    wav_path, seconds = args
    from videocoach.av.media import load_wav
    from videocoach.audio.transcribe import AsrConfig, load_asr

    audio = load_wav(Path(wav_path))[: int(seconds * SR)]
    t0 = time.perf_counter()
    model = load_asr(AsrConfig(engine="openai-whisper", model="base"))
    transcript = model.transcribe(audio)
    wall = time.perf_counter() - t0
    return wall, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2, len(transcript.utterances)


def _faster_child(args) -> tuple[float, float, int]:
    wav_path, seconds = args
    from videocoach.av.media import load_wav
    from videocoach.audio.transcribe import AsrConfig, load_asr

    audio = load_wav(Path(wav_path))[: int(seconds * SR)]
    t0 = time.perf_counter()
    model = load_asr(AsrConfig(engine="faster-whisper", model="base"))
    transcript = model.transcribe(audio)
    wall = time.perf_counter() - t0
    return wall, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2, len(transcript.utterances)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--minutes", type=float, default=50.0)
    ap.add_argument("--openai-minutes", type=float, default=5.0)
    ap.add_argument("--keep", type=Path, help="keep the data directory here")
    args = ap.parse_args()

    from videocoach import pipeline
    from videocoach.config import Settings
    from videocoach.storage.store import Store

    root = args.keep or Path(tempfile.mkdtemp(prefix="vc-bench-"))
    root.mkdir(parents=True, exist_ok=True)
    wav = root / "lesson.wav"
    duration = build_lesson_audio(wav, args.minutes)
    print(f"input: {duration / 60:.1f} min of real speech clips with quiet spells ({wav})")
    settings = Settings(root / "data", root / "key")
    store = Store(settings)
    owner = store.user_by_name("bench") or store.add_user("bench", "teacher", None)
    lesson = pipeline.ingest_file(store, owner, wav, title="bench", options=pipeline.AnalyseOptions(redact=False))
    stages = pipeline.pending_stages(store, lesson.id)
    ctx = mp.get_context("spawn")
    rows = []
    for stage in stages:
        with ctx.Pool(1) as pool:
            rows.append(pool.apply(_stage_child, ((str(settings.data_dir), str(settings.key_file), lesson.id, stage),)))
        name, wall, rss = rows[-1]
        print(f"  {name:<11} {wall:8.1f} s  {duration / max(wall, 1e-9):7.1f}× real time  peak RSS {rss:.2f} GB",
              flush=True)
    total = sum(r[1] for r in rows)
    print(f"{'total':<13} {total:8.1f} s  {duration / total:7.1f}× real time  peak RSS {max(r[2] for r in rows):.2f} GB"
          f"  (target ≥ 10×, ≤ 3 GB) on {os.cpu_count()} cores")

    if args.openai_minutes > 0:
        seconds = min(args.openai_minutes * 60, duration)
        with ctx.Pool(1) as pool:
            f_wall, f_rss, f_n = pool.apply(_faster_child, ((str(wav), seconds),))
        with ctx.Pool(1) as pool:
            o_wall, o_rss, o_n = pool.apply(_openai_child, ((str(wav), seconds),))
        print(f"ASR engines on the first {seconds / 60:.1f} min (load + transcribe):")
        print(f"  faster-whisper base int8: {f_wall:7.1f} s  {seconds / f_wall:6.1f}× real time  RSS {f_rss:.2f} GB"
              f"  {f_n} segments")
        print(f"  openai-whisper base fp32: {o_wall:7.1f} s  {seconds / o_wall:6.1f}× real time  RSS {o_rss:.2f} GB"
              f"  {o_n} segments")
        print(f"  openai-whisper / faster-whisper wall time: {o_wall / f_wall:.1f}×")
    store.close()


if __name__ == "__main__":
    main()
