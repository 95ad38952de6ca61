"""Face-hiding recall and precision on real photos, and temporal cover of the held boxes on real clips.

    python eval/eval_faces.py                 # WIDER sweep (threshold x box scale) + clips
    python eval/eval_faces.py --part wider --upscale both --scales 1.3 1.4   # with the 2x pass too (slow)
    python eval/eval_faces.py --part wider --limit 40
    python eval/eval_faces.py --part clips --threshold 0.05 --box-scale 1.4

WIDER (../shared/data/faces/wider_val, label.txt: "# path" then "x y w h ..." per face):
- recall (centre): share of ground-truth faces whose centre lies inside a hidden area (an enlarged detected box);
- recall (cover90): share whose box is at least 90 % covered by the union of hidden areas (stricter);
- by size, size = max(w, h) of the ground-truth box: all, >= 20 px, 10-20 px, < 10 px;
- precision: share of hidden boxes that contain at least one ground-truth face centre (WIDER leaves some faces
  unlabelled, so this under-states it); "hidden %": share of image area hidden.

Clips (../shared/data/faces/clips/*.gif, no ground truth): every-frame detections at the chosen threshold are the
reference (and, separately, those with score >= 0.5: real faces rather than low-score blips); cover = share of them whose centre lies in a box the tracker + hold rules hide when detection runs only
every K frames (``--schedule motion``: the passes run the motion-gated schedule, privacy/schedule.py, whose
passes look only at what changed; the reference stays the every-frame whole-frame detector).  GIF frame rates are 12.5-14 fps, so K is also given in seconds and in 25 fps frames.

Detections are cached in eval/out/ (git-ignored) so the sweep re-runs fast.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from videocoach.privacy.faces import load_detector  # noqa: E402
from videocoach.privacy.schedule import MotionGatedDetector, ScheduleConfig  # noqa: E402
from videocoach.privacy.tracking import FaceTracks, HideSchedule, Tracker, clip_box, enlarge  # noqa: E402

DATA = REPO.parent / "shared" / "data" / "faces"
OUT = REPO / "eval" / "out"
CONFIDENT = 0.5  # every-frame detections at least this sure are real faces (the clips have no ground truth)
MIN_THRESHOLD = 0.05  # detections are cached at this threshold and filtered by score for higher ones


def pass_tag() -> str:
    """The detection pass's precision in a cache name: "" for float32, else e.g. ".bf16-gap0.005"."""
    from videocoach.privacy import faces

    precision = faces.detection_precision()
    if precision == "fp32":
        return ""
    return f".{precision}" + (f"-gap{faces.BF16_THRESHOLD_GAP:g}" if precision == "bf16" else "")


def tracks_cache(path: Path) -> Path:
    """Where the face tracks of an eval video are kept (detection is the slow part; the scripts share them), per
    detection-pass precision (faces.detection_precision: ``VIDEOCOACH_DETECT_PRECISION``, else float32)."""
    return OUT / "tracks" / f"{path.name}{pass_tag()}.json"


def cached_tracks(path: Path, info=None) -> FaceTracks:
    """The face tracks of a video as ``redact.detect_faces`` finds them under the default policy, cached."""
    from videocoach.av import media
    from videocoach.privacy import policy, redact

    cache = tracks_cache(path)
    if cache.exists():
        return FaceTracks.from_json(cache.read_text())
    tracks = redact.detect_faces(path, info or media.probe(path), policy.load_named_policy(policy.DEFAULT_POLICY))
    cache.parent.mkdir(parents=True, exist_ok=True)
    cache.write_text(tracks.to_json())
    return tracks


def load_wider(root: Path) -> list[tuple[Path, np.ndarray]]:
    items: list[tuple[Path, list[list[float]]]] = []
    for line in (root / "label.txt").read_text().splitlines():
        if line.startswith("#"):
            items.append((root / line[1:].strip(), []))
        elif line.strip():
            x, y, w, h = (float(v) for v in line.split()[:4])
            if w > 0 and h > 0:
                items[-1][1].append([x, y, w, h])
    return [(p, np.asarray(b, dtype=np.float32).reshape(-1, 4)) for p, b in items]


def cached_detections(items, upscale: bool, threads: int, precision: str = "fp32",
                      input_scale: float = 1.0, walk_in: bool = False,
                      runtime: str = "onnxruntime") -> dict[str, np.ndarray]:
    """``walk_in``: the motion schedule's partial pass -- the photo with its labelled faces painted out is detected
    first (a whole-frame pass), then the photo itself: only the regions that changed (the faces) are looked at."""
    OUT.mkdir(parents=True, exist_ok=True)
    cache = OUT / (f"wider_dets_{'up' if upscale else 'full'}{'' if precision == 'fp32' else '_' + precision}"
                   f"{'' if input_scale == 1.0 else f'_x{input_scale:g}'}{'_walkin' if walk_in else ''}"
                   f"{'' if runtime == 'onnxruntime' else '_' + runtime}.json")
    done = json.loads(cache.read_text()) if cache.exists() else {}
    todo = [p for p, _ in items if str(p) not in done]
    labels = {str(p): g for p, g in items}
    partial = 0
    if todo:
        det = load_detector(MIN_THRESHOLD, upscale_small=upscale, threads=threads, precision=precision, runtime=runtime)
        if det.config.runtime != runtime:
            raise SystemExit(f"{runtime} could not be loaded (see the warning above)")
        t0 = time.perf_counter()
        for i, p in enumerate(todo):
            img = cv2.imread(str(p))
            if input_scale != 1.0:  # the detector sees a shrunk picture; boxes go back to the photo's pixels
                img = cv2.resize(img, None, fx=input_scale, fy=input_scale, interpolation=cv2.INTER_AREA)
            if walk_in:
                gate = MotionGatedDetector(det, ScheduleConfig(refresh_every=10**6))
                empty = img.copy()
                fill = cv2.medianBlur(img, 5).mean(axis=(0, 1))
                for x, y, w, h in labels[str(p)]:  # the room before the faces came in: a plain patch each
                    empty[int(y) : int(np.ceil(y + h)), int(x) : int(np.ceil(x + w))] = fill
                gate.detect(empty)
                d = gate.detect(img)
                partial += gate.full_passes == 1
            else:
                d = det.detect(img)
            d[:, :4] /= input_scale
            done[str(p)] = d.tolist()
            if (i + 1) % 20 == 0:
                print(f"  {'2x pass' if upscale else 'full res'}: {i + 1}/{len(todo)} images", file=sys.stderr)
        print(
            f"  detection ({'with 2x pass' if upscale else 'full res'}): {(time.perf_counter() - t0) / len(todo):.3f} s/image"
            + (f"; the second pass looked at the changed regions only in {partial}/{len(todo)} photos (the others "
               "changed too much: a whole-frame pass)" if walk_in else ""),
            file=sys.stderr,
        )
        cache.write_text(json.dumps(done))
    return {k: np.asarray(v, dtype=np.float32).reshape(-1, 5) for k, v in done.items()}


def score_wider(items, dets, threshold: float, box_scale: float) -> dict[str, float]:
    n = {"all": 0, "ge20": 0, "10-20": 0, "lt10": 0}
    hit_c = dict.fromkeys(n, 0)
    hit_a = dict.fromkeys(n, 0)
    boxes_total = boxes_true = 0
    hidden_px = image_px = 0
    for path, gt in items:
        with Image.open(path) as im:  # reads the header only
            img_w, img_h = im.size
        d = dets[str(path)]
        d = d[d[:, 4] >= threshold]
        rects = [r for r in (clip_box(enlarge(b, box_scale), img_w, img_h) for b in d) if r is not None]
        mask = np.zeros((img_h, img_w), dtype=bool)
        for x1, y1, x2, y2 in rects:
            mask[y1:y2, x1:x2] = True
        hidden_px += int(mask.sum())
        image_px += img_w * img_h
        cx = gt[:, 0] + gt[:, 2] / 2
        cy = gt[:, 1] + gt[:, 3] / 2
        for (x, y, w, h), fx, fy in zip(gt, cx, cy):
            size = max(w, h)
            bins = ["all", "ge20" if size >= 20 else ("10-20" if size >= 10 else "lt10")]
            xi, yi = min(int(fx), img_w - 1), min(int(fy), img_h - 1)
            centre = bool(mask[yi, xi])
            sub = mask[int(y) : int(np.ceil(y + h)), int(x) : int(np.ceil(x + w))]
            covered = sub.size > 0 and sub.mean() >= 0.9
            for b in bins:
                n[b] += 1
                hit_c[b] += centre
                hit_a[b] += covered
        for x1, y1, x2, y2 in rects:
            boxes_total += 1
            boxes_true += bool(np.any((cx >= x1) & (cx < x2) & (cy >= y1) & (cy < y2)))
    out = {f"recall_{b}": hit_c[b] / n[b] for b in n if n[b]}
    out.update({f"cover90_{b}": hit_a[b] / n[b] for b in n if n[b]})
    out["precision"] = boxes_true / boxes_total if boxes_total else 1.0
    out["hidden_share"] = hidden_px / image_px
    out["n_faces"] = n["all"]
    out["n_ge20"] = n["ge20"]
    return out


def run_wider(args) -> None:
    items = load_wider(DATA / "wider_val")
    if args.limit:
        items = items[: args.limit]
    print(f"WIDER val: {len(items)} images, {sum(len(g) for _, g in items)} faces "
          f"({sum(int((np.maximum(g[:, 2], g[:, 3]) >= 20).sum()) for _, g in items)} with max(w,h) >= 20 px)")
    for upscale in (False, True) if args.upscale == "both" else (args.upscale == "yes",):
        dets = cached_detections(items, upscale, args.threads, args.precision, args.input_scale, args.walk_in,
                                 args.runtime)
        print(f"\n== {args.runtime} {args.precision}, "
              f"{'full res + 2x upscaled tiled pass' if upscale else 'full res only'}, input scale "
              f"{args.input_scale:g}{', motion schedule: faces walking into the still photo' if args.walk_in else ''} ==")
        print(f"{'thr':>5} {'scale':>5} | {'rec all':>7} {'>=20':>6} {'10-20':>6} {'<10':>6} | "
              f"{'cov90 all':>9} {'>=20':>6} | {'prec':>5} {'hidden%':>7}")
        for thr in args.thresholds:
            for scale in args.scales:
                s = score_wider(items, dets, thr, scale)
                print(f"{thr:5.2f} {scale:5.2f} | {s['recall_all']:7.3f} {s['recall_ge20']:6.3f} "
                      f"{s.get('recall_10-20', float('nan')):6.3f} {s.get('recall_lt10', float('nan')):6.3f} | "
                      f"{s['cover90_all']:9.3f} {s['cover90_ge20']:6.3f} | {s['precision']:5.3f} "
                      f"{100 * s['hidden_share']:7.1f}")


def gif_frames(path: Path) -> tuple[list[np.ndarray], float]:
    from PIL import ImageSequence

    im = Image.open(path)
    frames, durations = [], []
    for fr in ImageSequence.Iterator(im):
        frames.append(cv2.cvtColor(np.asarray(fr.convert("RGB")), cv2.COLOR_RGB2BGR))
        durations.append(fr.info.get("duration", 40) / 1000)
    return frames, 1.0 / float(np.mean(durations))


def run_clips(args) -> None:
    if args.as_shipped:  # the detection pass as the product loads it, against float32 every-frame references
        from videocoach.privacy.faces import load_pass_detector

        det = load_pass_detector(args.threshold, upscale_small=args.clip_upscale)
        ref = load_detector(args.threshold, upscale_small=args.clip_upscale, threads=args.threads)
        args.runtime, args.precision = det.config.runtime, f"{det.config.precision} at {det.threshold:g}, fp32 reference"
    else:
        det = ref = load_detector(args.threshold, upscale_small=args.clip_upscale, threads=args.threads,
                                  precision=args.precision, runtime=args.runtime)
    if det.config.runtime != args.runtime:
        raise SystemExit(f"{args.runtime} could not be loaded (see the warning above)")
    print(f"\n== temporal cover ({args.runtime} {args.precision}): threshold {args.threshold}, "
          f"box scale {args.box_scale}, hold {args.hold_s} s, "
          f"2x pass {'on' if args.clip_upscale else 'off'} ==")
    clips = [g for g in sorted((DATA / "clips").glob("*.gif")) if not args.clips or g.name in args.clips]
    for gif in clips + [Path(v) for v in args.video]:
        frames, fps = gif_frames(gif) if gif.suffix == ".gif" else video_frames(gif, args.video_seconds)
        h, w = frames[0].shape[:2]
        every = [ref.detect(f) for f in frames]
        mine = every if det is ref else [det.detect(f) for f in frames]
        n_ref = sum(len(d) for d in every)
        print(f"{gif.name}: {len(frames)} frames {w}x{h} at {fps:.1f} fps, {n_ref} every-frame detections")
        for k, name in ((k, name) for k in args.ks for name in args.schedule):
            interval = k / fps
            tracker = Tracker(interval, max_lost_s=max(args.hold_s, 2 * interval))
            passes = [i for i in range(len(frames)) if i % k == 0]
            if passes[-1] != len(frames) - 1:
                passes.append(len(frames) - 1)  # the last frame is always a detection pass
            gate = MotionGatedDetector(det, schedule_config(args, name))
            for i in passes:
                tracker.update(i / fps, mine[i] if name == "every-pass" else gate.detect(frames[i]))
            tracks = FaceTracks(tracker.finish(), w, h, fps, len(frames), k, args.threshold, max(args.hold_s, 2 * interval))
            sched = HideSchedule(tracks, box_scale=args.box_scale, hold_s=args.hold_s)
            missed = []  # scores of every-frame detections whose centre no hidden box covers
            for i, d in enumerate(every):
                rects = sched.boxes_at(i / fps)
                for b in d:
                    cx, cy = (b[0] + b[2]) / 2, (b[1] + b[3]) / 2
                    if not any(x1 <= cx < x2 and y1 <= cy < y2 for x1, y1, x2, y2 in rects):
                        missed.append(float(b[4]))
            n_conf = sum(int((d[:, 4] >= CONFIDENT).sum()) for d in every)
            m_conf = sum(s >= CONFIDENT for s in missed)
            print(f"  {name:10s} K={k} ({interval:.2f} s, = K {interval * 25:.1f} at 25 fps): cover {1 - len(missed) / max(1, n_ref):.4f} "
                  f"({len(missed)}/{n_ref} uncovered, max score {max(missed, default=0):.2f}); "
                  f"score >= {CONFIDENT}: {1 - m_conf / max(1, n_conf):.4f} ({m_conf}/{n_conf}); {len(tracks.tracks)} tracks; "
                  f"pixels looked at {100 * gate.detected_share:.0f} %")


def video_frames(path: Path, seconds: float) -> tuple[list[np.ndarray], float]:
    from videocoach.av import media
    from videocoach.av.video_io import FrameReader

    with FrameReader(path, media.probe(path)) as reader:
        frames = [f.image for f in reader if f.t_s < seconds]
        return frames, reader.fps


def schedule_config(args, name: str) -> ScheduleConfig:
    return ScheduleConfig(name=name, refresh_every=args.refresh_every, diff_level=args.diff_level,
                          margin_px=args.margin_px, cell_px=args.cell_px)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--part", choices=["wider", "clips", "all"], default="all")
    ap.add_argument("--limit", type=int, default=0, help="first N WIDER images only")
    ap.add_argument("--thresholds", type=float, nargs="+", default=[0.05, 0.1, 0.15, 0.2, 0.3, 0.5])
    ap.add_argument("--scales", type=float, nargs="+", default=[1.0, 1.2, 1.3, 1.4, 1.5])
    ap.add_argument("--upscale", choices=["no", "yes", "both"], default="no", help="2x pass: slow (~30 min)")
    ap.add_argument("--threshold", type=float, default=0.05, help="for the clips (the policy default)")
    ap.add_argument("--box-scale", type=float, default=1.4, help="for the clips")
    ap.add_argument("--hold-s", type=float, default=1.0, help="for the clips")
    ap.add_argument("--clip-upscale", action="store_true", help="2x pass on the clips as well")
    ap.add_argument("--ks", type=int, nargs="+", default=[1, 2, 3, 4, 5, 6, 8])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--input-scale", type=float, default=1.0, help="WIDER: shrink each photo by this before detecting")
    ap.add_argument("--walk-in", action="store_true",
                    help="WIDER: the motion schedule's partial pass (faces painted out, then back: crops only)")
    ap.add_argument("--schedule", nargs="+", choices=["every-pass", "motion"], default=["every-pass"],
                    help="clips: privacy/schedule.py")
    ap.add_argument("--video", nargs="*", default=[], help="videos to add to the clips (e.g. bench/out/slice_*.mp4)")
    ap.add_argument("--video-seconds", type=float, default=10.0, help="the first seconds of each --video")
    ap.add_argument("--refresh-every", type=int, default=ScheduleConfig.refresh_every)
    ap.add_argument("--diff-level", type=int, default=ScheduleConfig.diff_level)
    ap.add_argument("--margin-px", type=int, default=ScheduleConfig.margin_px)
    ap.add_argument("--cell-px", type=int, default=ScheduleConfig.cell_px)
    ap.add_argument("--clips", nargs="*", default=[], help="clip names (default: every GIF)")
    ap.add_argument("--precision", choices=["fp32", "int8", "bf16"], default="fp32",
                    help="the detector model (faces.py); bf16: OpenVINO only")
    ap.add_argument("--as-shipped", action="store_true",
                    help="clips: the detection pass as the product loads it (faces.load_pass_detector: the precision "
                         "VIDEOCOACH_DETECT_PRECISION asks for, its threshold), every-frame references in float32")
    ap.add_argument("--runtime", choices=["onnxruntime", "openvino"], default="onnxruntime",
                    help="the detector's runtime (faces.py)")
    args = ap.parse_args()
    if args.part in ("wider", "all"):
        run_wider(args)
    if args.part in ("clips", "all"):
        run_clips(args)


if __name__ == "__main__":
    main()
