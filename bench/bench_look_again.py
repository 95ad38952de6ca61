"""What the detection pass's second look (privacy/schedule.py ``LookAgain``) costs and hides, 1 thread.

    ffmpeg -ss 20 -i sample_media/lesson.mp4 -t 20 -c:v libx264 -preset veryfast -crf 18 -pix_fmt yuv420p \\
        -c:a aac bench/out/lesson_20s_from20.mp4
    OMP_NUM_THREADS=1 nice -n 5 python bench/bench_look_again.py bench/out/lesson_20s_from20.mp4 off whole2 crop2
    OMP_NUM_THREADS=1 nice -n 5 python bench/bench_look_again.py bench/out/hiding/lesson_30s_10.mp4 --served \
        off crop2 below1 tight1

For each look given -- ``off`` (``VIDEOCOACH_LOOK_AGAIN=off``), ``cropN`` (N rounds on crops around the hidden boxes,
the default is crop2), ``wholeN`` (N rounds on the whole hidden frame, the look of stop 22), ``belowN`` / ``tightN``
(bench only: N rounds on crops of a window below each hidden box only, ``below_windows``) -- the one-decode
redaction (detect, hide, audit, encode) of the file: CPU seconds of this process and its ffmpeg children, the
detector's own thread time, the tracks, the mean share of the frame area hidden and the frames with anything hidden.
``--served``: then the served check on the file rendered (every face hidden; CenterFace at 0.05 on every frame, the
second opinion on each hit): frames with a hit (face-like), the largest score, the check's own CPU seconds.

2026-12-06 (0:20-0:40 of the sample lesson, loaded machine): rounds 0: 21.5 CPU-s (1.07 per media s), detector 0.40
per media s, 105 tracks, 3.0 % of the frame hidden; rounds 2: 56.0 CPU-s (2.80), detector 1.98, 777 tracks, 18.3 %.
2026-12-07 (the same slice, load 15-24): off 19.8 CPU-s (0.99 per media s), detector 0.39, 105 tracks, 3.0 %;
whole2 57.7 (2.88), detector 2.15, 503 tracks, 12.2 %; crop2 32.9 (1.64), detector 0.94, 841 tracks, 21.1 %.

2026-12-07, issue 19's cheaper look (the 10 s slices of bench_hiding.py, no audio, load 3-7; the two off rows are
two runs; one-pass CPU-s per media s, detector CPU-s per media s, tracks, frame area hidden, served frames with a
hit (face-like), max score; below1 = 2.5 x the box wide from its middle to 3 box heights below it, tight1 = 2.0 x
wide from its lower edge to 1.5 box heights below it, each grown to the detector's 32 px grid, one round):

| look | 0:30-0:40 | 1:40-1:50 |
|---|---|---|
| off | 0.94 / 0.95, 0.38, 56, 3.0 %, 42 (36) 0.164 | 0.94 / 0.95, 0.37, 143, 3.1 %, 83 (66) 0.162 |
| crop2 | 1.62, 0.93, 423, 21.2 %, 0 | 1.61, 0.87, 489, 18.6 %, 4 (4) 0.129 |
| below1 | 1.19, 0.51, 543, 10.4 %, 0 | 1.30, 0.53, 647, 12.7 %, 0 |
| tight1 | 1.06, 0.43, 487, 6.5 %, 0 | 1.12, 0.44, 686, 7.8 %, 0 |

Whole sample lesson (145.9 s, one run, load 7-12): off 0.86 CPU-s per media s, detector 0.35, 777 tracks, 3.2 %;
tight1 1.04 (+21 %), detector 0.42, 7,915 tracks, 7.6 % (an earlier run: 1.05).
After the hide schedule drops rectangles inside others (``tracking.drop_covered``), quiet machine (load 0.9-4):
off 0.85, tight1 0.99 (+16 %), detector 0.35 -> 0.42.

But not on the whole lesson: ``--served tight1`` on sample_media/lesson.mp4 (every face hidden) 396 of 3,647
frames with a hit (302 face-like), max 0.113, 427 hits; ``VIDEOCOACH_LOOK_AGAIN=below eval/eval_served_frames.py``
(teacher shown): lesson 394 frames (302 face-like; 425 hits in 39 of its 146 seconds; defaults 1,145, the crop
look 21), clips 0 but walking.gif 1 (as the crop look).  The hits it leaves are not below a hidden box: beside a
mosaic or between two (1:21.0, 0.113), dark spots away from them (0:15-0:17, a 13 x 16 px spot, 0.06-0.09),
the spots the crop look's 4 x window around each box still covers.  The two slices were not representative.

tight1 reaches zero on both slices for +12 / +18 % CPU (the budget: about +5 to +10 %).  Its detector costs only
+0.06-0.07 per media s (+7 %); the rest is the render: every look detection becomes a short track held 1-3 s, so
the render hides 236 boxes per frame on 1:40-1:50 against 41 with the look off (cProfile: redact.mosaic 59,158
calls against 10,402, about 4 CPU-s against 0.6 under the profiler).  A render that hides overlapping held boxes
once (or a tracker that joins a look detection to the held box it reappears in) is what could bring it under +10 %.
"""

from __future__ import annotations

import re
import resource
import sys
import time
from dataclasses import replace
from functools import partial
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from videocoach.av import media  # noqa: E402
from videocoach.privacy import onepass, policy, redact, schedule, second_opinion, served_check  # noqa: E402
from videocoach.privacy.faces import load_detector  # noqa: E402
from videocoach.privacy.tracking import HideSchedule  # noqa: E402

# the window below a hidden box (x its width, centred under it; from its top + x its height, to its lower edge + x
# its height): belowN from the box's middle to 3 box heights below it, 2.5 wide; tightN from its lower edge to 1.5
# box heights below it, 2.0 wide
BELOW = {"below": (2.5, 0.5, 3.0), "tight": (schedule.BELOW_WIDE, 1.0, schedule.BELOW_DOWN)}  # the product's: tight
_WINDOWS = schedule.look_windows


def below_windows(boxes, width: int, height: int, *_args, kind: str = "below") -> list[tuple[int, int, int, int]]:
    """Stands in for ``schedule.look_windows`` in a belowN (tightN) look: the window below each hidden box
    (``schedule.below_windows`` with the kind's sizes), where the served check's hits lie (1.4-1.5 box heights below
    its centre: the chest and hands of the pupil whose face is hidden), instead of 4 x the box around it.
    ``LookAgain`` then grows each to the detector's grid (its crops) and keeps what it finds centred in the windows
    of the boxes hidden so far."""
    wide, top, down = BELOW[kind]
    return schedule.below_windows(boxes, width, height, wide=wide, top=top, down=down)


def cpu_s() -> float:
    a, b = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return a.ru_utime + a.ru_stime + b.ru_utime + b.ru_stime


def main() -> None:
    args = sys.argv[1:]
    served = "--served" in args
    args = [a for a in args if a != "--served"]
    src, looks = Path(args[0]), args[1:] or ["off", "whole2", f"crop{schedule.LOOK_ROUNDS}"]
    pol = policy.load_named_policy(policy.DEFAULT_POLICY)
    info = media.probe(src)
    if served:
        check_det = load_detector(served_check.check_threshold(pol))
        opinion = second_opinion.load()
    for look in looks:
        m = re.fullmatch(r"off|(crop|whole|below|tight)([0-9])", look)
        if m is None:
            raise SystemExit(f"a look is off, cropN, wholeN, belowN or tightN, not {look!r}")
        rounds, whole = (0, False) if look == "off" else (int(m.group(2)), m.group(1) == "whole")
        schedule.look_windows = (partial(below_windows, kind=m.group(1)) if m.group(1) in BELOW else _WINDOWS)
        onepass.look_again = lambda p, r=rounds, w=whole: replace(redact.look_again(p), rounds=r, whole_frame=w)
        det = load_detector(pol.threshold)
        spent = {"n": 0, "t": 0.0}
        plain = det.detect

        def timed(image, threshold=None, plain=plain, spent=spent):
            t = time.thread_time()
            try:
                return plain(image, threshold)
            finally:
                spent["t"] += time.thread_time() - t
                spent["n"] += 1

        det.detect = timed
        c0 = cpu_s()
        out = REPO / "bench" / "out" / f"look_again_{src.stem}_{look}.mp4"
        res = onepass.redact_in_one_pass(src, info, pol, out, id_base=0, detectors=[det])
        cpu = cpu_s() - c0
        tracks = res.tracks
        hidden = HideSchedule(tracks, box_scale=pol.box_scale, hold_s=pol.hold_s)
        area, any_hidden = [], 0
        for i in range(res.render.frames):
            mask = np.zeros((tracks.height, tracks.width), bool)
            boxes = hidden.boxes_at(i / tracks.fps)
            for x1, y1, x2, y2 in boxes:
                mask[y1:y2, x1:x2] = True
            area.append(mask.mean())
            any_hidden += bool(boxes)
        d = info.duration_s
        print(f"{src.name} look {look}: one-pass redaction {cpu:.1f} CPU-s for {d:.1f} s ({cpu / d:.2f} per "
              f"media s); detector {spent['n']} calls {spent['t']:.1f} CPU-s ({spent['t'] / d:.2f} per media s); "
              f"tracks {len(tracks.tracks)}; frame area hidden {np.mean(area):.4f}; frames with anything hidden "
              f"{any_hidden}/{res.render.frames}", flush=True)
        if served:
            c0 = cpu_s()
            r = served_check.check_served(out, tracks, pol, expected_frames=res.render.frames, detectors=[check_det],
                                          second_opinion=opinion.served_face_like)
            scores = [h.score for h in r.hits]
            print(f"    served check: frames with a hit {r.frames_with_visible_face} of {r.frames_checked} (face-like "
                  f"{r.frames_with_face_like_hit}), hits {r.hit_count}, max score {max(scores, default=0):.3f}; hit "
                  f"times {sorted({round(h.t_s, 1) for h in r.hits})[:10]}; check {cpu_s() - c0:.1f} CPU-s",
                  flush=True)


if __name__ == "__main__":
    main()
