"""Re-render only the stretches a face mark changes, and splice them into the previous rendition.

A change of marks (a track marked "teacher" or "consented pupil", a mark withdrawn, the enrolled teacher found)
changes pixels only in the frames where such a track has a box to hide (``tracking.HideSchedule``: enlarged boxes,
held before, between and after detections), and the audit's judgement only there too.  The rendition has fixed GOPs
(``redact.KEYFRAME_S``, no scene-cut keyframes; x264's GOPs are closed) -- checked on the file, never assumed:

1. ``changed_frames``: the frame ranges the change reaches (pure; every frame when the zones change);
2. ``gop_layout``: the previous rendition's keyframes, every GOP closed (its packets show exactly its own frames);
3. each GOP-aligned stretch holding a changed frame is rendered again from the ORIGINAL (``onepass`` with a frame
   range: hidden with the new visibility, audited in the same pass, the same encoder settings).  The original is
   decoded from its start up to the stretch's end and the frames before are dropped right after the decoder (not
   converted, hidden or encoded): the frame indices are those of a whole render on any original, constant frame
   rate or not, which a seek would not promise; decoding costs about 1/25 of real time at 720p on one core;
4. ``splice_packets``: the unchanged GOPs' packets of the previous rendition are copied as they are, each new
   stretch's packets take the place of the GOPs it replaces (timestamps moved there), the audio is copied;
5. ``verify``: every frame of the result decodes, as many as before, each at its time.  Only then does the caller
   replace the rendition (a sealed file swapped in one step: never half-replaced).

Any doubt raises ``SpliceError`` and the caller renders the whole lesson instead.  The audit merges: the previous
findings outside the stretches (their crops kept), the new ones inside.  Packets are copied with PyAV (the FFmpeg
libraries faster-whisper already brings), which gives each packet's exact timestamps; only the product's own
renditions are opened with it, the original is decoded by ``FrameReader`` as always.
"""

from __future__ import annotations

import bisect
import dataclasses
import hashlib
import json
import os
import time
from dataclasses import dataclass, replace
from fractions import Fraction
from pathlib import Path
from typing import Sequence

import numpy as np

from videocoach.av.video_io import rational_fps
from videocoach.core.digest import file_sha256
from videocoach.core.model import MediaInfo, Progress, no_progress
from videocoach.privacy.onepass import redact_in_one_pass
from videocoach.privacy.policy import ConsentPolicy, policy_to_dict
from videocoach.privacy.redact import (
    AUDIT_MAX_CROPS,
    AUDIT_SAMPLE_EVERY_S,
    CRF,
    KEYFRAME_S,
    RENDER_PRESET,
    AuditFinding,
    AuditReport,
    FindingsFilter,
    RedactionError,
    RenderReport,
    _temp_beside,
    zone_mask,
)
from videocoach.privacy.tracking import FaceTracks, HideSchedule

# the encoder settings every rendition is made with; a rendition made otherwise is never spliced into
ENCODER = f"libx264 preset={RENDER_PRESET} crf={CRF} keyframe={KEYFRAME_S}s closed-gop no-scenecut yuv420p"
MAX_SHARE = 0.6  # a change reaching more of the lesson than this renders it whole (fewer steps, same cost)
MERGE_GAP_S = 4.0  # stretches closer than this are rendered as one (each stretch decodes the original up to it)
MAX_STRETCHES = 4  # more are joined across their shortest gaps: each decodes the original from its start (exact)


class SpliceError(RuntimeError):
    """The rendition cannot be spliced (or the splice failed its checks): render the whole lesson instead."""


@dataclass(frozen=True)
class Rendition:
    """What a rendition was rendered with, kept beside it: the next change of marks is diffed against this."""

    encoder: str
    policy_sha256: str
    tracks_sha256: str
    original_sha256: str  # the original it was rendered from (a replaced original renders whole)
    file_sha256: str  # the rendition itself
    visible_track_ids: tuple[int, ...]
    exempt_track_ids: tuple[int, ...]
    render: RenderReport
    audit: AuditReport  # findings without their crops (those stay sealed in the vault)


@dataclass(frozen=True)
class GopLayout:
    """A rendition's video as the muxer wrote it: keyframe frame indices, frame count, the time grid."""

    starts: tuple[int, ...]
    n_frames: int
    first_pts: int
    ticks: int  # time-base ticks per frame
    time_base: Fraction


@dataclass(frozen=True)
class Spliced:
    render: RenderReport
    audit: AuditReport
    crops: tuple[str, ...]  # the merged findings' crops (PNG, base64; "" where none was kept)
    stretches: tuple[tuple[int, int], ...]  # the frames rendered again, GOP-aligned
    changed: tuple[tuple[int, int], ...]  # the frames the change reaches
    splice_s: float  # copying, muxing and verifying


def policy_sha256(policy: ConsentPolicy) -> str:
    return hashlib.sha256(json.dumps(policy_to_dict(policy), sort_keys=True, default=str).encode()).hexdigest()


def rendition_of(policy: ConsentPolicy, tracks: FaceTracks, original: str | os.PathLike[str],
                 path: str | os.PathLike[str], visible: frozenset[int], exempt: frozenset[int], render: RenderReport,
                 audit: AuditReport) -> Rendition:
    findings = tuple(replace(f, crop_png_b64="") for f in audit.findings)
    return Rendition(ENCODER, policy_sha256(policy), hashlib.sha256(tracks.to_json().encode()).hexdigest(),
                     file_sha256(original), file_sha256(path), tuple(sorted(visible)), tuple(sorted(exempt & visible)),
                     render, replace(audit, findings=findings))


def load_rendition(text: str) -> Rendition:
    """The stored record; one that does not read back (another release's) raises ``SpliceError``."""
    from videocoach.core import serialize

    try:
        return serialize.loads(Rendition, text)
    except (ValueError, TypeError, KeyError) as exc:
        raise SpliceError(f"the rendition's record does not read back: {exc}") from exc


# ---- which frames change ------------------------------------------------------------------------------------------


def changed_frames(tracks: FaceTracks, policy: ConsentPolicy, n_frames: int, fps: float,
                   before: tuple[frozenset[int], frozenset[int]],
                   after: tuple[frozenset[int], frozenset[int]]) -> tuple[tuple[int, int], ...]:
    """Frame ranges ``[start, end)`` whose pixels or audit a change of (visible, exempt) tracks can change: where a
    track whose visibility or exemption changed has a box (the renderer's hold rules); all frames when the zones
    change (the teacher zones open once a teacher track is shown)."""
    (vis_b, ex_b), (vis_a, ex_a) = before, after
    ids = {t.id for t in tracks.tracks}
    zones_b = zone_mask(policy, tracks.width, tracks.height, teacher_marked=bool(vis_b & ids))
    zones_a = zone_mask(policy, tracks.width, tracks.height, teacher_marked=bool(vis_a & ids))
    if (zones_b is None) != (zones_a is None) or (zones_b is not None and not np.array_equal(zones_b, zones_a)):
        return ((0, n_frames),) if n_frames else ()
    changed = (vis_b ^ vis_a) | ((ex_b & vis_b) ^ (ex_a & vis_a))
    sub = replace(tracks, tracks=tuple(t for t in tracks.tracks if t.id in changed), failed_s=())
    if not sub.tracks or not policy.hide_faces:
        return ()
    schedule = HideSchedule(sub, box_scale=policy.box_scale, hold_s=policy.hold_s)
    out: list[list[int]] = []
    for i in range(n_frames):
        if schedule.boxes_at(i / fps):
            if out and out[-1][1] == i:
                out[-1][1] = i + 1
            else:
                out.append([i, i + 1])
    return tuple((a, b) for a, b in out)


def gop_stretches(changed: Sequence[tuple[int, int]], starts: Sequence[int], n_frames: int,
                  merge_gap: int = 0, max_stretches: int | None = None) -> tuple[tuple[int, int], ...]:
    """The whole GOPs holding the changed frames, joined where they touch or lie within ``merge_gap`` frames, and
    across the shortest gaps until at most ``max_stretches`` are left."""
    bounds = list(starts) + [n_frames]
    out: list[list[int]] = []
    for a, b in changed:
        s = bounds[max(0, bisect.bisect_right(bounds, a) - 1)]
        e = bounds[min(len(bounds) - 1, bisect.bisect_left(bounds, b))]
        if out and s - out[-1][1] <= merge_gap:  # both ends are GOP bounds: the join is whole GOPs too
            out[-1][1] = max(out[-1][1], e)
        else:
            out.append([s, e])
    while max_stretches is not None and len(out) > max(1, max_stretches):
        k = min(range(len(out) - 1), key=lambda j: out[j + 1][0] - out[j][1])
        out[k:k + 2] = [[out[k][0], out[k + 1][1]]]
    return tuple((a, b) for a, b in out)


# ---- the file's GOPs ----------------------------------------------------------------------------------------------


def gop_layout(path: str | os.PathLike[str], fps: float) -> GopLayout:
    """Read the video packets (no decoding) and check every GOP is closed and on the frame grid of ``fps``."""
    import av

    rate = rational_fps(fps)
    pts: list[int] = []
    keys: list[bool] = []
    try:
        with av.open(str(path)) as box:
            stream = box.streams.video[0]
            tb = Fraction(stream.time_base)
            for packet in box.demux(stream):
                if packet.size == 0:
                    continue
                if packet.pts is None or packet.dts is None:
                    raise SpliceError("a video packet without timestamps")
                pts.append(int(packet.pts))
                keys.append(bool(packet.is_keyframe))
    except (av.FFmpegError, IndexError, OSError) as exc:
        raise SpliceError(f"the rendition's packets could not be read: {exc}") from exc
    ticks = 1 / (rate * tb)
    if not pts or not keys[0] or ticks.denominator != 1:
        raise SpliceError("the rendition does not start with a keyframe on a whole-tick frame grid")
    ticks_i, first = int(ticks), min(pts)
    index = [(p - first) // ticks_i for p in pts]
    if any((p - first) % ticks_i for p in pts) or sorted(index) != list(range(len(pts))):
        raise SpliceError("the rendition's frames are not one constant-rate sequence")
    starts = [index[k] for k, key in enumerate(keys) if key]
    if starts != sorted(starts):
        raise SpliceError("keyframes out of order")
    bounds = starts + [len(pts)]
    gop = -1
    for k, i in enumerate(index):
        if keys[k]:
            gop += 1
        if not bounds[gop] <= i < bounds[gop + 1]:  # an open GOP: a packet shows a frame of another GOP
            raise SpliceError(f"GOP {gop} is not closed")
    return GopLayout(tuple(starts), len(pts), first, ticks_i, tb)


# ---- copying packets ----------------------------------------------------------------------------------------------


def splice_packets(old: str | os.PathLike[str], pieces: Sequence[tuple[int, int, str | os.PathLike[str]]],
                   out: str | os.PathLike[str], fps: float) -> None:
    """Write ``out``: the GOPs of ``old`` outside the pieces copied packet for packet, each piece ``(start, end,
    path)`` (a rendition of frames ``[start, end)``) in their place, the audio of ``old`` copied."""
    import av

    layout = gop_layout(old, fps)
    parts = []
    for start, end, path in sorted(pieces, key=lambda p: p[0]):
        piece = gop_layout(path, fps)
        if start not in layout.starts or (end != layout.n_frames and end not in layout.starts):
            raise SpliceError(f"frames {start}-{end} are not whole GOPs of the rendition")
        if piece.n_frames != end - start or piece.time_base != layout.time_base or piece.ticks != layout.ticks:
            raise SpliceError(f"the stretch {start}-{end} does not fit the rendition's frame grid")
        parts.append((start, end, Path(path), piece))
    try:
        with av.open(str(old)) as src, av.open(str(out), "w", format="mp4",
                                                options={"movflags": "+faststart", "fflags": "+bitexact"}) as dst:
            sv = src.streams.video[0]
            sa = src.streams.audio[0] if src.streams.audio else None
            ov = dst.add_stream_from_template(sv)
            oa = dst.add_stream_from_template(sa) if sa is not None else None
            gop_start = -1
            todo = list(parts)
            for packet in src.demux(*([sv] + ([sa] if sa is not None else []))):
                if packet.size == 0:
                    continue
                if packet.stream is not sv:
                    packet.stream = oa
                    dst.mux(packet)
                    continue
                if packet.is_keyframe:
                    gop_start = (packet.pts - layout.first_pts) // layout.ticks
                if todo and gop_start >= todo[0][0]:
                    start, end, path, piece = todo.pop(0)
                    _copy_piece(path, piece, start, layout, sv, ov, dst)
                if any(s <= gop_start < e for s, e, _, _ in parts):
                    continue
                packet.stream = ov
                dst.mux(packet)
            if todo:
                raise SpliceError("a stretch lies past the rendition's end")
    except (av.FFmpegError, OSError, ValueError) as exc:
        raise SpliceError(f"splicing failed: {exc}") from exc


def _copy_piece(path: Path, piece: GopLayout, start: int, layout: GopLayout, sv, ov, dst) -> None:
    import av

    with av.open(str(path)) as box:
        stream = box.streams.video[0]
        if bytes(stream.codec_context.extradata or b"") != bytes(sv.codec_context.extradata or b""):
            raise SpliceError("the stretch was encoded with other stream headers (SPS/PPS)")
        shift = layout.first_pts + start * layout.ticks - piece.first_pts
        for packet in box.demux(stream):
            if packet.size == 0:
                continue
            packet.pts += shift
            packet.dts += shift
            packet.stream = ov
            dst.mux(packet)


def verify(path: str | os.PathLike[str], layout: GopLayout, audio_packets: int | None = None) -> None:
    """Every video frame decodes without error, as many as ``layout`` has, each at its time on the grid."""
    import av

    n = 0
    try:
        with av.open(str(path)) as box:
            stream = box.streams.video[0]
            stream.thread_type = "AUTO"
            stream.codec_context.options = {"err_detect": "explode"}
            for frame in box.decode(stream):
                if frame.pts != layout.first_pts + n * layout.ticks:
                    raise SpliceError(f"frame {n} is at {frame.pts}, expected {layout.first_pts + n * layout.ticks}")
                n += 1
        if audio_packets is not None:
            with av.open(str(path)) as box:
                got = sum(1 for p in box.demux(box.streams.audio[0]) if p.size) if box.streams.audio else 0
            if got != audio_packets:
                raise SpliceError(f"{got} audio packets, expected {audio_packets}")
    except av.FFmpegError as exc:
        raise SpliceError(f"the spliced rendition does not decode: {exc}") from exc
    if n != layout.n_frames:
        raise SpliceError(f"the spliced rendition has {n} frames, expected {layout.n_frames}")


def _audio_packets(path: str | os.PathLike[str]) -> int:
    import av

    try:
        with av.open(str(path)) as box:
            return sum(1 for p in box.demux(box.streams.audio[0]) if p.size) if box.streams.audio else 0
    except av.FFmpegError as exc:
        raise SpliceError(f"the rendition's audio could not be read: {exc}") from exc


# ---- the whole step -----------------------------------------------------------------------------------------------


def rerender_changed(
    original: str | os.PathLike[str], info: MediaInfo, policy: ConsentPolicy, tracks: FaceTracks,
    previous: str | os.PathLike[str], was: Rendition, crops: Sequence[str], visible: frozenset[int],
    exempt: frozenset[int], out_path: str | os.PathLike[str], progress: Progress = no_progress, *,
    findings_filter: FindingsFilter | None = None, sample_every_s: float = AUDIT_SAMPLE_EVERY_S,
) -> Spliced:
    """Render again only the GOPs a change of marks reaches and splice them into ``previous`` (described by
    ``was``; ``crops``: its findings' crops) as ``out_path``; nothing is written there when no frame changes.
    Raises ``SpliceError`` whenever the whole lesson must be rendered instead (nothing is left at ``out_path``)."""
    t0 = time.perf_counter()
    exempt = exempt & visible
    if was.encoder != ENCODER or was.policy_sha256 != policy_sha256(policy):
        raise SpliceError("the rendition was made with other encoder settings or another policy")
    if was.tracks_sha256 != hashlib.sha256(tracks.to_json().encode()).hexdigest():
        raise SpliceError("the rendition was made from other face tracks")
    if was.audit.finding_count != len(was.audit.findings) or len(crops) not in (0, len(was.audit.findings)):
        raise SpliceError("the previous audit kept only some of its findings")
    if was.audit.sample_every_s != sample_every_s:
        raise SpliceError("the previous audit sampled at another rate")
    if file_sha256(previous) != was.file_sha256:
        raise SpliceError("the stored rendition is not the one described")
    if file_sha256(original) != was.original_sha256:
        raise SpliceError("the original is not the one the rendition was made from")
    fps = float(rational_fps(info.fps or 25.0))
    layout = gop_layout(previous, fps)
    if layout.n_frames != was.render.frames or abs(was.render.fps - fps) > 1e-9:
        raise SpliceError("the rendition's frame count does not match its record")
    before = (frozenset(was.visible_track_ids), frozenset(was.exempt_track_ids))
    changed = changed_frames(tracks, policy, layout.n_frames, fps, before, (visible, exempt))
    merge = round(MERGE_GAP_S * fps)
    stretches = gop_stretches(changed, layout.starts, layout.n_frames, merge, MAX_STRETCHES)
    if sum(b - a for a, b in stretches) > MAX_SHARE * layout.n_frames:
        raise SpliceError("the change reaches most of the lesson")
    out_path = Path(out_path)
    if not stretches:
        render = replace(was.render, visible_track_ids=tuple(sorted(visible)), render_s=time.perf_counter() - t0)
        return Spliced(render, replace(was.audit, audit_s=0.0), _crops_of(was, crops), (), changed, 0.0)
    pieces: list[tuple[int, int, Path]] = []
    results = []
    total = sum(b - a for a, b in stretches)
    done = 0
    try:
        for a, b in stretches:
            piece = _temp_beside(out_path, f".{a}.mp4")
            pieces.append((a, b, piece))

            def part(stage: str, f: float, _done: int = done, _n: int = b - a) -> None:
                progress("render", min(0.95, 0.95 * (_done + f * _n) / total))

            results.append(redact_in_one_pass(original, info, policy, piece, part, tracks=tracks,
                                              visible_track_ids=visible, exempt_track_ids=exempt,
                                              findings_filter=findings_filter, sample_every_s=sample_every_s,
                                              frames=(a, b)))
            done += b - a
        t1 = time.perf_counter()
        tmp = _temp_beside(out_path)
        try:
            splice_packets(previous, pieces, tmp, fps)
            verify(tmp, layout, _audio_packets(previous))
            os.replace(tmp, out_path)
        finally:
            tmp.unlink(missing_ok=True)
        splice_s = time.perf_counter() - t1
    except RedactionError as exc:
        raise SpliceError(f"rendering a stretch failed: {exc}") from exc
    finally:
        for _, _, piece in pieces:
            piece.unlink(missing_ok=True)
    progress("render", 1.0)
    render = _merge_render(was, [r.render for r in results], stretches, tracks, policy, visible, fps,
                           out_path.stat().st_size, time.perf_counter() - t0)
    audit, merged_crops = _merge_audit(was, crops, [r.audit for r in results], stretches, fps, sample_every_s, t0)
    return Spliced(render, audit, merged_crops, stretches, changed, splice_s)


def _crops_of(was: Rendition, crops: Sequence[str]) -> tuple[str, ...]:
    return tuple(crops) if crops else tuple("" for _ in was.audit.findings)


def _inside(t_s: float, stretches: Sequence[tuple[int, int]], fps: float) -> bool:
    i = round(t_s * fps)
    return any(a <= i < b for a, b in stretches)


def _merge_audit(was: Rendition, crops: Sequence[str], new: Sequence[AuditReport], stretches, fps: float,
                 sample_every_s: float, t0: float) -> tuple[AuditReport, tuple[str, ...]]:
    """The previous findings outside the stretches (with their crops), the new ones inside, in time order."""
    old = [(f, c) for f, c in zip(was.audit.findings, _crops_of(was, crops)) if not _inside(f.t_s, stretches, fps)]
    fresh = [(replace(f, crop_png_b64=""), f.crop_png_b64) for r in new for f in r.findings]
    if any(r.finding_count != len(r.findings) for r in new):
        raise SpliceError("a stretch's audit kept only some of its findings")
    both = sorted(old + fresh, key=lambda fc: fc[0].t_s)
    every = max(1, round(sample_every_s * fps))
    old_sampled = sum(len(range(-(-a // every) * every, b, every)) for a, b in stretches)
    sampled = was.audit.sampled_frames - old_sampled + sum(r.sampled_frames for r in new)
    skipped = next((r.skipped_reason for r in new if r.skipped_reason), was.audit.skipped_reason)
    kept = both[:AUDIT_MAX_CROPS]
    report = AuditReport(was.audit.policy_name, was.audit.policy_version, sample_every_s, was.audit.threshold,
                         sampled, tuple(f for f, _ in kept), len(both), time.perf_counter() - t0, skipped)
    return report, tuple(c for _, c in kept)


def _merge_render(was: Rendition, new: Sequence[RenderReport], stretches, tracks: FaceTracks,
                  policy: ConsentPolicy, visible: frozenset[int], fps: float, size: int, took_s: float) -> RenderReport:
    """The previous counts, less what the previous visibility hid in the stretches, plus what was hidden there now."""
    old_in = _hide_counts(tracks, policy, frozenset(was.visible_track_ids), stretches, fps)
    fields = ("hidden_boxes", "frames_with_hidden_faces", "zone_frames", "fully_hidden_frames")
    counts = {k: getattr(was.render, k) - old_in[k] + sum(getattr(r, k) for r in new) for k in fields}
    return dataclasses.replace(was.render, visible_track_ids=tuple(sorted(visible)), render_s=took_s,
                               output_bytes=size, **{k: max(0, v) for k, v in counts.items()})


def _hide_counts(tracks: FaceTracks, policy: ConsentPolicy, visible: frozenset[int],
                 stretches: Sequence[tuple[int, int]], fps: float) -> dict[str, int]:
    """What ``hide_frame`` counted in these frames with ``visible`` shown (from the schedule, without pixels)."""
    schedule = HideSchedule(tracks, box_scale=policy.box_scale, hold_s=policy.hold_s, visible_track_ids=visible)
    zones = zone_mask(policy, tracks.width, tracks.height, teacher_marked=bool(visible & {t.id for t in tracks.tracks}))
    out = dict(hidden_boxes=0, frames_with_hidden_faces=0, zone_frames=0, fully_hidden_frames=0)
    for a, b in stretches:
        for i in range(a, b):
            t = i / fps
            if policy.hide_faces and schedule.whole_frame_at(t, i):
                out["fully_hidden_frames"] += 1
                continue
            out["zone_frames"] += zones is not None
            if policy.hide_faces:
                n = len(schedule.boxes_at(t))
                out["hidden_boxes"] += n
                out["frames_with_hidden_faces"] += bool(n)
    return out


__all__ = ["ENCODER", "GopLayout", "Rendition", "SpliceError", "Spliced", "changed_frames", "gop_layout",
           "gop_stretches", "load_rendition", "policy_sha256", "rendition_of", "rerender_changed",
           "splice_packets", "verify"]
