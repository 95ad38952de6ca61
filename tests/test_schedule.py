"""The motion-gated detection schedule (privacy/schedule.py) with the real CenterFace on real frames: it hides what
the every-frame detector would hide, carries still faces without looking again, and fails closed."""

from __future__ import annotations

import subprocess

import cv2
import numpy as np
import pytest

from conftest import SAMPLE_MEDIA, shared
from videocoach.av import media
from videocoach.av.video_io import FrameReader
from videocoach.privacy.faces import FaceDetector, FaceDetectorError, load_detector
from videocoach.privacy.policy import load_policy
from videocoach.privacy.schedule import MotionGatedDetector, ScheduleConfig, merge_carried, schedule_from_env
from videocoach.privacy.tracking import FaceTracks, HideSchedule, Tracker

FACE_PHOTO = "29--Students_Schoolkids/29_Students_Schoolkids_Students_Schoolkids_29_316.jpg"


@pytest.fixture(scope="module")
def detector():
    return load_detector(0.05)


def _clip(tmp_path_factory, src, start_s: float, seconds: float, scale: str) -> list[np.ndarray]:
    out = tmp_path_factory.mktemp("sched") / "clip.mp4"
    subprocess.run(["ffmpeg", "-v", "error", "-ss", f"{start_s}", "-t", f"{seconds}", "-i", str(src), "-an",
                    "-vf", f"{scale}fps=25", "-c:v", "libx264", "-preset", "veryfast", str(out)], check=True)
    with FrameReader(out, media.probe(out)) as reader:
        return [f.image for f in reader]


def _uncovered(frames, reference, detector, cfg: ScheduleConfig, every: int = 5) -> list[float]:
    """Scores of the every-frame detections (``reference``) that the schedule's tracks + hold rules leave visible."""
    policy = load_policy("blur-all-pupils")
    fps = 25.0
    gate = MotionGatedDetector(detector, cfg)
    hold = max(policy.hold_s, 2 * every / fps)
    tracker = Tracker(every / fps, max_lost_s=hold)
    passes = list(range(0, len(frames), every))
    if passes[-1] != len(frames) - 1:
        passes.append(len(frames) - 1)
    for i in passes:
        tracker.update(i / fps, gate.detect(frames[i]))
    tracks = FaceTracks(tracker.finish(), frames[0].shape[1], frames[0].shape[0], fps, len(frames), every,
                        policy.threshold, hold)
    sched = HideSchedule(tracks, box_scale=policy.box_scale, hold_s=policy.hold_s)
    missed = []
    for i, dets in enumerate(reference):
        rects = sched.boxes_at(i / fps)
        for b in dets:
            cx, cy = (b[0] + b[2]) / 2, (b[1] + b[3]) / 2
            if not any(x1 <= cx < x2 and y1 <= cy < y2 for x1, y1, x2, y2 in rects):
                missed.append(float(b[4]))
    return missed


@pytest.mark.slow
@pytest.mark.parametrize("source", ["lesson", "walk"])
def test_motion_schedule_hides_what_the_every_frame_detector_finds(source, detector, tmp_path_factory):
    """The documented tolerance (consent_policies/README.md): of the faces the detector finds in EVERY frame, the
    motion schedule leaves visible at most 0.5 % more than the every-pass schedule (both detect every 5th frame),
    never one scoring >= 0.5, and at least 99 % stay covered where the every-pass schedule covers 99 %."""
    if source == "lesson":  # four pupils at their desks, 720p
        frames = _clip(tmp_path_factory, SAMPLE_MEDIA / "lesson.mp4", 30, 4, "")
    else:  # people walking in a room, fixed camera, at its own 768x432: small, low-scoring faces
        frames = _clip(tmp_path_factory, shared("faces", "clips", "one-by-one-person-detection.mp4"), 94, 6, "")
    reference = [detector.detect(f) for f in frames]
    n = sum(len(d) for d in reference)
    assert n >= 20, n  # the clip has faces to hide
    old = _uncovered(frames, reference, detector, ScheduleConfig(name="every-pass"))
    new = _uncovered(frames, reference, detector, ScheduleConfig())
    assert len(new) <= len(old) + max(1, 0.005 * n), (len(new), len(old), n, new)
    assert all(s < 0.5 for s in new), new
    if 1 - len(old) / n >= 0.99:
        assert 1 - len(new) / n >= 0.99, (len(new), n)


def _face_scene() -> tuple[np.ndarray, np.ndarray]:
    """A still real room (a sample-lesson frame with its people's area replaced by wall) and a real face photo."""
    with FrameReader(SAMPLE_MEDIA / "lesson.mp4", media.probe(SAMPLE_MEDIA / "lesson.mp4")) as reader:
        room = next(iter(reader)).image.copy()
    room[300:720, :] = room[150:160, 900:910].mean(axis=(0, 1)).astype(np.uint8)  # a plain floor: nobody there
    photo = cv2.imread(str(shared("faces", "wider_val", FACE_PHOTO)))
    face = cv2.resize(photo[: photo.shape[0] // 2, : photo.shape[1] // 2], (320, 240))
    return room, face


def test_a_still_frame_is_not_looked_at_again_and_keeps_its_faces(detector):
    room, face = _face_scene()
    frame = room.copy()
    frame[400:640, 600:920] = face
    gate = MotionGatedDetector(detector, ScheduleConfig(refresh_every=5))
    first = gate.detect(frame)
    assert len(first) >= 1
    share = gate.detected_share
    for _ in range(3):
        again = gate.detect(frame.copy())
        np.testing.assert_array_equal(again, first)
    assert gate.full_passes == 1 and gate.detected_share == pytest.approx(share / 4)
    gate.detect(frame)
    assert gate.full_passes == 1
    gate.detect(frame)  # every 5 passes one looks at the whole frame again
    assert gate.full_passes == 2


def test_a_face_that_walks_in_is_found_at_the_next_pass(detector):
    """A face appearing in a still room is found by the pass that follows, looking only at the changed region."""
    room, face = _face_scene()
    gate = MotionGatedDetector(detector, ScheduleConfig(refresh_every=100))
    assert len(gate.detect(room)) == len(detector.detect(room))
    frame = room.copy()
    frame[400:640, 600:920] = face
    found = gate.detect(frame)
    whole = detector.detect(frame)
    second_share = 2 * gate.detected_share - 1  # the first pass looked at the whole frame
    assert gate.full_passes == 1 and second_share < 0.5, second_share
    confident = whole[whole[:, 4] >= 0.5]
    assert len(confident) >= 1
    for b in confident:  # every face the whole-frame pass is sure of, the gated pass found too
        cx, cy = (b[0] + b[2]) / 2, (b[1] + b[3]) / 2
        assert any(f[0] <= cx <= f[2] and f[1] <= cy <= f[3] for f in found), (b, found)
    frame2 = frame.copy()
    frame2[400:640, 600:920] = room[400:640, 600:920]  # the face leaves: its region changed, the box goes
    assert not any(f[0] >= 600 and f[2] <= 920 and f[1] >= 400 and f[3] <= 640 for f in gate.detect(frame2))


def test_a_failed_pass_raises_and_the_next_pass_looks_at_the_whole_frame(detector):
    room, face = _face_scene()
    frame = room.copy()
    frame[400:640, 600:920] = face

    class FailsOnce:
        def __init__(self):
            self.calls = 0

        def run(self, names, feeds):
            self.calls += 1
            if self.calls == 2:
                raise RuntimeError("simulated inference failure")
            return detector._session.run(names, feeds)

    flaky = FaceDetector(FailsOnce(), detector.config)
    gate = MotionGatedDetector(flaky, ScheduleConfig(refresh_every=100))
    gate.detect(room)
    with pytest.raises(FaceDetectorError):
        gate.detect(frame)
    assert len(gate.detect(frame)) >= 1 and gate.full_passes == 2  # nothing carried over the failure


def test_carried_boxes_only_grow():
    carried = np.array([[100, 100, 150, 160, 0.9], [400, 100, 440, 150, 0.2]], np.float32)
    fresh = np.array([[105, 95, 140, 150, 0.95], [700, 300, 740, 350, 0.4]], np.float32)  # a part of the first
    out = merge_carried(carried, fresh)
    assert out.shape == (3, 5)
    np.testing.assert_array_equal(out[0, :4], [100, 95, 150, 160])  # grown to enclose both, never shrunk
    assert out[0, 4] == pytest.approx(0.95)
    np.testing.assert_array_equal(out[1], carried[1])
    np.testing.assert_array_equal(out[2], fresh[1])


def test_the_schedule_comes_from_the_environment(monkeypatch):
    monkeypatch.delenv("VIDEOCOACH_DETECT_SCHEDULE", raising=False)
    assert schedule_from_env().name == "motion"
    monkeypatch.setenv("VIDEOCOACH_DETECT_SCHEDULE", "every-pass")
    assert schedule_from_env().name == "every-pass"
    monkeypatch.setenv("VIDEOCOACH_DETECT_SCHEDULE", "sometimes")
    with pytest.raises(ValueError):
        schedule_from_env()


def test_the_second_look_is_off_unless_turned_on(monkeypatch):
    from videocoach.privacy.policy import load_policy
    from videocoach.privacy.redact import look_again
    from videocoach.privacy.schedule import LOOK_ROUNDS, look_crops, look_windows

    pol = load_policy("blur-all-pupils")
    monkeypatch.setenv("VIDEOCOACH_LOOK_AGAIN", "on")
    look = look_again(pol)
    assert look.rounds == LOOK_ROUNDS >= 1 and look.threshold < pol.threshold
    assert not look.whole_frame  # in crops around the hidden boxes
    monkeypatch.delenv("VIDEOCOACH_LOOK_AGAIN", raising=False)
    assert look_again(pol).rounds == 0  # off by default
    monkeypatch.setenv("VIDEOCOACH_LOOK_AGAIN", "off")
    off = look_again(pol)
    dets = np.array([[100, 100, 140, 150, 0.9]], np.float32)
    assert off.rounds == 0 and off(None, np.zeros((720, 1280, 3), np.uint8), dets) is not None
    np.testing.assert_array_equal(off(None, np.zeros((720, 1280, 3), np.uint8), dets), dets)  # no detector call
    monkeypatch.setenv("VIDEOCOACH_LOOK_AGAIN", "maybe")
    with pytest.raises(ValueError):
        look_again(pol)
    # the crops: each window grown to the detector's 32 px grid, clipped to the frame
    assert look_crops([(33, 40, 100, 170), (1200, 650, 1280, 720)], 1280, 720) == [(32, 32, 128, 192),
                                                                                   (1184, 640, 1280, 720)]
    # the windows around hidden boxes: 4x the box, at least 128 px, clipped, overlapping ones joined
    assert look_windows([(0, 0, 10, 10)], 1280, 720) == [(0, 0, 69, 69)]
    assert look_windows([(100, 100, 140, 140), (150, 100, 190, 140)], 1280, 720) == [(40, 40, 250, 200)]


def test_the_look_below_the_hidden_boxes_is_opt_in(monkeypatch):
    from videocoach.privacy.policy import load_policy
    from videocoach.privacy.redact import look_again
    from videocoach.privacy.schedule import below_windows

    pol = load_policy("blur-all-pupils")
    monkeypatch.setenv("VIDEOCOACH_LOOK_AGAIN", "below")
    look = look_again(pol)
    assert look.below and look.rounds == 1 and not look.whole_frame and look.threshold < pol.threshold
    for value in ("on", "off"):
        monkeypatch.setenv("VIDEOCOACH_LOOK_AGAIN", value)
        assert not look_again(pol).below
    monkeypatch.delenv("VIDEOCOACH_LOOK_AGAIN", raising=False)
    assert not look_again(pol).below and look_again(pol).rounds == 0
    # below each box only: 2 x its width centred under it, from its lower edge to 1.5 x its height below, clipped;
    # nothing above the box's lower edge (the face itself, what is beside it)
    assert below_windows([(100, 100, 140, 140)], 1280, 720) == [(80, 140, 160, 200)]
    assert below_windows([(100, 680, 140, 720)], 1280, 720) == []  # at the frame's bottom: nothing below
    assert below_windows([(0, 0, 40, 40), (30, 0, 70, 40)], 1280, 720) == [(0, 40, 90, 100)]  # joined
