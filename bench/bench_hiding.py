"""Hiding styles against the served check (issue 19): which hiding leaves no face-like pattern beside a hidden face.

    OMP_NUM_THREADS=1 nice -n 5 python bench/bench_hiding.py --slices 30 100 --styles mosaic fill fade mosaic@2.0
    OMP_NUM_THREADS=1 nice -n 5 python bench/bench_hiding.py --clips --styles mosaic fade
    OMP_NUM_THREADS=1 nice -n 5 python bench/bench_hiding.py --slices 30 100 --styles mosaic noise pixnoise \
        mosaicnoise body mosaicshuffle noise+body mosaicshuffle+body

Each slice of the sample lesson (10 s from the given second, re-encoded at crf 18) or face clip goes through the
product's one pass once with the default policy (look off; its tracks cached in bench/out/hiding/); every face is
then hidden (nobody shown: the most boxes) with each style, rendered by the one pass from those tracks and checked
by the served check (CenterFace at 0.05 on every served frame, the second opinion on each hit).  A style is
``STYLE[@BOX_SCALE][+downK][+body[W]]``: mosaic and fill are the product's; the others exist here only
(``styled_hide_rect`` stands in for ``redact.hide_rect`` in the render, the second look and the check's
verification): soft (the mosaic Gaussian-smoothed, sigma block/3, border feathered over block/2), softfill (the
box's mean colour, feathered), meanfill (the box's mean colour), fade (the mosaic, and below it a mosaic of the body
fading out over one box height), cartoon (grey, a drawn placeholder face: the detector sees a face where the face
was), noise (fresh uniform 0-255 noise, B, G, R each, one value per 4x4 cell of the frame's grid, every frame),
pixnoise (the same per pixel), mosaicnoise (the mosaic, each 4x4 cell moved by a fresh uniform -40..+40 grey
levels), mosaicshuffle (the mosaic's blocks in a fresh random order every frame: its colours, none of the face's
layout); ``@S`` another ``box_scale``, ``+downK`` every box reaching K face heights further down, ``+body[W]``
(``body``: ``mosaic+body``) a torso column below every hidden box hidden too, in the same style (W x the face's
width, default 1.8, from the box's lower edge to 3 face heights below it; the face: the box / box_scale).  The
check's "verified hidden" test hides the served pixels again and compares: fresh noise cannot be reproduced, so for
the noise styles (this bench only) a rectangle is verified when its cell means (grey; 4x4 cells on the frame's grid,
pixnoise: pixels; mosaicnoise: of the served pixels minus their own mosaic) have a standard deviation >= 12 grey
levels and a correlation <= 0.35 between horizontally and vertically neighbouring cells (both); ``verify_report``
prints how that judges the hidden rectangles of every 10th frame served and in the original (there: faces, it must
refuse them).  Prints per style and video: frames with a hit (face-like to the second opinion), the hits' scores,
where they lie from the nearest hidden box, the mean share of the frame area the hiding changed and the hiding's own
CPU ms per frame (in memory, one thread).

2026-12-07 (load 3-7; frames with a hit of 250, face-like in brackets, max score, frame area changed):

| style | 0:30-0:40 | 1:40-1:50 | area |
|---|---|---|---|
| mosaic (the default) | 42 (36), 0.164 | 83 (66), 0.162 | 2.95 / 3.06 % |
| fill | 103 (95), 0.191 | - | 2.97 % |
| soft | 250 (250), 0.450 | - | 4.42 % |
| softfill | 68 (52), 0.444 | - | 4.50 % |
| meanfill | 93 (62), 0.143 | - | 2.96 % |
| cartoon | 96 (61), 0.141 | - | 2.97 % |
| mosaic@2.0 | 72 (42), 0.120 | - | 5.58 % |
| mosaic+down1.5 | 170 (104), 0.132 | - | 5.58 % |
| fade | 42 (36), 0.208 | 67 (67), 0.087 | 5.24 / 5.43 % |

Hiding CPU per frame: mosaic 0.45-0.74 ms, fill 0.40, meanfill 1.40, cartoon 0.85, fade 1.40-2.55, soft 10.8,
softfill 15.2.  Clips (every face hidden, mosaic / fade): female 2 / 2 frames, female-and-male 0 / 0,
walking-and-pause 9 / 0, male 0 / 0, classroom 0 / 0, walking 1 / 4.  Where the hits lie: with the mosaic their
centres are 1.42 / 1.53 box heights below the hidden box's centre (dx 0.10-0.14): the chest and clasped hands of the
pupil whose face is hidden; a larger box moves them to just below its lower edge (0.77), a box reaching further down
makes more of them (its lower edge, 0.19), the fade moves them to where it ends (1.55-1.58).  Smoothing turns the
mosaic into a blurred face (0.45, and no longer verified hidden); flat fills and a drawn face make more hits, not
fewer.  No style reaches zero: the mosaic stays the default.

2026-12-07, textured hiding (issue 19; load 3-7, every face hidden, rendered through the product's encoder, crf 23;
frames with a hit of 250 (face-like), max score, frame area changed, hiding CPU ms per frame, served MB for 10 s):

| style | 0:30-0:40 | 1:40-1:50 |
|---|---|---|
| mosaic (the default) | 42 (36), 0.164, 2.95 %, 0.37-0.60, 0.59 | 83 (66), 0.162, 3.06 %, 0.78, 0.59 |
| noise | 46 (32), 0.088, 2.97 %, 0.57, 2.04 | 55 (38), 0.231, 3.10 %, 1.12, 2.14 |
| pixnoise | 74 (58), 0.149, 2.97 %, 0.64, 3.90 | 116 (76), 0.269, 3.10 %, 1.26, 4.08 |
| mosaicnoise | 49 (29), 0.084, 2.96 %, 1.23, 1.09 | 45 (28), 0.181, 3.10 %, 2.31, 1.14 |
| body | 99 (26), 0.117, 9.65 %, 1.09, 0.63 | 112 (42), 0.120, 9.99 %, 2.12, 0.64 |
| mosaicshuffle | 51 (38), 0.156, 2.96 %, 0.58, 0.90 | 57 (34), 0.261, 3.10 %, 1.01, 0.87 |
| noise+body | 8 (3), 0.127, 9.80 %, 1.59, 4.92 | 13 (9), 0.077, 10.22 %, 2.18, 5.14 |
| mosaicshuffle+body | 69 (45), 0.202, 9.79 %, 1.24, 1.51 | 82 (54), 0.225, 10.20 %, 2.50, 1.46 |
| noise+body2.5 (torso 2.5 face widths) | 4 (4), 0.101, 12.26 %, 1.36, 5.86 | 3 (2), 0.086, 12.74 %, 2.50, 6.13 |
| mosaicnoise+body | 53 (25), 0.109, 9.80 %, 3.06, 2.12 | 52 (24), 0.129, 10.22 %, 5.91, 2.21 |

The noise verification (every 10th frame): served, 98.5-100 % of the noise rectangles pass (1065 of 1081 the
lowest; cell std median 45-47, mosaicnoise's residual 20; neighbour correlation median 0.01-0.06, p90 <= 0.21:
H.264 at crf 23 keeps the 4x4 noise and most of the per-pixel noise); the same rectangles in the original: none
(correlation median 0.55-0.96).

Noise alone does not remove the hits: they stay 1.06-1.58 box heights below the hidden box (the headless body), a
little weaker on 0:30-0:40 (max 0.088) and stronger on 1:40-1:50 (0.231).  Hiding the torso column with the mosaic
(body) moves them beside and over it (a tall mosaic column over a body reads as a big face: hits 2.3 box heights
tall, 1.4 box widths aside on 0:30-0:40); only noise over face AND torso leaves few (8 / 13 frames; a wider column
4 / 3), but then the hits sit at the head's height beside the box (dy -0.21, dx 0.31: shoulders and neighbours), a
tenth of the frame is noise, and the served file is 8-10x the mosaic's (4.9-6.1 MB for 10 s against 0.59: noise
is what H.264 cannot compress; the render 6.8-7.6 CPU-s against 5.2-5.9).  No hiding style reaches zero on
either slice; the cheaper second look (bench_look_again.py tight1, ``VIDEOCOACH_LOOK_AGAIN=below``) does on both,
with the mosaic, but not on the whole lesson (394 frames).
"""

from __future__ import annotations

import argparse
import math
import resource
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from videocoach.av import media  # noqa: E402
from videocoach.av.video_io import FrameReader  # noqa: E402
from videocoach.privacy import onepass, policy, redact, schedule, second_opinion, served_check, tracking  # noqa: E402
from videocoach.privacy.faces import load_detector  # noqa: E402
from videocoach.privacy.tracking import FaceTracks, HideSchedule  # noqa: E402

OUT = REPO / "bench" / "out" / "hiding"
SAMPLE = REPO / "sample_media" / "lesson.mp4"
CLIPS = REPO.parent / "shared" / "data" / "faces" / "clips"
CLIP_NAMES = ("head-pose-face-detection-female.gif", "head-pose-face-detection-female-and-male.gif",
              "face-demographics-walking-and-pause.gif", "head-pose-face-detection-male.gif", "classroom.gif",
              "walking.gif")


def cpu_s() -> float:
    a, b = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return a.ru_utime + a.ru_stime + b.ru_utime + b.ru_stime


def lesson_slice(start_s: float, seconds: float) -> Path:
    out = OUT / f"lesson_{start_s:g}s_{seconds:g}.mp4"
    if not out.exists():
        subprocess.run(["ffmpeg", "-v", "error", "-y", "-ss", f"{start_s:g}", "-i", str(SAMPLE), "-t", f"{seconds:g}",
                        "-an", "-c:v", "libx264", "-preset", "veryfast", "-crf", "18", "-pix_fmt", "yuv420p", str(out)],
                       check=True)
    return out


def tracks_of(path: Path, pol) -> FaceTracks:
    cached = OUT / f"{path.name}.tracks.json"
    if cached.exists():
        return FaceTracks.from_json(cached.read_text())
    c0 = cpu_s()
    res = onepass.redact_in_one_pass(path, media.probe(path), pol, None, id_base=0)
    print(f"  {path.name}: detection pass {cpu_s() - c0:.1f} CPU-s, {len(res.tracks.tracks)} tracks", flush=True)
    cached.write_text(res.tracks.to_json())
    return res.tracks


STYLES = ("mosaic", "fill", "soft", "softfill", "meanfill", "fade", "cartoon", "noise", "pixnoise", "mosaicnoise",
          "body", "mosaicshuffle")
NOISE_STYLES = ("noise", "pixnoise", "mosaicnoise")  # verified hidden by a statistic (``noise_verified``)
NOISE_CELL = 4  # noise cells: 4 x 4 frame pixels, on the frame's own grid (the encoder's 4x4 transform blocks)
MOSAIC_NOISE = 40  # mosaicnoise: each cell moved by a uniform -40..+40 grey levels (the same on B, G and R)
VERIFY_MIN_STD = 12.0  # a noise rectangle: its cell means (grey; 4x4 cells, pixnoise 1x1) spread at least this much
VERIFY_MAX_CORR = 0.35  # ... and no more correlated than this with the neighbouring cell (right or below)
RNG = np.random.default_rng()  # fresh noise on every call (every frame)
_HIDE = redact.hide_rect
_STYLE = {"now": "mosaic"}  # the style under test (the policy keeps "mosaic" for the experimental ones)


def block_px(rect: tuple[int, int, int, int], min_block_px: int) -> int:
    x1, y1, x2, y2 = rect
    return max(min_block_px, math.ceil(max(x2 - x1, y2 - y1) / redact.MOSAIC_MAX_BLOCKS))


def soften(image: np.ndarray, rect: tuple[int, int, int, int], block: int) -> None:
    """``rect`` (already hidden) and a band of ``block`` / 2 around it smoothed: a Gaussian of sigma ``block`` / 3,
    fully inside, fading out across the band (no hard block edges, no hard border)."""
    x1, y1, x2, y2 = rect
    ih, iw = image.shape[:2]
    band = max(1, block // 2)
    bx1, by1, bx2, by2 = max(0, x1 - band), max(0, y1 - band), min(iw, x2 + band), min(ih, y2 + band)
    region = image[by1:by2, bx1:bx2]
    smooth = cv2.GaussianBlur(region, (0, 0), sigmaX=block / 3, borderType=cv2.BORDER_REPLICATE)
    xs, ys = np.arange(bx1, bx2, dtype=np.float32), np.arange(by1, by2, dtype=np.float32)
    dx = np.maximum(np.maximum(x1 - xs, xs - (x2 - 1)), 0)
    dy = np.maximum(np.maximum(y1 - ys, ys - (y2 - 1)), 0)
    alpha = np.clip(1.0 - np.maximum(dx[None, :], dy[:, None]) / band, 0.0, 1.0)[:, :, None]
    region[:] = (alpha * smooth + (1.0 - alpha) * region + 0.5).astype(np.uint8)


def fade_below(image: np.ndarray, rect: tuple[int, int, int, int], min_block_px: int) -> None:
    """Below ``rect`` (already a mosaic), a mosaic of what lies there fading out over one box height."""
    x1, y1, x2, y2 = rect
    reach = min(image.shape[0], y2 + (y2 - y1))
    if reach <= y2:
        return
    below = image[y2:reach, x1:x2]
    blocks = below.copy()
    redact.mosaic(blocks, (0, 0, x2 - x1, reach - y2), block_px(rect, min_block_px))
    alpha = (1.0 - (np.arange(reach - y2, dtype=np.float32) + 0.5) / (y2 - y1))[:, None, None]
    below[:] = (alpha * blocks + (1.0 - alpha) * below + 0.5).astype(np.uint8)


def cartoon(image: np.ndarray, rect: tuple[int, int, int, int]) -> None:
    """The box filled grey with a drawn placeholder face (fixed colours and shapes: nothing of the pupil's pixels):
    the detector still sees a face where the face was, as in the original frame."""
    x1, y1, x2, y2 = rect
    w, h = x2 - x1, y2 - y1
    roi = image[y1:y2, x1:x2]
    roi[:] = redact.FILL_BGR
    skin, ink = (170, 170, 170), (50, 50, 50)
    cx, cy = w / 2, h * 0.55
    cv2.ellipse(roi, (int(cx), int(cy)), (max(1, int(w * 0.33)), max(1, int(h * 0.40))), 0, 0, 360, skin, -1,
                cv2.LINE_AA)
    for sx in (-1, 1):
        cv2.ellipse(roi, (int(cx + sx * w * 0.13), int(cy - h * 0.08)), (max(1, int(w * 0.06)), max(1, int(h * 0.035))),
                    0, 0, 360, ink, -1, cv2.LINE_AA)
        cv2.line(roi, (int(cx + sx * w * 0.07), int(cy - h * 0.17)), (int(cx + sx * w * 0.21), int(cy - h * 0.18)), ink,
                 max(1, int(h * 0.02)), cv2.LINE_AA)
    cv2.line(roi, (int(cx - w * 0.09), int(cy + h * 0.2)), (int(cx + w * 0.09), int(cy + h * 0.2)), ink,
             max(1, int(h * 0.025)), cv2.LINE_AA)
    cv2.line(roi, (int(cx), int(cy - h * 0.02)), (int(cx), int(cy + h * 0.09)), ink, max(1, int(h * 0.015)),
             cv2.LINE_AA)


def _cells(rect: tuple[int, int, int, int], cell: int) -> tuple[int, int, int, int]:
    """The cells of the frame's own ``cell`` grid that ``rect`` touches: (first column, first row, columns, rows)."""
    x1, y1, x2, y2 = rect
    return x1 // cell, y1 // cell, -(-x2 // cell) - x1 // cell, -(-y2 // cell) - y1 // cell


def _cell_field(values: np.ndarray, rect: tuple[int, int, int, int], cell: int) -> np.ndarray:
    """``values`` (one per cell of ``_cells``) spread to ``rect``'s pixels (cells on the frame's grid)."""
    x1, y1, x2, y2 = rect
    cx, cy, _, _ = _cells(rect, cell)
    big = np.repeat(np.repeat(values, cell, axis=0), cell, axis=1)
    return big[y1 - cy * cell: y2 - cy * cell, x1 - cx * cell: x2 - cx * cell]


def fill_noise(image: np.ndarray, rect: tuple[int, int, int, int], cell: int) -> None:
    """``rect`` filled with fresh uniform 0-255 noise (B, G, R each), one value per ``cell`` x ``cell`` frame cell."""
    _, _, nx, ny = _cells(rect, cell)
    x1, y1, x2, y2 = rect
    image[y1:y2, x1:x2] = _cell_field(RNG.integers(0, 256, (ny, nx, 3), dtype=np.uint8), rect, cell)


def add_cell_noise(image: np.ndarray, rect: tuple[int, int, int, int], amp: int) -> None:
    """Each ``NOISE_CELL`` cell of ``rect`` moved by a fresh uniform -amp..+amp grey levels (B, G, R alike)."""
    _, _, nx, ny = _cells(rect, NOISE_CELL)
    x1, y1, x2, y2 = rect
    shift = _cell_field(RNG.integers(-amp, amp + 1, (ny, nx, 1), dtype=np.int16), rect, NOISE_CELL)
    image[y1:y2, x1:x2] = np.clip(image[y1:y2, x1:x2].astype(np.int16) + shift, 0, 255).astype(np.uint8)


def mosaic_shuffle(image: np.ndarray, rect: tuple[int, int, int, int], min_block_px: int) -> None:
    """The mosaic with its blocks in a fresh random order every frame: the face's colours, none of its layout (no
    dark eyes over a light cheek, no head over a neck)."""
    x1, y1, x2, y2 = rect
    roi = image[y1:y2, x1:x2]
    h, w = roi.shape[:2]
    block = block_px(rect, min_block_px)
    nx, ny = max(1, math.ceil(w / block)), max(1, math.ceil(h / block))
    small = cv2.resize(roi, (nx, ny), interpolation=cv2.INTER_AREA).reshape(-1, 3)
    small = small[RNG.permutation(len(small))].reshape(ny, nx, 3)
    roi[:] = cv2.resize(small, (w, h), interpolation=cv2.INTER_NEAREST)


def noise_stats(image: np.ndarray, rect: tuple[int, int, int, int], residual: bool,
                min_block_px: int) -> tuple[float, float] | None:
    """The verification statistic of a noise rectangle in a served frame: the 4x4 cell means (pixnoise: the pixels;
    grey, on the frame's grid, the cells wholly inside ``rect``) -- for ``residual`` (mosaicnoise) of the served
    pixels minus their own mosaic -- their standard deviation and the larger of the correlations between
    horizontally and vertically neighbouring cells.  None when the rectangle holds fewer than 3 x 3 whole cells."""
    x1, y1, x2, y2 = rect
    c = 1 if _STYLE["now"] == "pixnoise" else NOISE_CELL
    gx1, gy1, gx2, gy2 = -(-x1 // c) * c, -(-y1 // c) * c, x2 // c * c, y2 // c * c
    if gx2 - gx1 < 3 * c or gy2 - gy1 < 3 * c:
        return None
    grey = cv2.cvtColor(np.ascontiguousarray(image[y1:y2, x1:x2]), cv2.COLOR_BGR2GRAY).astype(np.float32)
    if residual:
        own = grey.copy()
        redact.mosaic(own, (0, 0, x2 - x1, y2 - y1), min_block_px)
        grey -= own
    grey = grey[gy1 - y1: gy2 - y1, gx1 - x1: gx2 - x1]
    cells = grey.reshape((gy2 - gy1) // c, c, (gx2 - gx1) // c, c).mean(axis=(1, 3))

    def corr(a: np.ndarray, b: np.ndarray) -> float:
        a, b = a.ravel() - a.mean(), b.ravel() - b.mean()
        return float((a * b).sum() / max(1e-6, math.sqrt(float((a * a).sum() * (b * b).sum()))))

    return float(cells.std()), max(corr(cells[:, :-1], cells[:, 1:]), corr(cells[:-1], cells[1:]))


def noise_passes(stats: tuple[float, float] | None) -> bool:
    """``noise_stats`` say noise: spread enough, neighbouring cells uncorrelated."""
    return stats is not None and stats[0] >= VERIFY_MIN_STD and stats[1] <= VERIFY_MAX_CORR


def noise_verified(image: np.ndarray, rect: tuple[int, int, int, int], policy) -> bool:
    return noise_passes(noise_stats(image, rect, _STYLE["now"] == "mosaicnoise", policy.mosaic_block_px))


_HIDDEN_MASK = served_check.hidden_mask


def styled_hidden_mask(image: np.ndarray, rects, policy, zone=None) -> np.ndarray:
    """``served_check.hidden_mask`` for the style under test: for a noise style (hiding it again cannot reproduce
    fresh noise) a rectangle's pixels, less those of later rectangles, are verified hidden when ``noise_verified``
    holds for the whole rectangle in the served frame; the other styles as the product."""
    if _STYLE["now"] == "mosaicshuffle":  # shuffled blocks are blocks on the mosaic's grid: hidden again, unchanged
        served_check.hide_rect = _HIDE
        try:
            return _HIDDEN_MASK(image, rects, policy, zone)
        finally:
            served_check.hide_rect = styled_hide_rect
    if _STYLE["now"] not in NOISE_STYLES:
        return _HIDDEN_MASK(image, rects, policy, zone)
    if zone is not None and zone.any():
        raise SystemExit("the noise styles' verification knows no zones")
    h, w = image.shape[:2]
    owner = np.full((h, w), -1, np.int32)
    for i, (x1, y1, x2, y2) in enumerate(rects):
        owner[y1:y2, x1:x2] = i
    verified = np.zeros((h, w), bool)
    for i, r in enumerate(rects):
        if noise_verified(image, r, policy):
            x1, y1, x2, y2 = r
            verified[y1:y2, x1:x2] |= owner[y1:y2, x1:x2] == i
    return verified


served_check.hidden_mask = styled_hidden_mask


def styled_hide_rect(image: np.ndarray, rect: tuple[int, int, int, int], policy) -> None:
    """``redact.hide_rect`` with the style under test: mosaic / fill as the product; soft (the mosaic smoothed, with
    a feathered border), softfill (the box's mean colour, feathered), meanfill (the box's mean colour), fade (the
    mosaic, and below it a mosaic of the body fading out over one box height)."""
    style = _STYLE["now"]
    x1, y1, x2, y2 = rect
    if style in ("mosaic", "fill") or x2 <= x1 or y2 <= y1:
        return _HIDE(image, rect, policy)
    if style == "cartoon":
        return cartoon(image, rect)
    if style in ("noise", "pixnoise"):
        return fill_noise(image, rect, 1 if style == "pixnoise" else NOISE_CELL)
    if style == "mosaicshuffle":
        return mosaic_shuffle(image, rect, policy.mosaic_block_px)
    if style in ("meanfill", "softfill"):
        image[y1:y2, x1:x2] = image[y1:y2, x1:x2].reshape(-1, 3).mean(axis=0).round().astype(np.uint8)
    else:
        redact.mosaic(image, rect, policy.mosaic_block_px)
    if style in ("soft", "softfill"):
        soften(image, rect, block_px(rect, policy.mosaic_block_px))
    if style == "fade":
        fade_below(image, rect, policy.mosaic_block_px)
    if style == "mosaicnoise":
        add_cell_noise(image, rect, MOSAIC_NOISE)


redact.hide_rect = served_check.hide_rect = styled_hide_rect  # the render, the second look and the check's verify


def style_policy(base, style: str):
    """``STYLE[@BOX_SCALE][+downK][+body]``: the policy (method mosaic, or fill) with the style under test set
    (``body``: ``mosaic+body``)."""
    style, body_cut, body_wide = style.partition("+body")
    style, _, down = style.partition("+down")
    method, _, scale = style.partition("@")
    if method not in STYLES:
        raise SystemExit(f"unknown style {method!r} (one of {', '.join(STYLES)})")
    if method == "body":
        method, body_cut = "mosaic", "+body"
    _STYLE["now"] = method
    set_down(float(down) if down else 0.0)
    pol = replace(base, method="fill" if method == "fill" else "mosaic",
                  box_scale=float(scale) if scale else base.box_scale)
    set_body(pol.box_scale if body_cut else 0.0, float(body_wide) if body_wide else TORSO_WIDTH)
    return pol


TORSO_WIDTH = 1.8  # body: a column 1.8 x the face's width ...
TORSO_DOWN = 3.0  # ... from the hidden box's lower edge to 3 face heights below it
_BOXES_AT = HideSchedule.boxes_at


def torso(rect: tuple[int, int, int, int], box_scale: float,
          wide: float = TORSO_WIDTH) -> tuple[float, float, float, float]:
    """The column below a hidden box (``box_scale`` x the face, plus ``HAIR_UP`` of its height on top): centred
    under it, ``wide`` x the face's width, down to ``TORSO_DOWN`` face heights below the box."""
    x1, y1, x2, y2 = rect
    fw, fh = (x2 - x1) / box_scale, (y2 - y1) / (box_scale + tracking.HAIR_UP)
    cx = (x1 + x2) / 2
    return cx - wide * fw / 2, y2, cx + wide * fw / 2, y2 + TORSO_DOWN * fh


def set_body(box_scale: float, wide: float = TORSO_WIDTH) -> None:
    """An experiment (``+body[W]``): below every hidden box its torso column (``W`` x the face's width, default
    ``TORSO_WIDTH``) is hidden too, with the same style (the render, the check's verification and ``hiding_cost``
    all take the schedule's boxes: the columns first, then the faces, so a face is always hidden on its own grid);
    0: off."""
    def boxes_at(self, t_s: float) -> list[tuple[int, int, int, int]]:
        faces = _BOXES_AT(self, t_s)
        cols = [tracking.clip_box(torso(r, box_scale, wide), self.width, self.height) for r in faces]
        return [c for c in cols if c is not None] + faces

    HideSchedule.boxes_at = boxes_at if box_scale else _BOXES_AT


_ENLARGE = tracking.enlarge


def set_down(k: float) -> None:
    """An experiment: every hidden box reaches ``k`` x the detected face's height further down (the body below)."""
    def enlarge(box, scale, up=tracking.HAIR_UP):
        x1, y1, x2, y2 = _ENLARGE(box, scale, up)
        return (x1, y1, x2, y2 + k * (float(box[3]) - float(box[1])))

    for module in (tracking, served_check, schedule):
        module.enlarge = enlarge if k else _ENLARGE


def hiding_cost(path: Path, info, tracks: FaceTracks, pol) -> tuple[float, float]:
    """Mean share of the frame area changed by the hiding, and its CPU ms per frame (decoded frames, in memory)."""
    sched = HideSchedule(tracks, box_scale=pol.box_scale, hold_s=pol.hold_s)
    area, spent, n = 0.0, 0.0, 0
    with FrameReader(path, info) as reader:
        for f in reader:
            image = f.image.copy()
            h, w = image.shape[:2]
            rects = [(max(0, int(x1)), max(0, int(y1)), min(w, int(np.ceil(x2))), min(h, int(np.ceil(y2))))
                     for x1, y1, x2, y2 in sched.boxes_at(f.index / info.fps)]
            t0 = time.process_time()
            for r in rects:
                redact.hide_rect(image, r, pol)
            spent += time.process_time() - t0
            area += float((image != f.image).any(axis=2).mean())
            n += 1
    return area / max(n, 1), 1000 * spent / max(n, 1)


def verify_report(path: Path, served: Path, tracks: FaceTracks, pol, every: int = 10) -> str:
    """How the noise verification (``noise_verified``) judges the hidden rectangles of every ``every``-th frame:
    in the served file, and the same rectangles in the original (faces: it must refuse them)."""
    out = []
    for video in (served, path):
        info = media.probe(video)
        sched = HideSchedule(tracks, box_scale=pol.box_scale, hold_s=pol.hold_s)
        stats = []
        with FrameReader(video, info) as reader:
            for f in reader:
                if f.index % every == 0:
                    stats += [noise_stats(f.image, r, _STYLE["now"] == "mosaicnoise", pol.mosaic_block_px)
                              for r in sched.boxes_at(f.index / info.fps)]
        ok = [s for s in stats if s is not None]
        passed = sum(noise_passes(s) for s in ok)
        a = np.array(ok) if ok else np.zeros((1, 2))
        out.append(f"{'served' if video == served else 'original'}: {passed} of {len(stats)} rectangles verified "
                   f"(cell std median {np.median(a[:, 0]):.1f}, p10 {np.percentile(a[:, 0], 10):.1f}; neighbour "
                   f"corr median {np.median(a[:, 1]):.2f}, p90 {np.percentile(a[:, 1], 90):.2f})")
    return "verify " + "; ".join(out)


def check(path: Path, tracks: FaceTracks, pol, style: str, det, opinion) -> None:
    info = media.probe(path)
    out = OUT / f"{path.stem}.{style}.served.mp4"
    c0 = cpu_s()
    res = onepass.redact_in_one_pass(path, info, pol, out, tracks=tracks)
    render_cpu = cpu_s() - c0
    r = served_check.check_served(out, tracks, pol, expected_frames=res.render.frames, detectors=[det],
                                  second_opinion=opinion.served_face_like)
    area, ms = hiding_cost(path, info, tracks, pol)
    if _STYLE["now"] in NOISE_STYLES:
        print(f"    {verify_report(path, out, tracks, pol)}", flush=True)
    sched = HideSchedule(tracks, box_scale=pol.box_scale, hold_s=pol.hold_s)
    where = []  # each hit's centre from the nearest hidden box's centre, in that box's heights (x, y: down +)
    for h in r.hits:
        cx, cy = (h.box[0] + h.box[2]) / 2, (h.box[1] + h.box[3]) / 2
        boxes = sched.boxes_at(h.t_s)
        if boxes:
            b = min(boxes, key=lambda b: ((b[0] + b[2]) / 2 - cx) ** 2 + ((b[1] + b[3]) / 2 - cy) ** 2)
            bh = b[3] - b[1]
            where.append(((cx - (b[0] + b[2]) / 2) / bh, (cy - (b[1] + b[3]) / 2) / bh, (h.box[3] - h.box[1]) / bh))
    scores = sorted((h.score for h in r.hits), reverse=True)
    secs = sorted({round(h.t_s, 1) for h in r.hits})
    print(f"{path.name} {style}: frames with a hit {r.frames_with_visible_face} of {r.frames_checked} "
          f"(face-like {r.frames_with_face_like_hit}); hits {r.hit_count}, scores max "
          f"{scores[0] if scores else 0:.3f} median {float(np.median(scores)) if scores else 0:.3f}; detections "
          f"{r.detections} (on hidden {r.on_hidden}, gone when blanked {r.gone_when_blanked}); frame area changed "
          f"{100 * area:.2f} %, hiding {ms:.2f} CPU-ms per frame; render {render_cpu:.1f} CPU-s, "
          f"{out.stat().st_size / 1e6:.2f} MB; hit times "
          f"{secs[:12]}{' ...' if len(secs) > 12 else ''}", flush=True)
    if where:
        a = np.array(where)
        print(f"    hits from the nearest hidden box (its heights): dx |median| {np.median(np.abs(a[:, 0])):.2f}, "
              f"dy median {np.median(a[:, 1]):.2f} (p10 {np.percentile(a[:, 1], 10):.2f}, p90 "
              f"{np.percentile(a[:, 1], 90):.2f}); below the box centre {int((a[:, 1] > 0).sum())} of {len(a)}; "
              f"hit height / box height median {np.median(a[:, 2]):.2f}; none near {len(r.hits) - len(a)}", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--slices", nargs="*", type=float, default=[], help="lesson slices' start seconds")
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--clips", nargs="*", default=None, help="face clips (no names: all)")
    ap.add_argument("--styles", nargs="+", default=["mosaic"], help="METHOD or METHOD@BOX_SCALE")
    args = ap.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    base = policy.load_named_policy(policy.DEFAULT_POLICY)
    det = load_detector(served_check.check_threshold(base))
    opinion = second_opinion.load()
    videos = [lesson_slice(s, args.seconds) for s in args.slices]
    if args.clips is not None:
        videos += [CLIPS / n for n in (args.clips or CLIP_NAMES)]
    for path in videos:
        tracks = tracks_of(path, base)
        for style in args.styles:
            check(path, tracks, style_policy(base, style), style, det, opinion)


if __name__ == "__main__":
    main()
