"""The teacher's movement when no face is visible: how much of the time a person's position is known from faces
only vs with their body continuing the face (``privacy.bodies`` + ``measures.follow``), and how far off it is.

    python eval/eval_movement.py                 # both parts
    python eval/eval_movement.py --part clip     # one-by-one-person-detection.mp4 only (~1 min)

Clip (../shared/data/faces/clips/one-by-one-person-detection.mp4, 139 s, six people in turn, mostly back to the
camera): presence intervals and 32 head centres hand-labelled here (read off a 0.1 grid drawn on the frames, so
each label is good to about 0.02).  One person at a time, so every face detection counts as "the person".  "Faces
only" is what the people step can identify (detector score >= 0.5, face >= 36 px: what can become the teacher's
track); "any detection" (every box the privacy detector hides, backs of heads included) is printed too.

Sample lesson (sample_media/lesson.mp4): the teacher's tracks after enrolling the suggested person (as in
eval_identity.py); seconds of the lesson with her position from her face, from her body, held, unknown.  Without
hand labels there, the error is measured by hiding her face in alternate 10 s windows and comparing the body
positions with the hidden face positions.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from videocoach.av import media  # noqa: E402
from videocoach.measures.follow import continue_with_bodies  # noqa: E402
from videocoach.measures.room import Sighting, teacher_path  # noqa: E402
from videocoach.privacy import bodies as body_mod  # noqa: E402
from videocoach.privacy.tracking import FaceTracks  # noqa: E402

CLIP = REPO.parent / "shared" / "data" / "faces" / "clips" / "one-by-one-person-detection.mp4"
STEP_S = 0.5

# who is in the picture (first and last second seen on a 1 s contact sheet)
PRESENT = ((7, 19), (23, 44), (51, 69), (75, 86), (93, 119), (124, 135))
# t_s -> the head centre (x, y) in frame shares, hand-labelled
HEADS = {
    7: (0.55, 0.30), 9: (0.59, 0.11), 12: (0.60, 0.11), 16: (0.60, 0.11), 19: (0.89, 0.18),
    23: (0.37, 0.61), 24: (0.56, 0.13), 27: (0.59, 0.07), 33: (0.59, 0.07), 40: (0.60, 0.07), 44: (0.87, 0.10),
    51: (0.50, 0.40), 52: (0.62, 0.15), 56: (0.62, 0.15), 63: (0.63, 0.15), 69: (0.87, 0.13),
    75: (0.38, 0.54), 76: (0.52, 0.20), 79: (0.57, 0.14), 83: (0.57, 0.14), 86: (0.92, 0.16),
    93: (0.58, 0.44), 94: (0.59, 0.15), 100: (0.59, 0.15), 110: (0.60, 0.15), 118: (0.64, 0.17), 119: (0.91, 0.18),
    124: (0.47, 0.51), 125: (0.58, 0.16), 128: (0.59, 0.08), 132: (0.57, 0.08), 135: (0.90, 0.09),
}


def face_tracks(path: Path) -> FaceTracks:
    """The privacy detector's tracks (default policy), cached (``eval_faces.cached_tracks``)."""
    from eval.eval_faces import cached_tracks

    return cached_tracks(path)


def bodies_of(path: Path, method: str = "mog2") -> tuple[body_mod.BodySightings, float]:
    info = media.probe(path)
    t0 = time.process_time()
    found = body_mod.find_bodies(path, info, method=method)
    return found, (time.process_time() - t0) / max(1, len(found.times_s))


def sightings(tracks: FaceTracks, ids=None, *, identifiable: bool = False) -> list[Sighting]:
    from videocoach.privacy.identity import MIN_FACE_PX
    from videocoach.privacy.people import EMBED_MIN_SCORE

    out = []
    for tr in tracks.tracks:
        if ids is not None and tr.id not in ids:
            continue
        for d in tr.detections:
            size = max(d.box[2] - d.box[0], d.box[3] - d.box[1])
            if identifiable and (d.score < EMBED_MIN_SCORE or size < MIN_FACE_PX):
                continue
            x, y = (d.box[0] + d.box[2]) / 2 / tracks.width, (d.box[1] + d.box[3]) / 2 / tracks.height
            out.append(Sighting(d.t_s, min(1.0, max(0.0, x)), min(1.0, max(0.0, y))))
    return out


def samples_of(found: body_mod.BodySightings) -> dict[float, list[tuple[float, float, float, float]]]:
    w, h = found.width, found.height
    return {t: [(b[0] / w, b[1] / h, b[2] / w, b[3] / h) for b in boxes]
            for t, boxes in body_mod.boxes_at(found).items()}


def positions(face: list[Sighting], others, samples, duration_s: float, with_bodies: bool):
    extra = continue_with_bodies(face, others, samples) if with_bodies else ()
    path = teacher_path([*face, *extra], duration_s, step_s=STEP_S, max_hold_s=0.0)
    return {round(p.t_s, 3): p for p in path if p.seen}


def run_clip(method: str) -> None:
    info = media.probe(CLIP)
    tracks = face_tracks(CLIP)
    found, cpu = bodies_of(CLIP, method)
    samples = samples_of(found)
    grid = [round(i * STEP_S, 3) for i in range(int(info.duration_s / STEP_S) + 1)]
    present = [t for t in grid if any(a <= t <= b + 0.5 for a, b in PRESENT)]
    absent = [t for t in grid if t not in set(present)]
    print(f"clip ({method}): {CLIP.name}, {info.duration_s:.1f} s, a person present {len(present) * STEP_S:.1f} s; "
          f"{len(tracks.tracks)} face tracks; bodies on {len(found.times_s)} samples, {len(found.bodies)} boxes, "
          f"{cpu * 1000:.1f} ms CPU a sample (decode not counted)")
    for label, ident in (("identifiable faces", True), ("any detection", False)):
        face = sightings(tracks, identifiable=ident)
        for how, wb in (("faces only", False), ("+ bodies", True)):
            pos = positions(face, [], samples, info.duration_s, wb)
            known = sum(1 for t in present if t in pos)
            wrong = sum(1 for t in absent if t in pos)
            errs = [math.hypot(pos[t].x - x, pos[t].y - y) for t, (x, y) in HEADS.items() if float(t) in pos]
            errs.sort()
            med = errs[len(errs) // 2] if errs else float("nan")
            print(f"  {label:18s} {how:10s}: position known {known * STEP_S:6.1f} s of {len(present) * STEP_S:.1f} s "
                  f"present ({known / len(present):.1%}); a position while nobody is there {wrong * STEP_S:.1f} s; "
                  f"labelled heads located {len(errs)}/{len(HEADS)}, error median {med:.3f}, "
                  f"max {max(errs, default=float('nan')):.3f} (frame shares)")
    only = [t for t in present if samples.get(t)]
    print(f"  body boxes alone (no face needed): a box on {len(only) * STEP_S:.1f} s of the present time "
          f"({len(only) / len(present):.1%}); boxes while nobody is there: "
          f"{sum(1 for t in absent if samples.get(t)) * STEP_S:.1f} s")


def run_lesson(methods) -> None:
    from eval.eval_identity import analyse_video
    from videocoach.privacy import people
    from videocoach.privacy.identity import load_embedder

    sample = REPO / "sample_media" / "lesson.mp4"
    emb = load_embedder()
    tracks, descs, _th, res, _ = analyse_video(sample, emb)
    if res.suggested_teacher is None:
        print("sample lesson: no teacher suggested")
        return
    again = people.find_people(tracks, descs, res.person_descriptors(res.suggested_teacher))
    teacher_ids = set(again.teacher_track_ids)
    teacher = sightings(tracks, teacher_ids)
    pupils = [sightings(tracks, set(p.track_ids)) for p in again.people if not set(p.track_ids) & teacher_ids]
    for method in methods:
        _lesson_positions(sample, tracks, teacher, teacher_ids, pupils, method)


def _lesson_positions(sample, tracks, teacher, teacher_ids, pupils, method: str) -> None:
    found, cpu = bodies_of(sample, method)
    samples = samples_of(found)
    dur = tracks.duration_s
    print(f"\nsample lesson ({method}): {dur:.1f} s, teacher tracks {len(teacher_ids)}, "
          f"bodies on {len(found.times_s)} samples "
          f"({len(found.bodies)} boxes), {cpu * 1000:.1f} ms CPU a sample (decode not counted)")
    for how, wb in (("faces only", False), ("+ bodies", True)):
        extra = continue_with_bodies(teacher, pupils, samples) if wb else ()
        path = teacher_path([*teacher, *extra], dur, step_s=STEP_S)
        face_s = sum(STEP_S for p in path if p.seen and not p.body)
        body_s = sum(STEP_S for p in path if p.seen and p.body)
        held_s = sum(STEP_S for p in path if not p.seen)
        print(f"  {how:10s}: face {face_s:.1f} s, body {body_s:.1f} s, held {held_s:.1f} s, "
              f"unknown {max(0.0, dur - face_s - body_s - held_s):.1f} s")
    # hide her face in alternate 10 s windows: how much of the hidden face time do bodies recover, how far off
    kept = [s for s in teacher if int(s.t_s // 10) % 2 == 0]
    hidden = {round(round(s.t_s / STEP_S) * STEP_S, 3): s for s in teacher if int(s.t_s // 10) % 2 == 1}
    pos = positions(kept, pupils, samples, dur, True)
    errs = sorted(math.hypot(pos[t].x - s.x, pos[t].y - s.y) for t, s in hidden.items() if t in pos)
    med = errs[len(errs) // 2] if errs else float("nan")
    print(f"  her face hidden in alternate 10 s windows: bodies give a position at {len(errs)} of {len(hidden)} "
          f"hidden face samples; error vs her face median {med:.3f}, 90th pct "
          f"{errs[int(0.9 * (len(errs) - 1))] if errs else float('nan'):.3f} (frame shares)")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--part", choices=("all", "clip", "lesson"), default="all")
    args = ap.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    if args.part in ("all", "clip"):
        for method in ("mog2", "knn"):
            run_clip(method)
    if args.part in ("all", "lesson"):
        run_lesson(("mog2", "knn"))


if __name__ == "__main__":
    main()
