"""Issue 19's second "no visible pupil face" check: the detector at its low threshold over EVERY served frame.

    python eval/eval_served_frames.py                          # the face clips, then the sample lesson
    python eval/eval_served_frames.py --videos classroom.gif   # some of them
    python eval/eval_served_frames.py --workers 2              # two detector sessions for the check
    python eval/eval_served_frames.py --videos lesson.mp4 --lesson-from 30 --lesson-seconds 10 --diagnose
    VIDEOCOACH_DETECT_PRECISION=bf16 python eval/eval_served_frames.py --bf16-gap 0.01   # a bf16 detection pass

Each recording goes through the product's video steps as the pipeline runs them: face tracks (the one pass's
detection with the default policy, schedule and second look, every face hidden: ``eval_identity.analyse_video``,
cached in eval/out/tracks/ per look, as the renditions in eval/out/served_cache/), the people step (dlib
descriptors, people, the enrolled teacher's tracks), then the rendition with the teacher shown, rendered and
audited in one pass (``onepass.redact_in_one_pass`` with the audit's second opinion), which is the file a browser
gets.  ``privacy.served_check.check_served`` then decodes that file and runs
CenterFace at 0.05 on every frame, and looks each hit up in the original recording (``--strict``: not): a hit where
the original has no face at the threshold and the served pixels are the render's is counted apart.

Teacher: on the sample lesson, the person the people step suggests, confirmed (as the owner does in Pre-watch); on
the clips, the woman of ``head-pose-face-detection-female.gif`` enrolled from that clip (as eval_identity.py does).
Prints per recording: frames checked, frames with a visible pupil face (target 0), and every hit with its time;
crops of each hit (the frame with the box drawn, 2x) go to eval/out/served/ to be looked at, with the second
opinion's word (face-like or not) in the file name.

``--diagnose``: why each hit escaped the render -- per hit, its score in the served frame, the best score of a
detection centred on the same spot in the ORIGINAL frame (at 0.005), and whether the render had a track there (the
hide schedule's boxes at that time; the nearest detection of any track covering the spot).  Found on the sample
lesson (2026-12-06, 0:30-0:40, before the second look): 306 hits in 250 frames, every one 0.05-0.12 served and
0.00-0.04 in the original, none with a track: the render's own hiding of a face made the pattern below it
face-like (the same with the fill).  (Served and hidden-but-not-encoded agreed within 0.02 there; on door glass
the encoder alone raised a spot from 0.049 to 0.082.)

``--leave-visible K``: a planted failure -- the render leaves the K pupils seen longest visible, the check is told
only the teacher shows; prints the share of their on-screen frames the check flags.

With the defaults (mosaic, second look off; tracks from eval/out/tracks/ as cached), the whole sample lesson
(2026-12-07, teacher shown, load 3-7): 1,145 of 3,647 frames with a hit (937 face-like to the second opinion), 1,622
hits in 93 of its 146 seconds.  Other hiding styles (bench/bench_hiding.py: fill, mean colour, smoothed or feathered
mosaics, a fade below, a drawn face, larger or lower boxes) do not reach zero either: the hits lie 1.4-1.6 box
heights below the hidden face (its chest and hands) whatever hides it.  With each hit looked up in the original
(2026-12-07): 0 of 3,647 frames (1,179 before the lookup; 1,673 detections with no face there in the original, 449
of them pushed over the threshold only by the encoder); the clips 0 each.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from eval.eval_faces import pass_tag  # noqa: E402
from eval.eval_identity import analyse_video, look_tag, tracks_file  # noqa: E402
from videocoach.av import media  # noqa: E402
from videocoach.av.ffmpeg import ffmpeg_binary, run  # noqa: E402
from videocoach.av.video_io import FrameReader  # noqa: E402
from videocoach.privacy import faces, identity, onepass, people, policy, second_opinion, served_check  # noqa: E402
from videocoach.privacy.tracking import FaceTracks  # noqa: E402
from videocoach.privacy.faces import load_detector  # noqa: E402

DATA = REPO.parent / "shared" / "data" / "faces"
OUT = REPO / "eval" / "out" / "served"
CACHE = REPO / "eval" / "out" / "served_cache"
SHOW_HITS = 30
SAMPLE = REPO / "sample_media" / "lesson.mp4"
ENROL_FROM = "head-pose-face-detection-female.gif"
CLIPS = (ENROL_FROM, "head-pose-face-detection-female-and-male.gif", "face-demographics-walking-and-pause.gif",
         "head-pose-face-detection-male.gif", "classroom.gif", "walking.gif")
VIDEOS = CLIPS + ("lesson.mp4",)


def video_path(name: str) -> Path:
    return SAMPLE if name == "lesson.mp4" else DATA / "clips" / name


def look_key() -> str:
    """The second look the render's detection pass takes (``VIDEOCOACH_LOOK_AGAIN``): part of every cache name here,
    so tracks and renditions made with another look are never judged as this one's."""
    return look_tag() or "look-off"


def face_steps(path: Path, pol, emb, enrolled):
    """Tracks as the product's detection pass finds them (one pass, the default schedule and second look; cached),
    descriptors and the people step: ``eval_identity.analyse_video``."""
    tracks, descs, _thumbs, result, _times = analyse_video(path, emb, enrolled)
    return media.probe(path), tracks, descs, result


def serve(path: Path, info, tracks, teacher: frozenset[int], pol, opinion, trust_cache: bool,
          leaked: frozenset[int] = frozenset()) -> tuple[Path, dict]:
    """The rendition a browser gets, with the teacher shown (kept in eval/out/served_cache/ for the same teacher);
    ``leaked``: pupils' tracks the render leaves visible as well (a planted failure for the check to find)."""
    CACHE.mkdir(parents=True, exist_ok=True)
    stem = f"{path.stem}.{look_key()}{pass_tag()}" + (f".leak{len(leaked)}" if leaked else "")
    out, meta_path = CACHE / f"{stem}.mp4", CACHE / f"{stem}.json"
    key = sorted(teacher)
    if out.exists() and meta_path.exists() and json.loads(meta_path.read_text())["teacher"] == key:
        return out, json.loads(meta_path.read_text())
    if out.exists() and trust_cache and not meta_path.exists():  # rendered by this script, its note was lost
        meta = dict(teacher=key, frames=None, audit_findings=None, audit_sampled=None, render_s=None)
    else:
        t0 = time.perf_counter()
        res = onepass.redact_in_one_pass(path, info, pol, out, tracks=tracks, visible_track_ids=teacher | leaked,
                                         exempt_track_ids=teacher | leaked, findings_filter=opinion.filter_findings)
        meta = dict(teacher=key, frames=res.render.frames, audit_findings=res.audit.finding_count,
                    audit_sampled=res.audit.sampled_frames, render_s=round(time.perf_counter() - t0, 1))
    meta_path.write_text(json.dumps(meta))
    return out, meta


def _frame0(path: Path) -> np.ndarray:
    with FrameReader(path, media.probe(path)) as reader:
        return next(iter(reader)).image


def shifted(tracks, start_s: float):
    """The tracks on the clock of a cut starting at ``start_s`` (detections before it dropped)."""
    from dataclasses import replace

    moved = []
    for tr in tracks.tracks:
        dets = tuple(replace(d, t_s=round(d.t_s - start_s, 6)) for d in tr.detections if d.t_s >= start_s)
        if dets:
            moved.append(replace(tr, detections=dets))
    return replace(tracks, tracks=tuple(moved), n_frames=tracks.n_frames - round(start_s * tracks.fps),
                   failed_s=tuple(t - start_s for t in tracks.failed_s if t >= start_s))


def serve_and_check(name: str, path: Path, info, tracks, teacher: frozenset[int], pol, opinion, det, workers: int,
                    trust_cache: bool, seconds: float | None = None, start_s: float = 0.0,
                    diagnose: bool = False, strict: bool = False, leak: int = 0) -> None:
    leaked = frozenset()
    if leak:  # the pupils' tracks seen longest, left visible by the render; the check is told only the teacher shows
        pupils = sorted((t for t in tracks.tracks if t.id not in teacher), key=lambda t: -len(t.detections))
        leaked = frozenset(t.id for t in pupils[:leak])
    out, meta = serve(path, info, tracks, teacher, pol, opinion, trust_cache, leaked)
    offset = round(start_s * tracks.fps)
    if seconds is not None and not start_s:  # the first seconds only (a keyframe every second: a clean cut)
        part = CACHE / f"{path.stem}.{look_key()}{pass_tag()}.first{seconds:g}s.mp4"
        run([ffmpeg_binary(), "-y", "-v", "error", "-i", str(out), "-t", f"{seconds:g}", "-map", "0:v:0", "-c", "copy",
             str(part)])
        out, meta = part, dict(meta, frames=None)
        name = f"{name} (first {seconds:g} s)"
    if start_s:  # from a keyframe on; the tracks shifted to the cut's clock (only the cut's first second may differ)
        part = CACHE / f"{path.stem}.{look_key()}{pass_tag()}.from{start_s:g}s.mp4"
        length = ["-t", f"{seconds:g}"] if seconds is not None else []
        run([ffmpeg_binary(), "-y", "-v", "error", "-ss", f"{start_s:g}", "-i", str(out), *length, "-map", "0:v:0",
             "-c", "copy", str(part)])
        first = _frame0(part)
        with FrameReader(out, media.probe(out)) as reader:
            same = next(f.image for f in reader if f.index == round(start_s * tracks.fps))
        if not np.array_equal(first, same):
            raise SystemExit(f"the cut at {start_s} s does not start on frame {round(start_s * tracks.fps)}")
        tracks = shifted(tracks, start_s)
        out, meta = part, dict(meta, frames=None)
        name = f"{name} (from {start_s:g} s{'' if seconds is None else f', {seconds:g} s'})"
    saved: dict[int, Path] = {}

    def on_hit(image: np.ndarray, hit: served_check.ServedHit) -> None:
        second = int(hit.t_s) * 2 + bool(hit.face_like)
        if second in saved:  # one crop per second (and per word of the second opinion) is enough to look at
            return
        x1, y1, x2, y2 = (int(v) for v in hit.box)
        im = image.copy()
        cv2.rectangle(im, (x1, y1), (x2, y2), (0, 0, 255), 1)
        pad = max(x2 - x1, y2 - y1) * 2
        crop = im[max(0, y1 - pad): y2 + pad, max(0, x1 - pad): x2 + pad]
        word = {True: "facelike", False: "notface", None: "unasked"}[hit.face_like]
        f = OUT / f"{path.stem}_{hit.t_s:08.3f}_{hit.score:.3f}_{word}.png"
        cv2.imwrite(str(f), cv2.resize(crop, None, fx=2, fy=2, interpolation=cv2.INTER_NEAREST))
        saved[second] = f

    hits_all: list[served_check.ServedHit] = []
    flagged: set[int] = set()  # every frame with a hit (the result keeps only the first MAX_HITS hits)
    seen_hit = on_hit

    def on_hit(image: np.ndarray, hit: served_check.ServedHit) -> None:  # noqa: F811
        flagged.add(hit.frame_index)
        if diagnose:
            hits_all.append(hit)
        seen_hit(image, hit)

    tenths: set[int] = set()
    dets = [det] if workers <= 1 else [det] + [load_detector(det.threshold) for _ in range(workers - 1)]
    r = served_check.check_served(out, tracks, pol, visible_track_ids=teacher, expected_frames=meta["frames"],
                                  detectors=dets, on_hit=on_hit, second_opinion=opinion.served_face_like,
                                  original=None if strict else path, original_offset=offset,
                                  progress=lambda _s, f: tenths.add(int(10 * f)) or print(
                                      f"    {name}: {int(10 * f) * 10} % checked", flush=True)
                                  if int(10 * f) not in tenths else None)
    looked_up = (f"{r.no_face_in_original} ({r.raised_by_encoding} only the encoder raised)" if r.original_checked
                 else "not looked at")
    print(f"{name}: {r.frames_checked} of {r.frames_expected} served frames checked at {r.threshold}; "
          f"frames with a visible pupil face: {r.frames_with_visible_face} (second opinion face-like: "
          f"{r.frames_with_face_like_hit}); detections {r.detections}: on the teacher {r.on_shown}, on verified hidden "
          f"pixels {r.on_hidden}, gone when hidden pixels blanked {r.gone_when_blanked}, no face there in the original "
          f"{looked_up}, hits {r.hit_count}; "
          f"frames with a detection left before the original was looked at {r.frames_with_detection_left}; "
          f"audit in the render: {meta['audit_findings']} findings in {meta['audit_sampled']} sampled frames; "
          f"teacher tracks shown {len(teacher)}; render {meta['render_s']} s, check {r.check_s:.1f} s", flush=True)
    for h in r.hits[:SHOW_HITS]:
        print(f"    hit t={h.t_s:.3f} s frame {h.frame_index} box {[round(v) for v in h.box]} score {h.score:.3f} "
              f"face-like {h.face_like} original {h.original_score}", flush=True)
    if leaked:
        from videocoach.privacy.tracking import HideSchedule

        planted = HideSchedule(replace(tracks, tracks=tuple(t for t in tracks.tracks if t.id in leaked)),
                               box_scale=pol.box_scale, hold_s=pol.hold_s)
        on = {i for i in range(r.frames_checked) if planted.boxes_at(i / tracks.fps)}
        print(f"    planted: {len(leaked)} pupils' tracks left visible by the render, on screen in {len(on)} frames; "
              f"frames with a hit among them {len(on & flagged)} ({len(on & flagged) / max(1, len(on)):.1%}); "
              f"hits elsewhere {len(flagged - on)} frames", flush=True)
    if diagnose:
        why_hits(path, info, tracks, pol, hits_all, start_s)
    if r.hit_count > SHOW_HITS:
        seconds = sorted({int(h.t_s) for h in r.hits})
        face_s = sorted({int(h.t_s) for h in r.hits if h.face_like})
        print(f"    ... {r.hit_count - SHOW_HITS} more hits; seconds with a hit (of the first {len(r.hits)}): "
              f"{seconds}; with a face-like hit: {face_s}", flush=True)


def why_hits(path: Path, info, tracks, pol, hits, start_s: float) -> None:
    """Per hit: served score, the original frame's score at the same spot, the render's tracks there."""
    from videocoach.privacy.tracking import HideSchedule, enlarge

    low = load_detector(0.005)
    fps = tracks.fps
    first = round(start_s * fps)
    frames = sorted({h.frame_index + first for h in hits})
    orig: dict[int, np.ndarray] = {}
    if frames:
        with FrameReader(path, info, frames=(frames[0], frames[-1] + 1)) as reader:
            for f in reader:
                if f.index in set(frames):
                    orig[f.index] = low.detect(f.image)
    # ``tracks`` are on the cut's clock here (``shifted``): the schedule is too
    sched = HideSchedule(tracks, box_scale=pol.box_scale, hold_s=pol.hold_s)

    def at(dets, cx, cy) -> float:
        return max([float(d[4]) for d in dets if d[0] <= cx < d[2] and d[1] <= cy < d[3]] + [0.0])

    rows = []
    for h in sorted(hits, key=lambda h: h.frame_index):
        cx, cy = (h.box[0] + h.box[2]) / 2, (h.box[1] + h.box[3]) / 2
        sched_box = any(x1 <= cx < x2 and y1 <= cy < y2 for x1, y1, x2, y2 in sched.boxes_at(h.t_s))
        near = [abs(d.t_s - h.t_s) for tr in tracks.tracks for d in tr.detections
                if (lambda e: e[0] <= cx < e[2] and e[1] <= cy < e[3])(enlarge(d.box, pol.box_scale))]
        rows.append((h, at(orig.get(h.frame_index + first, ()), cx, cy), sched_box, min(near) if near else None))
    for h, o, sb, dt in rows[:SHOW_HITS]:
        print(f"    why t={h.t_s:.2f} box {[round(v) for v in h.box]} served {h.score:.3f} original {o:.3f} "
              f"in the hide schedule {sb} nearest track detection there {'none' if dt is None else f'{dt:.2f} s'}")
    if rows:
        served_s, orig_s = np.array([r[0].score for r in rows]), np.array([r[1] for r in rows])
        print(f"    why, all {len(rows)} hits: served score median {np.median(served_s):.3f}, original median "
              f"{np.median(orig_s):.3f}; original >= the threshold {int((orig_s >= pol.threshold).sum())}; in the "
              f"hide schedule {sum(r[2] for r in rows)}; a track detection there within 2 s "
              f"{sum(r[3] is not None and r[3] <= 2 for r in rows)}", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--videos", nargs="*", default=list(VIDEOS))
    ap.add_argument("--workers", type=int, default=1, help="detector sessions for the check")
    ap.add_argument("--lesson-seconds", type=float, default=None,
                    help="check only the first S seconds of the sample lesson's rendition (cut at a keyframe)")
    ap.add_argument("--lesson-from", type=float, default=0.0,
                    help="check the sample lesson's rendition from S seconds on (a whole second: a keyframe)")
    ap.add_argument("--diagnose", action="store_true",
                    help="per hit: the score in the served and in the original frame, the render's tracks there")
    ap.add_argument("--strict", action="store_true",
                    help="do not look hits up in the original recording (every detection left is a hit)")
    ap.add_argument("--leave-visible", type=int, default=0, metavar="K",
                    help="plant a failure: the render leaves the K pupils' tracks seen longest visible (the sample "
                         "lesson; the check is told only the teacher shows), to see the check find them")
    ap.add_argument("--trust-cache", action="store_true",
                    help="use a rendition left in eval/out/served_cache/ without its note (an interrupted run)")
    ap.add_argument("--bf16-gap", type=float, default=None,
                    help="a bf16 detection pass's threshold gap (faces.BF16_THRESHOLD_GAP) to measure another")
    args = ap.parse_args()
    if args.bf16_gap is not None:
        faces.BF16_THRESHOLD_GAP = args.bf16_gap  # read when the pass loads its detectors
    print(f"detection pass: {faces.detection_precision()}{pass_tag()}", flush=True)
    OUT.mkdir(parents=True, exist_ok=True)
    for old in OUT.glob("*.png"):
        old.unlink()
    pol = policy.load_named_policy(policy.DEFAULT_POLICY)
    emb = identity.load_embedder()
    opinion = second_opinion.load()
    det = load_detector(served_check.check_threshold(pol))
    woman: list[np.ndarray] = []
    for name in args.videos:
        path = video_path(name)
        noted = CACHE / f"{path.stem}.{look_key()}{pass_tag()}.json"
        cached = tracks_file(path)
        if args.trust_cache and noted.exists() and cached.exists():
            # an interrupted run's people step (deterministic on the cached tracks): its teacher tracks are noted
            info = media.probe(path)
            tracks = FaceTracks.from_json(cached.read_text())
            teacher = frozenset(json.loads(noted.read_text())["teacher"])
            print(f"{name}: face tracks and the teacher's tracks from the cache of an earlier run", flush=True)
        elif name == "lesson.mp4":
            info, tracks, descs, res = face_steps(path, pol, emb, ())
            if res.suggested_teacher is None:
                print("lesson.mp4: no teacher suggested: every face stays hidden")
                teacher = frozenset()
            else:  # the owner confirms the suggestion: enrolled from it
                again = people.find_people(tracks, descs, res.person_descriptors(res.suggested_teacher))
                teacher = frozenset(again.teacher_track_ids)
        else:
            if not woman:
                _i, _t, fdesc, _r = face_steps(video_path(ENROL_FROM), pol, emb, ())
                woman = [np.asarray(v, np.float32) for vs in fdesc.values() for v in vs]
                print(f"enrolled the woman from {ENROL_FROM}: {len(woman)} descriptors", flush=True)
            info, tracks, _d, res = face_steps(path, pol, emb, woman)
            teacher = frozenset(res.teacher_track_ids)
        serve_and_check(name, path, info, tracks, teacher, pol, opinion, det, args.workers, args.trust_cache,
                        args.lesson_seconds if name == "lesson.mp4" else None,
                        args.lesson_from if name == "lesson.mp4" else 0.0, args.diagnose, args.strict,
                        args.leave_visible if name == "lesson.mp4" else 0)
    print(f"crops of the hits (one per second): {OUT}")


if __name__ == "__main__":
    main()
