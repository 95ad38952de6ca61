"""Speed of the diarisation stage (and the audio levels): wall time, x real time, CPU time, peak RSS.

    python bench/bench_diarize.py ../shared/data/speech/pyannote_sample/sample.wav
    python bench/bench_diarize.py lesson.wav --repeat 3 --threads 2
    python bench/bench_diarize.py --minutes 10      # the sample and AMI clips joined into a 10-minute stream

The input is decoded to 16 kHz mono with ffmpeg (any format).  Model loading is timed apart from running.
Timings on a shared machine are noisy: the load average is printed with the figures.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from videocoach.audio.diarize import DiarizeConfig, load_diarizer  # noqa: E402
from videocoach.av.ffmpeg import ffmpeg_binary, run  # noqa: E402
from videocoach.audio.levels import compute_levels  # noqa: E402

DATA = Path(os.environ.get("VIDEOCOACH_SHARED_DATA", REPO.parent / "shared" / "data"))


def decode_16k_mono(path: Path) -> np.ndarray:
    raw = run([ffmpeg_binary(), "-nostdin", "-v", "error", "-i", str(path), "-f", "f32le", "-ac", "1", "-ar",
               "16000", "-"], timeout_s=600)
    return np.frombuffer(raw, dtype=np.float32).copy()


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux reports KiB


def bench_audio(audio: np.ndarray, config: DiarizeConfig = DiarizeConfig(), repeat: int = 1) -> dict:
    """Time model loading once, then ``repeat`` diarisations (the best wall time is reported) and the levels."""
    import torch

    torch.set_num_threads(config.num_threads)
    duration_s = audio.size / 16000
    t0 = time.perf_counter()
    diarizer = load_diarizer(config)
    load_s = time.perf_counter() - t0
    walls, cpus = [], []
    result = None
    for _ in range(max(1, repeat)):
        c0, w0 = time.process_time(), time.perf_counter()
        result = diarizer.run(audio)
        walls.append(time.perf_counter() - w0)
        cpus.append(time.process_time() - c0)
    w0 = time.perf_counter()
    compute_levels(audio, vad=diarizer.vad)
    levels_s = time.perf_counter() - w0
    assert result is not None
    wall = min(walls)
    return {
        "audio_s": round(duration_s, 2),
        "load_s": round(load_s, 3),
        "wall_s": round(wall, 3),
        "x_real_time": round(duration_s / max(wall, 1e-9), 1),
        "cpu_s": round(min(cpus), 3),
        "x_real_time_cpu": round(duration_s / max(min(cpus), 1e-9), 1),
        "levels_wall_s": round(levels_s, 3),
        "speakers": len(result.diarization.speakers),
        "turns": len(result.diarization.turns),
        "threads": config.num_threads,
        "peak_rss_mb": round(_peak_rss_mb(), 1),
        "load_average_1min": round(os.getloadavg()[0], 2),
    }


def bench_diarize(wav_path: str | Path, config: DiarizeConfig = DiarizeConfig(), repeat: int = 1) -> dict:
    """Benchmark one file (any format ffmpeg reads)."""
    return {"file": str(wav_path), **bench_audio(decode_16k_mono(Path(wav_path)), config, repeat)}


def joined_reference_audio(minutes: float) -> np.ndarray:
    """The pyannote sample and the AMI debug clips, repeated to ``minutes`` (for a long-lesson figure)."""
    clips = [DATA / "speech" / "pyannote_sample" / "sample.wav"]
    clips += sorted((DATA / "speech" / "ami_debug").glob("[dt]*.wav"))
    pieces = [decode_16k_mono(p) for p in clips if p.exists()]
    if not pieces:
        raise SystemExit(f"reference data not found under {DATA}")
    need = int(minutes * 60 * 16000)
    out, total, i = [], 0, 0
    while total < need:
        out.append(pieces[i % len(pieces)])
        total += pieces[i % len(pieces)].size
        i += 1
    return np.concatenate(out)[:need]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("path", nargs="?", help="audio or video file (default: pyannote_sample)")
    parser.add_argument("--minutes", type=float, help="instead of a file: reference clips joined to this length")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--embedding", default="campplus", choices=["campplus", "resemblyzer"])
    args = parser.parse_args(argv)
    if args.embedding == "resemblyzer":
        config = DiarizeConfig.resemblyzer(num_threads=args.threads)
    else:
        config = DiarizeConfig(num_threads=args.threads)
    if args.minutes:
        out = {"file": f"reference clips joined to {args.minutes} min",
               **bench_audio(joined_reference_audio(args.minutes), config, args.repeat)}
    else:
        path = args.path or DATA / "speech" / "pyannote_sample" / "sample.wav"
        out = bench_diarize(path, config, args.repeat)
    width = max(len(k) for k in out)
    for key, value in out.items():
        print(f"{key:<{width}}  {value}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
