"""The hide schedule's rectangles: none inside another, the same pixels hidden (``tracking.drop_covered``)."""

import numpy as np

from videocoach.privacy.tracking import Detection, FaceTrack, FaceTracks, HideSchedule, drop_covered


def _union(rects, h=120, w=160):
    m = np.zeros((h, w), bool)
    for x1, y1, x2, y2 in rects:
        m[y1:y2, x1:x2] = True
    return m


def test_inside_and_repeated_rectangles_go_in_order():
    a, b, c, d = (10, 10, 50, 50), (20, 20, 40, 40), (40, 40, 90, 90), (10, 10, 50, 50)
    assert drop_covered([a, b, c, d]) == [a, c]  # b inside a, d the same as a: a and c stay, in order
    assert drop_covered([b, a]) == [a]
    assert drop_covered([c, b]) == [c, b]  # b is not inside c (they only overlap)
    assert drop_covered([]) == [] and drop_covered([b]) == [b]


def test_the_same_pixels_are_hidden():
    rng = np.random.default_rng(7)
    for _ in range(200):
        n = int(rng.integers(2, 30))
        x1, y1 = rng.integers(0, 120, n), rng.integers(0, 90, n)
        rects = [(int(x), int(y), int(x + rng.integers(1, 40)), int(y + rng.integers(1, 30))) for x, y in zip(x1, y1)]
        rects += [rects[int(i)] for i in rng.integers(0, n, 3)]  # repeats
        rects += [(r[0] + 1, r[1] + 1, r[2] - 1, r[3] - 1) for r in rects[:3] if r[2] - r[0] > 2 and r[3] - r[1] > 2]
        kept = drop_covered(rects)
        assert (_union(kept) == _union(rects)).all()
        assert len(set(kept)) == len(kept) and kept == sorted(kept, key=rects.index)  # each once, in their order
        assert not any(k != o and o[0] <= k[0] and o[1] <= k[1] and k[2] <= o[2] and k[3] <= o[3]
                       for k in kept for o in kept)


def test_held_boxes_on_one_spot_are_hidden_once():
    """Two tracks on the same face, one box inside the other: the schedule hides the larger only."""
    big = FaceTrack(id=1, detections=(Detection(0.0, (40.0, 40.0, 80.0, 80.0), 0.9),
                                      Detection(1.0, (40.0, 40.0, 80.0, 80.0), 0.9)))
    small = FaceTrack(id=2, detections=(Detection(0.0, (50.0, 50.0, 70.0, 70.0), 0.4),
                                        Detection(1.0, (50.0, 50.0, 70.0, 70.0), 0.4)))
    tracks = FaceTracks(tracks=(big, small), width=160, height=120, fps=25.0, n_frames=50, detect_every=5,
                        threshold=0.05, max_lost_s=1.0)
    rects = HideSchedule(tracks, box_scale=1.4, hold_s=0.5).boxes_at(0.5)
    assert len(rects) == 1 and rects[0][0] <= 50 and rects[0][2] >= 70
