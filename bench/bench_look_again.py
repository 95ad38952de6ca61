"""What the detection pass's second look (privacy/schedule.py ``LookAgain``) costs and hides, 1 thread.

    ffmpeg -ss 20 -i sample_media/lesson.mp4 -t 20 -c:v libx264 -preset veryfast -crf 18 -pix_fmt yuv420p \\
        -c:a aac bench/out/lesson_20s_from20.mp4
    OMP_NUM_THREADS=1 nice -n 5 python bench/bench_look_again.py bench/out/lesson_20s_from20.mp4 off whole2 crop2

For each look given -- ``off`` (``VIDEOCOACH_LOOK_AGAIN=off``), ``cropN`` (N rounds on crops around the hidden boxes,
the default is crop2) or ``wholeN`` (N rounds on the whole hidden frame, the look of stop 22) -- the one-decode
redaction (detect, hide, audit, encode) of the file: CPU seconds of this process and its ffmpeg children, the
detector's own thread time, the tracks, the mean share of the frame area hidden and the frames with anything hidden.

2026-12-06 (0:20-0:40 of the sample lesson, loaded machine): rounds 0: 21.5 CPU-s (1.07 per media s), detector 0.40
per media s, 105 tracks, 3.0 % of the frame hidden; rounds 2: 56.0 CPU-s (2.80), detector 1.98, 777 tracks, 18.3 %.
2026-12-07 (the same slice, load 15-24): off 19.8 CPU-s (0.99 per media s), detector 0.39, 105 tracks, 3.0 %;
whole2 57.7 (2.88), detector 2.15, 503 tracks, 12.2 %; crop2 32.9 (1.64), detector 0.94, 841 tracks, 21.1 %.
"""

from __future__ import annotations

import re
import resource
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from videocoach.av import media  # noqa: E402
from videocoach.privacy import onepass, policy, redact, schedule  # noqa: E402
from videocoach.privacy.faces import load_detector  # noqa: E402
from videocoach.privacy.tracking import HideSchedule  # noqa: E402


def cpu_s() -> float:
    a, b = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return a.ru_utime + a.ru_stime + b.ru_utime + b.ru_stime


def main() -> None:
    src, looks = Path(sys.argv[1]), sys.argv[2:] or ["off", "whole2", f"crop{schedule.LOOK_ROUNDS}"]
    pol = policy.load_named_policy(policy.DEFAULT_POLICY)
    info = media.probe(src)
    for look in looks:
        m = re.fullmatch(r"off|(crop|whole)([0-9])", look)
        if m is None:
            raise SystemExit(f"a look is off, cropN or wholeN, not {look!r}")
        rounds, whole = (0, False) if look == "off" else (int(m.group(2)), m.group(1) == "whole")
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
        res = onepass.redact_in_one_pass(src, info, pol, REPO / "bench" / "out" / f"look_again_{look}.mp4",
                                         id_base=0, detectors=[det])
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


if __name__ == "__main__":
    main()
