"""Movement and use of the room (guide, Figure 9): pure measures from where faces were seen in the frame.

Input: the teacher's positions (``Sighting``: time and the face centre as a share of the frame width and height;
``body=True`` where the face was lost and their body gave the position, ``measures.follow``) and each pupil's
positions (one list per pupil, from their face tracks -- pupils' faces stay hidden, where they sit can
still be measured).  Nothing here reads video.

- ``teacher_path``: the teacher's position every ``step_s`` seconds (a face sighting before a body one); where neither
  is there the last position is kept with ``seen=False`` (they left the picture) -- for at most ``max_hold_s``;
- ``heat_map``: seconds spent in each cell of a ``rows x cols`` grid over the frame;
- ``front_vs_among``: seconds "among the pupils" (within ``near`` of a pupil's usual place) and "at the front" (seen,
  but not near any pupil);
- ``zones_visited``: the 3 x 3 zones of the picture (near/middle/far from the camera x left/centre/right), each with
  its seconds, visits and first time;
- ``pupils_per_zone``, ``pupils_visited``: how many pupils sit in each zone, and how many of them the teacher came
  within ``near`` of.
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass
from typing import Sequence

ZONE_ROWS = ("far", "middle", "near")  # top of the picture is farthest from the camera
ZONE_COLS = ("left", "centre", "right")
NEAR = 0.15  # "close to a pupil": within 15 % of the frame diagonal (in frame shares)
STEP_S = 1.0
MAX_HOLD_S = 10.0


@dataclass(frozen=True)
class Sighting:
    t_s: float
    x: float  # 0..1 across the frame
    y: float  # 0..1 down the frame
    body: bool = False  # True: from the body, the face not seen

    def __post_init__(self) -> None:
        if not (math.isfinite(self.t_s) and 0.0 <= self.x <= 1.0 and 0.0 <= self.y <= 1.0):
            raise ValueError(f"bad sighting {self!r}")


@dataclass(frozen=True)
class PathPoint:
    t_s: float
    x: float
    y: float
    seen: bool  # False: the last seen position, kept while the face is lost
    body: bool = False  # seen by the body only (the face turned away)


@dataclass(frozen=True)
class ZoneVisit:
    zone: str
    seconds: float
    visits: int
    first_s: float


@dataclass(frozen=True)
class RoomUse:
    path: tuple[PathPoint, ...]
    heat: tuple[tuple[float, ...], ...]  # seconds per grid cell, rows top to bottom
    front_s: float
    among_s: float
    lost_s: float  # seconds with the teacher's face not seen (position from the body, held or unknown)
    zones: tuple[ZoneVisit, ...]
    pupils_per_zone: tuple[tuple[str, int], ...]
    pupils: int
    pupils_visited: int
    body_s: float = 0.0  # seconds whose position came from the body alone (face turned away)
    unknown_s: float = 0.0  # seconds with no position at all (neither face nor body; held positions count here)


def zone_of(x: float, y: float) -> str:
    r = ZONE_ROWS[min(2, int(y * 3))]
    c = ZONE_COLS[min(2, int(x * 3))]
    return f"{r} {c}"


def teacher_path(
    sightings: Sequence[Sighting], duration_s: float, *, step_s: float = STEP_S, max_hold_s: float = MAX_HOLD_S
) -> tuple[PathPoint, ...]:
    """Position every ``step_s``: the sighting nearest in time within half a step, else the last one (held)."""
    if step_s <= 0 or duration_s < 0:
        raise ValueError("step_s must be positive and duration_s not negative")
    faces = sorted(s.t_s for s in sightings if not s.body)
    # a body position stands only where no face sighting falls within half a step of it
    pts = sorted((s for s in sightings if not s.body or not _near(faces, s.t_s, step_s / 2)), key=lambda s: s.t_s)
    out: list[PathPoint] = []
    j = 0
    last: Sighting | None = None
    n = int(math.floor(duration_s / step_s)) + 1
    for i in range(n):
        t = i * step_s
        while j < len(pts) and pts[j].t_s <= t + step_s / 2:
            last = pts[j]
            j += 1
        if last is not None and abs(last.t_s - t) <= step_s / 2:
            out.append(PathPoint(t, last.x, last.y, True, last.body))
        elif last is not None and t - last.t_s <= max_hold_s:
            out.append(PathPoint(t, last.x, last.y, False))
    return tuple(out)


def _near(times: Sequence[float], t: float, within: float) -> bool:
    i = bisect.bisect_left(times, t - within)
    return i < len(times) and times[i] <= t + within


def heat_map(path: Sequence[PathPoint], step_s: float = STEP_S, rows: int = 6, cols: int = 8) -> tuple[tuple[float, ...], ...]:
    grid = [[0.0] * cols for _ in range(rows)]
    for p in path:
        grid[min(rows - 1, int(p.y * rows))][min(cols - 1, int(p.x * cols))] += step_s
    return tuple(tuple(round(v, 3) for v in row) for row in grid)


def _usual_place(s: Sequence[Sighting]) -> tuple[float, float]:
    xs, ys = sorted(p.x for p in s), sorted(p.y for p in s)
    return xs[len(xs) // 2], ys[len(ys) // 2]


def room_use(
    teacher: Sequence[Sighting],
    pupils: Sequence[Sequence[Sighting]],
    duration_s: float,
    *,
    step_s: float = STEP_S,
    near: float = NEAR,
) -> RoomUse:
    path = teacher_path(teacher, duration_s, step_s=step_s)
    places = [_usual_place(p) for p in pupils if p]
    front = among = 0.0
    visited: set[int] = set()
    zones: dict[str, list[float]] = {}  # zone -> [seconds, visits, first]
    prev_zone = None
    for p in path:
        if not p.seen:
            prev_zone = None
            continue
        close = [i for i, (x, y) in enumerate(places) if math.hypot(p.x - x, p.y - y) <= near]
        visited.update(close)
        if close:
            among += step_s
        else:
            front += step_s
        z = zone_of(p.x, p.y)
        entry = zones.setdefault(z, [0.0, 0, p.t_s])
        entry[0] += step_s
        if z != prev_zone:
            entry[1] += 1
        prev_zone = z
    seen_s = sum(step_s for p in path if p.seen)
    face_s = sum(step_s for p in path if p.seen and not p.body)
    per_zone: dict[str, int] = {}
    for x, y in places:
        per_zone[zone_of(x, y)] = per_zone.get(zone_of(x, y), 0) + 1
    return RoomUse(
        path=path,
        heat=heat_map([p for p in path if p.seen], step_s),
        front_s=round(front, 3),
        among_s=round(among, 3),
        lost_s=round(max(0.0, duration_s - face_s), 3),
        zones=tuple(ZoneVisit(z, round(v[0], 3), int(v[1]), float(v[2])) for z, v in sorted(zones.items(), key=lambda kv: kv[1][2])),
        pupils_per_zone=tuple(sorted(per_zone.items())),
        pupils=len(places),
        pupils_visited=len(visited),
        body_s=round(seen_s - face_s, 3),
        unknown_s=round(max(0.0, duration_s - seen_s), 3),
    )


__all__ = [
    "NEAR",
    "PathPoint",
    "RoomUse",
    "Sighting",
    "ZoneVisit",
    "heat_map",
    "room_use",
    "teacher_path",
    "zone_of",
]
