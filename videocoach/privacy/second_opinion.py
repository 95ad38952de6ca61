"""The audit's second opinion: is a flagged region really a face?  (Fewer false alarms, recall unchanged.)

The audit's detector runs at a sensitive setting and flags hands, posters and patterned clothes now and then; each
flag blocks the lesson until the owner clears it.  ``SecondOpinion.looks_like_face`` keeps a flag unless it is
*clearly* not a face:

- a flag scoring ``KEEP_SCORE`` or more with the audit detector is always kept (a confident face is never doubted);
- otherwise the region is looked at again, close up: a crop three times the flagged box, enlarged so the box is about
  ``CLOSE_UP_PX`` high.  The flag is kept when CenterFace finds a face there scoring ``CLOSE_UP_SCORE`` or more, or
  dlib's HOG face detector (no weights file: built into dlib) finds one, overlapping the flagged box;
- only a flag that neither close look takes for a face is dropped.  Any error keeps the flag (fail closed).

The served-frames check (``privacy.served_check``) runs the detector at 0.05 over every served frame; its weak hits
need a test that keeps (nearly) every real face the 0.05 detector finds.  ``served_face_like`` is that test: a hit is
face-like unless it is *surely* not a face -- it scores under ``KEEP_SCORE``, AND CenterFace finds nothing scoring
``STRICT_SCORE`` or more overlapping it close up at any of ``STRICT_SIZES`` (the box scaled to 48, 96 and 160 px),
AND dlib's HOG detector finds nothing scoring ``STRICT_HOG`` or more there.  Measured by ``eval/eval_strict_face.py``
(the figures are in its docstring); the audit does not use it (its recall is unchanged).

``eval/eval_audit.py`` measures both sides: flags dropped on renderings with every face hidden (false alarms) and
planted visible faces still flagged (recall).
"""

from __future__ import annotations

import math
from typing import Sequence

import cv2
import numpy as np

from videocoach.privacy.faces import FaceDetector, FaceDetectorError, load_detector

KEEP_SCORE = 0.33  # eval/eval_audit.py: every planted face the audit flagged scored 0.33 or more (96 of 100 flagged)
CLOSE_UP_PX = 96
CLOSE_UP_SCORE = 0.2  # the one false alarm on the sample lesson (clasped hands, 0.31) scores 0.14 close up
CROP_FACTOR = 3.0
STRICT_SIZES = (48, 96, 160)  # the hit's box scaled to these heights for the close looks of ``served_face_like``
STRICT_SCORE = 0.05  # eval/eval_strict_face.py: 0.08 would drop 1.4 % of the planted faces the 0.05 detector finds
STRICT_HOG = -0.6  # dlib's HOG score (with its threshold lowered), at the 96 px close look
STRICT_OVERLAP = 0.3  # IoU of a close-up detection with the hit's box (HOG: 0.2, its boxes are square and tighter)


def _overlaps(a: Sequence[float], b: Sequence[float]) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def _iou(a: Sequence[float], b: Sequence[float]) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0])) * max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - ix
    return ix / union if union > 0 else 0.0


def _surroundings(image: np.ndarray, det: Sequence[float]):
    """(the crop around a detection, ``CROP_FACTOR`` times its longer side; the detection's box in the crop; that
    longer side), or None when the box or the crop is empty (the callers then keep the detection: fail closed)."""
    x1, y1, x2, y2 = (float(v) for v in det[:4])
    bw, bh = x2 - x1, y2 - y1
    if not (bw > 0 and bh > 0):
        return None
    h, w = image.shape[:2]
    cx, cy, side = (x1 + x2) / 2, (y1 + y2) / 2, max(bw, bh) * CROP_FACTOR
    ox, oy = max(0, int(cx - side / 2)), max(0, int(cy - side / 2))
    crop = image[oy : min(h, int(math.ceil(cy + side / 2))), ox : min(w, int(math.ceil(cx + side / 2)))]
    if crop.size == 0:
        return None
    return crop, (x1 - ox, y1 - oy, x2 - ox, y2 - oy), max(bw, bh)


class SecondOpinion:
    def __init__(self, detector: FaceDetector, hog) -> None:  # built by load()
        self._detector = detector
        self._hog = hog

    def looks_like_face(self, image: np.ndarray, det: Sequence[float], keep_score: float | None = None) -> bool:
        keep_score = KEEP_SCORE if keep_score is None else keep_score
        if len(det) >= 5 and float(det[4]) >= keep_score:
            return True
        around = _surroundings(image, det)
        if around is None:
            return True
        crop, box, longest = around
        scale = max(1.0, CLOSE_UP_PX / longest)
        if scale > 1.0:
            crop = cv2.resize(crop, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC)
        local = tuple(v * scale for v in box)
        try:
            for d in self._detector.detect(crop, CLOSE_UP_SCORE):
                if _overlaps(d[:4], local):
                    return True
            for r in self._hog(np.ascontiguousarray(crop[:, :, ::-1]), 1):
                if _overlaps((r.left(), r.top(), r.right(), r.bottom()), local):
                    return True
        except (FaceDetectorError, RuntimeError, cv2.error):
            return True  # fail closed: the flag keeps blocking
        return False

    __call__ = looks_like_face

    def served_face_like(self, image: np.ndarray, det: Sequence[float]) -> bool:
        """The served check's test for its 0.05 hits: True unless the hit is surely not a face (see the module's
        docstring).  Any error, an empty box or crop: True (fail closed)."""
        if len(det) >= 5 and float(det[4]) >= KEEP_SCORE:
            return True
        around = _surroundings(image, det)
        if around is None:
            return True
        crop, box, longest = around
        try:
            for size in STRICT_SIZES:
                s = size / longest
                close = cv2.resize(crop, None, fx=s, fy=s, interpolation=cv2.INTER_CUBIC if s > 1 else cv2.INTER_AREA)
                local = tuple(v * s for v in box)
                if any(_iou(d[:4], local) >= STRICT_OVERLAP for d in self._detector.detect(close, STRICT_SCORE)):
                    return True
                if size == 96:
                    rects, scores, _kinds = self._hog.run(np.ascontiguousarray(close[:, :, ::-1]), 1, STRICT_HOG)
                    if any(v >= STRICT_HOG and _iou((r.left(), r.top(), r.right(), r.bottom()), local) >= 0.2
                           for r, v in zip(rects, scores)):
                        return True
        except (FaceDetectorError, RuntimeError, cv2.error):
            return True
        return False

    def filter_findings(self, image: np.ndarray, findings: list) -> list:
        """The audit's findings filter (``redact.FindingsFilter``): the findings that may be faces."""
        return [f for f in findings if self.looks_like_face(image, (*f.box, f.score))]


def load() -> SecondOpinion:
    """The second opinion; its ``filter_findings`` is what the audits take as ``findings_filter``."""
    import dlib

    return SecondOpinion(load_detector(0.3), dlib.get_frontal_face_detector())


__all__ = ["CLOSE_UP_SCORE", "KEEP_SCORE", "STRICT_SCORE", "SecondOpinion", "load"]
