"""The served-frames check: the face detector at its low threshold on EVERY frame of the rendition a browser gets.

The audit (``redact.AuditCheck``) samples one frame every few seconds while the rendition is encoded.  This is the
second, independent look: it decodes the served file itself (the encoded H.264, as a browser gets it) and runs
CenterFace at the detection threshold (``faces.DEFAULT_THRESHOLD``, or the policy's if lower) on every frame.  Each
detection is then explained, or it is a hit -- a possibly visible pupil face:

- **shown**: its centre lies in the box of a track allowed to show (the teacher's tracks, a consented pupil's),
  enlarged by ``SHOWN_TOLERANCE`` and looked up at the frame's time and half a frame either side;
- **hidden**: its centre lies in a rectangle the render hid (a face box of the hide schedule, a zone) AND the pixels
  under it are verified to be hidden: the mosaic of the rectangle, taken again from the served pixels with the
  render's own block grid, differs from them by at most ``MOSAIC_MAX_DIFF`` grey levels on average (or the pixels
  are the solid fill).  The schedule alone is not trusted: a rectangle that should have been hidden but shows a
  face is a hit.  Whole frames hidden by a fail-closed rule must be the fill;
- anything else is a hit, with its time, box and score.

Fail closed: a file that cannot be probed or decoded, decodes to fewer frames than expected, or a detector error
raises ``ServedCheckError`` -- never a pass.  Result: ``ServedCheckResult`` (frames checked, frames with a visible
face, the hits).  ``eval/eval_served_frames.py`` runs it on the sample lesson and the face clips.
"""

from __future__ import annotations

import os
import queue
import time
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from videocoach.av.ffmpeg import FFmpegError
from videocoach.av.video_io import FrameReader
from videocoach.core.model import MediaInfo, Progress, no_progress
from videocoach.privacy import faces
from videocoach.privacy.faces import FaceDetector, FaceDetectorError, load_detector
from videocoach.privacy.policy import ConsentPolicy
from videocoach.privacy.redact import FILL_BGR, hide_rect, zone_mask
from videocoach.privacy.tracking import FaceTracks, HideSchedule, enlarge

STAGE = "served check"
SHOWN_TOLERANCE = 1.2  # a shown face's box (already enlarged by the policy) x 1.2: the detector's box may differ
MOSAIC_MAX_DIFF = 6.0  # mean |served - its own mosaic| (grey levels) under a detection for "verified hidden"
FILL_MAX_DIFF = 6.0  # mean |served - the fill colour| for a frame or rectangle filled solid
MAX_HITS = 500  # hits kept with their boxes (all are counted)
IN_FLIGHT = 4  # frames decoded ahead of the detector, per worker


class ServedCheckError(RuntimeError):
    """The served rendition could not be checked: treat it as NOT passed."""


@dataclass(frozen=True)
class ServedHit:
    """A detection in a served frame that no shown face and no verified hidden area explains."""

    t_s: float
    frame_index: int
    box: tuple[float, float, float, float]
    score: float


@dataclass(frozen=True)
class ServedCheckResult:
    frames_checked: int
    frames_expected: int
    frames_with_visible_face: int
    hits: tuple[ServedHit, ...]  # the first MAX_HITS
    hit_count: int
    detections: int  # all detections at the threshold
    on_shown: int  # explained by a face allowed to show
    on_hidden: int  # explained by a hidden area whose pixels were verified hidden
    threshold: float
    check_s: float
    skipped_reason: str = ""

    @property
    def passed(self) -> bool:
        return not self.skipped_reason and self.frames_with_visible_face == 0

    @property
    def hit_times_s(self) -> tuple[float, ...]:
        return tuple(sorted({h.t_s for h in self.hits}))


def check_threshold(policy: ConsentPolicy) -> float:
    """The detector's low threshold: the detection pass's default, or the policy's when it asks for lower."""
    return min(faces.DEFAULT_THRESHOLD, policy.threshold)


def _mosaic_diff(image: np.ndarray, rect: tuple[int, int, int, int], region: tuple[int, int, int, int],
                 policy: ConsentPolicy) -> float:
    """Mean |pixels - the same rectangle hidden again with the render's grid| over ``region`` (inside ``rect``)."""
    x1, y1, x2, y2 = rect
    again = image[y1:y2, x1:x2].copy()
    hide_rect(again, (0, 0, x2 - x1, y2 - y1), policy)
    rx1, ry1, rx2, ry2 = region
    served = image[ry1:ry2, rx1:rx2].astype(np.int16)
    redo = again[ry1 - y1:ry2 - y1, rx1 - x1:rx2 - x1].astype(np.int16)
    return float(np.mean(np.abs(served - redo))) if served.size else 0.0


def _fill_diff(pixels: np.ndarray) -> float:
    return float(np.mean(np.abs(pixels.astype(np.int16) - np.asarray(FILL_BGR, np.int16)))) if pixels.size else 0.0


def verified_hidden(image: np.ndarray, det: Sequence[float], rects: Sequence[tuple[int, int, int, int]],
                    policy: ConsentPolicy) -> bool:
    """The detection's centre is in one of ``rects`` and the pixels it covers there are the render's hiding."""
    cx, cy = (det[0] + det[2]) / 2, (det[1] + det[3]) / 2
    limit = FILL_MAX_DIFF if policy.method == "fill" else MOSAIC_MAX_DIFF
    for rect in rects:
        x1, y1, x2, y2 = rect
        if not (x1 <= cx < x2 and y1 <= cy < y2):
            continue
        region = (max(x1, int(det[0])), max(y1, int(det[1])), min(x2, int(np.ceil(det[2]))), min(y2, int(np.ceil(det[3]))))
        if region[2] <= region[0] or region[3] <= region[1]:
            continue
        if policy.method == "fill":
            diff = _fill_diff(image[region[1]:region[3], region[0]:region[2]])
        else:
            diff = _mosaic_diff(image, rect, region, policy)
        if diff <= limit:
            return True
    return False


def _in_any(det: Sequence[float], boxes: Sequence[Sequence[float]]) -> bool:
    cx, cy = (det[0] + det[2]) / 2, (det[1] + det[3]) / 2
    return any(b[0] <= cx < b[2] and b[1] <= cy < b[3] for b in boxes)


def check_served(
    served_path: str | os.PathLike[str],
    tracks: FaceTracks,
    policy: ConsentPolicy,
    *,
    visible_track_ids: frozenset[int] = frozenset(),
    expected_frames: int | None = None,
    detectors: Sequence[FaceDetector] | None = None,
    workers: int = 1,
    progress: Progress = no_progress,
    on_hit: Callable[[np.ndarray, ServedHit], None] | None = None,
) -> ServedCheckResult:
    """Run the detector on every frame of the served rendition ``served_path`` and explain each detection.

    ``tracks`` and ``visible_track_ids`` are what the render used (``visible_track_ids``: the tracks left visible,
    the teacher's and consented pupils'); ``expected_frames``: the render's frame count when known (else from the
    probed duration).  ``on_hit(frame, hit)`` sees each hit's frame (e.g. to save a crop).  Raises
    ``ServedCheckError`` whenever the check cannot be completed.
    """
    from videocoach.av import media

    t0 = time.perf_counter()
    progress(STAGE, 0.0)
    thr = check_threshold(policy)
    if not policy.hide_faces:
        return ServedCheckResult(0, 0, 0, (), 0, 0, 0, 0, thr, time.perf_counter() - t0,
                                 skipped_reason="the policy hides no faces (all consented)")
    visible = frozenset(int(i) for i in visible_track_ids)
    name = Path(served_path).name
    try:
        info: MediaInfo = media.probe(served_path)
        if not info.has_video:
            raise ServedCheckError(f"{name}: no video stream")
        dets = list(detectors) if detectors else [load_detector(thr, precision="fp32", device=faces.detector_device())
                                                 for _ in range(max(1, workers))]
        if any(d.threshold > thr + 1e-9 or d.config.precision != "fp32" for d in dets):
            raise ServedCheckError("a detector given is less sensitive than the check asks for (fp32, threshold "
                                   f"{thr})")
        if (info.width, info.height) != (tracks.width, tracks.height):
            raise ServedCheckError(f"{name}: {info.width}x{info.height} does not match the tracks' "
                                   f"{tracks.width}x{tracks.height}")
        args = dict(box_scale=policy.box_scale, hold_s=policy.hold_s)
        hidden = HideSchedule(tracks, visible_track_ids=visible, **args)
        shown = HideSchedule(replace(tracks, tracks=tuple(t for t in tracks.tracks if t.id in visible)), **args)
        zmask = zone_mask(policy, tracks.width, tracks.height, teacher_marked=bool(visible & {t.id for t in tracks.tracks}))
        zone_rects = []
        if zmask is not None:  # the render mosaics a zone with the grid of the mask's bounding rectangle
            ys, xs = np.nonzero(zmask.any(axis=1))[0], np.nonzero(zmask.any(axis=0))[0]
            zone_rects = [(int(xs[0]), int(ys[0]), int(xs[-1]) + 1, int(ys[-1]) + 1)]
        idle: queue.SimpleQueue[FaceDetector] = queue.SimpleQueue()
        for d in dets:
            idle.put(d)

        def detect(image: np.ndarray) -> np.ndarray:
            det = idle.get()
            try:
                return det.detect(image)
            finally:
                idle.put(det)

        counts = dict(frames=0, visible=0, hits=0, detections=0, shown=0, hidden=0)
        hits: list[ServedHit] = []
        with FrameReader(served_path, info, fps=tracks.fps) as reader, \
                ThreadPoolExecutor(len(dets), "served-check") as pool:
            fps = reader.fps
            # from the probed length: the audio may run a frame or two past the picture
            expected = expected_frames if expected_frames is not None else max(1, round(info.duration_s * fps) - 2)
            half = 0.5 / fps
            pending: deque[tuple[object, Future]] = deque()

            def judge(frame, found: np.ndarray) -> None:
                t, image = frame.t_s, frame.image
                counts["frames"] += 1
                counts["detections"] += len(found)
                if not len(found):
                    return
                whole = hidden.whole_frame_at(t, frame.index)
                allowed = [enlarge(b, SHOWN_TOLERANCE, up=0.0)
                           for tt in (max(0.0, t - half), t, t + half) for b in shown.boxes_at(tt)]
                rects = hidden.boxes_at(t) + zone_rects
                frame_hit = False
                for d in found:
                    if _in_any(d, allowed):
                        counts["shown"] += 1
                    elif whole and _fill_diff(image) <= FILL_MAX_DIFF:
                        counts["hidden"] += 1
                    elif verified_hidden(image, d, rects, policy):
                        counts["hidden"] += 1
                    else:
                        hit = ServedHit(round(t, 3), frame.index, tuple(float(v) for v in d[:4]), float(d[4]))
                        counts["hits"] += 1
                        frame_hit = True
                        if len(hits) < MAX_HITS:
                            hits.append(hit)
                        if on_hit is not None:
                            on_hit(image, hit)
                counts["visible"] += frame_hit

            for frame in reader:
                pending.append((frame, pool.submit(detect, frame.image)))
                while pending and (len(pending) > IN_FLIGHT * len(dets) or pending[0][1].done()):
                    f, fut = pending.popleft()
                    judge(f, fut.result())
                    if counts["frames"] % 25 == 0:
                        progress(STAGE, min(0.99, counts["frames"] / expected))
            while pending:
                f, fut = pending.popleft()
                judge(f, fut.result())
        if counts["frames"] < expected:
            raise ServedCheckError(f"{name}: only {counts['frames']} of {expected} frames could be decoded "
                                   "(truncated or corrupt): not checked")
    except ServedCheckError:
        raise
    except (FFmpegError, FaceDetectorError, OSError, ValueError) as exc:
        raise ServedCheckError(f"the served rendition could not be checked (treat it as not passed): {exc}") from exc
    progress(STAGE, 1.0)
    return ServedCheckResult(
        frames_checked=counts["frames"], frames_expected=expected, frames_with_visible_face=counts["visible"],
        hits=tuple(hits), hit_count=counts["hits"], detections=counts["detections"], on_shown=counts["shown"],
        on_hidden=counts["hidden"], threshold=thr, check_s=time.perf_counter() - t0,
    )


__all__ = [
    "MOSAIC_MAX_DIFF",
    "SHOWN_TOLERANCE",
    "ServedCheckError",
    "ServedCheckResult",
    "ServedHit",
    "check_served",
    "check_threshold",
    "verified_hidden",
]
