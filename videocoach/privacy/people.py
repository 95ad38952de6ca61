"""People, not face fragments: face tracks linked into people, the enrolled teacher found, a teacher suggested.

``TrackFaces`` computes a few face descriptors per track (dlib, ``identity.py``) plus one thumbnail per track inside
the detection pass (``onepass.redact_in_one_pass(on_detections=...)``: the frames are decoded there already);
``embed_tracks`` computes the same from saved tracks by reading the video again (lessons analysed before, tests).  ``link_people`` joins tracks into people: two groups join only when
the means of their faces' descriptors match (``identity.LINK_MAX_DISTANCE``) and never when any of their tracks overlap in time (one person is
not in two places at once); a track with no usable face joins the person whose track ended just before, close by
(space-time continuity).  Linking only groups the list the owner sees: it never shows anyone.

What is shown is decided track by track in ``teacher_tracks``: a track is visible only when it has usable face
descriptors whose mean lies within ``identity.SAME_PERSON_MAX_DISTANCE`` (a print of one view, a photo:
``identity.ONE_VIEW_MAX_DISTANCE``) of the enrolled teacher's mean (any doubt
keeps it hidden; a track that cannot be identified stays hidden).  With no enrolment, ``suggest_teacher`` names the likely teacher for the owner to confirm; nothing is shown
until they do.  With an enrolment that shows nobody, the person closest to it within the looser
``identity.PHOTO_SUGGEST_MAX_DISTANCE`` is suggested instead (``suggest_from_print``: a teacher's photo in another
light); again nothing is shown until the owner confirms.
"""

from __future__ import annotations

import base64
import json
import math
import os
from dataclasses import dataclass, field
from typing import Iterable, Sequence

import cv2
import numpy as np

from videocoach.core.model import MediaInfo, Progress, no_progress
from videocoach.privacy import identity
from videocoach.privacy.tracking import FaceTrack, FaceTracks

PER_TRACK = 4  # descriptors per track, spread over its usable detections (each costs ~80 CPU-ms: issue 19's cost;
# eval_identity --part people: 4 or more keep every target, 12 gave the same people and teacher, 3 lost the woman)
MIN_USABLE = 3  # a track with fewer usable detections gets no descriptor: never shown, and linked by continuity only
STREAM_CAP = 48  # candidates kept per track while it grows (tracks with more are thinned: _Thinning)
CROP_MARGIN = 1.0  # a candidate's crop reaches this many face sizes past its box (dlib's chip lies well inside)
EMBED_MIN_SCORE = 0.5  # detections the detector is less sure of are not identified (they stay hidden)
CONTINUITY_GAP_S = 1.5  # an unidentified track starting this soon after another ended, close by, continues it
CONTINUITY_RADIUS = 1.5  # ... within this many face sizes of where that one ended
MIN_LISTED_S = 2.0  # people on screen for less than this are counted as fragments, not listed (so are people
# whose face was never clear enough to identify: mostly the detector's low-score blips on hands, posters, clothes)
THUMB_PX = 96
PEOPLE_FORMAT = 1


@dataclass(frozen=True)
class Person:
    id: int  # the smallest track id in it
    track_ids: tuple[int, ...]
    on_screen_s: float
    first_s: float
    last_s: float
    identified: bool  # at least one usable face descriptor
    movement: float  # path length of the face centre over the frame diagonal, per minute on screen


@dataclass(frozen=True)
class PeopleResult:
    """What the people stage keeps: the people listed, the teacher's tracks (visible), the suggestion."""

    people: tuple[Person, ...]
    fragments: int  # groups on screen for less than MIN_LISTED_S or never identified (not listed; hidden)
    teacher_track_ids: tuple[int, ...]  # matched to the enrolment: rendered visible
    suggested_teacher: int | None  # a person id: nothing enrolled, or the print only loosely matches them
    enrolled: bool
    descriptors: dict[int, tuple[tuple[float, ...], ...]] = field(default_factory=dict)  # track id -> descriptors
    suggested_by: str | None = None  # "print" (loosely like the face print) or "presence" (no print: on screen most)

    def person(self, person_id: int) -> Person:
        for p in self.people:
            if p.id == person_id:
                return p
        raise KeyError(person_id)

    def person_descriptors(self, person_id: int) -> list[np.ndarray]:
        out = []
        for tid in self.person(person_id).track_ids:
            out.extend(np.asarray(d, np.float32) for d in self.descriptors.get(tid, ()))
        return out

    def to_json(self) -> str:
        return json.dumps({
            "format": PEOPLE_FORMAT,
            "people": [p.__dict__ | {"track_ids": list(p.track_ids)} for p in self.people],
            "fragments": self.fragments,
            "teacher_track_ids": list(self.teacher_track_ids),
            "suggested_teacher": self.suggested_teacher,
            "enrolled": self.enrolled,
            "descriptors": {str(k): [list(v) for v in vs] for k, vs in self.descriptors.items()},
            "suggested_by": self.suggested_by,
        }, separators=(",", ":"))

    @staticmethod
    def from_json(text: str) -> "PeopleResult":
        raw = json.loads(text)
        if raw.get("format") != PEOPLE_FORMAT:
            raise ValueError(f"unsupported people format {raw.get('format')!r}")
        people = tuple(Person(**(p | {"track_ids": tuple(int(t) for t in p["track_ids"])})) for p in raw["people"])
        return PeopleResult(
            people=people, fragments=int(raw["fragments"]),
            teacher_track_ids=tuple(int(t) for t in raw["teacher_track_ids"]),
            suggested_teacher=None if raw["suggested_teacher"] is None else int(raw["suggested_teacher"]),
            enrolled=bool(raw["enrolled"]),
            descriptors={int(k): tuple(tuple(float(x) for x in v) for v in vs) for k, vs in raw["descriptors"].items()},
            suggested_by=_suggested_by(raw),
        )


def _suggested_by(raw: dict) -> str | None:
    """Where a stored suggestion came from (results stored before this field: from presence, when not enrolled)."""
    if raw["suggested_teacher"] is None:
        return None
    by = raw.get("suggested_by", "presence" if not raw["enrolled"] else None)
    if by not in ("print", "presence"):
        raise ValueError(f"unknown teacher suggestion source {by!r}")
    return by


# ---- descriptors from the video ---------------------------------------------------------------------------------


def _pick(n: int, k: int) -> list[int]:
    if n <= k:
        return list(range(n))
    return sorted({round(i * (n - 1) / (k - 1)) for i in range(k)})


def _usable(d) -> bool:
    """A detection worth a descriptor: sure enough, and large enough to identify."""
    return d.score >= EMBED_MIN_SCORE and max(d.box[2] - d.box[0], d.box[3] - d.box[1]) >= identity.MIN_FACE_PX


class _Thinning:
    """The candidates of one track kept while it is still growing: every ``stride``-th usable detection, the stride
    doubling whenever more than ``cap`` would be kept (memory stays bounded however long the track).  At the end,
    ``per_track`` of the kept ones are picked evenly (``_pick``).  ``stream_pick`` gives the same indices from the
    final count alone, so the pass and ``embed_tracks`` choose exactly the same detections."""

    def __init__(self, cap: int) -> None:
        self.cap, self.stride, self.n = cap, 1, 0
        self.kept: list[tuple[int, object]] = []

    def add(self, item_fn) -> None:
        """Count one usable detection; ``item_fn()`` makes what is kept for it (called only when it is kept)."""
        i, self.n = self.n, self.n + 1
        if i % self.stride == 0:
            self.kept.append((i, item_fn()))
            if len(self.kept) > self.cap:
                self.stride *= 2
                self.kept = [(j, x) for j, x in self.kept if j % self.stride == 0]

    def picked(self, per_track: int) -> list[tuple[int, object]]:
        if self.n < MIN_USABLE:
            return []
        return [self.kept[i] for i in _pick(len(self.kept), per_track)]


def stream_pick(n: int, per_track: int = PER_TRACK, cap: int = STREAM_CAP) -> list[int]:
    """The usable detections of a track (of ``n``) that get a descriptor: ``_Thinning`` on the final count (none
    under ``MIN_USABLE``)."""
    if n < MIN_USABLE:
        return []
    stride = 1
    while -(-n // stride) > cap:
        stride *= 2
    kept = list(range(0, n, stride))
    return [kept[i] for i in _pick(len(kept), per_track)]


def embed_tracks(
    video_path: str | os.PathLike[str],
    info: MediaInfo,
    tracks: FaceTracks,
    embedder: identity.FaceEmbedder,
    progress: Progress = no_progress,
    *,
    per_track: int = PER_TRACK,
    cap: int = STREAM_CAP,
    frames: Iterable[tuple[int, np.ndarray]] | None = None,
) -> tuple[dict[int, list[np.ndarray]], dict[int, bytes]]:
    """Face descriptors per track (up to ``per_track``, spread over its detections scoring ``EMBED_MIN_SCORE`` or
    more and large enough to identify, none for a track with fewer than ``MIN_USABLE`` such: ``stream_pick``) and a
    PNG thumbnail per track (its largest detection).

    The video is read again at its own rate: a detection at time t is described on frame ``round(t * fps)``, the
    very frame the detector saw (``frames`` may give ``(frame index, BGR image)`` instead, for tests and still
    images).  (Read at the detection rate, ffmpeg's fps filter gave frames two frames off the detections.)
    """
    from videocoach.av.video_io import FrameReader

    rate = tracks.fps
    wanted: dict[int, list[tuple[int, tuple[float, float, float, float]]]] = {}
    thumb_at: dict[int, tuple[int, tuple[float, float, float, float]]] = {}
    for tr in tracks.tracks:
        usable = [d for d in tr.detections if _usable(d)]
        for i in stream_pick(len(usable), per_track, cap):
            d = usable[i]
            wanted.setdefault(round(d.t_s * rate), []).append((tr.id, d.box))
        big = max(tr.detections, key=lambda d: (d.box[2] - d.box[0]) * (d.box[3] - d.box[1]))
        thumb_at[tr.id] = (round(big.t_s * rate), big.box)
    thumbs_wanted: dict[int, list[tuple[int, tuple[float, float, float, float]]]] = {}
    for tid, (k, box) in thumb_at.items():
        thumbs_wanted.setdefault(k, []).append((tid, box))
    last_needed = max([*wanted, *thumbs_wanted], default=-1)
    descs: dict[int, list[np.ndarray]] = {}
    thumbs: dict[int, bytes] = {}
    progress("people", 0.0)

    def handle(k: int, image: np.ndarray) -> None:
        for tid, box in wanted.get(k, ()):
            v = embedder.embed(image, box)
            if v is not None:
                descs.setdefault(tid, []).append(v)
        for tid, box in thumbs_wanted.get(k, ()):
            thumbs[tid] = thumbnail(image, box)

    if frames is not None:
        for k, image in frames:
            handle(k, image)
    else:
        with FrameReader(video_path, info, fps=rate) as reader:
            for frame in reader:
                handle(frame.index, frame.image)
                if frame.index % 100 == 0:
                    progress("people", min(0.99, frame.index / max(1, last_needed)))
                if frame.index >= last_needed:
                    break
    progress("people", 1.0)
    return descs, thumbs


def thumbnail(image: np.ndarray, box: Sequence[float]) -> bytes:
    h, w = image.shape[:2]
    x1, y1, x2, y2 = (float(v) for v in box[:4])
    side = max(x2 - x1, y2 - y1) * 1.3
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
    a, b = max(0, int(cx - side / 2)), max(0, int(cy - side / 2))
    c, d = min(w, int(cx + side / 2) + 1), min(h, int(cy + side / 2) + 1)
    crop = image[b:d, a:c]
    if crop.size == 0:
        return b""
    crop = cv2.resize(crop, (THUMB_PX, max(1, round(THUMB_PX * crop.shape[0] / crop.shape[1]))))
    ok, png = cv2.imencode(".png", crop)
    return png.tobytes() if ok else b""


class _Track:
    """What ``TrackFaces`` holds for a track still growing."""

    __slots__ = ("thin", "last_t", "area", "thumb")

    def __init__(self, cap: int, t_s: float) -> None:
        self.thin, self.last_t, self.area, self.thumb = _Thinning(cap), t_s, -1.0, b""


def _crop(image: np.ndarray, box: Sequence[float]) -> tuple[np.ndarray, tuple[float, float, float, float]]:
    """The part of ``image`` that ``identity.FaceEmbedder.embed`` reads for ``box`` (with a wide margin) and the box
    in its coordinates.  The offsets are even: ``round`` rounds halves to even, so the face rectangle dlib gets from
    the shifted box is exactly the frame's, shifted -- the descriptor is the one the whole frame gives."""
    h, w = image.shape[:2]
    x1, y1, x2, y2 = (float(v) for v in box[:4])
    m = CROP_MARGIN * max(x2 - x1, y2 - y1)
    a, b = max(0, math.floor(x1 - m)), max(0, math.floor(y1 - m))
    a, b = a - a % 2, b - b % 2
    c, d = min(w, math.ceil(x2 + m) + 1), min(h, math.ceil(y2 + m) + 1)
    return image[b:d, a:c].copy(), (x1 - a, y1 - b, x2 - a, y2 - b)


class TrackFaces:
    """Face descriptors and thumbnails of the tracks, gathered inside the detection pass (no decode of its own).

    Call it with each detection pass: its time, its frame (as decoded, before anything is hidden) and the pass's
    detections with the track each joined.  Per track it keeps the crops of the candidates ``embed_tracks`` would
    pick (``_Thinning``: bounded) and the thumbnail of its largest face so far; a track not seen for longer than the
    tracker's ``max_lost_s`` is over, and its descriptors are computed then (its crops freed).  ``result(tracks)``
    after the pass gives what ``embed_tracks`` gives for those tracks -- and refuses (``ValueError``) when the
    tracks are not the ones it was shown.
    """

    def __init__(self, embedder: identity.FaceEmbedder | None, max_lost_s: float, *, per_track: int = PER_TRACK,
                 cap: int = STREAM_CAP, process=None) -> None:
        if (embedder is None) == (process is None):
            raise ValueError("give TrackFaces an embedder or a descriptor process, one of the two")
        self.embedder, self.per_track, self.cap = embedder, per_track, cap
        self.process = process  # ``embed_process.EmbedProcess``: descriptors computed beside the pass
        self._pending: dict[int, object] = {}  # track over -> the future of its descriptors
        self.over_after_s = 2 * max_lost_s + 1.0  # a margin: the tracker has closed such a track for sure
        self._open: dict[int, _Track] = {}
        self._usable: dict[int, int] = {}  # track over -> its usable detections (checked in result)
        self.descs: dict[int, list[np.ndarray]] = {}
        self.thumbs: dict[int, bytes] = {}

    def __call__(self, t_s: float, image: np.ndarray, detections: Sequence[tuple[int, object]]) -> None:
        for tid, d in detections:
            if tid in self._usable:
                raise ValueError(f"face track {tid} went on after it was taken as over")
            st = self._open.get(tid)
            if st is None:
                st = self._open[tid] = _Track(self.cap, t_s)
            st.last_t = t_s
            area = (d.box[2] - d.box[0]) * (d.box[3] - d.box[1])
            if area > st.area:  # the first of the largest, as embed_tracks' max()
                st.area, st.thumb = area, thumbnail(image, d.box)
            if _usable(d):
                st.thin.add(lambda box=d.box: _crop(image, box))
        for tid in [tid for tid, st in self._open.items() if t_s - st.last_t > self.over_after_s]:
            self._close(tid)

    def _close(self, tid: int) -> None:
        st = self._open.pop(tid)
        crops = [crop_box for _i, crop_box in st.thin.picked(self.per_track)]
        if self.process is not None:
            if crops:
                self._pending[tid] = self.process.submit(crops)
        else:
            self._keep(tid, [self.embedder.embed(crop, box) for crop, box in crops])
        self.thumbs[tid] = st.thumb
        self._usable[tid] = st.thin.n

    def _keep(self, tid: int, vectors: Sequence[np.ndarray | None]) -> None:
        for v in vectors:
            if v is not None:
                self.descs.setdefault(tid, []).append(v)

    def result(self, tracks: FaceTracks) -> tuple[dict[int, list[np.ndarray]], dict[int, bytes]]:
        for tid in list(self._open):
            self._close(tid)
        for tid in sorted(self._pending):  # in track order, whatever order the tracks ended in
            self._keep(tid, self.process.result(self._pending.pop(tid)))
        for tr in tracks.tracks:
            if self._usable.get(tr.id) != sum(1 for d in tr.detections if _usable(d)):
                raise ValueError(f"face track {tr.id} is not the one the detection pass saw")
        ids = {tr.id for tr in tracks.tracks}
        return ({k: v for k, v in self.descs.items() if k in ids}, {k: v for k, v in self.thumbs.items() if k in ids})


def track_faces_to_json(descs: dict[int, list[np.ndarray]], thumbs: dict[int, bytes]) -> bytes:
    """The descriptors and thumbnails of every track, for the people stage (sealed in the vault: faces)."""
    return json.dumps({
        "format": PEOPLE_FORMAT,
        "descriptors": {str(k): [[float(x) for x in v] for v in vs] for k, vs in descs.items()},
        "thumbs": {str(k): base64.b64encode(v).decode("ascii") for k, v in thumbs.items()},
    }, separators=(",", ":")).encode()


def track_faces_from_json(data: bytes) -> tuple[dict[int, list[np.ndarray]], dict[int, bytes]]:
    raw = json.loads(data)
    if raw.get("format") != PEOPLE_FORMAT:
        raise ValueError(f"unsupported track faces format {raw.get('format')!r}")
    descs = {int(k): [np.asarray(v, np.float32) for v in vs] for k, vs in raw["descriptors"].items()}
    return descs, {int(k): base64.b64decode(v) for k, v in raw["thumbs"].items()}


# ---- linking ----------------------------------------------------------------------------------------------------


def _on_screen_s(tr: FaceTrack, interval_s: float) -> float:
    return (tr.end_s - tr.start_s) + interval_s


def _centre(box) -> tuple[float, float]:
    return (box[0] + box[2]) / 2, (box[1] + box[3]) / 2


def link_people(
    tracks: FaceTracks,
    descs: dict[int, list[np.ndarray]],
    *,
    link_max: float = identity.LINK_MAX_DISTANCE,
) -> tuple[list[list[FaceTrack]], list[bool]]:
    """Groups of tracks, one per person (and whether each has a usable descriptor).

    Tracks are taken in order of their start, so a group overlaps a new track exactly when its latest end is at or
    after the track's start; each group keeps that end, its latest-ending track and its centroid, and a track
    without a descriptor looks only at the groups that ended within the continuity gap before it -- linear in the
    number of tracks (a 50-minute lesson has tens of thousands), with the same groups as comparing every pair."""
    ordered = sorted(tracks.tracks, key=lambda t: (t.start_s, t.id))
    groups: list[list[FaceTrack]] = []
    gdesc: list[list[np.ndarray]] = []
    ends: list[float] = []  # per group: its latest end
    lasts: list[FaceTrack] = []  # per group: its first track with that end (what max(group, key=end) gives)
    centres: dict[int, np.ndarray] = {}  # per group with descriptors: their centroid, dropped when they change
    recent: dict[int, None] = {}  # groups that may still end within the continuity gap before a later track
    with_desc: list[int] = []  # groups with descriptors, in order
    window = CONTINUITY_GAP_S + tracks.detect_interval_s
    for tr in ordered:
        mine = descs.get(tr.id, [])
        best, best_d = None, math.inf
        if mine:
            here = centroid(mine)
            for gi in with_desc:
                if ends[gi] >= tr.start_s:  # overlaps in time
                    continue
                if gi not in centres:
                    centres[gi] = centroid(gdesc[gi])
                dist = identity.distance(here, centres[gi])
                if dist <= link_max and dist < best_d:
                    best, best_d = gi, dist
        else:
            fx, fy = _centre(tr.detections[0].box)
            size = max(tr.detections[0].box[2] - tr.detections[0].box[0], 1.0)
            for gi in [g for g in recent if tr.start_s - ends[g] > window]:
                del recent[gi]  # ended too long ago for this track, so for every later one
            for gi in sorted(recent):
                gap = tr.start_s - ends[gi]
                if not 0 < gap <= window:
                    continue
                lx, ly = _centre(lasts[gi].detections[-1].box)
                dist = math.hypot(fx - lx, fy - ly) / size
                if dist <= CONTINUITY_RADIUS and dist < best_d:
                    best, best_d = gi, dist
        if best is None:
            best = len(groups)
            groups.append([tr])
            gdesc.append(list(mine))
            ends.append(tr.end_s)
            lasts.append(tr)
            if mine:
                with_desc.append(best)
        else:
            groups[best].append(tr)
            if mine:
                if not gdesc[best]:
                    with_desc.append(best)
                    with_desc.sort()
                gdesc[best].extend(mine)
                centres.pop(best, None)
            if tr.end_s > ends[best]:
                ends[best], lasts[best] = tr.end_s, tr
        recent[best] = None
    return groups, [bool(d) for d in gdesc]


def _movement(group: Sequence[FaceTrack], diag: float, on_s: float) -> float:
    pts = sorted(((d.t_s, *_centre(d.box)) for t in group for d in t.detections))
    path = sum(math.hypot(b[1] - a[1], b[2] - a[2]) for a, b in zip(pts, pts[1:]))
    return (path / diag) / max(on_s / 60.0, 1e-6)


# ---- the teacher ------------------------------------------------------------------------------------------------


def centroid(vectors: Sequence[np.ndarray]) -> np.ndarray:
    return np.mean(np.asarray(vectors, np.float32), axis=0)


def teacher_tracks(
    descs: dict[int, list[np.ndarray]],
    enrolled: Sequence[np.ndarray],
    *,
    max_distance: float = identity.SAME_PERSON_MAX_DISTANCE,
    spans: dict[int, tuple[float, float]] | None = None,
) -> tuple[int, ...]:
    """Tracks that are the enrolled teacher with very high confidence; sorted ids.

    The mean of the track's descriptors lies within ``max_distance`` of the mean of the enrolled ones (averaging
    several views cancels much of the pose and light noise of a single one), and the median of its descriptors'
    own distances is within ``identity.LINK_MAX_DISTANCE`` (a track mixing in someone else's face is doubted).
    ``spans`` (track id -> first and last time): the teacher is in one place at a time, so of two matching tracks
    that overlap in time only the closer match is shown -- the other is someone else, and stays hidden.
    """
    if len(enrolled) == 0:
        return ()
    centre = centroid(enrolled)
    out = []
    for tid, vecs in descs.items():
        if not vecs:
            continue
        each = [identity.min_distance([v], enrolled) for v in vecs]
        dist = identity.distance(centroid(vecs), centre)
        if dist <= max_distance and float(np.median(each)) <= identity.LINK_MAX_DISTANCE:
            out.append((dist, int(tid)))
    shown: list[int] = []
    for _dist, tid in sorted(out):  # closest match first
        if spans is not None and any(spans[tid][0] <= spans[o][1] and spans[o][0] <= spans[tid][1] for o in shown):
            continue
        shown.append(tid)
    return tuple(sorted(shown))


def _speech_overlap(group: Sequence[FaceTrack], speech: Sequence[tuple[float, float]], interval: float) -> float:
    on = sum(_on_screen_s(t, interval) for t in group)
    if on <= 0:
        return 0.0
    both = 0.0
    for t in group:
        a, b = t.start_s, t.end_s + interval
        for s, e in speech:
            both += max(0.0, min(b, e) - max(a, s))
    return both / on


def suggest_teacher(
    people: Sequence[Person], groups: dict[int, Sequence[FaceTrack]], teacher_speech: Sequence[tuple[float, float]],
    interval_s: float,
) -> int | None:
    """The likely teacher for the owner to confirm: on screen longest, weighted up for moving about and for being on
    screen while the teacher speaks.  Only identified people are candidates; None when there is none."""
    best, best_score = None, 0.0
    for p in people:
        if not p.identified:
            continue
        score = p.on_screen_s * (1.0 + min(1.0, p.movement)) * (1.0 + _speech_overlap(groups[p.id], teacher_speech, interval_s))
        if score > best_score:
            best, best_score = p.id, score
    return best


def suggest_from_print(
    people: Sequence[Person], descs: dict[int, list[np.ndarray]], enrolled: Sequence[np.ndarray],
    *, loose_max: float = identity.PHOTO_SUGGEST_MAX_DISTANCE,
) -> int | None:
    """The person whose face (the mean of all their descriptors) is closest to the enrolled print, when that is
    within ``loose_max``: a loose match, to be confirmed by the owner -- never shown by itself.  None otherwise."""
    if len(enrolled) == 0:
        return None
    centre = centroid(enrolled)
    best, best_d = None, math.inf
    for p in people:
        vecs = [v for tid in p.track_ids for v in descs.get(tid, ())]
        if not vecs:
            continue
        dist = identity.distance(centroid(vecs), centre)
        if dist <= loose_max and dist < best_d:
            best, best_d = p.id, dist
    return best


def confirmed_print(before: Sequence[np.ndarray], mine: Sequence[np.ndarray], *,
                    loose_max: float = identity.PHOTO_SUGGEST_MAX_DISTANCE) -> list[np.ndarray]:
    """The face print after the owner says "this person is me" (``mine``: that person's descriptors).

    A person within ``loose_max`` of the print kept ``before`` (whom a photo print suggested) adds their own views to
    it: later lessons, in the light of the lessons, then match closely without asking.  Anyone else replaces it (the
    owner says the print was not them); averaging two different faces would make a print close to both.
    """
    if not len(mine):
        return []
    if len(before) and identity.distance(centroid(mine), centroid(before)) <= loose_max:
        return [*mine, *before]
    return list(mine)


def find_people(
    tracks: FaceTracks,
    descs: dict[int, list[np.ndarray]],
    enrolled: Sequence[np.ndarray] = (),
    teacher_speech: Sequence[tuple[float, float]] = (),
) -> PeopleResult:
    groups, identified = link_people(tracks, descs)
    interval = tracks.detect_interval_s
    diag = math.hypot(tracks.width, tracks.height)
    people, by_id, fragments = [], {}, 0
    for g, ok in zip(groups, identified):
        on_s = sum(_on_screen_s(t, interval) for t in g)
        if on_s < MIN_LISTED_S or not ok:
            fragments += 1  # a glimpse, or never clear enough to identify: counted, hidden, not listed
            continue
        p = Person(
            id=min(t.id for t in g), track_ids=tuple(sorted(t.id for t in g)), on_screen_s=round(on_s, 3),
            first_s=min(t.start_s for t in g), last_s=max(t.end_s for t in g), identified=ok,
            movement=round(_movement(g, diag, on_s), 4),
        )
        people.append(p)
        by_id[p.id] = g
    people.sort(key=lambda p: -p.on_screen_s)
    shown = teacher_tracks(descs, enrolled, max_distance=identity.show_max_distance(enrolled),
                           spans={t.id: (t.start_s, t.end_s) for t in tracks.tracks})
    if not len(enrolled):
        suggestion, by = suggest_teacher(people, by_id, teacher_speech, interval), "presence"
    elif not shown:  # enrolled, nobody close enough to show: perhaps someone close enough to ask about
        suggestion, by = suggest_from_print(people, descs, enrolled), "print"
    else:
        suggestion = None
    return PeopleResult(
        people=tuple(people), fragments=fragments, teacher_track_ids=shown, suggested_teacher=suggestion,
        enrolled=bool(len(enrolled)),
        descriptors={int(k): tuple(tuple(round(float(x), 6) for x in v) for v in vs) for k, vs in descs.items() if vs},
        suggested_by=None if suggestion is None else by,
    )


def thumbnails_to_json(thumbs: dict[int, bytes]) -> bytes:
    return json.dumps({str(k): base64.b64encode(v).decode("ascii") for k, v in thumbs.items() if v}).encode()


def thumbnails_from_json(data: bytes) -> dict[int, bytes]:
    return {int(k): base64.b64decode(v) for k, v in json.loads(data).items()}


__all__ = [
    "MIN_LISTED_S",
    "MIN_USABLE",
    "PER_TRACK",
    "PeopleResult",
    "Person",
    "TrackFaces",
    "confirmed_print",
    "embed_tracks",
    "find_people",
    "link_people",
    "suggest_from_print",
    "suggest_teacher",
    "stream_pick",
    "teacher_tracks",
    "thumbnail",
    "track_faces_from_json",
    "track_faces_to_json",
    "thumbnails_from_json",
    "thumbnails_to_json",
]
