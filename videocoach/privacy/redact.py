"""Consent-aware face redaction: detect and track faces, render a redacted H.264 rendition, cut clips, audit it.

Stages (each saved by the caller, so a re-render after a reviewer marks the teacher does not detect again)::

    tracks = detect_faces(original, info, policy)                              # stage 1: CenterFace + tracking
    report = render_redacted(original, info, tracks, policy, visible_ids, out)  # stage 2: hide, encode, strip
    audit_report = audit(out, tracks, visible_ids, policy)                      # stage 3: look again, block if found
    cut_clip(out, start_s, end_s, clip)                                         # clips come from the redacted file

The pipeline runs stages 1-3 in ONE decode of the original (``onepass.redact_in_one_pass``, same rules, the audit on
the frames as encoded); the functions here stay for a single stage on its own (an audit asked for alone, benches).

What is hidden (see consent_policies/README.md for the policy keys):
- every face box of every track a reviewer did not mark visible, enlarged and held over time (tracking.py rules);
- every policy zone in every frame, face or not (minus teacher zones, once a reviewer marked a visible track);
- hiding is a coarse mosaic (blocks of ``mosaic_block_px`` and at least 1/8 of the box's larger side, so a face is
  at most about 8 blocks across) or a solid fill: irreversible, never a light blur.

Fail-closed rules:
1. a detection pass that raises: every frame within one detection interval of it is filled whole (gray);
2. a frame that cannot be processed (an OpenCV or shape error while hiding) is filled whole;
3. a frame beyond the frames stage 1 saw (the two decodes disagree) is filled whole;
4. a track that vanishes abruptly (not near the frame edge, not after shrinking) keeps its last box hidden for
   3 x ``hold_s``; every track is hidden ``hold_s`` before its first and after its last detection, and between two
   detections of one track the box enclosing both is hidden;
5. the first and the last frame of the video are always detection passes: no frame precedes the first pass;
6. tracks made with a less sensitive setting than the policy asks for (higher threshold, sparser detection, no
   small-face pass) or for another picture size are refused: detection must run again;
7. any error while rendering (decode, encode, a progress callback that raises, Ctrl-C) removes the partial output
   and raises ``RedactionError`` -- nothing of a failed redaction is left to play; the result is written under a
   temporary name and renamed into place only after ffmpeg succeeded and the output was probed;
8. the output is always re-encoded: H.264 yuv420p + AAC, ``-map_metadata -1 -map_chapters -1``, no subtitle or data
   streams, a keyframe every second, ``+faststart``;
9. the audit looks at sampled frames of the rendered output with a more sensitive detector (lower threshold plus a
   2x upscaled tiled pass) for faces outside hidden areas and outside the marked tracks; any finding blocks playback
   until a reviewer clears it (the caller enforces the block).
"""

from __future__ import annotations

import base64
import hashlib
import math
import os
import queue
import secrets
import time
import uuid
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import Callable, Sequence

import cv2
import numpy as np

from videocoach.av.ffmpeg import FFmpegError, ffmpeg_binary, run
from videocoach.av.video_io import FrameReader, FrameWriter
from videocoach.core.model import MediaInfo, Progress, no_progress
from videocoach.privacy.faces import (
    FaceDetector,
    FaceDetectorError,
    detector_device,
    load_detector,
    load_pass_detector,
)
from videocoach.privacy.policy import ConsentPolicy
from videocoach.privacy.schedule import LOOK_MARGIN, LOOK_SETTINGS, LookAgain, look_from_env
from videocoach.privacy.tracking import (
    FaceTrack,
    FaceTracks,
    HideSchedule,
    Tracker,
    clip_box,
    enlarge,
)

FILL_BGR = (128, 128, 128)  # solid fill colour (whole frames and "fill" policies)
MOSAIC_MAX_BLOCKS = 8  # a hidden box is at most 8 blocks across its larger side
KEYFRAME_S = 1.0  # a keyframe every second: seeking in the player is fast
RENDER_PRESET = "veryfast"  # libx264 preset (bench/bench_redact.py)
CRF = 23
DETECT_WORKERS = 2  # parallel single-threaded detector sessions (2 cores)
AUDIT_SAMPLE_EVERY_S = 5.0  # one sampled frame every 5 s: the 2x pass costs ~6x a plain pass (bench_redact.py)
AUDIT_THRESHOLD = 0.3  # with the 2x upscaled pass; measured on rendered output (see the report in bench/eval)
# the audit's upscaled tiled pass enlarges the frame this much.  1.5 costs 34-37 % less per audited frame
# (bench/bench_detect.py --part audit) but flags 17 instead of 22 of 24 faces pasted at 16-40 px
# (tests/test_audit_planted.py) and 98 instead of 104 of 120 weak ones (eval/eval_audit.py --weak): 2 stays
AUDIT_UPSCALE = 2.0
AUDIT_MAX_CROPS = 50
DETECTOR_NAME = "centerface"
TRACK_ID_SHIFT = 20  # track ids = random run base << 20 | n: a stale mark never names a face of another run
TRACK_ID_BASES = 2047  # run bases 1..2047: the largest id, 2047 << 20 | (2**20 - 1), is 2**31 - 1 (a 32-bit column)


def new_track_id_base() -> int:
    """A random base for one detection run's track ids; every id fits a signed 32-bit integer (``face_marks``)."""
    return (secrets.randbelow(TRACK_ID_BASES) + 1) << TRACK_ID_SHIFT


class RedactionError(RuntimeError):
    """Redaction failed; nothing of the output was left behind."""


@dataclass(frozen=True)
class RenderReport:
    policy_name: str
    policy_version: int
    method: str
    visible_track_ids: tuple[int, ...]
    frames: int
    hidden_boxes: int  # face boxes hidden, summed over frames
    frames_with_hidden_faces: int
    zone_frames: int  # frames with at least one zone hidden
    fully_hidden_frames: int  # fail-closed whole-frame fills
    width: int
    height: int
    fps: float
    duration_s: float
    render_s: float
    output_bytes: int

    @property
    def realtime_factor(self) -> float:
        return self.duration_s / self.render_s if self.render_s > 0 else math.inf


@dataclass(frozen=True)
class AuditFinding:
    """A face the audit detector saw in the rendered output outside every hidden area and every marked track."""

    t_s: float
    box: tuple[float, float, float, float]
    score: float
    crop_png_b64: str  # the frame crop around it, PNG, base64 (JSON-safe) -- shown to the reviewer
    # the frame time and the crop's raw pixels, hashed: a finding a reviewer cleared stays cleared after a re-render
    # only while these are unchanged (pipeline._settle_status)
    pixels_sha256: str = ""

    @property
    def crop_png(self) -> bytes:
        return base64.b64decode(self.crop_png_b64)


@dataclass(frozen=True)
class AuditReport:
    policy_name: str
    policy_version: int
    sample_every_s: float
    threshold: float
    sampled_frames: int
    findings: tuple[AuditFinding, ...]
    finding_count: int  # all findings; crops are kept for the first AUDIT_MAX_CROPS
    audit_s: float
    skipped_reason: str = ""

    @property
    def clean(self) -> bool:
        return self.finding_count == 0


# ---- stage 1: detection + tracking ------------------------------------------------------------------------------


def detector_name(policy: ConsentPolicy) -> str:
    return DETECTOR_NAME + ("+2x" if policy.upscale_small else "")


def detect_faces(
    video_path: str | os.PathLike[str],
    info: MediaInfo,
    policy: ConsentPolicy,
    progress: Progress = no_progress,
    *,
    detectors: Sequence[FaceDetector] | None = None,
    id_base: int | None = None,
) -> FaceTracks:
    """Run the detector every ``policy.detect_every`` frames (and on the last frame) and join passes into tracks.

    Passes run on ``DETECT_WORKERS`` single-threaded onnxruntime sessions in parallel (measured faster and cheaper
    than one session with two intra-op threads on a shared 2-core machine); results reach the tracker in time order.
    A pass that raises is recorded in ``failed_s`` (rendering hides those frames whole).  Track ids start at a random
    base unless ``id_base`` is given, so reviewer marks from an earlier detection run never match a new run's faces.
    """
    stage = "faces"
    progress(stage, 0.0)
    if not info.has_video:
        raise RedactionError(f"{Path(video_path).name}: no video stream")
    try:
        dets_ = list(detectors) if detectors else [
            load_pass_detector(policy.threshold, upscale_small=policy.upscale_small) for _ in range(DETECT_WORKERS)
        ]
        for det in dets_:
            if det.config.threshold > policy.threshold or (policy.upscale_small and not det.config.upscale_small):
                raise RedactionError("a detector given is less sensitive than the policy asks for")
        idle: queue.SimpleQueue[FaceDetector] = queue.SimpleQueue()
        for det in dets_:
            idle.put(det)

        look = look_again(policy)

        def detect(image: np.ndarray) -> np.ndarray | None:
            det = idle.get()
            try:
                return look(det, image, det.detect(image))
            except FaceDetectorError:
                return None  # fail closed: the frames around this pass are hidden whole
            finally:
                idle.put(det)

        base = new_track_id_base() if id_base is None else id_base
        failed: list[float] = []
        n = 0
        with FrameReader(video_path, info) as reader, ThreadPoolExecutor(len(dets_), "face-detect") as pool:
            fps = reader.fps
            interval = policy.detect_every / fps
            tracker = Tracker(interval, max_lost_s=max(policy.hold_s, 2 * interval), id_base=base)
            expected = max(1, round(info.duration_s * fps))
            pending: deque[tuple[float, Future]] = deque()

            def collect(keep: int) -> None:
                while len(pending) > keep:
                    t_s, fut = pending.popleft()
                    found = fut.result()
                    if found is None:
                        failed.append(t_s)
                    else:
                        tracker.update(t_s, found)

            last = None
            last_detected = -1
            for frame in reader:
                n += 1
                last = frame
                if frame.index % policy.detect_every == 0:
                    pending.append((frame.t_s, pool.submit(detect, frame.image)))
                    last_detected = frame.index
                    collect(2 * len(dets_))  # bounded: a few frames in flight
                if frame.index % 25 == 0:
                    progress(stage, min(0.99, frame.index / expected))
            if last is not None and last.index != last_detected:
                # the last frame is always a pass: nothing after the last pass goes unseen
                pending.append((last.t_s, pool.submit(detect, last.image)))
            collect(0)
        if n == 0:
            raise RedactionError(f"{Path(video_path).name}: no video frame could be decoded")
        _check_complete(video_path, info, n / fps)
        tracks = FaceTracks(
            tracks=tracker.finish(),
            width=reader.width,
            height=reader.height,
            fps=fps,
            n_frames=n,
            detect_every=policy.detect_every,
            threshold=max(d.config.threshold for d in dets_),
            max_lost_s=tracker.max_lost_s,
            detector=DETECTOR_NAME + ("+2x" if all(d.config.upscale_small for d in dets_) else ""),
            failed_s=tuple(sorted(failed)),
        )
    except (FFmpegError, FaceDetectorError, OSError, ValueError) as exc:
        raise RedactionError(f"face detection failed: {exc}") from exc
    progress(stage, 1.0)
    return tracks


def _check_complete(video_path, info: MediaInfo, decoded_s: float) -> None:
    """A file that decodes to much less than its declared length is truncated or corrupt: refuse it."""
    if decoded_s < info.duration_s - max(1.0, 0.02 * info.duration_s):
        raise RedactionError(
            f"{Path(video_path).name}: only {decoded_s:.1f} s of {info.duration_s:.1f} s could be decoded "
            "(truncated or corrupt)"
        )


# ---- hiding -----------------------------------------------------------------------------------------------------


def mosaic(image: np.ndarray, rect: tuple[int, int, int, int], min_block_px: int) -> None:
    """Pixelate ``rect`` in place with square-ish blocks of at least ``min_block_px`` and 1/8 of its larger side."""
    x1, y1, x2, y2 = rect
    roi = image[y1:y2, x1:x2]
    h, w = roi.shape[:2]
    if h == 0 or w == 0:
        return
    block = max(min_block_px, math.ceil(max(w, h) / MOSAIC_MAX_BLOCKS))
    small = cv2.resize(roi, (max(1, math.ceil(w / block)), max(1, math.ceil(h / block))), interpolation=cv2.INTER_AREA)
    roi[:] = cv2.resize(small, (w, h), interpolation=cv2.INTER_NEAREST)


def hide_rect(image: np.ndarray, rect: tuple[int, int, int, int], policy: ConsentPolicy) -> None:
    x1, y1, x2, y2 = rect
    if policy.method == "fill":
        image[y1:y2, x1:x2] = FILL_BGR
    else:
        mosaic(image, rect, policy.mosaic_block_px)


def look_again(policy: ConsentPolicy):
    """The detection pass's second look (``schedule.LookAgain``): its faces hidden with this policy's method, the
    detector again around them at ``schedule.LOOK_MARGIN`` x the policy's threshold, when
    ``VIDEOCOACH_LOOK_AGAIN=on`` (``below``: below the hidden boxes only; off by default: see
    ``schedule.look_from_env``)."""
    setting = look_from_env()
    return LookAgain(partial(hide_rect, policy=policy), policy.box_scale, LOOK_MARGIN * policy.threshold,
                     LOOK_SETTINGS[setting], below=setting == "below")


def zone_mask(policy: ConsentPolicy, width: int, height: int, *, teacher_marked: bool) -> np.ndarray | None:
    """Pixels hidden by zones in every frame; teacher zones are carved out only once a teacher track is marked."""
    if not policy.zones:
        return None
    mask = np.zeros((height, width), dtype=bool)
    for x1, y1, x2, y2 in policy.zones_px(width, height):
        mask[y1:y2, x1:x2] = True
    if teacher_marked:
        for x1, y1, x2, y2 in policy.teacher_zones_px(width, height):
            mask[y1:y2, x1:x2] = False
    return mask if mask.any() else None


def hide_frame(image: np.ndarray, whole: bool, zmask: np.ndarray | None,
               boxes: Callable[[], list] | None, policy: ConsentPolicy, counts: dict) -> tuple[bool, list]:
    """Hide, in place, the zones and the face boxes of one frame (``boxes``: called inside the guard; None when no
    face is hidden); a frame already to be hidden whole, or one that cannot be processed, is filled entirely (rule
    2).  Returns (hidden whole, the boxes hidden) and adds to ``counts``; shared by both renderings."""
    rects: list = []
    if not whole:
        try:
            if zmask is not None:
                _hide_mask(image, zmask, policy)
                counts["zone_frames"] += 1
            if boxes is not None:
                rects = boxes()
                for rect in rects:
                    hide_rect(image, rect, policy)
                counts["boxes"] += len(rects)
                counts["face_frames"] += bool(rects)
        except (cv2.error, ValueError, IndexError):
            whole = True  # rule 2: a frame we could not process is hidden whole
    if whole:
        image[:] = FILL_BGR
        counts["full"] += 1
    return whole, rects


def _hide_mask(image: np.ndarray, mask: np.ndarray, policy: ConsentPolicy) -> None:
    if policy.method == "fill":
        image[mask] = FILL_BGR
        return
    ys, xs = np.nonzero(mask.any(axis=1))[0], np.nonzero(mask.any(axis=0))[0]
    rect = (int(xs[0]), int(ys[0]), int(xs[-1]) + 1, int(ys[-1]) + 1)
    hidden = image.copy()
    mosaic(hidden, rect, policy.mosaic_block_px)
    image[mask] = hidden[mask]


def check_tracks(tracks: FaceTracks, policy: ConsentPolicy, width: int, height: int) -> None:
    """Refuse tracks made less sensitively than the policy asks, or for another picture size (rule 6)."""
    problems = []
    if tracks.threshold > policy.threshold + 1e-9:
        problems.append(f"threshold {tracks.threshold} > policy {policy.threshold}")
    if tracks.detect_every > policy.detect_every:
        problems.append(f"detection every {tracks.detect_every} frames > policy {policy.detect_every}")
    if policy.upscale_small and not tracks.detector.endswith("+2x"):
        problems.append("no small-face (2x) pass")
    if (tracks.width, tracks.height) != (width, height):
        problems.append(f"size {tracks.width}x{tracks.height} != video {width}x{height}")
    if problems:
        raise RedactionError("the saved face tracks do not fit this policy/video; run detection again: " + "; ".join(problems))


# ---- stage 2: render --------------------------------------------------------------------------------------------


def _temp_beside(out_path: Path, suffix: str = ".mp4") -> Path:
    return out_path.parent / f".{out_path.stem}.{uuid.uuid4().hex[:12]}.part{suffix}"


def render_redacted(
    video_path: str | os.PathLike[str],
    info: MediaInfo,
    tracks: FaceTracks,
    policy: ConsentPolicy,
    visible_track_ids: frozenset[int],
    out_path: str | os.PathLike[str],
    progress: Progress = no_progress,
    *,
    preset: str = RENDER_PRESET,
) -> RenderReport:
    """Render the redacted rendition to ``out_path`` (H.264 + AAC MP4, metadata stripped); see the module rules."""
    stage = "render"
    out_path = Path(out_path)
    tmp = _temp_beside(out_path)
    t0 = time.perf_counter()
    progress(stage, 0.0)
    try:
        if not info.has_video:
            raise RedactionError(f"{Path(video_path).name}: no video stream")
        visible = frozenset(int(i) for i in visible_track_ids)
        counts = dict(frames=0, boxes=0, face_frames=0, zone_frames=0, full=0)
        with FrameReader(video_path, info) as reader:
            width, height = reader.width, reader.height
            if policy.hide_faces:
                check_tracks(tracks, policy, width, height)
                schedule: HideSchedule | None = HideSchedule(
                    tracks, box_scale=policy.box_scale, hold_s=policy.hold_s, visible_track_ids=visible
                )
            else:
                schedule = None
            zmask = zone_mask(policy, width, height, teacher_marked=bool(visible & {t.id for t in tracks.tracks}))
            expected = max(1, round(info.duration_s * reader.fps))
            timeout_s = 600.0 + 30.0 * info.duration_s  # a hang is caught sooner by the pipes' stall limit
            with FrameWriter(
                tmp, width, height, reader.fps, audio_from=(video_path, info), preset=preset, crf=CRF,
                keyframe_s=KEYFRAME_S, timeout_s=timeout_s,
            ) as writer:
                for frame in reader:
                    image = frame.image
                    whole = schedule is not None and schedule.whole_frame_at(frame.t_s, frame.index)
                    hide_frame(image, whole, zmask,
                               (lambda: schedule.boxes_at(frame.t_s)) if schedule is not None else None,
                               policy, counts)
                    writer.write(image)
                    counts["frames"] += 1
                    if frame.index % 25 == 0:
                        progress(stage, min(0.99, frame.index / expected))
                if counts["frames"] == 0:
                    raise RedactionError(f"{Path(video_path).name}: no video frame could be decoded")
                _check_complete(video_path, info, counts["frames"] / reader.fps)
        _verify_output(tmp, counts["frames"] / reader.fps)
        os.replace(tmp, out_path)
    except RedactionError:
        tmp.unlink(missing_ok=True)
        raise
    except (FFmpegError, OSError, ValueError, RuntimeError) as exc:
        tmp.unlink(missing_ok=True)
        raise RedactionError(f"redaction failed, nothing was kept: {exc}") from exc
    except BaseException:
        tmp.unlink(missing_ok=True)  # Ctrl-C, a callback that raised: no partial output either
        raise
    progress(stage, 1.0)
    return RenderReport(
        policy_name=policy.name,
        policy_version=policy.version,
        method=policy.method,
        visible_track_ids=tuple(sorted(visible)),
        frames=counts["frames"],
        hidden_boxes=counts["boxes"],
        frames_with_hidden_faces=counts["face_frames"],
        zone_frames=counts["zone_frames"],
        fully_hidden_frames=counts["full"],
        width=width,
        height=height,
        fps=reader.fps,
        duration_s=counts["frames"] / reader.fps,
        render_s=time.perf_counter() - t0,
        output_bytes=out_path.stat().st_size,
    )


def _verify_output(path: Path, expected_s: float) -> None:
    """The encoded file probes as an allowed video of about the expected length (a truncated file is refused)."""
    from videocoach.av import media

    info = media.probe(path)
    if not info.has_video or info.video_codec != "h264":
        raise RedactionError(f"the rendered file is not H.264 video ({info.video_codec})")
    if abs(info.duration_s - expected_s) > max(1.0, 0.02 * expected_s) and info.duration_s < expected_s:
        raise RedactionError(f"the rendered file is {info.duration_s:.1f} s long, expected {expected_s:.1f} s")


# ---- clips ------------------------------------------------------------------------------------------------------


def cut_clip(
    redacted_path: str | os.PathLike[str],
    start_s: float,
    end_s: float,
    out_path: str | os.PathLike[str],
    *,
    preset: str = RENDER_PRESET,
) -> Path:
    """A short clip of the REDACTED rendition, re-encoded (frame-accurate), metadata stripped; temp file + rename."""
    from videocoach.av import media

    out_path = Path(out_path)
    info = media.probe(redacted_path)
    if not (math.isfinite(start_s) and math.isfinite(end_s) and 0 <= start_s < end_s):
        raise RedactionError(f"bad clip range {start_s!r}..{end_s!r}")
    if start_s >= info.duration_s:
        raise RedactionError(f"clip start {start_s:.1f} s is past the end ({info.duration_s:.1f} s)")
    end_s = min(end_s, info.duration_s)
    tmp = _temp_beside(out_path)
    argv = [
        ffmpeg_binary(), "-hide_banner", "-v", "error",
        "-ss", f"{start_s:.3f}",  # input seeking; exact because the clip is decoded and re-encoded
        *media.input_args(redacted_path, info),
        "-t", f"{end_s - start_s:.3f}",
        "-map", "0:v:0", *(["-map", "0:a:0", "-c:a", "aac", "-b:a", "128k"] if info.has_audio else []),
        "-c:v", "libx264", "-preset", preset, "-crf", str(CRF), "-pix_fmt", "yuv420p",
        "-g", str(max(1, round((info.fps or 25) * KEYFRAME_S))),
        "-map_metadata", "-1", "-map_chapters", "-1", "-sn", "-dn", "-fflags", "+bitexact",
        "-movflags", "+faststart", "-f", "mp4", "-y", f"file:{tmp.resolve()}",
    ]
    try:
        run(argv, timeout_s=120.0 + 10.0 * (end_s - start_s))
        os.replace(tmp, out_path)
    except (FFmpegError, OSError) as exc:
        raise RedactionError(f"cutting the clip failed: {exc}") from exc
    finally:
        tmp.unlink(missing_ok=True)
    return out_path


# ---- stage 3: audit ---------------------------------------------------------------------------------------------


def load_audit_detector(threshold: float = AUDIT_THRESHOLD) -> FaceDetector:
    """The audit's other setting: an upscaled tiled pass (``AUDIT_UPSCALE``) on top of the full-resolution one."""
    # always float: the audit is the independent check of what the (possibly bf16 or int8) detection pass hid
    det = load_detector(threshold, upscale_small=True, precision="fp32", device=detector_device())
    det.config = replace(det.config, upscale_factor=AUDIT_UPSCALE)
    return det


FindingsFilter = Callable[[np.ndarray, list[AuditFinding]], list[AuditFinding]]
"""A second opinion on one frame's findings (the frame as rendered, the findings in it) -> the findings that stand."""


class AuditCheck:
    """The audit's judgement of one rendered frame, shared by the audit in the rendering pass and :func:`audit`.

    Detections whose centre lies in a hidden box (the mosaic itself can look face-like), in a zone or in a marked
    track's box are allowed; everything else is a finding, with a PNG crop for the reviewer.  ``findings_filter``
    is the one place where a later check may drop findings that are not faces (it sees the frame and the findings).
    """

    def __init__(
        self, detector: FaceDetector, zones: Sequence[tuple[int, int, int, int]],
        findings_filter: FindingsFilter | None = None,
    ) -> None:
        self.detector = detector
        self.zones = list(zones)
        self.findings_filter = findings_filter

    def findings(self, image: np.ndarray, t_s: float, allowed: Sequence[tuple[int, int, int, int]]) -> list[AuditFinding]:
        boxes = list(allowed) + self.zones
        found = []
        for d in self.detector.detect(image):
            cx, cy = (d[0] + d[2]) / 2, (d[1] + d[3]) / 2
            if any(x1 <= cx < x2 and y1 <= cy < y2 for x1, y1, x2, y2 in boxes):
                continue
            found.append(_finding(image, t_s, d))
        if found and self.findings_filter is not None:
            found = list(self.findings_filter(image, found))
        return found


def audit_report(
    policy: ConsentPolicy, sample_every_s: float, threshold: float, sampled: int,
    findings: Sequence[AuditFinding], t0: float,
) -> AuditReport:
    """The report over all sampled frames' findings; crops are kept for the first ``AUDIT_MAX_CROPS``."""
    ordered = sorted(findings, key=lambda f: f.t_s)
    return AuditReport(
        policy_name=policy.name,
        policy_version=policy.version,
        sample_every_s=sample_every_s,
        threshold=threshold,
        sampled_frames=sampled,
        findings=tuple(ordered[:AUDIT_MAX_CROPS]),
        finding_count=len(ordered),
        audit_s=time.perf_counter() - t0,
    )


def audit(
    redacted_path: str | os.PathLike[str],
    tracks: FaceTracks,
    visible_track_ids: frozenset[int],
    policy: ConsentPolicy,
    sample_every_s: float = AUDIT_SAMPLE_EVERY_S,
    progress: Progress = no_progress,
    *,
    detector: FaceDetector | None = None,
    exempt_track_ids: frozenset[int] | None = None,
    findings_filter: FindingsFilter | None = None,
) -> AuditReport:
    """Look for faces in sampled frames of the ENCODED output (decoded again) that are neither hidden nor exempt.
    The rendering pass (``onepass``) runs the same check on the frames it encodes instead; this one is for a
    rendition made elsewhere or an audit asked for on its own.

    ``visible_track_ids``: the tracks the render left visible (their boxes are not hidden).  ``exempt_track_ids``
    (default: all of them): the visible tracks whose faces are not findings -- the pipeline exempts only the
    teacher's own tracks, so a face marked "consented pupil" is still shown to the owner as a finding.
    ``findings_filter`` may drop findings that are clearly not faces (``privacy.second_opinion``: hands, posters).
    """
    from videocoach.av import media

    stage = "audit"
    t0 = time.perf_counter()
    progress(stage, 0.0)
    det = detector or load_audit_detector()
    if not policy.hide_faces:
        return AuditReport(policy.name, policy.version, sample_every_s, det.threshold, 0, (), 0,
                           time.perf_counter() - t0, skipped_reason="the policy hides no faces (all consented)")
    if sample_every_s <= 0:
        raise ValueError("sample_every_s must be positive")
    visible = frozenset(int(i) for i in visible_track_ids)
    exempt = visible if exempt_track_ids is None else frozenset(int(i) for i in exempt_track_ids) & visible
    try:
        info = media.probe(redacted_path)
        hidden = HideSchedule(tracks, box_scale=policy.box_scale, hold_s=policy.hold_s, visible_track_ids=visible)
        shown = HideSchedule(
            replace(tracks, tracks=tuple(t for t in tracks.tracks if t.id in exempt)),
            box_scale=policy.box_scale,
            hold_s=policy.hold_s,
        )
        check = AuditCheck(det, policy.zones_px(tracks.width, tracks.height), findings_filter)
        findings: list[AuditFinding] = []
        sampled = 0
        expected = max(1, math.ceil(info.duration_s / sample_every_s))
        half_frame = 0.5 / tracks.fps
        with FrameReader(redacted_path, info, fps=1.0 / sample_every_s) as reader:
            for frame in reader:
                sampled += 1
                t = frame.t_s
                if hidden.whole_frame_at(t, round(t * tracks.fps)):
                    continue
                # frame times of the sampler and of the render differ by up to half a frame: allow both neighbours
                allowed = (hidden.boxes_at(t) + shown.boxes_at(max(0.0, t - half_frame))
                           + shown.boxes_at(t + half_frame))
                findings += check.findings(frame.image, t, allowed)
                progress(stage, min(0.99, sampled / expected))
    except (FFmpegError, FaceDetectorError, OSError, ValueError) as exc:
        raise RedactionError(f"the audit could not run (treat the lesson as not cleared): {exc}") from exc
    progress(stage, 1.0)
    return audit_report(policy, sample_every_s, det.threshold, sampled, findings, t0)


def _finding(image: np.ndarray, t_s: float, d: np.ndarray) -> AuditFinding:
    h, w = image.shape[:2]
    rect = clip_box(enlarge(d[:4], 2.0, up=0.0), w, h) or (0, 0, w, h)
    x1, y1, x2, y2 = rect
    pixels = np.ascontiguousarray(image[y1:y2, x1:x2])
    ok, png = cv2.imencode(".png", pixels)
    crop = base64.b64encode(png.tobytes()).decode("ascii") if ok else ""
    digest = hashlib.sha256(f"{t_s:.3f} {rect} {pixels.shape}".encode())
    digest.update(pixels.tobytes())
    return AuditFinding(round(t_s, 3), (float(d[0]), float(d[1]), float(d[2]), float(d[3])), float(d[4]), crop,
                        digest.hexdigest())


__all__ = [
    "AuditCheck",
    "AuditFinding",
    "AuditReport",
    "FindingsFilter",
    "FaceTrack",
    "FaceTracks",
    "RedactionError",
    "RenderReport",
    "audit",
    "audit_report",
    "check_tracks",
    "cut_clip",
    "detect_faces",
    "hide_rect",
    "load_audit_detector",
    "mosaic",
    "render_redacted",
    "zone_mask",
]
