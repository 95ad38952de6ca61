"""Face tracks: detections every few frames joined into tracks with stable ids, and the boxes to hide per frame.

Stage 1 (``redact.detect_faces``) runs the detector every ``detect_every`` frames and feeds each pass to a
``Tracker``; the result, ``FaceTracks``, is saved as JSON so that re-rendering after a reviewer marks the teacher's
track does not run detection again.  Stage 2 (``redact.render_redacted``) asks ``HideSchedule`` which boxes to hide
in each frame.

Hold rules (fail closed; also in consent_policies/README.md):
- every box is enlarged (``box_scale`` around its centre, plus ``HAIR_UP`` of its height upwards);
- between two detections of the same track the box hidden is the rectangle enclosing both enlarged boxes (the face
  is somewhere on the way from one to the other), however long the gap the tracker allowed (``max_lost_s``);
- before a track's first detection its first box is hidden for ``hold_s`` (covers the frames since the pass that
  missed it); after its last detection the last box stays hidden for ``hold_s`` -- or ``ABRUPT_HOLD_FACTOR`` x
  ``hold_s`` when the face vanished abruptly: away from the frame edge and without shrinking first;
- ``hold_s`` is never shorter than two detection intervals.

Association is deliberately conservative, because a pupil's face merged into the teacher's track would be shown:
a detection joins a track only when its centre is within ``MATCH_RADIUS`` x the track's face size and the sizes agree;
when a track has two candidate detections, or a detection is a candidate of two tracks, every track involved is ended
and new tracks start (the reviewer marks the new track again rather than a pupil inheriting the teacher's id).
"""

from __future__ import annotations

import bisect
import json
import math
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np

Box = tuple[float, float, float, float]  # x1, y1, x2, y2 in frame pixels

HAIR_UP = 0.15  # share of the face box height added above it (hair, forehead)
MATCH_RADIUS = 0.6  # centre distance / face size for consecutive passes ...
MATCH_RADIUS_MAX = 1.2  # ... growing with the passes missed, up to this
SIZE_RATIO_MAX = 2.0  # a face does not change size more than 2x between passes
ABRUPT_HOLD_FACTOR = 3.0  # a face that vanished abruptly stays hidden 3x longer
EDGE_MARGIN = 0.5  # "near the edge": within half a face size of the frame border
SHRINK_RATIO = 0.6  # "gradual shrink": last box area below 60 % of the track's recent median
TRACKS_FORMAT = 1


@dataclass(frozen=True)
class Detection:
    """One detected face at one detection pass."""

    t_s: float
    box: Box
    score: float

    def __post_init__(self) -> None:
        x1, y1, x2, y2 = self.box
        if not (math.isfinite(self.t_s) and self.t_s >= 0):
            raise ValueError(f"bad detection time {self.t_s!r}")
        if not (x2 > x1 and y2 > y1):
            raise ValueError(f"bad box {self.box!r}")


@dataclass(frozen=True)
class FaceTrack:
    """One face followed over time; ``id`` is stable for the lesson (the reviewer marks ids)."""

    id: int
    detections: tuple[Detection, ...]

    def __post_init__(self) -> None:
        if not self.detections:
            raise ValueError("a track needs at least one detection")
        times = [d.t_s for d in self.detections]
        if times != sorted(times):
            raise ValueError(f"track {self.id}: detections out of time order")

    @property
    def start_s(self) -> float:
        return self.detections[0].t_s

    @property
    def end_s(self) -> float:
        return self.detections[-1].t_s

    @property
    def times_s(self) -> tuple[float, ...]:
        return tuple(d.t_s for d in self.detections)


@dataclass(frozen=True)
class FaceTracks:
    """Everything stage 1 found in a video: what stage 2 renders from, saved as JSON by the caller."""

    tracks: tuple[FaceTrack, ...]
    width: int
    height: int
    fps: float
    n_frames: int
    detect_every: int
    threshold: float
    max_lost_s: float
    detector: str = "centerface"
    failed_s: tuple[float, ...] = ()  # detection passes that raised: frames around them are hidden whole

    def __post_init__(self) -> None:
        if self.width <= 0 or self.height <= 0 or self.fps <= 0 or self.n_frames < 0 or self.detect_every < 1:
            raise ValueError("FaceTracks needs a positive size, fps and detect_every")
        ids = [t.id for t in self.tracks]
        if len(ids) != len(set(ids)):
            raise ValueError("track ids must be unique")

    @property
    def duration_s(self) -> float:
        return self.n_frames / self.fps

    @property
    def detect_interval_s(self) -> float:
        return self.detect_every / self.fps

    def track(self, track_id: int) -> FaceTrack:
        for t in self.tracks:
            if t.id == track_id:
                return t
        raise KeyError(track_id)

    def to_json(self) -> str:
        return json.dumps(
            {
                "format": TRACKS_FORMAT,
                "width": self.width,
                "height": self.height,
                "fps": self.fps,
                "n_frames": self.n_frames,
                "detect_every": self.detect_every,
                "threshold": self.threshold,
                "max_lost_s": self.max_lost_s,
                "detector": self.detector,
                "failed_s": list(self.failed_s),
                "tracks": [
                    {"id": t.id, "detections": [[d.t_s, *d.box, d.score] for d in t.detections]}
                    for t in self.tracks
                ],
            },
            separators=(",", ":"),
        )

    @staticmethod
    def from_json(text: str) -> "FaceTracks":
        raw = json.loads(text)
        if raw.get("format") != TRACKS_FORMAT:
            raise ValueError(f"unsupported face tracks format {raw.get('format')!r}")
        tracks = tuple(
            FaceTrack(
                id=int(t["id"]),
                detections=tuple(
                    Detection(float(d[0]), (float(d[1]), float(d[2]), float(d[3]), float(d[4])), float(d[5]))
                    for d in t["detections"]
                ),
            )
            for t in raw["tracks"]
        )
        return FaceTracks(
            tracks=tracks,
            width=int(raw["width"]),
            height=int(raw["height"]),
            fps=float(raw["fps"]),
            n_frames=int(raw["n_frames"]),
            detect_every=int(raw["detect_every"]),
            threshold=float(raw["threshold"]),
            max_lost_s=float(raw["max_lost_s"]),
            detector=str(raw["detector"]),
            failed_s=tuple(float(x) for x in raw["failed_s"]),
        )


# ---- geometry ---------------------------------------------------------------------------------------------------


def enlarge(box: Sequence[float], scale: float, up: float = HAIR_UP) -> Box:
    """The box scaled by ``scale`` around its centre, plus ``up`` x its height added on top."""
    x1, y1, x2, y2 = (float(v) for v in box[:4])
    w, h = x2 - x1, y2 - y1
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
    hw, hh = w * scale / 2, h * scale / 2
    return (cx - hw, cy - hh - up * h, cx + hw, cy + hh)


def enclose(a: Box, b: Box) -> Box:
    return (min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3]))


def join_boxes(boxes: Sequence[Sequence[float]], touching: Callable[[Box, Box], bool]) -> list[Box]:
    """The boxes with every two that ``touching`` says touch replaced by the box enclosing both, until no two touch
    (each time the first such pair in order: the joined box takes the first one's place)."""
    out = [tuple(b) for b in boxes]
    while (pair := _first_touching(out, touching)) is not None:
        i, j = pair
        out[i] = enclose(out[i], out[j])
        del out[j]
    return out


def _first_touching(boxes: list[Box], touching: Callable[[Box, Box], bool]) -> tuple[int, int] | None:
    for i in range(len(boxes)):
        for j in range(i + 1, len(boxes)):
            if touching(boxes[i], boxes[j]):
                return i, j
    return None


def clip_box(box: Box, width: int, height: int) -> tuple[int, int, int, int] | None:
    """Integer pixel rectangle inside the frame (rounded outwards), or None when nothing of it is inside."""
    x1 = max(0, int(math.floor(box[0])))
    y1 = max(0, int(math.floor(box[1])))
    x2 = min(width, int(math.ceil(box[2])))
    y2 = min(height, int(math.ceil(box[3])))
    return (x1, y1, x2, y2) if x2 > x1 and y2 > y1 else None


def drop_covered(rects: list[tuple[int, int, int, int]]) -> list[tuple[int, int, int, int]]:
    """``rects`` less each one that lies inside another (of identical ones, all but the first), in their order: its
    pixels are hidden by the other anyway, so the union hidden is the same, and each hiding costs a mosaic.  Held
    tracks pile up boxes on one spot (with the second look on, 170 per frame on the lesson's 0:30-0:40, 57 of them
    not inside another)."""
    if len(rects) < 2:
        return rects
    unique = list(dict.fromkeys(rects))  # the first of identical ones (held boxes repeat exactly)
    if len(unique) < 2:
        return unique
    a = np.asarray(unique, dtype=np.int32)
    x1, y1, x2, y2 = a[:, 0], a[:, 1], a[:, 2], a[:, 3]
    inside = ((x1[:, None] >= x1[None, :]) & (y1[:, None] >= y1[None, :]) & (x2[:, None] <= x2[None, :])
              & (y2[:, None] <= y2[None, :]))
    np.fill_diagonal(inside, False)  # distinct rectangles: inside one another only one way
    return [r for r, d in zip(unique, inside.any(axis=1)) if not d]


def _size(box: Sequence[float]) -> float:
    return max(box[2] - box[0], box[3] - box[1])


def _centre(box: Sequence[float]) -> tuple[float, float]:
    return (box[0] + box[2]) / 2, (box[1] + box[3]) / 2


# ---- tracking ---------------------------------------------------------------------------------------------------


@dataclass
class _Open:
    id: int
    detections: list[Detection] = field(default_factory=list)

    @property
    def last(self) -> Detection:
        return self.detections[-1]


class Tracker:
    """Joins detection passes into tracks (online, one pass at a time, in time order)."""

    def __init__(self, detect_interval_s: float, max_lost_s: float, *, id_base: int = 0) -> None:
        if detect_interval_s <= 0 or max_lost_s < detect_interval_s:
            raise ValueError("need 0 < detect_interval_s <= max_lost_s")
        self.detect_interval_s = detect_interval_s
        self.max_lost_s = max_lost_s
        self._open: list[_Open] = []
        self._closed: list[_Open] = []
        self._next_id = id_base  # ids count up from here, in order of first appearance
        self._last_t = -math.inf

    def update(self, t_s: float, dets: np.ndarray) -> None:
        """Add one detection pass: ``dets`` is ``(N, 5)`` ``[x1, y1, x2, y2, score]``."""
        if t_s < self._last_t:
            raise ValueError("detection passes must come in time order")
        self._last_t = t_s
        # tracks lost for too long are closed first
        still = []
        for tr in self._open:
            (self._closed if t_s - tr.last.t_s > self.max_lost_s else still).append(tr)
        self._open = still

        new = [Detection(t_s, (float(d[0]), float(d[1]), float(d[2]), float(d[3])), float(d[4])) for d in dets]
        candidates: dict[int, list[tuple[float, int]]] = {}  # track index -> [(normalised distance, det index)]
        det_owners: dict[int, list[int]] = {}
        for ti, tr in enumerate(self._open):
            last = tr.last
            size = _size(last.box)
            passes = max(1.0, (t_s - last.t_s) / self.detect_interval_s)
            radius = min(MATCH_RADIUS_MAX, MATCH_RADIUS * passes) * size
            lx, ly = _centre(last.box)
            for di, d in enumerate(new):
                dx, dy = _centre(d.box)
                dist = math.hypot(dx - lx, dy - ly)
                ratio = _size(d.box) / size
                if dist <= radius and 1 / SIZE_RATIO_MAX <= ratio <= SIZE_RATIO_MAX:
                    candidates.setdefault(ti, []).append((dist / size, di))
                    det_owners.setdefault(di, []).append(ti)

        ambiguous_tracks = {ti for ti, c in candidates.items() if len(c) > 1}
        for di, owners in det_owners.items():
            if len(owners) > 1:
                ambiguous_tracks.update(owners)
        used: set[int] = set()
        keep: list[_Open] = []
        for ti, tr in enumerate(self._open):
            if ti in ambiguous_tracks:
                self._closed.append(tr)  # end it: no id carries across an ambiguous crossing
                continue
            if ti in candidates:
                _, di = candidates[ti][0]
                tr.detections.append(new[di])
                used.add(di)
            keep.append(tr)
        self._open = keep
        for di, d in enumerate(new):
            if di not in used:
                self._open.append(_Open(self._next_id, [d]))
                self._next_id += 1

    def tracks_so_far(
        self, closed_from: int = 0, *, since_s: float = -math.inf, keep_last: int = 6
    ) -> tuple[tuple[FaceTrack, ...], tuple[FaceTrack, ...], int]:
        """For rendering while detection goes on: the open tracks, the tracks closed after the first ``closed_from``
        closed ones, and how many are closed now.  Past detections never change track.  Each track keeps only its
        detections from ``since_s`` on, but always its last ``keep_last`` (``vanished_abruptly`` looks at those)."""

        def part(tr: _Open) -> FaceTrack:
            dets = tr.detections
            cut = bisect.bisect_left(dets, since_s, key=lambda d: d.t_s)
            return FaceTrack(tr.id, tuple(dets[max(0, min(cut, len(dets) - keep_last)) :]))

        return tuple(part(tr) for tr in self._open), tuple(part(tr) for tr in self._closed[closed_from:]), len(self._closed)

    def finish(self) -> tuple[FaceTrack, ...]:
        done = sorted(self._closed + self._open, key=lambda tr: tr.id)
        self._open, self._closed = [], []
        return tuple(FaceTrack(tr.id, tuple(tr.detections)) for tr in done)


# ---- what to hide, frame by frame -------------------------------------------------------------------------------


def vanished_abruptly(track: FaceTrack, width: int, height: int) -> bool:
    """The face was lost away from the frame edge and without shrinking first (fail closed: hold it longer)."""
    last = track.detections[-1].box
    margin = EDGE_MARGIN * _size(last)
    near_edge = last[0] <= margin or last[1] <= margin or last[2] >= width - margin or last[3] >= height - margin
    if near_edge:
        return False
    recent = [(d.box[2] - d.box[0]) * (d.box[3] - d.box[1]) for d in track.detections[-6:-1]]
    if recent:
        area = (last[2] - last[0]) * (last[3] - last[1])
        if area < SHRINK_RATIO * float(np.median(recent)):
            return False
    return True


@dataclass(frozen=True)
class _Prepared:
    track: FaceTrack
    times: tuple[float, ...]
    boxes: tuple[Box, ...]  # enlarged
    lead_s: float
    tail_s: float
    bridge_s: float

    @property
    def first_s(self) -> float:
        return self.times[0] - self.lead_s

    @property
    def last_s(self) -> float:
        return self.times[-1] + self.tail_s

    def box_at(self, t: float) -> list[Box]:
        i = bisect.bisect_right(self.times, t)  # times[i-1] <= t < times[i]
        prev = i - 1 if i > 0 else None
        nxt = i if i < len(self.times) else None
        if prev is not None and self.times[prev] == t:
            nxt = prev
        if prev is not None and nxt is not None:
            if self.times[nxt] - self.times[prev] <= self.bridge_s:
                return [enclose(self.boxes[prev], self.boxes[nxt])]
        out = []
        if prev is not None and t - self.times[prev] <= (self.tail_s if nxt is None else self.bridge_s):
            out.append(self.boxes[prev])
        if nxt is not None and self.times[nxt] - t <= (self.lead_s if prev is None else self.bridge_s):
            out.append(self.boxes[nxt])
        return out


class HideSchedule:
    """The face boxes to hide at any time, from the tracks not marked visible (a sweep over track time ranges)."""

    def __init__(
        self,
        tracks: FaceTracks,
        *,
        box_scale: float,
        hold_s: float,
        visible_track_ids: frozenset[int] = frozenset(),
    ) -> None:
        self.width, self.height = tracks.width, tracks.height
        hold = max(hold_s, 2 * tracks.detect_interval_s)
        bridge = max(tracks.max_lost_s, hold)
        prepared = []
        for tr in tracks.tracks:
            if tr.id in visible_track_ids:
                continue
            tail = hold * (ABRUPT_HOLD_FACTOR if vanished_abruptly(tr, self.width, self.height) else 1.0)
            prepared.append(
                _Prepared(
                    track=tr,
                    times=tr.times_s,
                    boxes=tuple(enlarge(d.box, box_scale) for d in tr.detections),
                    lead_s=hold,
                    tail_s=tail,
                    bridge_s=bridge,
                )
            )
        self._tracks = sorted(prepared, key=lambda p: p.first_s)
        self._fail = tuple(sorted(tracks.failed_s))
        self._fail_window_s = tracks.detect_interval_s
        self._n_frames = tracks.n_frames
        self._reset()

    def _reset(self) -> None:
        self._next = 0  # the first track not yet started
        self._active: list[_Prepared] = []
        self._last_t = -math.inf

    def boxes_at(self, t_s: float) -> list[tuple[int, int, int, int]]:
        """Integer pixel rectangles (clipped to the frame) to hide at time ``t_s``, none inside another
        (``drop_covered``).

        A sweep: calls in increasing time (as rendering does) cost only the tracks active then; going back restarts.
        """
        if t_s < self._last_t:
            self._reset()
        self._last_t = t_s
        while self._next < len(self._tracks) and self._tracks[self._next].first_s <= t_s:
            self._active.append(self._tracks[self._next])
            self._next += 1
        self._active = [p for p in self._active if p.last_s >= t_s]
        out = []
        # in track id order: overlapping boxes are hidden one after the other, and the one-decode pass (which trims
        # old detections, so its tracks start later) must hide them in the same order as a whole-lesson schedule
        for p in sorted(self._active, key=lambda p: p.track.id):
            for b in p.box_at(t_s):
                r = clip_box(b, self.width, self.height)
                if r is not None:
                    out.append(r)
        return drop_covered(out)

    def whole_frame_at(self, t_s: float, frame_index: int) -> bool:
        """Fail closed: a frame near a failed detection pass, or beyond what stage 1 saw, is hidden whole."""
        if frame_index >= self._n_frames:
            return True
        # frames strictly between the passes either side of a failed pass (1e-6: float frame times)
        i = bisect.bisect_right(self._fail, t_s - self._fail_window_s + 1e-6)
        return i < len(self._fail) and self._fail[i] < t_s + self._fail_window_s - 1e-6


__all__ = [
    "ABRUPT_HOLD_FACTOR",
    "Box",
    "Detection",
    "FaceTrack",
    "FaceTracks",
    "HAIR_UP",
    "HideSchedule",
    "Tracker",
    "clip_box",
    "drop_covered",
    "enclose",
    "enlarge",
    "vanished_abruptly",
]
