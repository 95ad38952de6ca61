"""The audit's detector on small faces left visible: real WIDER faces pasted at 16-40 px onto real frames of the
sample lesson, as ``eval/eval_audit.py --weak`` does at scale.  The shipped audit (its upscaled pass at
``redact.AUDIT_UPSCALE``) must flag nearly all of them, and more than the full-resolution pass alone."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest

from conftest import shared
from test_faces import PHOTOS, _labels
from videocoach.privacy import redact

LESSON = Path(__file__).resolve().parents[1] / "sample_media" / "lesson.mp4"


@pytest.fixture(scope="module")
def planted():
    """24 lesson frames, each with one WIDER face pasted at 16-40 px; the pasted boxes."""
    from videocoach.av import media
    from videocoach.av.video_io import FrameReader

    faces = []
    labels = _labels(set(PHOTOS))
    for name in PHOTOS:
        image = cv2.imread(str(shared("faces", "wider_val", name)))
        faces += [image[int(y): int(y + h), int(x): int(x + w)] for x, y, w, h in labels[name] if min(w, h) >= 24]
    with FrameReader(LESSON, media.probe(LESSON), fps=1 / 12) as reader:
        frames = [f.image for f in reader]
    rng = np.random.default_rng(3)
    out = []
    for i, face in enumerate(faces[:24]):
        frame = frames[i % len(frames)].copy()
        size = int(rng.integers(16, 41))
        s = size / max(face.shape[:2])
        face = cv2.resize(face, (max(1, round(face.shape[1] * s)), max(1, round(face.shape[0] * s))),
                          interpolation=cv2.INTER_AREA)
        h, w = face.shape[:2]
        x0, y0 = int(rng.integers(0, frame.shape[1] - w)), int(rng.integers(0, frame.shape[0] // 2))
        frame[y0: y0 + h, x0: x0 + w] = face
        out.append((frame, (x0, y0, x0 + w, y0 + h)))
    assert len(out) == 24
    return out


def _flagged(det, planted) -> int:
    n = 0
    for frame, (x0, y0, x1, y1) in planted:
        n += any(x0 <= (d[0] + d[2]) / 2 < x1 and y0 <= (d[1] + d[3]) / 2 < y1 for d in det.detect(frame))
    return n


@pytest.mark.slow
def test_the_audit_flags_small_faces_left_visible(planted):
    """A cheaper audit must keep this: the 2x pass flags 22 of the 24 (the full-resolution pass alone far fewer; a
    1.5x pass 17, so it is not shipped)."""
    shipped = redact.load_audit_detector()
    assert shipped.config.upscale_small and shipped.config.upscale_factor == redact.AUDIT_UPSCALE
    assert (shipped.config.precision, shipped.config.runtime) == ("fp32", "onnxruntime")
    plain = redact.load_audit_detector()
    plain.config = replace(plain.config, upscale_small=False)
    n_shipped, n_plain = _flagged(shipped, planted), _flagged(plain, planted)
    assert n_shipped > n_plain, (n_shipped, n_plain)  # the upscaled pass is what finds them
    assert n_shipped >= 21, n_shipped
