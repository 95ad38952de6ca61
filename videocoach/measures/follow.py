"""The teacher's position while their face is lost: body boxes continue the face track (pure; positions only).

Bodies (``privacy.bodies``: boxes on frames sampled every half second) are first joined into body tracks -- the
nearest box of the next sample, within a bounded speed and of a similar size; where two boxes (or two tracks) are
equally near, the tracks end rather than guess.  A body track is the teacher's when the teacher's face sits inside
its box (its centre in the upper half of the box) more often than any other person's face does.  Where the teacher's
face is not seen, such a track gives the teacher's position: the point of the body box where the face sat at the
nearest anchoring sample (so a face position and a body position agree), with ``Sighting.body`` set.

Nothing here decides what is shown: the positions feed ``measures.room`` only.  All coordinates are shares of the
frame width and height.
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass
from typing import Mapping, Sequence

from videocoach.measures.room import Sighting

MAX_SPEED = 0.6  # frame shares per second a body centre may move between samples (a brisk walk near the camera)
REACH_SLACK = 0.08  # plus this much, whatever the time step (boxes jitter)
SIZE_RATIO = 2.0  # box heights of one body differ by at most this factor between samples
MAX_GAP_S = 3.0  # a body track unmatched this long ends
SAME_TIME_S = 0.3  # a face this close in time to a body sample is "at" that sample
SAME_HEAD = 0.05  # another face this near the teacher's at the same time (frame shares) is the same head detected twice
AMBIGUOUS = 1.5  # the nearest candidate must be this many times nearer than the next, or the track ends

Box = tuple[float, float, float, float]


@dataclass(frozen=True)
class BodyTrack:
    times_s: tuple[float, ...]
    boxes: tuple[Box, ...]


def _centre(b: Box) -> tuple[float, float]:
    return (b[0] + b[2]) / 2, (b[1] + b[3]) / 2


def _reach(dt: float) -> float:
    return MAX_SPEED * dt + REACH_SLACK


def _fits(a: Box, b: Box, dt: float) -> float | None:
    """Distance between the two boxes' centres when ``b`` may be ``a`` ``dt`` seconds later, else None."""
    ha, hb = a[3] - a[1], b[3] - b[1]
    if ha <= 0 or hb <= 0 or not (1 / SIZE_RATIO <= hb / ha <= SIZE_RATIO):
        return None
    (ax, ay), (bx, by) = _centre(a), _centre(b)
    d = math.hypot(ax - bx, ay - by)
    return d if d <= _reach(dt) else None


def _clear(cands: list[tuple[float, int]]) -> tuple[float, int]:
    """The nearest of ``(distance, id)`` when it is clearly the nearest, else ``(0, -1)``."""
    cands = sorted(cands)
    if len(cands) > 1 and cands[1][0] <= AMBIGUOUS * max(cands[0][0], 1e-3):
        return 0.0, -1
    return cands[0]


def body_tracks(samples: Mapping[float, Sequence[Box]], *, max_gap_s: float = MAX_GAP_S) -> tuple[BodyTrack, ...]:
    """Join the boxes of successive samples (time -> boxes, every sampled time present) into tracks."""
    open_: list[tuple[list[float], list[Box]]] = []
    done: list[tuple[list[float], list[Box]]] = []
    for t in sorted(samples):
        still = []
        for tr in open_:
            (done if t - tr[0][-1] > max_gap_s else still).append(tr)
        open_ = still
        boxes = list(samples[t])
        near: dict[int, list[tuple[float, int]]] = {}  # track -> [(distance, box)]
        owners: dict[int, list[tuple[float, int]]] = {}  # box -> [(distance, track)]
        for ti, (times, bxs) in enumerate(open_):
            for bi, b in enumerate(boxes):
                d = _fits(bxs[-1], b, t - times[-1])
                if d is not None:
                    near.setdefault(ti, []).append((d, bi))
                    owners.setdefault(bi, []).append((d, ti))
        taken: set[int] = set()
        ended: set[int] = set()
        for ti, cands in near.items():
            d0, bi = _clear(cands)
            rival = _clear(owners[bi]) if bi >= 0 else (0.0, -1)
            if bi >= 0 and rival[1] == ti:  # each the other's clearly nearest
                open_[ti][0].append(t)
                open_[ti][1].append(boxes[bi])
                taken.add(bi)
            else:  # two bodies met, or one split: the track ends rather than guess who is who
                ended.add(ti)
        done.extend(tr for ti, tr in enumerate(open_) if ti in ended)
        open_ = [tr for ti, tr in enumerate(open_) if ti not in ended]
        open_.extend(([t], [b]) for bi, b in enumerate(boxes) if bi not in taken)
    done.extend(open_)
    done.sort(key=lambda tr: tr[0][0])
    return tuple(BodyTrack(tuple(times), tuple(bxs)) for times, bxs in done)


def _at(faces: Sequence[Sighting], times: Sequence[float], t: float) -> Sighting | None:
    """The face sighting nearest ``t`` within ``SAME_TIME_S`` (``times``: the sorted sighting times)."""
    i = bisect.bisect_left(times, t)
    best = None
    for j in (i - 1, i):
        if 0 <= j < len(faces) and abs(faces[j].t_s - t) <= SAME_TIME_S:
            if best is None or abs(faces[j].t_s - t) < abs(best.t_s - t):
                best = faces[j]
    return best


def _same_head(a: Sighting, b: Sighting) -> bool:
    """Two face boxes on one head (the detector's duplicates, split into two tracks): not someone else's face."""
    return abs(a.x - b.x) <= SAME_HEAD and abs(a.y - b.y) <= SAME_HEAD


def _inside(s: Sighting, b: Box) -> bool:
    return b[0] <= s.x <= b[2] and b[1] <= s.y <= (b[1] + b[3]) / 2


def continue_with_bodies(
    teacher: Sequence[Sighting],
    others: Sequence[Sequence[Sighting]],
    samples: Mapping[float, Sequence[Box]],
) -> tuple[Sighting, ...]:
    """The teacher's positions from body tracks at the sampled times where their face is not seen."""
    faces = sorted((s for s in teacher if not s.body), key=lambda s: s.t_s)
    face_t = [s.t_s for s in faces]
    other = [sorted(o, key=lambda s: s.t_s) for o in others]
    other_t = [[s.t_s for s in o] for o in other]
    out: list[Sighting] = []
    for tr in body_tracks(samples):
        anchors: list[tuple[float, float, float]] = []  # (time, x offset, y offset) within the box
        foreign: list[float] = []  # times someone else's face was in the box
        for t, b in zip(tr.times_s, tr.boxes):
            f = _at(faces, face_t, t)
            if f is not None and _inside(f, b):
                w = b[2] - b[0]
                anchors.append((t, (f.x - b[0]) / w, (f.y - b[1]) / w))
            for o, ot in zip(other, other_t):
                g = _at(o, ot, t)
                if g is not None and _inside(g, b) and not (f is not None and _same_head(f, g)):
                    foreign.append(t)
        if not anchors:
            continue
        anchor_t = [a[0] for a in anchors]
        for t, b in zip(tr.times_s, tr.boxes):
            if _at(faces, face_t, t) is not None:
                continue
            i = bisect.bisect_left(anchor_t, t)
            near = min((a for a in anchors[max(0, i - 1):i + 1]), key=lambda a: abs(a[0] - t))
            # a body track may pass from one person to another (they cross): the box is the teacher's only where
            # the nearest face seen in it, in time, was the teacher's
            j = bisect.bisect_left(foreign, t)
            if any(abs(u - t) <= abs(near[0] - t) for u in foreign[max(0, j - 1):j + 1]):
                continue
            x = b[0] + near[1] * (b[2] - b[0])
            y = b[1] + near[2] * (b[2] - b[0])  # from the top in box widths: a body cut off below keeps its head
            out.append(Sighting(t, min(1.0, max(0.0, x)), min(1.0, max(0.0, y)), body=True))
    out.sort(key=lambda s: s.t_s)
    return tuple(out)


__all__ = ["BodyTrack", "MAX_GAP_S", "MAX_SPEED", "body_tracks", "continue_with_bodies"]
