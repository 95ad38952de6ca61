"""Where the audio stages spend their CPU: CPU seconds per audio minute of each step.

    python bench/bench_audio_profile.py                      # the bench lesson's audio (3 min), 1 thread
    python bench/bench_audio_profile.py --minutes 10 --threads 2
    python bench/bench_audio_profile.py --asr-threads 1 --seg-step 5   # a setting to compare

Steps, each timed by wrapping the call the stage makes (process CPU seconds: the stage runs alone in this process,
so the process's CPU during a call is that call's, its native worker threads included):

- transcribe (faster-whisper): Silero VAD (``get_speech_timestamps``), log-mel features, the encoder
  (``WhisperModel.encode``), the decoder's beam search (``generate``), word alignment (``align``), the rest (Python:
  tokens, segments, timestamps);
- diarize: Silero (``vad.frame_probs``), fbank features, CAM++ over the speech stream (``body_stream``), pooling of
  the windows (``pool``: the 1.5 s windows and the fine 0.5 s ones), clustering, re-segmentation, the fine windows'
  scoring (``_refine``, its pooling included), segmentation-3.0 (``activity``), the rest;
- levels (Silero again and the babble detector) and the model loads.

The load average is printed: on a shared machine CPU seconds are the steadier figure (wall times are printed too).
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))


def cpu_s() -> float:
    me = resource.getrusage(resource.RUSAGE_SELF)
    return me.ru_utime + me.ru_stime


class Table:
    """CPU and wall seconds per step, summed over calls (nested calls count in both: ``_refine`` holds a ``pool``)."""

    def __init__(self) -> None:
        self.cpu: dict[str, float] = defaultdict(float)
        self.wall: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)

    def timed(self, label: str, fn):
        def call(*args, **kwargs):
            c0, w0 = cpu_s(), time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.cpu[label] += cpu_s() - c0
                self.wall[label] += time.perf_counter() - w0
                self.calls[label] += 1
        return call


class Proxy:
    """``obj`` with some methods timed (CTranslate2 and onnxruntime objects cannot take instance attributes)."""

    def __init__(self, obj, table: Table, prefix: str, names: tuple[str, ...]) -> None:
        self._obj, self._timed = obj, {n: table.timed(f"{prefix}{n}", getattr(obj, n)) for n in names}

    def __getattr__(self, name):
        return self._timed.get(name) or getattr(self._obj, name)

    def __call__(self, *args, **kwargs):
        return self._timed["__call__"](*args, **kwargs)


def profile_asr(audio, threads: int, beam: int, table: Table) -> int:
    import faster_whisper.transcribe as fwt

    from videocoach.audio.transcribe import AsrConfig, load_asr

    c0 = cpu_s()
    asr = load_asr(AsrConfig(cpu_threads=threads, beam_size=beam))
    table.cpu["asr: load"] += cpu_s() - c0
    wm = asr._model
    wm.feature_extractor = Proxy(wm.feature_extractor, table, "asr: features", ("__call__",))
    wm.encode = table.timed("asr: encoder", wm.encode)
    wm.model = Proxy(wm.model, table, "asr: ", ("generate", "align"))
    real_vad = fwt.get_speech_timestamps
    fwt.get_speech_timestamps = table.timed("asr: Silero VAD", real_vad)
    try:
        c0, w0 = cpu_s(), time.perf_counter()
        transcript = asr.transcribe(audio)
        table.cpu["asr: total"] += cpu_s() - c0
        table.wall["asr: total"] += time.perf_counter() - w0
    finally:
        fwt.get_speech_timestamps = real_vad
    return sum(len(u.words) for u in transcript.utterances)


def profile_diarize(audio, threads: int, seg_threads: int, seg_step_s: float, hop_s: float, table: Table) -> int:
    from videocoach.audio import diarize
    from videocoach.audio.diarize import DiarizeConfig, load_diarizer
    from videocoach.audio.levels import compute_levels

    c0 = cpu_s()
    d = load_diarizer(DiarizeConfig(num_threads=threads, seg_threads=seg_threads, seg_step_s=seg_step_s,
                                    hop_s=hop_s))
    table.cpu["diarize: load"] += cpu_s() - c0
    # plain Python objects: their methods are timed in place (the diariser checks the encoder's class)
    for obj, label, name in ((d.vad, "Silero", "frame_probs"), (d.encoder, ". CAM++ body", "body_stream"),
                             (d.encoder, ". CAM++ pool", "pool"), (d.segmentation, "segmentation-3.0", "activity")):
        setattr(obj, name, table.timed(f"diarize: {label}", getattr(obj, name)))
    for name in ("_embed_keep_body", "_cluster", "_resegment", "_refine"):
        setattr(d, name, table.timed(f"diarize: {name.strip('_')}", getattr(d, name)))
    real_fbank = diarize.kaldi_fbank
    diarize.kaldi_fbank = table.timed("diarize: . fbank", real_fbank)
    try:
        c0, w0 = cpu_s(), time.perf_counter()
        result = d.run(audio)
        table.cpu["diarize: total"] += cpu_s() - c0
        table.wall["diarize: total"] += time.perf_counter() - w0
    finally:
        diarize.kaldi_fbank = real_fbank
    c0, w0 = cpu_s(), time.perf_counter()
    compute_levels(audio)
    table.cpu["levels: total"] += cpu_s() - c0
    table.wall["levels: total"] += time.perf_counter() - w0
    return len(result.diarization.speakers)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=float, default=3.0, help="length of the bench lesson's audio")
    ap.add_argument("--threads", type=int, default=1, help="threads of every model (default 1: CPU per minute)")
    ap.add_argument("--asr-threads", type=int, help="faster-whisper's cpu_threads (default: --threads)")
    ap.add_argument("--seg-threads", type=int, help="segmentation-3.0's threads (default: --threads)")
    ap.add_argument("--beam", type=int, default=5)
    ap.add_argument("--seg-step", type=float, default=2.5, help="segmentation-3.0's chunk step, s")
    ap.add_argument("--hop", type=float, default=0.25, help="the 1.5 s embedding windows' hop, s")
    ap.add_argument("--only", choices=["asr", "diarize"])
    args = ap.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))
    import torch

    from bench_lesson import build_lesson
    from videocoach.audio.transcribe import decode_audio

    torch.set_num_threads(args.threads)
    audio = decode_audio(build_lesson(args.minutes))
    minutes = audio.size / 16000 / 60
    table = Table()
    print(f"{minutes:.2f} min of the bench lesson's audio; threads {args.threads} (asr {args.asr_threads or args.threads}, "
          f"segmentation {args.seg_threads or args.threads}); beam {args.beam}; seg step {args.seg_step} s; hop "
          f"{args.hop} s; load average before {os.getloadavg()[0]:.1f}", flush=True)
    if args.only != "diarize":
        words = profile_asr(audio, args.asr_threads or args.threads, args.beam, table)
        print(f"  transcribed: {words} words", flush=True)
    if args.only != "asr":
        speakers = profile_diarize(audio, args.threads, args.seg_threads or args.threads, args.seg_step, args.hop,
                                   table)
        print(f"  diarised: {speakers} speakers", flush=True)
    for stage in ("asr", "diarize"):  # steps marked "." are inside others (embed_keep_body, refine)
        inner = [k for k in table.cpu if k.startswith(stage + ":") and k.split(": ")[1] not in ("total", "load")
                 and not k.split(": ")[1].startswith(".")]
        if f"{stage}: total" in table.cpu:
            table.cpu[f"{stage}: rest"] = table.cpu[f"{stage}: total"] - sum(table.cpu[k] for k in inner)
    print(f"{'step':<34} {'CPU s':>8} {'CPU s/audio min':>16} {'wall s':>8} {'calls':>6}")
    for key in sorted(table.cpu, key=lambda k: (k.split(":")[0], k.endswith("total"), -table.cpu[k])):
        print(f"{key:<34} {table.cpu[key]:8.2f} {table.cpu[key] / minutes:16.2f} {table.wall.get(key, float('nan')):8.2f} "
              f"{table.calls.get(key, 0):6d}")
    print(f"load average after {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
