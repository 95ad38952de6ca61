"""What re-rendering only the stretches a mark changes saves (issue 19, item 6), on the sample lesson.

    OMP_NUM_THREADS=1 python bench/bench_rerender.py              # the whole sample lesson (146 s, 720p 25 fps)
    OMP_NUM_THREADS=1 python bench/bench_rerender.py --seconds 60 # its first 60 s

In one run, on the same input:
1. the first rendering: detection, hiding, audit and encoding in one decode (``onepass``; what the faces stage
   runs), every face hidden -- this is the "previous rendition";
2. one short track is marked (a consented pupil: visible, still audited);
3. a full re-render with the saved tracks (what a mark cost before) and the partial one (``splice.rerender_changed``:
   only the GOPs the mark reaches, spliced into the previous rendition and checked by decoding every frame).
Wall seconds and CPU seconds (this process and its ffmpeg children) are printed with the load average: the machine
is shared, so compare the two figures of one run, not figures across runs.
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
from videocoach.privacy import splice  # noqa: E402
from videocoach.privacy.onepass import redact_in_one_pass  # noqa: E402
from videocoach.privacy.policy import load_policy  # noqa: E402

OUT = REPO / "bench" / "out"


def cpu_s() -> float:
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def timed(fn):
    w, c = time.perf_counter(), cpu_s()
    result = fn()
    return result, time.perf_counter() - w, cpu_s() - c


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=0.0, help="cut the lesson to this many seconds (0: whole)")
    ap.add_argument("--policy", default="blur-all-pupils")
    args = ap.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    video = REPO / "sample_media" / "lesson.mp4"
    if args.seconds:
        cut = OUT / f"lesson_{args.seconds:g}s.mp4"
        if not cut.exists():
            subprocess.run([ffmpeg_binary(), "-v", "error", "-y", "-i", str(video), "-t", f"{args.seconds}",
                            "-c", "copy", str(cut)], check=True)
        video = cut
    info = media.probe(video)
    policy = load_policy(args.policy)
    print(f"input: {video.name}, {info.duration_s:.1f} s, {info.width}x{info.height} @ {info.fps:g} fps; "
          f"policy {policy.name}; load average {os.getloadavg()[0]:.2f}")

    old = OUT / "rerender_previous.mp4"
    first, w, c = timed(lambda: redact_in_one_pass(video, info, policy, old))
    tracks = first.tracks
    print(f"1. first rendering (detect + hide + audit + encode): {w:.1f} s wall, {c:.1f} s CPU; "
          f"{len(tracks.tracks)} tracks")
    was = splice.rendition_of(policy, tracks, video, old, frozenset(), frozenset(), first.render, first.audit)

    # one short track: the shortest one seen by at least 3 detection passes
    candidates = [t for t in tracks.tracks if len(t.detections) >= 3]
    if not candidates:
        sys.exit("no track with 3 detections in this input")
    track = min(candidates, key=lambda t: (t.end_s - t.start_s, t.start_s))
    marked = frozenset({track.id})
    print(f"2. marked track {track.id}: detected {track.start_s:.2f}-{track.end_s:.2f} s "
          f"({len(track.detections)} passes)")

    full_out = OUT / "rerender_full.mp4"
    full, w_full, c_full = timed(lambda: redact_in_one_pass(video, info, policy, full_out, tracks=tracks,
                                                            visible_track_ids=marked, exempt_track_ids=frozenset()))
    part_out = OUT / "rerender_spliced.mp4"
    part_out.unlink(missing_ok=True)
    part, w_part, c_part = timed(lambda: splice.rerender_changed(video, info, policy, tracks, old, was, [], marked,
                                                                 frozenset(), part_out))
    frames = full.render.frames
    redone = sum(b - a for a, b in part.stretches)
    changed = sum(b - a for a, b in part.changed)
    print(f"3. full re-render:    {w_full:6.1f} s wall, {c_full:6.1f} s CPU, {frames} frames encoded")
    print(f"   partial re-render: {w_part:6.1f} s wall, {c_part:6.1f} s CPU, {redone} frames encoded "
          f"({changed} changed; stretches {list(part.stretches)}; splice + decode check {part.splice_s:.1f} s)")
    if w_part > 0 and c_part > 0:
        print(f"   saving: {w_full / w_part:.1f}x wall, {c_full / c_part:.1f}x CPU; "
              f"audit findings full {full.audit.finding_count}, spliced {part.audit.finding_count}; "
              f"hidden boxes full {full.render.hidden_boxes}, spliced {part.render.hidden_boxes}")
    print(f"load average now {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
