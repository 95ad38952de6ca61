"""What finding bodies costs the people step (prints; no assertion).

    python bench/bench_bodies.py                 # the sample lesson (needs its face tracks: eval/out/tracks/)

Runs, on one thread: (1) the people step's face prints as before (``people.embed_tracks`` with its own decode, which
stops after the last frame it needs); (2) the same prints with the body finder fed from the same decode
(``people_steps._embed_and_find_bodies``: the decode then runs to the end); (3) the finder alone per sample on the
full-size frames.  CPU seconds are this process's and ffmpeg's together (``resource`` children).
"""

from __future__ import annotations

import os
import resource
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from eval.eval_faces import tracks_cache  # noqa: E402
from videocoach.av import media  # noqa: E402
from videocoach.core.model import no_progress  # noqa: E402
from videocoach.privacy import people  # noqa: E402
from videocoach.privacy.identity import load_embedder  # noqa: E402
from videocoach.privacy.tracking import FaceTracks  # noqa: E402


def _cpu() -> float:
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def main() -> None:
    from videocoach.people_steps import _embed_and_find_bodies

    video = REPO / "sample_media" / "lesson.mp4"
    cache = tracks_cache(video)
    if not cache.exists():
        sys.exit(f"no face tracks at {cache}: run eval/eval_movement.py --part lesson (or eval_audit.py) first")
    info = media.probe(video)
    tracks = FaceTracks.from_json(cache.read_text())
    emb = load_embedder()
    rows = []
    for name, run in (("face prints only (before)", lambda: people.embed_tracks(video, info, tracks, emb)),
                      ("face prints + bodies, one decode", lambda: _embed_and_find_bodies(video, info, tracks, emb,
                                                                                           no_progress))):
        c0, w0 = _cpu(), time.perf_counter()
        out = run()
        rows.append((name, time.perf_counter() - w0, _cpu() - c0, out))
    for name, wall, cpu, out in rows:
        extra = f", {len(out[2].times_s)} samples, {len(out[2].bodies)} bodies" if len(out) == 3 else ""
        per = cpu / info.duration_s
        print(f"{name:34s}: wall {wall:6.1f} s, CPU {cpu:6.1f} s = {per:.3f} CPU-s per media s{extra}")
    (_, w1, c1, _), (_, w2, c2, _) = rows
    print(f"bodies add {c2 - c1:+.1f} CPU-s ({(c2 - c1) / info.duration_s:+.3f} per media s), wall {w2 - w1:+.1f} s "
          f"on {info.duration_s:.1f} s of {info.width}x{info.height} video")

    from videocoach.av.video_io import FrameReader
    from videocoach.privacy.bodies import BodyFinder

    finder = BodyFinder(info.width, info.height)
    spent = n = 0
    with FrameReader(video, info, fps=2.0) as reader:
        for frame in reader:
            t0 = time.process_time()
            finder.find(frame.image, frame.t_s)
            spent += time.process_time() - t0
            n += 1
            if n >= 120:
                break
    print(f"BodyFinder.find on a full {info.width}x{info.height} frame: {1000 * spent / n:.1f} ms CPU ({n} frames)")


if __name__ == "__main__":
    main()
