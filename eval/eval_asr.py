"""Word error rate of the transcription stage on real reference speech; prints a table.

    python eval/eval_asr.py            # jfk + pyannote sample, both engines, beam 1 vs 5 (a few minutes on 2 cores)
    python eval/eval_asr.py --quick    # faster-whisper only
    python eval/eval_asr.py --long 6   # also: the sample repeated 6 times, condition_on_previous_text on vs off
    python eval/eval_asr.py --workers 2  # only faster-whisper base, workers=1 vs 2, also on the sample lesson

Data (read-only, ../shared/data): speech/jfk (jfk.flac + jfk.ref.txt, 11 s) and speech/pyannote_sample (sample.wav +
sample.stm, a real 30 s phone call; the reference is every STM text in time order).  WER after lowercasing and
removing punctuation (jiwer).  With ``--workers`` also the bundled sample lesson (``sample_media/lesson.mp4``,
146 s, synthetic voices), against its script's lines that nobody speaks over (``lesson_reference``).  "x RT" is
audio seconds per second of transcription (higher is faster); model loading is timed separately.  Results also go
to eval/out/asr.json.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import asdict, replace
from pathlib import Path

import jiwer
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from videocoach.audio.transcribe import SAMPLE_RATE, AsrConfig, decode_audio, load_asr  # noqa: E402

SHARED = Path(os.environ.get("VIDEOCOACH_SHARED_DATA", REPO.parent / "shared" / "data"))
NORMALISE = jiwer.Compose(
    [
        jiwer.ToLowerCase(),
        jiwer.RemovePunctuation(),
        jiwer.RemoveMultipleSpaces(),
        jiwer.Strip(),
        jiwer.ReduceToListOfListOfWords(),
    ]
)


def wer(reference: str, hypothesis: str) -> float:
    return jiwer.wer(reference, hypothesis, reference_transform=NORMALISE, hypothesis_transform=NORMALISE)


def stm_reference(path: Path) -> str:
    """All STM texts in time order (``file channel speaker start end text...``)."""
    rows = []
    for line in path.read_text().splitlines():
        if not line.strip() or line.startswith(";;"):
            continue
        fields = line.split(maxsplit=5)
        if len(fields) == 6:
            rows.append((float(fields[3]), float(fields[4]), fields[5]))
    return " ".join(text for _, _, text in sorted(rows))


def lesson_reference(script_path: Path = REPO / "sample_media" / "lesson_script.json") -> str:
    """The sample lesson's words in time order: every scripted line not spoken over another (the group work's
    overlapping pupils and the chorus are left out: no engine transcribes them)."""
    lines = json.loads(script_path.read_text())["lines"]
    return " ".join(line["text"] for line in sorted(lines, key=lambda x: x["start"]) if not line["overlapping"])


def datasets(long_repeats: int, lesson: bool = False) -> list[tuple[str, np.ndarray, str]]:
    jfk = SHARED / "speech" / "jfk"
    sample = SHARED / "speech" / "pyannote_sample"
    out = [
        ("jfk", decode_audio(jfk / "jfk.flac"), (jfk / "jfk.ref.txt").read_text().strip()),
        ("sample.stm", decode_audio(sample / "sample.wav"), stm_reference(sample / "sample.stm")),
    ]
    if long_repeats > 1:
        _, audio, ref = out[1]
        gap = np.zeros(SAMPLE_RATE, dtype=np.float32)  # 1 s between repeats
        long_audio = np.concatenate([np.concatenate([audio, gap])] * long_repeats)
        out.append((f"sample x{long_repeats}", long_audio, " ".join([ref] * long_repeats)))
    if lesson:
        out.append(("lesson", decode_audio(REPO / "sample_media" / "lesson.mp4"), lesson_reference()))
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="faster-whisper only (skip the ~1x real time engine)")
    parser.add_argument("--threads", type=int, default=1, help="CPU threads per model (default 1: shared box)")
    parser.add_argument("--long", type=int, default=0, metavar="N", help="also the sample repeated N times")
    parser.add_argument("--workers", type=int, default=0, metavar="N",
                        help="only faster-whisper base with workers=1 vs N (AsrConfig.workers), also on the lesson")
    args = parser.parse_args()

    import torch

    torch.set_num_threads(args.threads)
    base = AsrConfig(cpu_threads=args.threads)
    runs: list[tuple[AsrConfig, tuple[str, ...]]] = [
        (base, ("jfk", "sample.stm")),
        (replace(base, beam_size=1), ("jfk", "sample.stm")),
        (replace(base, condition_on_previous_text=True), ("sample.stm",)),
        (replace(base, model="tiny.en"), ("jfk", "sample.stm")),
        (replace(base, model="tiny.en", beam_size=1), ("jfk", "sample.stm")),
    ]
    if args.workers:
        names = ("jfk", "sample.stm", "lesson")
        runs = [(replace(base, workers=1), names), (replace(base, workers=args.workers), names)]
    elif not args.quick:
        openai = replace(base, engine="openai-whisper")
        runs += [(openai, ("jfk", "sample.stm")), (replace(openai, beam_size=1), ("sample.stm",))]
    data = datasets(args.long, lesson=bool(args.workers))
    if args.long > 1:
        long_name = f"sample x{args.long}"
        for i in (0, 1) if args.workers else (0, 2):
            runs[i] = (runs[i][0], runs[i][1] + (long_name,))

    rows = []
    header = (
        f"{'data':<12} {'engine':<34} {'cond':>4} {'wk':>2} {'WER %':>6} {'audio s':>7} {'run s':>6} {'x RT':>5} "
        f"{'load s':>6}"
    )
    print(header)
    print("-" * len(header))
    for config, names in runs:
        t0 = time.perf_counter()
        model = load_asr(config)
        load_s = time.perf_counter() - t0
        for name, audio, reference in data:
            if name not in names:
                continue
            t0 = time.perf_counter()
            transcript = model.transcribe(audio)
            run_s = time.perf_counter() - t0
            audio_s = len(audio) / SAMPLE_RATE
            row = {
                "data": name,
                "engine": transcript.engine,
                "condition_on_previous_text": config.condition_on_previous_text,
                "wer": wer(reference, transcript.text),
                "audio_s": audio_s,
                "run_s": run_s,
                "x_real_time": audio_s / run_s,
                "load_s": load_s,
                "config": asdict(config),
                "hypothesis": transcript.text,
            }
            rows.append(row)
            cond = "on" if config.condition_on_previous_text else "off"
            print(
                f"{name:<12} {transcript.engine:<34} {cond:>4} {config.workers:>2} {100 * row['wer']:6.1f} "
                f"{audio_s:7.1f} {run_s:6.1f} {row['x_real_time']:5.1f} {load_s:6.1f}",
                flush=True,
            )
            load_s = 0.0  # only the first run after loading pays it
        del model

    out_dir = REPO / "eval" / "out"
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "asr.json").write_text(json.dumps(rows, indent=2))
    print(f"\nwrote {out_dir / 'asr.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
