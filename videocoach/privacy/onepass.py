"""The redaction in one decode: detect, hide, audit and encode in a single pass over the video.

``detect_faces`` + ``render_redacted`` + ``audit`` (``redact.py``) decode the video three times.  Here each decoded
frame is used by all three, under the same fail-closed rules (``redact.py`` rules 1-9, ``tracking.py`` hold rules):

- the hold rules need FUTURE detections (a face is hidden ``hold_s`` before its first detection; between two
  detections of a track the box enclosing both is hidden), so decoded frames wait in a bounded look-ahead buffer
  and a frame at ``t`` is rendered only once the tracker has seen every detection pass up to
  ``t + lookahead_s``.  ``lookahead_s`` is the longest reach of a hold rule into the future (``hold`` >= the
  tracker's ``max_lost_s``) plus two passes: the boxes hidden are exactly those the two-pass path hides, because a
  track's detections are never reassigned once the tracker has seen them (tests/test_onepass.py compares both);
- every ``AUDIT_SAMPLE_EVERY_S`` the audit detector looks at the frame AS RENDERED, just before it is encoded.
  Encoding cannot bring back what the mosaic or the fill removed (tests/test_onepass.py encodes hidden real faces
  with the product's encoder settings, decodes them and runs the audit detector on them), so this judges what a
  browser gets without decoding the output again;
- a re-render with saved tracks (a reviewer marked a face) skips detection and still audits in the same pass.

Detection passes and audit frames run on a small thread pool (onnxruntime releases the GIL) while ffmpeg decodes
and encodes in their own processes.
"""

from __future__ import annotations

import math
import os
import queue
import threading
import time
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import nullcontext
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from videocoach.av.ffmpeg import FFmpegError
from videocoach.av.video_io import Frame, FrameReader, FrameWriter
from videocoach.core.model import MediaInfo, Progress, no_progress
from videocoach.privacy import faces
from videocoach.privacy.faces import FaceDetector, FaceDetectorError
from videocoach.privacy.policy import ConsentPolicy
from videocoach.privacy.schedule import MotionGatedDetector, ScheduleConfig, schedule_from_env
from videocoach.privacy.redact import (
    AUDIT_SAMPLE_EVERY_S,
    CRF,
    DETECT_WORKERS,
    DETECTOR_NAME,
    KEYFRAME_S,
    RENDER_PRESET,
    AuditCheck,
    AuditFinding,
    AuditReport,
    FindingsFilter,
    RedactionError,
    RenderReport,
    _check_complete,
    _temp_beside,
    _verify_output,
    audit_report,
    check_tracks,
    hide_frame,
    load_audit_detector,
    look_again,
    new_track_id_base,
    zone_mask,
)
from videocoach.privacy.tracking import (
    ABRUPT_HOLD_FACTOR,
    FaceTracks,
    HideSchedule,
    Tracker,
)

LOOKAHEAD_MARGIN_PASSES = 2
# a detect-only pass (the enrolled teacher's flow: the render follows the people step) has no encoder beside it: the
# video is cut in this many stretches, each decoded and detected in its own thread with its own single-threaded
# session (``detect_in_parts``; two intra-op threads on the motion schedule's small crops cost 10-30 % more CPU
# for no shorter wall under load)
DETECT_ONLY_PARTS = 2
PART_MIN_S = 10.0  # a stretch shorter than this is not worth its own decoder
STREAM_N_FRAMES = 2**40  # the partial tracks' frame count: every decoded frame is "seen" (rule 3 needs no check)
TO_THE_END = STREAM_N_FRAMES  # ``frames=(start, TO_THE_END)``: from ``start`` to the end of the stream

# called with each detection pass that found faces: its time, its frame as decoded (nothing hidden yet; do not
# change it) and each detection with the id of the track it joined
OnDetections = Callable[[float, np.ndarray, tuple[tuple[int, object], ...]], None]


@dataclass(frozen=True)
class RedactionResult:
    tracks: FaceTracks
    render: RenderReport | None  # None: detection only (no ``out_path``)
    audit: AuditReport | None


def hold_s(policy: ConsentPolicy, fps: float) -> float:
    """The hold of ``HideSchedule`` (never under two detection intervals); the tracker's ``max_lost_s`` equals it."""
    return max(policy.hold_s, 2 * policy.detect_every / fps)


def lookahead_s(policy: ConsentPolicy, fps: float) -> float:
    """How far past a frame the detections must be known before it is rendered (see the module docstring)."""
    return hold_s(policy, fps) + LOOKAHEAD_MARGIN_PASSES * policy.detect_every / fps


class _Schedules:
    """The boxes to hide and the boxes the audit exempts (the teacher's visible tracks), from the tracks so far
    (streaming) or from saved tracks."""

    def __init__(self, meta: FaceTracks, policy: ConsentPolicy, visible: frozenset[int], exempt: frozenset[int],
                 tracker: Tracker | None) -> None:
        self.meta, self.policy, self.visible, self.tracker = meta, policy, visible, tracker
        self.exempt = exempt & visible
        hold = hold_s(policy, meta.fps)
        # how long a track still matters after its last detection: the abrupt-vanish tail, plus a margin
        self.keep_s = ABRUPT_HOLD_FACTOR * hold + 2 * meta.detect_interval_s
        self._closed: list = []
        self._n_closed = 0
        self.failed: list[float] = []
        self.build(meta.tracks)

    def build(self, tracks) -> None:
        tracks = tuple(tracks)
        ft = replace(self.meta, tracks=tracks, failed_s=tuple(self.failed) or self.meta.failed_s)
        args = dict(box_scale=self.policy.box_scale, hold_s=self.policy.hold_s)
        self.hidden = HideSchedule(ft, visible_track_ids=self.visible, **args)
        self.shown = HideSchedule(replace(ft, tracks=tuple(t for t in tracks if t.id in self.exempt)), **args)

    def refresh(self, t_render: float) -> None:
        """Rebuild from the tracker's tracks that can still reach frames from ``t_render`` on."""
        assert self.tracker is not None
        since = t_render - self.keep_s
        open_, closed, self._n_closed = self.tracker.tracks_so_far(self._n_closed, since_s=since)
        self._closed = [t for t in self._closed + list(closed) if t.end_s >= since]
        self.build(sorted(self._closed + list(open_), key=lambda t: t.id))


def redact_in_one_pass(
    video_path: str | os.PathLike[str],
    info: MediaInfo,
    policy: ConsentPolicy,
    out_path: str | os.PathLike[str] | None,
    progress: Progress = no_progress,
    *,
    tracks: FaceTracks | None = None,
    on_detections: OnDetections | None = None,
    visible_track_ids: frozenset[int] = frozenset(),
    exempt_track_ids: frozenset[int] | None = None,
    detectors: Sequence[FaceDetector] | None = None,
    audit_detector: FaceDetector | None = None,
    findings_filter: FindingsFilter | None = None,
    sample_every_s: float = AUDIT_SAMPLE_EVERY_S,
    id_base: int | None = None,
    preset: str = RENDER_PRESET,
    frames: tuple[int, int] | None = None,
    schedule: ScheduleConfig | None = None,
) -> RedactionResult:
    """Detect (unless ``tracks`` are given), render to ``out_path`` and audit, decoding the video once.

    ``visible_track_ids`` are left unhidden; the audit exempts only ``exempt_track_ids`` of them (default: all), so
    the pipeline passes the teacher's tracks and a consented pupil's visible face is still a finding for the owner.
    ``on_detections`` sees each detection pass with its frame (the people step's face descriptors, without a
    decode of their own).  ``out_path`` None: detect only -- nothing is rendered nor audited (the pipeline renders
    again anyway once the people step has found the teacher), and ``render``/``audit`` of the result are None.
    Progress is reported as ``faces`` (detecting) or ``render`` (saved tracks) over the frames encoded.  Any error
    removes the partial output and raises ``RedactionError``; a detection pass that raises hides the frames around it
    whole (rule 1), as in ``redact.detect_faces``.  ``frames`` (saved tracks only): render just the frames
    ``[start, end)`` (same indices, hiding and audit samples as a whole render), video only -- a stretch that
    ``privacy.splice`` puts into the previous rendition.  ``schedule`` (default: ``VIDEOCOACH_DETECT_SCHEDULE``, else
    ``motion``) says where each pass looks (``schedule.py``); ``every-pass`` is the three-pass path's schedule.
    """
    stage = "faces" if tracks is None else "render"
    rendering = out_path is not None
    if not rendering and (tracks is not None or not policy.hide_faces):
        raise ValueError("detection only needs a policy that hides faces and no saved tracks")
    out_path = Path(out_path) if rendering else None
    tmp = _temp_beside(out_path) if rendering else None
    t0 = time.perf_counter()
    progress(stage, 0.0)
    if not info.has_video:
        raise RedactionError(f"{Path(video_path).name}: no video stream")
    if sample_every_s <= 0:
        raise ValueError("sample_every_s must be positive")
    if frames is not None and tracks is None and rendering:
        raise ValueError("a frame range renders with saved tracks only (or detects only: ``detect_in_parts``)")
    visible = frozenset(int(i) for i in visible_track_ids)
    # the audit exempts only these visible tracks (default: all); a consented pupil's face is still a finding
    exempt = visible if exempt_track_ids is None else frozenset(int(i) for i in exempt_track_ids) & visible
    counts = dict(frames=0, boxes=0, face_frames=0, zone_frames=0, full=0, sampled=0)
    findings: list[AuditFinding] = []
    try:
        detecting = tracks is None and policy.hide_faces
        plan = schedule or schedule_from_env()
        gated = plan.name == "motion"  # stateful: one detector, its passes in time order on one thread
        dets_: list[FaceDetector] = []
        if detecting:
            dets_ = list(detectors) if detectors else [
                faces.load_pass_detector(policy.threshold, upscale_small=policy.upscale_small,
                                         device=faces.detector_device())
                for _ in range(1 if gated else DETECT_WORKERS)
            ]
            for det in dets_:
                if det.config.threshold > policy.threshold or (policy.upscale_small and not det.config.upscale_small):
                    raise RedactionError("a detector given is less sensitive than the policy asks for")
        auditing = policy.hide_faces and rendering
        adet = (audit_detector or load_audit_detector()) if auditing else None
        idle: queue.SimpleQueue[FaceDetector] = queue.SimpleQueue()
        for det in dets_:
            idle.put(det)
        audit_lock = threading.Lock()

        look = look_again(policy)  # the pass's faces hidden, looked at again (schedule.LookAgain)
        gate = MotionGatedDetector(dets_[0], plan, look) if detecting and gated else None

        def detect(image: np.ndarray) -> np.ndarray | None:
            if gate is not None:  # runs on its own single thread, so passes come in time order
                try:
                    return gate.detect(image)
                except FaceDetectorError:
                    return None  # fail closed, as below; the gate's next pass is a whole-frame one
            det = idle.get()
            try:
                return look(det, image, det.detect(image))
            except FaceDetectorError:
                return None  # fail closed: the frames around this pass are hidden whole
            finally:
                idle.put(det)

        with (FrameReader(video_path, info, frames=frames) as reader,
              ThreadPoolExecutor(max(1, len(dets_)), "redact") as pool,
              ThreadPoolExecutor(1, "redact-gate") as gate_pool):
            passes = gate_pool if gate is not None else pool
            fps, width, height = reader.fps, reader.width, reader.height
            every = policy.detect_every
            tracker = None
            if detecting:
                base = new_track_id_base() if id_base is None else id_base
                tracker = Tracker(every / fps, max_lost_s=hold_s(policy, fps), id_base=base)
                name = DETECTOR_NAME + ("-int8" if any(d.config.precision == "int8" for d in dets_) else "")
                name += "+motion" if gate is not None else ""
                meta = FaceTracks((), width, height, fps, STREAM_N_FRAMES, every, max(d.config.threshold for d in dets_),
                                  tracker.max_lost_s, name + ("+2x" if all(d.config.upscale_small for d in dets_) else ""))
            elif tracks is not None and policy.hide_faces:
                check_tracks(tracks, policy, width, height)
                meta = tracks
            else:  # nothing to hide but zones: an empty schedule
                meta = FaceTracks((), width, height, fps, STREAM_N_FRAMES, every, policy.threshold, hold_s(policy, fps))
            sched = _Schedules(meta, policy, visible, exempt, tracker)
            zmask = zone_mask(policy, width, height, teacher_marked=bool(visible & {t.id for t in meta.tracks}))
            check = AuditCheck(adet, policy.zones_px(width, height), findings_filter) if adet is not None else None
            audit_every = max(1, round(sample_every_s * fps))
            ahead = lookahead_s(policy, fps) if detecting and rendering else 0.0
            first = reader.first_index
            whole_n = round(info.duration_s * fps)
            expected = max(1, whole_n if frames is None else min(frames[1], whole_n) - frames[0])
            pending: deque[tuple[float, Future, np.ndarray]] = deque()
            audits: list[Future] = []
            buffer: deque[Frame] = deque()
            seen = {"until": -math.inf if detecting else math.inf}

            def feed(keep: int) -> None:
                fed = False
                while pending and (len(pending) > keep or pending[0][1].done()):
                    t_s, fut, image = pending.popleft()
                    found = fut.result()
                    if found is None:
                        sched.failed.append(t_s)  # the frames around it are hidden whole
                    else:
                        tracker.update(t_s, found)
                        if on_detections is not None:  # every pass, faces or none (bodies are sampled too)
                            now = tracker.tracks_so_far(STREAM_N_FRAMES, since_s=t_s, keep_last=1)[0] if len(
                                found) else ()
                            on_detections(t_s, image, tuple((tr.id, tr.detections[-1]) for tr in now
                                                          if tr.detections[-1].t_s == t_s))
                    seen["until"] = t_s
                    fed = True
                if fed and buffer:
                    sched.refresh(buffer[0].t_s)

            def audit_frame(image: np.ndarray, t_s: float, allowed: list) -> list[AuditFinding]:
                with audit_lock:  # one audit session
                    return check.findings(image, t_s, allowed)

            timeout_s = 600.0 + 30.0 * info.duration_s
            audio = None if frames else (video_path, info)  # a stretch is video only: splice keeps the audio
            with FrameWriter(tmp, width, height, fps, audio_from=audio, preset=preset, crf=CRF,
                             keyframe_s=KEYFRAME_S, timeout_s=timeout_s) if rendering else nullcontext() as writer:

                def render(frame: Frame) -> None:
                    if not rendering:  # detection only
                        counts["frames"] += 1
                        if frame.index % 25 == 0:
                            progress(stage, min(0.99, (frame.index - first) / expected))
                        return
                    image, t = frame.image, frame.t_s
                    whole = policy.hide_faces and sched.hidden.whole_frame_at(t, frame.index)
                    whole, rects = hide_frame(image, whole, zmask,
                                              (lambda: sched.hidden.boxes_at(t)) if policy.hide_faces else None,
                                              policy, counts)
                    if check is not None and frame.index % audit_every == 0:
                        counts["sampled"] += 1
                        if not whole:  # the frame as encoded: nothing after this line changes it
                            allowed = rects + sched.shown.boxes_at(t)
                            audits.append(pool.submit(audit_frame, image, t, allowed))
                    writer.write(image)
                    counts["frames"] += 1
                    if frame.index % 25 == 0:
                        progress(stage, min(0.99, (frame.index - first) / expected))

                last: Frame | None = None
                last_detected = -1
                for frame in reader:
                    last = frame
                    buffer.append(frame)
                    if detecting and frame.index % every == 0:
                        pending.append((frame.t_s, passes.submit(detect, frame.image), frame.image))
                        last_detected = frame.index
                    if detecting:
                        feed(2 * len(dets_))  # bounded: a few passes in flight
                    while buffer and buffer[0].t_s <= seen["until"] - ahead:
                        render(buffer.popleft())
                    while audits and audits[0].done():
                        findings.extend(audits.pop(0).result())
                if last is None:
                    raise RedactionError(f"{Path(video_path).name}: no video frame could be decoded")
                if detecting:
                    if last.index != last_detected:  # the last frame is always a pass (rule 5)
                        pending.append((last.t_s, passes.submit(detect, last.image), last.image))
                    feed(0)
                while buffer:
                    render(buffer.popleft())
                for fut in audits:
                    findings.extend(fut.result())
                if frames is None:
                    _check_complete(video_path, info, counts["frames"] / fps)
                elif frames[1] < TO_THE_END and counts["frames"] != frames[1] - frames[0]:
                    raise RedactionError(f"frames {frames[0]}-{frames[1]}: only {counts['frames']} could be decoded")
            if detecting:
                tracks = replace(meta, tracks=tracker.finish(), n_frames=counts["frames"],
                                 failed_s=tuple(sorted(sched.failed)))
            elif tracks is None:
                tracks = replace(meta, n_frames=counts["frames"])
        if rendering:
            _verify_output(tmp, counts["frames"] / fps)
            os.replace(tmp, out_path)
    except RedactionError:
        if tmp is not None:
            tmp.unlink(missing_ok=True)
        raise
    except (FFmpegError, FaceDetectorError, OSError, ValueError, RuntimeError) as exc:
        if tmp is not None:
            tmp.unlink(missing_ok=True)
        raise RedactionError(f"redaction failed, nothing was kept: {exc}") from exc
    except BaseException:
        if tmp is not None:
            tmp.unlink(missing_ok=True)  # Ctrl-C, a callback that raised: no partial output either
        raise
    progress(stage, 1.0)
    if not rendering:
        return RedactionResult(tracks=tracks, render=None, audit=None)
    elapsed = time.perf_counter() - t0
    render = RenderReport(
        policy_name=policy.name, policy_version=policy.version, method=policy.method,
        visible_track_ids=tuple(sorted(visible)), frames=counts["frames"], hidden_boxes=counts["boxes"],
        frames_with_hidden_faces=counts["face_frames"], zone_frames=counts["zone_frames"],
        fully_hidden_frames=counts["full"], width=width, height=height, fps=fps,
        duration_s=counts["frames"] / fps, render_s=elapsed, output_bytes=out_path.stat().st_size,
    )
    if adet is None:
        report = AuditReport(policy.name, policy.version, sample_every_s, 0.0, 0, (), 0, 0.0,
                             skipped_reason="the policy hides no faces (all consented)")
    else:
        report = audit_report(policy, sample_every_s, adet.threshold, counts["sampled"], findings, t0)
    return RedactionResult(tracks=tracks, render=render, audit=report)


class _PartStopped(BaseException):
    """Another stretch of ``detect_in_parts`` failed: this one stops too (not an Exception: nothing swallows it)."""


def part_cuts(info: MediaInfo, policy: ConsentPolicy, parts: int = DETECT_ONLY_PARTS) -> list[int]:
    """Where ``detect_in_parts`` cuts the video: frame indices on the detection grid (a multiple of
    ``detect_every``), stretches of at least ``PART_MIN_S``; [] (one stretch) for a short video."""
    n = round(info.duration_s * info.fps)
    parts = max(1, min(parts, int(info.duration_s // PART_MIN_S)))
    every = policy.detect_every
    cuts = [(n * k // parts) // every * every for k in range(1, parts)]
    return [c for c in cuts if 0 < c < n]


def detect_in_parts(
    video_path: str | os.PathLike[str],
    info: MediaInfo,
    policy: ConsentPolicy,
    progress: Progress = no_progress,
    *,
    on_detections_for: Callable[[int], OnDetections | None] = lambda _part: None,
    parts: int = DETECT_ONLY_PARTS,
    schedule: ScheduleConfig | None = None,
) -> tuple[FaceTracks, list[FaceTracks]]:
    """Detection only (``redact_in_one_pass`` with no output), the video cut at ``part_cuts`` into stretches that
    are decoded and detected side by side, each in its own thread with its own detector (one core each).

    Every stretch is a whole detection pass of its own: its first frame is a whole-frame pass and its last frame a
    pass (rule 5), so each frame is covered as in one pass, and a face crossing a cut is two tracks, each held by
    the hold rules (more hiding at the cut, never less).  Track ids come from a different base per stretch.
    ``on_detections_for(k)`` gives stretch ``k``'s callback (each called from its own thread, in time order).  The
    tracks are merged in time order; the decoded length is checked as one pass checks it.  A stretch that fails
    stops the others and its error is raised (``RedactionError``).  Returns (the merged tracks, each stretch's)."""
    cuts = part_cuts(info, policy, parts)
    bounds = list(zip([0, *cuts], [*cuts, TO_THE_END]))
    bases: list[int] = []
    while len(bases) < len(bounds):  # distinct id ranges: the merged tracks' ids stay unique
        base = new_track_id_base()
        if base not in bases:
            bases.append(base)
    stop = threading.Event()
    done = [0.0] * len(bounds)
    lock = threading.Lock()
    results: list[RedactionResult | None] = [None] * len(bounds)
    errors: list[BaseException] = []

    def part_progress(k: int) -> Progress:
        def report(stage: str, fraction: float) -> None:
            if stop.is_set():
                raise _PartStopped()
            with lock:  # one caller at a time, the parts' fractions as one
                done[k] = fraction
                progress(stage, min(0.99, sum(done) / len(done)))
        return report

    def run(k: int) -> None:
        try:
            results[k] = redact_in_one_pass(video_path, info, policy, None, part_progress(k),
                                            on_detections=on_detections_for(k), id_base=bases[k],
                                            frames=None if len(bounds) == 1 else bounds[k], schedule=schedule)
        except _PartStopped:
            pass
        except BaseException as exc:  # kept and raised in the caller's thread (Ctrl-C and Cancelled included)
            with lock:
                errors.append(exc)
            stop.set()

    threads = [threading.Thread(target=run, args=(k,), name=f"detect-part-{k}", daemon=True)
               for k in range(1, len(bounds))]
    for t in threads:
        t.start()
    run(0)  # the first stretch in the caller's thread
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    got = [r.tracks for r in results]  # type: ignore[union-attr]
    n_frames = sum(t.n_frames for t in got)
    if len(got) > 1:
        _check_complete(video_path, info, n_frames / got[0].fps)
    merged = replace(got[0], tracks=tuple(tr for t in got for tr in t.tracks), n_frames=n_frames,
                     failed_s=tuple(sorted(x for t in got for x in t.failed_s)))
    progress("faces", 1.0)
    return merged, got


__all__ = ["DETECT_ONLY_PARTS", "LOOKAHEAD_MARGIN_PASSES", "RedactionResult", "detect_in_parts", "hold_s",
           "lookahead_s", "part_cuts", "redact_in_one_pass"]
