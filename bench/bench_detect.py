"""Where the video stage's CPU goes per media second, and what each detection schedule costs (1 thread).

    OMP_NUM_THREADS=1 nice -n 5 python bench/bench_detect.py                       # all parts, 20 s slices
    python bench/bench_detect.py --part profile --seconds 20
    python bench/bench_detect.py --part schedules --seconds 20
    python bench/bench_detect.py --part onepass --seconds 20    # the whole one-decode redaction, old vs new schedule
    python bench/bench_detect.py --part ort                     # onnxruntime session options
    python bench/bench_detect.py --part runtimes --seconds 20   # onnxruntime vs OpenVINO (fp32, bf16): CPU, outputs
    python bench/bench_detect.py --part margin --seconds 20     # bf16 against fp32 at the threshold: misses, area
    python bench/bench_detect.py --part audit --seconds 20      # the audit detector's CPU per upscale factor

Slices (720p 25 fps H.264, made once in bench/out/): ``lesson`` = the sample lesson from 0:20 (four seated pupils),
``walk`` = the fixed-camera clip ``one-by-one-person-detection.mp4`` (people walking in a room) scaled to 720p.
CPU seconds are this process's plus its ffmpeg children's (``resource.getrusage``); the machine is shared, so CPU,
not wall time, is the figure.  Components (``profile``) are timed on the main thread with ``time.thread_time``:
decode (a decode-only pass), detection passes, tracking (tracker + hide schedule), hiding, encoding (the
decode+encode pass less the decode-only pass and the parts timed inside it) and the audit (one 2x pass per 5 s).
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from videocoach.av import media  # noqa: E402
from videocoach.av.ffmpeg import ffmpeg_binary  # noqa: E402
from videocoach.av.video_io import FrameReader, FrameWriter  # noqa: E402
from videocoach.privacy import schedule as sched_mod  # noqa: E402
from videocoach.privacy.faces import load_detector  # noqa: E402
from videocoach.privacy.policy import load_policy  # noqa: E402

OUT = REPO / "bench" / "out"
WALK = REPO.parent / "shared" / "data" / "faces" / "clips" / "one-by-one-person-detection.mp4"


def cpu_s() -> float:
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def load() -> str:
    return "load " + " ".join(f"{x:.1f}" for x in os.getloadavg())


def make_slice(name: str, seconds: float) -> Path:
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / f"slice_{name}_{seconds:g}s.mp4"
    if path.exists():
        return path
    src, start = (REPO / "sample_media" / "lesson.mp4", 20.0) if name == "lesson" else (WALK, 10.0)
    subprocess.run([ffmpeg_binary(), "-v", "error", "-y", "-ss", f"{start}", "-t", f"{seconds}", "-i", str(src),
                    "-f", "lavfi", "-t", f"{seconds}", "-i", "anullsrc=r=44100:cl=mono",
                    "-map", "0:v:0", "-map", "1:a:0", "-vf", "scale=1280:720,fps=25,format=yuv420p",
                    "-c:v", "libx264", "-preset", "fast", "-crf", "23", "-c:a", "aac", "-shortest", str(path)],
                   check=True)
    return path


def profile(path: Path, policy) -> None:
    from videocoach.privacy.redact import hide_frame, load_audit_detector
    from videocoach.privacy.tracking import FaceTracks, HideSchedule, Tracker

    info = media.probe(path)
    dur = info.duration_s
    c0 = cpu_s()
    with FrameReader(path, info) as reader:
        n = sum(1 for _ in reader)
    decode = cpu_s() - c0
    det = load_detector(policy.threshold, threads=1)
    adet = load_audit_detector()
    every = policy.detect_every
    t = dict(detect=0.0, track=0.0, hide=0.0, audit=0.0)
    tracker = Tracker(every / info.fps, max_lost_s=max(policy.hold_s, 2 * every / info.fps))
    passes = []
    c0 = cpu_s()
    with FrameReader(path, info) as reader, FrameWriter(OUT / "profile.mp4", reader.width, reader.height, reader.fps,
                                                        audio_from=(path, info)) as writer:
        frames = []
        for frame in reader:
            if frame.index % every == 0:
                a = time.thread_time()
                d = det.detect(frame.image)
                b = time.thread_time()
                tracker.update(frame.t_s, d)
                t["detect"] += b - a
                t["track"] += time.thread_time() - b
                passes.append(frame.index)
            if frame.index % round(5 * info.fps) == 0:
                a = time.thread_time()
                adet.detect(frame.image)
                t["audit"] += time.thread_time() - a
            frames.append(frame)
            if len(frames) > 10:  # hide 10 frames late: the schedule needs the passes after a frame
                _hide(frames.pop(0), tracker, info, policy, t, writer, hide_frame, HideSchedule, FaceTracks)
        for f in frames:
            _hide(f, tracker, info, policy, t, writer, hide_frame, HideSchedule, FaceTracks)
    total = cpu_s() - c0
    encode = total - decode - sum(t.values())
    print(f"\n== profile: {path.name}, {n} frames, {dur:.1f} s, detection every {every} frames, 1 thread ({load()}) ==")
    rows = [("decode (ffmpeg + pipe)", decode), ("detector passes", t["detect"]), ("tracking + hide schedule", t["track"]),
            ("hiding (mosaic)", t["hide"]), ("encode (ffmpeg + pipe)", encode), ("audit (2x pass every 5 s)", t["audit"])]
    whole = sum(v for _, v in rows)
    for name, v in rows:
        print(f"  {name:28s} {v / dur:6.3f} CPU-s per media s  ({100 * v / whole:4.1f} %)")
    print(f"  {'total':28s} {whole / dur:6.3f} CPU-s per media s; detector {1000 * t['detect'] / len(passes):.0f} ms per pass")


def _hide(frame, tracker, info, policy, t, writer, hide_frame, HideSchedule, FaceTracks) -> None:
    a = time.thread_time()
    open_, closed, _ = tracker.tracks_so_far(since_s=frame.t_s - 3.0)
    ft = FaceTracks(tuple(sorted(open_ + closed, key=lambda x: x.id)), info.width, info.height, info.fps, 2**40,
                    policy.detect_every, policy.threshold, max(policy.hold_s, 2 * policy.detect_every / info.fps))
    sched = HideSchedule(ft, box_scale=policy.box_scale, hold_s=policy.hold_s)
    b = time.thread_time()
    counts = dict(frames=0, boxes=0, face_frames=0, zone_frames=0, full=0)
    hide_frame(frame.image, False, None, lambda: sched.boxes_at(frame.t_s), policy, counts)
    c = time.thread_time()
    t["track"] += b - a
    t["hide"] += c - b
    writer.write(frame.image)


def schedules(path: Path, policy, configs) -> None:
    info = media.probe(path)
    with FrameReader(path, info) as reader:
        frames = [f.image for f in reader if f.index % policy.detect_every == 0]
    det = load_detector(policy.threshold, threads=1)
    det.detect(frames[0])
    print(f"\n== schedules: {path.name}, {len(frames)} passes over {info.duration_s:.1f} s, 1 thread ({load()}) ==")
    for cfg in configs:
        gate = sched_mod.MotionGatedDetector(det, cfg)
        a = time.process_time()
        n_faces = sum(len(gate.detect(f)) for f in frames)
        cpu = time.process_time() - a
        print(f"  {_label(cfg):44s} {cpu / info.duration_s:6.3f} CPU-s per media s, {1000 * cpu / len(frames):5.0f} ms "
              f"per pass; pixels looked at {100 * gate.detected_share:5.1f} %, whole-frame passes "
              f"{gate.full_passes}/{gate.passes}; {n_faces / len(frames):.1f} faces per pass")


def _label(cfg) -> str:
    if cfg.name == "every-pass":
        return "every-pass (old)"
    return f"motion refresh {cfg.refresh_every} diff {cfg.diff_level} margin {cfg.margin_px} cell {cfg.cell_px}"


def onepass(path: Path, policy, names) -> None:
    from videocoach.privacy.onepass import redact_in_one_pass

    info = media.probe(path)
    print(f"\n== one-decode redaction (detect + hide + audit + encode): {path.name} ({load()}) ==")
    for name in names:
        c0, t0 = cpu_s(), time.perf_counter()
        res = redact_in_one_pass(path, info, policy, OUT / f"onepass_{name}.mp4", id_base=0,
                                 schedule=sched_mod.ScheduleConfig(name=name))
        cpu = cpu_s() - c0
        print(f"  {name:12s} {cpu / info.duration_s:6.3f} CPU-s per media s ({time.perf_counter() - t0:.1f} s wall); "
              f"{len(res.tracks.tracks)} tracks, {res.render.hidden_boxes} boxes hidden, "
              f"{res.audit.finding_count} audit findings")


def ort_options(path: Path, policy) -> None:
    import onnxruntime

    from videocoach.privacy import faces

    info = media.probe(path)
    with FrameReader(path, info) as reader:
        frames = [f.image for f in reader if f.index % 25 == 0][:12]
    levels = {"basic": onnxruntime.GraphOptimizationLevel.ORT_ENABLE_BASIC,
              "extended": onnxruntime.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
              "all": onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL}
    print(f"\n== onnxruntime {onnxruntime.__version__} session options, 720p, {len(frames)} frames ({load()}) ==")
    for level, threads, spin in (("basic", 1, "0"), ("extended", 1, "0"), ("all", 1, "0"), ("all", 1, "1"),
                                 ("all", 2, "0")):
        det = faces.load_detector(policy.threshold, threads=threads)
        opts = onnxruntime.SessionOptions()
        opts.graph_optimization_level = levels[level]
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        opts.add_session_config_entry("session.intra_op.allow_spinning", spin)
        opts.log_severity_level = 3
        import onnx

        model = faces.dynamic_model(onnx.load(str(faces.centerface_model_path())))
        det._session = onnxruntime.InferenceSession(model.SerializeToString(), sess_options=opts,
                                                    providers=["CPUExecutionProvider"])
        det.detect(frames[0])
        a, w = time.process_time(), time.perf_counter()
        for f in frames:
            det.detect(f)
        print(f"  level {level:8s} threads {threads} spinning {spin}: {1000 * (time.process_time() - a) / len(frames):5.0f} "
              f"CPU-ms per pass, {1000 * (time.perf_counter() - w) / len(frames):5.0f} wall-ms")


RUNTIMES = (("onnxruntime", "fp32"), ("openvino", "fp32"), ("openvino", "bf16"))


def runtimes(path: Path, policy, rounds: int = 2) -> None:
    """Each runtime under the motion schedule on the slice's detection passes (whole frames and changed regions),
    CPU per media second and per whole 720p pass (interleaved rounds, the lowest kept: the machine is shared), and
    the largest difference of its raw outputs from onnxruntime's on whole frames and on regions."""
    from videocoach.privacy import faces

    info = media.probe(path)
    with FrameReader(path, info) as reader:
        frames = [f.image for f in reader if f.index % policy.detect_every == 0]
    dets = {rt: load_detector(policy.threshold, threads=1, runtime=rt[0], precision=rt[1]) for rt in RUNTIMES}
    if any(d.config.runtime != rt[0] for rt, d in dets.items()):
        raise SystemExit("openvino could not be loaded")
    whole = frames[:: max(1, len(frames) // 8)][:8]
    regions = [f[y : y + h, x : x + w] for f, (y, x, h, w) in zip(whole, ((0, 0, 200, 300), (100, 400, 360, 480),
                                                                          (360, 640, 352, 640), (50, 900, 97, 161)))]
    cpu = {rt: [float("inf"), float("inf")] for rt in RUNTIMES}
    for det in dets.values():
        det.detect(frames[0])
        for r in regions:
            det.detect(r)
    for _ in range(rounds):
        for rt, det in dets.items():
            a = time.process_time()
            for f in whole:
                det.detect(f)
            b = time.process_time()
            gate = sched_mod.MotionGatedDetector(det, sched_mod.ScheduleConfig())
            for f in frames:
                gate.detect(f)
            c = time.process_time()
            cpu[rt] = [min(cpu[rt][0], (b - a) / len(whole)), min(cpu[rt][1], (c - b) / info.duration_s)]
    ref = dets[RUNTIMES[0]]
    print(f"\n== detector runtimes: {path.name}, {len(frames)} passes over {info.duration_s:.1f} s, 1 thread, best of "
          f"{rounds} interleaved rounds ({load()}) ==")
    for rt, det in dets.items():
        diff = [0.0] * 4
        for image in whole[:4] + regions:
            blob = faces._blob(image)
            a = det._session.run(list(faces._OUTPUTS), {faces._INPUT: blob})
            b = ref._session.run(list(faces._OUTPUTS), {faces._INPUT: blob})
            diff = [max(d, float(abs(x - y).max())) for d, x, y in zip(diff, a, b)]
        print(f"  {rt[0]:11s} {rt[1]:4s}: {1000 * cpu[rt][0]:5.0f} CPU-ms per whole 720p pass; motion schedule "
              f"{cpu[rt][1]:5.3f} CPU-s per media s; max abs diff from onnxruntime: heatmap {diff[0]:.1e}, "
              f"scale {diff[1]:.1e}, offset {diff[2]:.1e}")


def margin(path: Path, policy, every: int = 2, gaps=(0.0, 0.005, 0.01, 0.015, 0.02, 0.024, 0.03)) -> None:
    """bf16 (OpenVINO) against float32 (onnxruntime) on whole frames of the slice (every ``every``-th pass): the
    largest score difference where either scores >= 0.01; per float32 face at the policy's threshold, how much lower
    bf16 scores it (its best box centred in the face); and per threshold gap, the float32 faces bf16 misses at the
    threshold less the gap and the share of the frame its boxes hide (scaled by the policy's box_scale)."""
    import numpy as np

    from videocoach.privacy import faces

    info = media.probe(path)
    with FrameReader(path, info) as reader:
        frames = [f.image for f in reader if f.index % (policy.detect_every * every) == 0]
    ref = load_detector(policy.threshold, runtime="onnxruntime")
    bf = load_detector(policy.threshold, precision="bf16")
    if bf.config.runtime != "openvino":
        raise SystemExit("openvino could not be loaded")
    thr = policy.threshold
    gap, drops, n_ref, extra = 0.0, [], 0, 0
    missed = dict.fromkeys(gaps, 0)
    area = {"fp32": 0.0, **{g: 0.0 for g in gaps}}

    def hidden(boxes, shape) -> float:
        mask = np.zeros(shape[:2], bool)
        for x1, y1, x2, y2, _s in boxes:
            cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
            hw, hh = (x2 - x1) * policy.box_scale / 2, (y2 - y1) * policy.box_scale / 2
            mask[max(0, int(cy - hh)): int(cy + hh) + 1, max(0, int(cx - hw)): int(cx + hw) + 1] = True
        return float(mask.mean())

    def best_in(box, others) -> float:
        return max([float(o[4]) for o in others
                    if box[0] <= (o[0] + o[2]) / 2 < box[2] and box[1] <= (o[1] + o[3]) / 2 < box[3]] + [0.0])

    for image in frames:
        h, w = image.shape[:2]
        blob = faces._blob(image)
        a = ref._session.run(list(faces._OUTPUTS), {faces._INPUT: blob})
        b = bf._session.run(list(faces._OUTPUTS), {faces._INPUT: blob})
        near = np.maximum(a[0], b[0]) >= 0.01
        if near.any():
            gap = max(gap, float(np.abs(a[0] - b[0])[near].max()))
        d_ref = faces.decode(*a[:3], thr, width=w, height=h)
        d_any = faces.decode(*b[:3], 0.005, width=w, height=h)
        n_ref += len(d_ref)
        drops += [float(d[4]) - best_in(d, d_any) for d in d_ref]
        extra += sum(best_in(d, d_ref) == 0.0 for d in d_any[d_any[:, 4] >= thr])
        area["fp32"] += hidden(d_ref, image.shape) / len(frames)
        for g in gaps:
            mine = d_any[d_any[:, 4] >= thr - g]
            missed[g] += sum(best_in(d, mine) == 0.0 for d in d_ref)
            area[g] += hidden(mine, image.shape) / len(frames)
    drops = np.asarray(drops or [0.0])
    print(f"\n== bf16 against fp32: {path.name}, {len(frames)} whole frames ({load()}) ==")
    print(f"  largest score difference where either >= 0.01: {gap:.4f} (BF16_THRESHOLD_GAP {faces.BF16_THRESHOLD_GAP})")
    print(f"  fp32 faces at {thr:g}: {n_ref}; bf16 scores them lower by at most {drops.max():.4f} (99th pct "
          f"{np.percentile(drops, 99):.4f}); bf16 boxes at {thr:g} without an fp32 face: {extra}")
    print(f"  frame area in boxes (x {policy.box_scale}): fp32 at {thr:g} {100 * area['fp32']:.2f} %")
    for g in gaps:
        print(f"  bf16 at {thr - g:.3f} (gap {g:.3f}): fp32 faces missed {missed[g]}, area {100 * area[g]:.2f} %")


def audit_cost(path: Path, factors=(2.0, 1.5), rounds: int = 2) -> None:
    """The audit detector (threshold AUDIT_THRESHOLD, full pass + upscaled tiled pass) at each upscale factor: CPU
    per audited frame (interleaved rounds, the lowest kept) and per media second at one frame per
    AUDIT_SAMPLE_EVERY_S."""
    from dataclasses import replace

    from videocoach.privacy import redact

    info = media.probe(path)
    with FrameReader(path, info, fps=1.0 / 2.0) as reader:
        frames = [f.image for f in reader][:8]
    dets = {}
    for f in factors:
        det = redact.load_audit_detector()
        det.config = replace(det.config, upscale_factor=f)
        det.detect(frames[0])
        dets[f] = det
    cpu = dict.fromkeys(factors, float("inf"))
    for _ in range(rounds):
        for f, det in dets.items():
            a = time.process_time()
            for image in frames:
                det.detect(image)
            cpu[f] = min(cpu[f], (time.process_time() - a) / len(frames))
    print(f"\n== audit detector: {path.name}, {len(frames)} frames, best of {rounds} interleaved rounds ({load()}) ==")
    for f in factors:
        print(f"  upscaled pass x{f:g}: {1000 * cpu[f]:5.0f} CPU-ms per audited frame, "
              f"{cpu[f] / redact.AUDIT_SAMPLE_EVERY_S:.3f} CPU-s per media s")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--part", nargs="+", default=["profile", "schedules", "onepass"],
                    choices=["profile", "schedules", "onepass", "ort", "runtimes", "margin", "audit"])
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--slices", nargs="+", default=["lesson", "walk"], choices=["lesson", "walk"])
    args = ap.parse_args()
    policy = load_policy("blur-all-pupils")
    paths = [make_slice(s, args.seconds) for s in args.slices]
    base = sched_mod.ScheduleConfig()
    configs = [sched_mod.ScheduleConfig(name="every-pass"), base,
               sched_mod.ScheduleConfig(refresh_every=10), sched_mod.ScheduleConfig(diff_level=6)]
    for path in paths:
        if "profile" in args.part:
            profile(path, policy)
        if "schedules" in args.part:
            schedules(path, policy, configs)
        if "onepass" in args.part:
            onepass(path, policy, ["every-pass", "motion"])
    if "ort" in args.part:
        ort_options(paths[0], policy)
    if "runtimes" in args.part:
        for path in paths:
            runtimes(path, policy)
    if "margin" in args.part:
        for path in paths:
            margin(path, policy)
    if "audit" in args.part:
        for path in paths:
            audit_cost(path)


if __name__ == "__main__":
    main()
