"""Detection schedules: which pixels of a frame the face detector looks at on each detection pass.

A classroom camera does not move.  Where nothing changed since a region was last detected, the detector would see
the same pixels and find the same faces, so running it there again costs CPU and finds nothing new.  Two schedules:

- ``every-pass`` (the old one): every detection pass runs CenterFace on the whole frame;
- ``motion`` (the default): the whole frame every ``refresh_every`` passes (and on the first pass, after a failed
  pass and when most of the frame changed); in between, only the regions that changed since they were last
  detected are detected again, each cropped at full resolution with a margin around it.  The faces found before in
  regions that did not change are carried into the pass as they were.

Fail-closed rules of the ``motion`` schedule (``MotionGatedDetector``):
- change is measured against the picture AS LAST DETECTED in each place (not the previous pass), so slow change
  adds up until it is detected again;
- a face found before whose box touches a changed cell is detected again whole: its whole box, plus the margin, is
  in the crop; a carried face is never moved or shrunk, only kept or replaced by a fresh detection of its region;
- a region with motion where the fresh pass finds no face loses the old box at this pass, exactly as the
  every-pass detector would lose it; the tracker's hold rules (``tracking.py``) then hide it as for any lost face;
- a failed pass forgets everything: the next pass is a whole-frame one.

Both schedules take the pass's second look (``LookAgain``, opt-in): hiding a face changes what the detector
sees beside it (a pupil's clasped hands below a mosaic score 0.07-0.12 where the original scored 0.02), so each
pass's faces are hidden as the render hides them and the detector looks again in crops around them, below the
threshold; what it finds there is hidden too.  The served-frames check (``served_check.py``) judges the rendition
with exactly that hiding.

``eval/eval_faces.py --schedule motion`` measures the temporal cover on the clips against the every-frame
detector, and ``bench/bench_detect.py`` the CPU per media second.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Callable

import cv2
import numpy as np

from videocoach.privacy.faces import EMPTY, NMS_IOU, STRIDE, FaceDetector, FaceDetectorError, nms
from videocoach.privacy.tracking import clip_box, enlarge, join_boxes

SCHEDULES = ("every-pass", "motion")
SCHEDULE_ENV = "VIDEOCOACH_DETECT_SCHEDULE"  # "every-pass" restores the old schedule
LOOK_ENV = "VIDEOCOACH_LOOK_AGAIN"  # "on" / "below": the second look (LookAgain); off by default (look_from_env)
DEFAULT_SCHEDULE = "motion"


@dataclass(frozen=True)
class ScheduleConfig:
    name: str = DEFAULT_SCHEDULE
    refresh_every: int = 5  # a whole-frame pass every 5 passes (1 s at detect_every 5 and 25 fps)
    shrink: int = 4  # motion is measured on the grey frame shrunk 4x (area average: codec noise averages out)
    cell_px: int = 32  # changed pixels are gathered into cells of 32 x 32 frame pixels
    diff_level: int = 10  # a shrunk pixel whose grey level moved by more than this has changed (0-255)
    margin_px: int = 64  # a re-detected region reaches this far past its changed cells (context for the detector)
    max_changed_share: float = 0.5  # when more of the frame than this changed, the whole frame is detected

    def __post_init__(self) -> None:
        if self.name not in SCHEDULES:
            raise ValueError(f"schedule must be one of {SCHEDULES}, got {self.name!r}")
        if self.refresh_every < 1 or self.shrink < 1 or self.cell_px < self.shrink or self.cell_px % self.shrink:
            raise ValueError("need refresh_every >= 1 and cell_px a multiple of shrink")
        if not 0 < self.diff_level < 255 or self.margin_px < 0 or not 0.0 < self.max_changed_share <= 1.0:
            raise ValueError("diff_level, margin_px or max_changed_share out of range")


def schedule_from_env() -> ScheduleConfig:
    """The schedule named by ``VIDEOCOACH_DETECT_SCHEDULE`` (default ``motion``); an unknown name is an error."""
    name = os.environ.get(SCHEDULE_ENV, "").strip() or DEFAULT_SCHEDULE
    return ScheduleConfig(name=name)


class MotionGatedDetector:
    """A ``FaceDetector`` run on the changed regions only (see the module docstring).

    Stateful: ``detect`` must be called once per detection pass, in time order, from one thread at a time.
    ``detected_share`` is the share of frame pixels the detector looked at so far (1.0 for ``every-pass``)."""

    def __init__(self, detector: FaceDetector, config: ScheduleConfig = ScheduleConfig(),
                 look: "LookAgain | None" = None) -> None:
        self.detector = detector
        self.config = config
        self.look = look  # the second look at what a whole-frame pass hides (``LookAgain``)
        self.passes = 0
        self.full_passes = 0
        self._pixels_detected = 0
        self._pixels_total = 0
        self._reset()

    def _reset(self) -> None:
        self._ref: np.ndarray | None = None  # the shrunk grey picture as last detected, place by place
        self._prev = EMPTY.copy()
        self._since_full = math.inf

    @property
    def detected_share(self) -> float:
        return self._pixels_detected / self._pixels_total if self._pixels_total else 1.0

    def detect(self, frame_bgr: np.ndarray) -> np.ndarray:
        """Faces in this pass's frame, ``(N, 5)`` as ``FaceDetector.detect``; raises FaceDetectorError."""
        try:
            dets = self._detect(frame_bgr)
        except FaceDetectorError:
            self._reset()  # fail closed: nothing carried over a failed pass
            raise
        except (cv2.error, ValueError, IndexError) as exc:
            self._reset()
            raise FaceDetectorError(f"motion-gated detection failed: {exc}") from exc
        self._prev = dets
        self.passes += 1
        return dets.copy()

    def _detect(self, frame: np.ndarray) -> np.ndarray:
        cfg = self.config
        h, w = frame.shape[:2]
        self._pixels_total += h * w
        small = _shrink(frame, cfg.shrink)
        due = cfg.name == "every-pass" or self._since_full + 1 >= cfg.refresh_every
        if due or self._ref is None or self._ref.shape != small.shape:
            return self._full(frame, small)
        changed = _changed_cells(small, self._ref, cfg)
        if not changed.any():
            self._since_full += 1
            return self._prev.copy()  # nothing moved: the same pixels, the same faces
        if changed.mean() > cfg.max_changed_share:
            return self._full(frame, small)
        cell = cfg.cell_px
        # a face found before that touches a changed cell is detected again whole; the others are carried as they were
        carried = []
        for box in self._prev:
            cx1, cy1 = max(0, int(box[0]) // cell), max(0, int(box[1]) // cell)
            cx2 = min(changed.shape[1], int(math.ceil(box[2] / cell)))
            cy2 = min(changed.shape[0], int(math.ceil(box[3] / cell)))
            if changed[cy1:cy2, cx1:cx2].any():
                changed[cy1:cy2, cx1:cx2] = True
            else:
                carried.append(box)
        grow = int(math.ceil(cfg.margin_px / cell))
        mask = changed.astype(np.uint8)
        if grow:
            mask = cv2.dilate(mask, np.ones((2 * grow + 1, 2 * grow + 1), np.uint8))
        n, _labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
        regions = []
        for i in range(1, n):
            cx, cy, cw, ch = (int(v) for v in stats[i, :4])
            regions.append((cx * cell, cy * cell, min(w, (cx + cw) * cell), min(h, (cy + ch) * cell)))
        if sum((x2 - x1) * (y2 - y1) for x1, y1, x2, y2 in regions) > cfg.max_changed_share * h * w:
            return self._full(frame, small)  # cheaper (and simpler) to look at the whole frame
        found = []
        s = cfg.shrink
        for x1, y1, x2, y2 in regions:
            self._pixels_detected += (x2 - x1) * (y2 - y1)
            d = self.detector.detect(frame[y1:y2, x1:x2])
            if len(d):
                d = d.copy()
                d[:, [0, 2]] += x1
                d[:, [1, 3]] += y1
                found.append(d)
            self._ref[y1 // s : -(-y2 // s), x1 // s : -(-x2 // s)] = small[y1 // s : -(-y2 // s), x1 // s : -(-x2 // s)]
        self._since_full += 1
        fresh = nms(np.concatenate(found), NMS_IOU) if found else EMPTY.copy()
        dets = merge_carried(np.asarray(carried, dtype=np.float32).reshape(-1, 5), fresh)
        if self.look is not None:  # around the faces found fresh: their surroundings changed
            dets = self.look(self.detector, frame, dets, fresh=fresh)
        return dets

    def _full(self, frame: np.ndarray, small: np.ndarray) -> np.ndarray:
        self._pixels_detected += frame.shape[0] * frame.shape[1]
        dets = self.detector.detect(frame)
        if self.look is not None:
            dets = self.look(self.detector, frame, dets)
        self._ref = small
        self._since_full = 0
        self.full_passes += 1
        return dets


LOOK_MARGIN = 0.6  # the second look's threshold: 0.6 x the policy's (0.03 at 0.05): below what the check asks
LOOK_WINDOW = 4.0  # it looks at a window of 4 x a hidden box's size around it (as the served check's re-look)
LOOK_MIN_PX = 128
LOOK_ROUNDS = 2  # what the second look hides can make a pattern again beside it: looked at once more
# the "below" look: one round, in a window below each hidden box only (where the served check's hits lie, 1.4-1.6 box
# heights below its centre), 2 x the box wide, from its lower edge to 1.5 box heights below it
BELOW_WIDE, BELOW_DOWN = 2.0, 1.5
LOOK_SETTINGS = {"off": 0, "on": LOOK_ROUNDS, "below": 1}  # VIDEOCOACH_LOOK_AGAIN -> the look's rounds


@dataclass(frozen=True)
class LookAgain:
    """The second look of a detection pass: the pass's faces hidden as the render hides them, then the detector again.

    Hiding a face changes what the detector sees around it: below a mosaic (or a fill) a pupil's clasped hands or a
    neckline score 0.07-0.12 where the original frame scored 0.01-0.03 (eval/eval_served_frames.py --diagnose), so
    the served frame shows a "face" the first look never saw.  Fail closed: the frame of each pass is hidden with
    ``hide`` (the render's own mosaic or fill) in the boxes the render hides (``box_scale``, ``tracking.enlarge``),
    and the detector looks again at ``threshold`` (``LOOK_MARGIN`` x the policy's: a margin below the served check's
    own threshold, for the encoder's and the hold rules' differences).  Each detection within ``LOOK_WINDOW`` x a
    hidden box around it, not centred on a hidden box, joins the pass (it becomes a track, hidden by the hold rules);
    ``LOOK_ROUNDS`` times, since what it hides changes its own surroundings.  Elsewhere the hidden frame is the
    original, which the first look judged.

    Where it looks: only in the windows (``look_windows``) around the boxes hidden in the round -- in the first, the
    pass's faces (a partial pass of the motion schedule: its fresh faces only, nothing changed elsewhere); in the
    second, what the first added -- each grown to the detector's 32 px grid (``look_crops``), at the frame's own
    scale.  The whole frame (``whole_frame``, the look of stop 22) cost the lesson's detection pass 2.15 CPU-s per
    media s against 0.94 for the crops (0.39 without a look; ``bench/bench_look_again.py``, 0:20-0:40), and on 0:30-
    0:40 the crops hid every spot >= 0.05 the whole-frame look found (76 of its 515 additions were not under a box
    the crops hid, all < 0.05, at most 0.047).  Crops score a little higher than the whole frame (the detector sees
    less context), so they add more (the hidden share of the frame 12 % -> 21 %): fail closed, and paid in picture.
    A pass with no face costs nothing more.  ``below`` (``VIDEOCOACH_LOOK_AGAIN=below``, one round): the windows are
    below each hidden box only (``below_windows``), where the served check's hits lie; on the lesson's 0:30-0:40
    and 1:40-1:50 it leaves no served hit for 0.95 -> 1.06 / 1.12 CPU-s per media s (bench_look_again.py, tight1),
    but the whole lesson keeps 394 frames with a hit (eval_served_frames.py; the crop look 21): hits beside the
    hidden boxes, which it does not look at.  Not the default."""

    hide: Callable[[np.ndarray, tuple[int, int, int, int]], None]
    box_scale: float
    threshold: float
    rounds: int = LOOK_ROUNDS  # 0: no second look (the default: ``VIDEOCOACH_LOOK_AGAIN``, ``look_from_env``)
    whole_frame: bool = False  # True: each round runs the detector on the whole hidden frame (the old, costly look)
    below: bool = False  # True: the windows are below each hidden box only (``below_windows``), not around it

    def __call__(self, detector: FaceDetector, frame: np.ndarray, dets: np.ndarray,
                 fresh: np.ndarray | None = None) -> np.ndarray:
        """``dets``: the pass's faces, all hidden; ``fresh`` (a partial pass of the motion schedule): the ones
        detected fresh -- the first round then looks only around them (nothing changed elsewhere)."""
        h, w = frame.shape[:2]
        dets = np.asarray(dets, np.float32).reshape(-1, 5)
        if not self.rounds or not len(dets) or (fresh is not None and not len(fresh)):
            return dets
        around = dets if fresh is None else np.asarray(fresh, np.float32).reshape(-1, 5)
        hidden = frame.copy()
        rects: list[tuple[int, int, int, int]] = []
        out, look_at = [dets], dets
        windows = below_windows if self.below else look_windows
        for _ in range(self.rounds):
            new = [r for r in (clip_box(enlarge(d[:4], self.box_scale), w, h) for d in look_at) if r is not None]
            for r in new:
                self.hide(hidden, r)
            rects += new
            # what is found is kept only around what is hidden (elsewhere the hidden frame is the original, which the
            # first look judged); looked for in the windows around the boxes hidden this round (what changed), on
            # the detector's own grid, or in the whole frame when asked for
            zone = windows(rects, w, h)
            crops = None if self.whole_frame else look_crops(
                windows([enlarge(d[:4], self.box_scale) for d in around], w, h), w, h)
            extra = [d for d in _detect_in(detector, hidden, self.threshold, crops)
                     if not _centre_in_rects(d, rects) and _centre_in_rects(d, zone)]
            if not extra:
                break
            look_at = around = np.asarray(extra, np.float32).reshape(-1, 5)
            out.append(look_at)
        return np.concatenate(out).astype(np.float32)


def look_from_env() -> str:
    """``VIDEOCOACH_LOOK_AGAIN``: ``off`` (the default), ``on`` (around the hidden boxes) or ``below`` (below them
    only, one round; opt-in, measured in bench/bench_look_again.py as tight1); anything else is an error.  Its rounds:
    ``LOOK_SETTINGS``.  Measured (README, issue 19): in crops around the hidden boxes the look costs the one-pass
    redaction 0.99 -> 1.64 CPU-s per media s (the whole-frame look of stop 22: 2.88) and hides 21 % of the frame
    instead of 3 % (pupils' hands and bodies beside their hidden faces).  With it the served check (strict, without
    the original) finds nothing on the clips but one frame of walking.gif and on the lesson's 0:30-0:40 (42 frames
    without), but 4 frames of 1:40-1:50 (83 without) and 21 of the whole lesson's 3,647 (a door edge, 0.053-0.062,
    and tables below held mosaics): the mosaic of a body the look hid on an earlier pass, still held by the hold
    rules, makes the table below it face-like, and a pass's look hides only that pass's boxes.  Not at zero, so not
    the default."""
    value = os.environ.get(LOOK_ENV, "").strip().lower() or "off"
    if value not in LOOK_SETTINGS:
        raise ValueError(f"{LOOK_ENV} must be 'on', 'below' or 'off', got {value!r}")
    return value


def _detect_in(detector: FaceDetector, image: np.ndarray, threshold: float, crops) -> np.ndarray:
    if crops is None:
        return detector.detect(image, threshold)
    found = []
    for x1, y1, x2, y2 in crops:
        d = detector.detect(image[y1:y2, x1:x2], threshold)
        if len(d):
            d = d.copy()
            d[:, [0, 2]] += x1
            d[:, [1, 3]] += y1
            found.append(d)
    return nms(np.concatenate(found), NMS_IOU) if found else EMPTY.copy()


def look_windows(boxes, width: int, height: int, factor: float = LOOK_WINDOW,
                 min_px: int = LOOK_MIN_PX) -> list[tuple[int, int, int, int]]:
    """``factor`` x each box around its centre (at least ``min_px``), clipped; overlapping windows joined."""
    wins = []
    for b in boxes:
        cx, cy = (b[0] + b[2]) / 2, (b[1] + b[3]) / 2
        half = max(min_px, factor * max(b[2] - b[0], b[3] - b[1])) / 2
        r = clip_box((cx - half, cy - half, cx + half, cy + half), width, height)
        if r is not None:
            wins.append(r)
    return join_boxes(wins, _overlapping)


def below_windows(boxes, width: int, height: int, *, wide: float = BELOW_WIDE, top: float = 1.0,
                  down: float = BELOW_DOWN) -> list[tuple[int, int, int, int]]:
    """The window below each hidden box: ``wide`` x its width centred under it, from ``top`` x its height below its
    upper edge (1.0: its lower edge) to ``down`` x its height below its lower edge, clipped; overlapping windows
    joined."""
    wins = []
    for b in boxes:
        bw, bh, cx = b[2] - b[0], b[3] - b[1], (b[0] + b[2]) / 2
        r = clip_box((cx - wide * bw / 2, b[1] + top * bh, cx + wide * bw / 2, b[3] + down * bh), width, height)
        if r is not None:
            wins.append(r)
    return join_boxes(wins, _overlapping)


def _overlapping(a, b) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def look_crops(windows, width: int, height: int, grid: int = STRIDE) -> list[tuple[int, int, int, int]]:
    """Each window grown to the detector's grid (``faces.STRIDE``: its input is cut into 32 px cells), so a crop is
    seen in the same cells as the whole frame: on the lesson (0:30-0:40) crops off the grid missed 11 detections
    >= 0.05 of the whole-frame look, on the grid none (``bench/bench_look_again.py``)."""
    return [(x1 // grid * grid, y1 // grid * grid, min(width, -(-x2 // grid) * grid),
             min(height, -(-y2 // grid) * grid)) for x1, y1, x2, y2 in windows]


def _centre_in_rects(d, rects) -> bool:
    cx, cy = (d[0] + d[2]) / 2, (d[1] + d[3]) / 2
    return any(x1 <= cx < x2 and y1 <= cy < y2 for x1, y1, x2, y2 in rects)


def _shrink(frame: np.ndarray, factor: int) -> np.ndarray:
    grey = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
    if factor == 1:
        return grey.astype(np.int16)
    h, w = grey.shape
    return cv2.resize(grey, (-(-w // factor), -(-h // factor)), interpolation=cv2.INTER_AREA).astype(np.int16)


def _changed_cells(small: np.ndarray, ref: np.ndarray, cfg: ScheduleConfig) -> np.ndarray:
    """Cells (``cell_px`` frame pixels square) where any shrunk pixel moved by more than ``diff_level``."""
    moved = np.abs(small - ref) > cfg.diff_level
    k = cfg.cell_px // cfg.shrink
    sh, sw = moved.shape
    ph, pw = -(-sh // k) * k, -(-sw // k) * k
    padded = np.zeros((ph, pw), dtype=bool)
    padded[:sh, :sw] = moved
    return padded.reshape(ph // k, k, pw // k, k).any(axis=(1, 3))


def merge_carried(carried: np.ndarray, fresh: np.ndarray) -> np.ndarray:
    """Carried boxes plus fresh ones; a fresh box overlapping the carried one it overlaps most (IoU above ``NMS_IOU``,
    or either's centre inside the other: e.g. a part of a still face at a crop's edge) grows that carried box to
    enclose both instead of being added: the carried box never gets smaller, and the tracker does not see one face
    twice (which would end its track)."""
    if not len(carried) or not len(fresh):
        return np.concatenate([carried, fresh]).astype(np.float32)
    out = carried.copy()
    extra = []
    for f in fresh:
        iou = _iou(out[:, :4], f[:4])
        k = int(np.argmax(iou))
        if iou[k] > NMS_IOU or _centre_inside(f, out[k]) or _centre_inside(out[k], f):
            out[k, :2] = np.minimum(out[k, :2], f[:2])
            out[k, 2:4] = np.maximum(out[k, 2:4], f[2:4])
            out[k, 4] = max(out[k, 4], f[4])
        else:
            extra.append(f)
    return np.concatenate([out, np.asarray(extra, dtype=np.float32).reshape(-1, 5)])


def _centre_inside(a: np.ndarray, b: np.ndarray) -> bool:
    cx, cy = (a[0] + a[2]) / 2, (a[1] + a[3]) / 2
    return bool(b[0] <= cx <= b[2] and b[1] <= cy <= b[3])


def _iou(boxes: np.ndarray, box: np.ndarray) -> np.ndarray:
    ix = np.clip(np.minimum(boxes[:, 2], box[2]) - np.maximum(boxes[:, 0], box[0]), 0, None)
    iy = np.clip(np.minimum(boxes[:, 3], box[3]) - np.maximum(boxes[:, 1], box[1]), 0, None)
    inter = ix * iy
    area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1]) + (box[2] - box[0]) * (box[3] - box[1])
    return inter / np.maximum(area - inter, 1e-6)


__all__ = [
    "DEFAULT_SCHEDULE",
    "LOOK_MARGIN",
    "LOOK_SETTINGS",
    "LookAgain",
    "SCHEDULES",
    "below_windows",
    "look_from_env",
    "SCHEDULE_ENV",
    "MotionGatedDetector",
    "ScheduleConfig",
    "look_windows",
    "merge_carried",
    "schedule_from_env",
]
