"""The served-frames check: the face detector at its low threshold on EVERY frame of the rendition a browser gets.

The audit (``redact.AuditCheck``) samples one frame every few seconds while the rendition is encoded.  This is the
second, independent look: it decodes the served file itself (the encoded H.264, as a browser gets it) and runs
CenterFace at the detection threshold (``faces.DEFAULT_THRESHOLD``, or the policy's if lower) on every frame.  Each
detection is then explained, or it is a hit -- a possibly visible pupil face:

- **shown**: its centre lies in the box of a track allowed to show (the teacher's tracks, a consented pupil's),
  enlarged by ``SHOWN_TOLERANCE`` and looked up at the frame's time and half a frame either side;
- **hidden**: its centre lies on pixels verified hidden: inside a rectangle the render hid (a face box of the hide
  schedule, a zone) AND, on average over the rectangle, equal within ``MOSAIC_MAX_DIFF`` grey levels to the same
  rectangle hidden again from the served pixels with the render's own block grid (or the fill).  The schedule alone
  is not trusted: a rectangle that should have been hidden but shows a face is not verified.  A whole frame hidden
  by a fail-closed rule must be the fill;
- **gone when blanked**: next to a hidden area the mosaic itself can make a face-like pattern with what lies beside
  it (a blocky head over a neck).  Such a detection stands only if the detector still finds it with every verified
  hidden pixel blanked (the solid fill), in a window of ``BLANKED_WINDOW`` x its size: a real face beside a hidden
  one keeps its own pixels;
- **no face there in the original** (only when the check is given the original recording): two things hold at its
  spot.  (1) The detector on the whole ORIGINAL frame (as the render's pass runs it) scores under the threshold
  there: the best detection matching it (either centre in the other's box), the faces the rendition hides whole
  (``HIDDEN_WHOLE`` of their box on verified hidden pixels) left out -- a face only partly hidden (a box lagging a
  moving head) counts with its own score.  (2) The served pixels there are the render's: the detection's box equals,
  within ``MOSAIC_MAX_DIFF`` grey levels on average, the original frame hidden as the render hides it (the hide
  schedule's boxes and zones) -- the encoder's noise and nothing else (a frame out of step, a different picture)
  lies between them.  Hiding only replaces pixels and the encoder only blurs them, so a face visible in the served
  frame has its own pixels in the original, where the detector at its threshold sees it: a face the render missed
  (between its detection passes, a lost track) stays a hit.  What this leaves to other measures: a real face the
  detector scores under its threshold in the original (its recall, eval/eval_faces.py on WIDER).  Counted apart
  (``no_face_in_original``; of them ``raised_by_encoding``: the un-encoded hiding scores under the threshold there
  too, only the encoder pushed the spot over), never dropped silently: ``frames_with_detection_left`` is the strict
  count, without this test;
- anything else is a hit, with its time, box and score.  A second opinion may label each hit face-like or not; it
  never removes one.  The one to give is ``privacy.second_opinion``'s ``served_face_like``: face-like unless surely
  not a face (it keeps >= 99 % of the real faces the 0.05 detector finds, eval/eval_strict_face.py); the audit's
  ``looks_like_face`` is tuned for 0.3 flags and would let weak real faces through.

At 0.05 the detector also fires on clasped hands, necklines below a mosaic and door glass beside one
(eval/eval_served_frames.py prints them, with crops to look at; ``--diagnose`` shows they score 0.05-0.12 served but
0.01-0.04 in the original).  Hiding a face makes what lies below or beside it face-like, whatever hides it (mosaic,
fill, noise: bench/bench_hiding.py), so without the original no default rendition reaches zero
(``frames_with_detection_left``: 1,145 of the sample lesson's 3,647 frames).  The original tells such a pattern from
a face the render missed, which is what the owner must act on: ``frames_with_visible_face`` counts the hits left
after that test, and ``passed`` asks for no face-like one when a second opinion was given.  The render's detection
pass can also look again at its own hiding and hide what it finds (``schedule.LookAgain``, opt-in).

Fail closed: a file that cannot be probed, has any decoder error (a strict decode first: ffmpeg would otherwise
conceal a damaged packet and go on), decodes to fewer frames than expected, or a detector error raises
``ServedCheckError`` -- never a pass.
"""

from __future__ import annotations

import os
import queue
import time
from collections import defaultdict, deque
from contextlib import nullcontext
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from videocoach.av.ffmpeg import FFmpegError, ffmpeg_binary, run
from videocoach.av.video_io import FrameReader
from videocoach.core.model import MediaInfo, Progress, no_progress
from videocoach.privacy import faces
from videocoach.privacy.faces import FaceDetector, FaceDetectorError, load_detector
from videocoach.privacy.policy import ConsentPolicy
from videocoach.privacy.redact import FILL_BGR, hide_frame, hide_rect, zone_mask
from videocoach.privacy.tracking import FaceTracks, HideSchedule, clip_box, enlarge

STAGE = "served check"
SHOWN_TOLERANCE = 1.2  # a shown face's box (already enlarged by the policy) x 1.2: the detector's box may differ
MOSAIC_MAX_DIFF = 6.0  # mean |served - its own mosaic| (grey levels) under a detection for "verified hidden"
FILL_MAX_DIFF = 6.0  # mean |served - the fill colour| for a frame or rectangle filled solid
MAX_HITS = 5000  # hits kept with their boxes (all are counted)
BLANKED_WINDOW = 4.0  # the re-detection with hidden pixels blanked looks at 4x the detection's size around it
BLANKED_MIN_PX = 128
IN_FLIGHT = 4  # frames decoded ahead of the detector, per worker
ORIGINAL_LOW = 0.005  # the detector on the whole original frame, to report how face-like the spot was there
HIDDEN_WHOLE = 0.95  # an original face this much on verified hidden pixels is hidden whole (not "at the spot")


class ServedCheckError(RuntimeError):
    """The served rendition could not be checked: treat it as NOT passed."""


@dataclass(frozen=True)
class ServedHit:
    """A detection in a served frame that no shown face and no verified hidden area explains."""

    t_s: float
    frame_index: int
    box: tuple[float, float, float, float]
    score: float
    face_like: bool | None = None  # the second opinion's word when one was given (None: not asked)
    original_score: float | None = None  # the same spot's best score in the original frame (None: not looked at)


@dataclass(frozen=True)
class ServedCheckResult:
    frames_checked: int
    frames_expected: int
    frames_with_visible_face: int
    hits: tuple[ServedHit, ...]  # the first MAX_HITS
    hit_count: int
    detections: int  # all detections at the threshold
    on_shown: int  # explained by a face allowed to show
    on_hidden: int  # centred on pixels verified hidden (or a whole frame verified filled)
    gone_when_blanked: int  # beside a hidden area, and not found again once the hidden pixels are blanked
    threshold: float
    check_s: float
    skipped_reason: str = ""
    frames_with_face_like_hit: int = 0  # frames with a hit the second opinion takes for a face (when one was given)
    no_face_in_original: int = 0  # no face at that spot in the original, the served pixels there the render's
    raised_by_encoding: int = 0  # of those, the ones the un-encoded rendition scores under the threshold too
    original_checked: bool = False  # the original recording was given, and hits were looked up in it
    frames_with_detection_left: int = 0  # the strict count: frames with a hit before the original was looked at

    second_opinion: bool = False  # hits were looked at again close up (``face_like`` set on each)

    @property
    def passed(self) -> bool:
        """No frame with a possibly visible face: with a second opinion, no hit it takes for a face; without one,
        no hit at all."""
        if self.skipped_reason:
            return False
        return (self.frames_with_face_like_hit if self.second_opinion else self.frames_with_visible_face) == 0

    @property
    def hit_times_s(self) -> tuple[float, ...]:
        return tuple(sorted({h.t_s for h in self.hits}))


def check_threshold(policy: ConsentPolicy) -> float:
    """The detector's low threshold: the detection pass's default, or the policy's when it asks for lower."""
    return min(faces.DEFAULT_THRESHOLD, policy.threshold)


def _fill_diff(pixels: np.ndarray) -> float:
    return float(np.mean(np.abs(pixels.astype(np.int16) - np.asarray(FILL_BGR, np.int16)))) if pixels.size else 0.0


def hidden_mask(image: np.ndarray, rects: Sequence[tuple[int, int, int, int]], policy: ConsentPolicy,
                zone: np.ndarray | None = None) -> np.ndarray:
    """The pixels of ``image`` verified to be hidden: inside the rectangles the render hid (``zone``: the policy's
    zone mask, hidden first, as the render does) AND equal, on average over each rectangle's part that no later
    rectangle covers, to that rectangle hidden again from the served pixels with the render's grid."""
    h, w = image.shape[:2]
    expected = image.copy()
    owner = np.full((h, w), -1, np.int32)
    parts: list[tuple[tuple[int, int, int, int], np.ndarray | None]] = []
    if zone is not None and zone.any():
        ys, xs = np.nonzero(zone.any(axis=1))[0], np.nonzero(zone.any(axis=0))[0]
        parts.append(((int(xs[0]), int(ys[0]), int(xs[-1]) + 1, int(ys[-1]) + 1), zone))
    parts += [(r, None) for r in rects]
    for i, ((x1, y1, x2, y2), m) in enumerate(parts):
        again = image[y1:y2, x1:x2].copy()
        hide_rect(again, (0, 0, x2 - x1, y2 - y1), policy)
        sel = np.ones((y2 - y1, x2 - x1), bool) if m is None else m[y1:y2, x1:x2]
        expected[y1:y2, x1:x2][sel] = again[sel]
        owner[y1:y2, x1:x2][sel] = i
    diff = np.abs(image.astype(np.int16) - expected.astype(np.int16)).mean(axis=2)
    limit = FILL_MAX_DIFF if policy.method == "fill" else MOSAIC_MAX_DIFF
    verified = np.zeros((h, w), bool)
    for i, ((x1, y1, x2, y2), _m) in enumerate(parts):
        own = owner[y1:y2, x1:x2] == i
        if own.any() and float(diff[y1:y2, x1:x2][own].mean()) <= limit:
            verified[y1:y2, x1:x2] |= own
    return verified


def _centre_in(det: Sequence[float], mask: np.ndarray) -> bool:
    h, w = mask.shape
    cx, cy = int((det[0] + det[2]) / 2), int((det[1] + det[3]) / 2)
    return 0 <= cx < w and 0 <= cy < h and bool(mask[cy, cx])


def strict_decode(path: str | os.PathLike[str], info: MediaInfo) -> None:
    """Decode the video stream once with every decoder error fatal (``-xerror -err_detect explode``): ffmpeg
    otherwise conceals a damaged packet and goes on with frames that are not what was rendered.  Raises FFmpegError."""
    from videocoach.av import media

    run([ffmpeg_binary(), "-hide_banner", "-v", "error", "-xerror", "-err_detect", "explode",
         *media.input_args(path, info), "-map", "0:v:0", "-f", "null", "-"], timeout_s=600.0 + 10.0 * info.duration_s)


def _window(d: Sequence[float], w: int, h: int) -> tuple[int, int, int, int]:
    """What the detector sees around ``d``: ``BLANKED_WINDOW`` x its size (at least ``BLANKED_MIN_PX``), clipped."""
    cx, cy = (d[0] + d[2]) / 2, (d[1] + d[3]) / 2
    half = max(BLANKED_MIN_PX, BLANKED_WINDOW * max(d[2] - d[0], d[3] - d[1])) / 2
    x1, y1 = max(0, int(cx - half)), max(0, int(cy - half))
    return x1, y1, min(w, int(np.ceil(cx + half))), min(h, int(np.ceil(cy + half)))


def hidden_share(box: Sequence[float], mask: np.ndarray) -> float:
    """The share of ``box`` (clipped to the frame) on verified hidden pixels."""
    r = clip_box(box[:4], mask.shape[1], mask.shape[0])
    return 0.0 if r is None else float(mask[r[1]:r[3], r[0]:r[2]].mean())


def box_diff(a: np.ndarray, b: np.ndarray, d: Sequence[float]) -> float:
    """Mean absolute difference (grey levels, over the channels) of two frames inside ``d``'s box (clipped to the
    frame; infinite when nothing of it is inside)."""
    r = clip_box(d[:4], a.shape[1], a.shape[0])
    if r is None:
        return float("inf")
    x1, y1, x2, y2 = r
    return float(np.abs(a[y1:y2, x1:x2].astype(np.int16) - b[y1:y2, x1:x2].astype(np.int16)).mean())


def original_score(original_dets: np.ndarray, mask: np.ndarray, d: Sequence[float]) -> float:
    """The best score, among ``original_dets`` (the detector on a whole frame, as the render's pass runs it, at
    ``ORIGINAL_LOW``: the original frame, or the original frame hidden as the render hides it), of a detection
    matching ``d`` (either centre inside the other's box), leaving out the faces the rendition hides whole (at least
    ``HIDDEN_WHOLE`` of the detection's box on verified hidden pixels): a face only partly hidden counts.  0.0 when
    none."""
    best = 0.0
    for a in original_dets:
        if (_in_any(a, [d[:4]]) or _in_any(d, [a[:4]])) and hidden_share(a, mask) < HIDDEN_WHOLE:
            best = max(best, float(a[4]))
    return best


def _in_any(det: Sequence[float], boxes: Sequence[Sequence[float]]) -> bool:
    cx, cy = (det[0] + det[2]) / 2, (det[1] + det[3]) / 2
    return any(b[0] <= cx < b[2] and b[1] <= cy < b[3] for b in boxes)


def _found_again(detect: Callable[[np.ndarray], np.ndarray], image: np.ndarray, mask: np.ndarray,
                 d: Sequence[float]) -> bool:
    """Is ``d`` still detected with the verified hidden pixels blanked?  Looked at in a window of
    ``BLANKED_WINDOW`` x its size around it (the detector is convolutional: the window is what it sees there)."""
    h, w = mask.shape
    x1, y1, x2, y2 = _window(d, w, h)
    window = image[y1:y2, x1:x2].copy()
    window[mask[y1:y2, x1:x2]] = FILL_BGR
    for a in detect(window):
        a = (a[0] + x1, a[1] + y1, a[2] + x1, a[3] + y1)
        if _in_any(a, [d[:4]]) or _in_any(d, [a]):
            if not _centre_in(a, mask):
                return True
    return False


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
    second_opinion: Callable[[np.ndarray, Sequence[float]], bool] | None = None,
    original: str | os.PathLike[str] | None = None,
    original_offset: int = 0,
) -> ServedCheckResult:
    """Run the detector on every frame of the served rendition ``served_path`` and explain each detection.

    ``tracks`` and ``visible_track_ids`` are what the render used (``visible_track_ids``: the tracks left visible,
    the teacher's and consented pupils'); ``expected_frames``: the render's frame count when known (else from the
    probed duration).  ``on_hit(frame, hit)`` sees each hit's frame (e.g. to save a crop).  ``second_opinion(frame,
    [x1, y1, x2, y2, score])`` (``privacy.second_opinion``'s ``served_face_like``) labels each hit face-like or not;
    it never removes a hit: ``frames_with_visible_face`` stays the strict count, and ``passed`` then asks for no
    face-like hit (at 0.05 the detector also fires on clasped hands and necklines below a mosaic).  ``original``:
    the recording the rendition was made from; each hit is then looked up in the same original frame, and counted
    ``no_face_in_original`` (not a hit) when the detector at the threshold finds no face there in the original and
    the served pixels there are the render's (see the module's docstring).
    Raises ``ServedCheckError`` whenever the check cannot be completed (also when the original cannot be decoded
    in step with the rendition).  ``original_offset``: the original's frame that the rendition's first frame shows
    (a rendition cut from a later point, as the evals check slices).
    """
    from videocoach.av import media

    t0 = time.perf_counter()
    progress(STAGE, 0.0)
    thr = check_threshold(policy)
    if not policy.hide_faces:
        return ServedCheckResult(0, 0, 0, (), 0, 0, 0, 0, 0, thr, time.perf_counter() - t0,
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
        strict_decode(served_path, info)  # a damaged packet is a failure, not a frame ffmpeg made up
        orig_info: MediaInfo | None = media.probe(original) if original is not None else None
        if orig_info is not None and not orig_info.has_video:
            raise ServedCheckError(f"{Path(original).name}: the original has no video stream")
        args = dict(box_scale=policy.box_scale, hold_s=policy.hold_s)
        hidden = HideSchedule(tracks, visible_track_ids=visible, **args)
        shown = HideSchedule(replace(tracks, tracks=tuple(t for t in tracks.tracks if t.id in visible)), **args)
        marked = bool(visible & {t.id for t in tracks.tracks})
        zmask = zone_mask(policy, tracks.width, tracks.height, teacher_marked=marked)
        idle: queue.SimpleQueue[FaceDetector] = queue.SimpleQueue()
        for d in dets:
            idle.put(d)

        def detect(image: np.ndarray, threshold: float | None = None) -> np.ndarray:
            det = idle.get()
            try:
                return det.detect(image, threshold)
            finally:
                idle.put(det)

        counts = dict(frames=0, visible=0, hits=0, detections=0, shown=0, hidden=0, blanked=0, face_like=0,
                      no_face_in_original=0, by_encoding=0, strict=0)
        hits: list[ServedHit] = []
        originals = (FrameReader(original, orig_info, fps=tracks.fps, width=tracks.width, height=tracks.height,
                                 frames=(original_offset, original_offset + 10**9) if original_offset else None)
                     if original is not None else None)
        with FrameReader(served_path, info, fps=tracks.fps) as reader, \
                ThreadPoolExecutor(len(dets), "served-check") as pool, (originals or nullcontext()):
            orig_frames = iter(originals) if originals is not None else None
            fps = reader.fps
            # from the probed length: the audio may run a frame or two past the picture
            expected = expected_frames if expected_frames is not None else max(1, round(info.duration_s * fps) - 2)
            half = 0.5 / fps
            pending: deque[tuple[object, object, Future]] = deque()

            def judge(frame, orig, found: np.ndarray) -> None:
                t, image = frame.t_s, frame.image
                counts["frames"] += 1
                counts["detections"] += len(found)
                if not len(found):
                    return
                if hidden.whole_frame_at(t, frame.index) and _fill_diff(image) <= FILL_MAX_DIFF:
                    counts["hidden"] += len(found)  # a fail-closed whole-frame fill, verified
                    return
                allowed = [enlarge(b, SHOWN_TOLERANCE, up=0.0)
                           for tt in (max(0.0, t - half), t, t + half) for b in shown.boxes_at(tt)]
                rects = hidden.boxes_at(t)
                mask = hidden_mask(image, rects, policy, zmask)
                left = []
                for d in found:
                    if _in_any(d, allowed):
                        counts["shown"] += 1
                    elif _centre_in(d, mask):
                        counts["hidden"] += 1
                    else:
                        left.append(d)
                if left and mask.any():
                    # next to a hidden area the mosaic itself can make a face-like pattern (a blocky head over a
                    # neck): with the verified hidden pixels blanked, what the detector still finds there stands
                    stands = [d for d in left if _found_again(detect, image, mask, d)]
                    counts["blanked"] += len(left) - len(stands)
                    left = stands
                counts["strict"] += bool(left)
                scored: list[tuple[np.ndarray, float | None]] = []
                orig_dets = detect(orig.image, ORIGINAL_LOW) if orig is not None and left else None
                rehidden: np.ndarray | None = None
                rehidden_dets: np.ndarray | None = None
                for d in left:
                    if orig_dets is None:
                        scored.append((d, None))
                        continue
                    at = original_score(orig_dets, mask, d)
                    if at < thr:  # no face there in the original: are the served pixels there the render's?
                        if rehidden is None:
                            rehidden = orig.image.copy()
                            hide_frame(rehidden, False, zmask, lambda: rects, policy, defaultdict(int))
                        if box_diff(image, rehidden, d) <= MOSAIC_MAX_DIFF:
                            counts["no_face_in_original"] += 1
                            if rehidden_dets is None:
                                rehidden_dets = detect(rehidden, ORIGINAL_LOW)
                            counts["by_encoding"] += original_score(rehidden_dets, mask, d) < thr
                            continue
                    scored.append((d, at))
                face_like = False
                for d, at in scored:
                    opinion = None if second_opinion is None else bool(second_opinion(image, d))
                    face_like |= bool(opinion)
                    hit = ServedHit(round(t, 3), frame.index, tuple(float(v) for v in d[:4]), float(d[4]), opinion,
                                    None if at is None else round(at, 4))
                    counts["hits"] += 1
                    if len(hits) < MAX_HITS:
                        hits.append(hit)
                    if on_hit is not None:
                        on_hit(image, hit)
                counts["visible"] += bool(scored)
                counts["face_like"] += face_like

            for frame in reader:
                orig = None
                if orig_frames is not None:
                    orig = next(orig_frames, None)
                    if orig is None or orig.index - original_offset != frame.index:
                        raise ServedCheckError(f"{Path(original).name}: the original does not decode in step with "
                                               f"the rendition at frame {frame.index}: not checked")
                pending.append((frame, orig, pool.submit(detect, frame.image)))
                while pending and (len(pending) > IN_FLIGHT * len(dets) or pending[0][2].done()):
                    f, o, fut = pending.popleft()
                    judge(f, o, fut.result())
                    if counts["frames"] % 25 == 0:
                        progress(STAGE, min(0.99, counts["frames"] / expected))
            while pending:
                f, o, fut = pending.popleft()
                judge(f, o, fut.result())
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
        on_hidden=counts["hidden"], gone_when_blanked=counts["blanked"], threshold=thr,
        check_s=time.perf_counter() - t0,
        frames_with_face_like_hit=counts["face_like"], second_opinion=second_opinion is not None,
        no_face_in_original=counts["no_face_in_original"], raised_by_encoding=counts["by_encoding"],
        original_checked=original is not None,
        frames_with_detection_left=counts["strict"],
    )


__all__ = [
    "MOSAIC_MAX_DIFF",
    "SHOWN_TOLERANCE",
    "ServedCheckError",
    "ServedCheckResult",
    "ServedHit",
    "check_served",
    "check_threshold",
    "original_score",
    "strict_decode",
    "hidden_mask",
]
