"""Bodies continue the teacher's path where the face is lost: the body finder on real frames (privacy/bodies.py),
the linker on constructed sequences (measures/follow.py), the room measures with body positions, and the people
stage storing the bodies it found in its own decode (people_steps.py)."""

from __future__ import annotations

import subprocess

import numpy as np
import pytest

from conftest import shared
from videocoach.measures.follow import MAX_GAP_S, body_tracks, continue_with_bodies
from videocoach.measures.room import Sighting, room_use, teacher_path

CLIP = ("faces", "clips", "one-by-one-person-detection.mp4")


def _clip_frames(until_s: float):
    """The clip at the finder's own rate and size, in time order (what find_bodies reads)."""
    from videocoach.av import media
    from videocoach.av.video_io import FrameReader
    from videocoach.privacy.bodies import EVERY_S, BodyFinder

    path = shared(*CLIP)
    info = media.probe(path)
    finder = BodyFinder(info.width, info.height)
    with FrameReader(path, info, fps=1 / EVERY_S, width=finder.work_w, height=finder.work_h) as reader:
        for frame in reader:
            if frame.t_s > until_s:
                break
            yield finder, frame


def test_a_person_walking_in_is_one_body_box_and_the_empty_room_none(no_network):
    """0-6 s the room is empty; from 7 s a woman walks in with her back to the camera and stands at the table
    (her head hand-labelled at x 0.60, y 0.11 of the 768 x 432 frame at 12 s); she leaves at 20 s."""
    seen = {}
    for finder, frame in _clip_frames(23.0):
        seen[frame.t_s] = finder.find(frame.image, frame.t_s)
    assert all(seen[t] == () for t in seen if t <= 5.5)  # the empty room (and the warm-up) finds nobody
    for t in (10.0, 12.0, 15.0, 17.0):
        assert len(seen[t]) == 1, seen[t]
        x1, y1, x2, y2 = seen[t][0].box
        assert x1 < 0.60 * 768 < x2 and y1 < 0.11 * 432 + 20  # her head is in the box
        assert y2 - y1 > 0.6 * 432  # the whole body, not a part of it
    assert seen[21.5] == () and seen[22.0] == ()  # gone again: nothing left behind


def test_a_still_picture_has_no_body_and_bad_input_is_refused():
    from videocoach.privacy.bodies import BodyFinder

    rng = np.random.default_rng(1)
    room = rng.integers(0, 255, (432, 768, 3), dtype=np.uint8)
    finder = BodyFinder(768, 432)
    assert all(finder.find(room, t * 0.5) == () for t in range(30))
    with pytest.raises(ValueError):
        finder.find(room, 1.0)  # back in time
    with pytest.raises(ValueError):
        finder.find(room[:, :, 0], 20.0)
    with pytest.raises(ValueError):
        finder.find(np.zeros((100, 500, 3), np.uint8), 21.0)  # another video's frame size


def test_sampler_looks_every_half_second_whatever_the_decode_rate():
    from videocoach.privacy.bodies import BodySampler, BodySightings

    sampler = BodySampler(64, 36)
    frame = np.full((36, 64, 3), 120, np.uint8)
    for i in range(25):  # 5 frames a second for 5 s
        sampler.offer(frame, i / 5)
    got = sampler.result()
    assert got.times_s == (0.0, 0.6, 1.0, 1.6, 2.0, 2.6, 3.0, 3.6, 4.0, 4.6)  # two a second on average
    assert BodySightings.from_json(got.to_json()) == got


def _walk(t: float) -> tuple[float, float, float, float]:
    """A body walking right at 0.05 of the frame a second."""
    x = 0.1 + 0.05 * t
    return (x, 0.2, x + 0.12, 0.9)


def test_body_continues_the_face_while_it_is_lost_and_follows_the_walk():
    # face seen for 0-4 s (its centre in the upper half of the body box), then turned away for 4-12 s
    face = [Sighting(t / 2, _walk(t / 2)[0] + 0.06, 0.28) for t in range(0, 9)]
    pupil_body = (0.8, 0.5, 0.9, 0.95)  # someone far off: never the teacher
    samples = {t / 2: [_walk(t / 2), pupil_body] for t in range(0, 25)}
    extra = continue_with_bodies(face, [], samples)
    assert extra and all(s.body for s in extra)
    assert [s.t_s for s in extra] == [t / 2 for t in range(9, 25)]  # not where the face is seen
    for s in extra:
        assert s.x == pytest.approx(_walk(s.t_s)[0] + 0.06, abs=1e-6) and s.y == pytest.approx(0.28, abs=1e-6)
    use = room_use([*face, *extra], [], duration_s=12.0)
    # steps 0-4 s by the face, 5-12 s by the body: nothing unknown
    assert use.body_s == 8.0 and use.unknown_s == 0.0 and use.lost_s == 12.0 - 5.0
    assert sum(map(sum, use.heat)) == 13.0  # the body steps count in the heat map too


def test_no_face_in_the_box_no_continuation_and_a_pupils_body_is_not_the_teacher():
    face = [Sighting(t / 2, 0.5, 0.1) for t in range(0, 9)]  # the teacher's face, not inside any body box
    samples = {t / 2: [_walk(t / 2)] for t in range(0, 25)}
    assert continue_with_bodies(face, [], samples) == ()
    # a body that holds a pupil's face more often than the teacher's is not followed as the teacher
    teacher = [Sighting(0.0, _walk(0)[0] + 0.06, 0.28)]
    pupil = [Sighting(t / 2, _walk(t / 2)[0] + 0.06, 0.28) for t in range(1, 6)]
    assert continue_with_bodies(teacher, [pupil], samples) == ()


def test_the_track_gives_up_after_a_gap_and_when_bodies_meet():
    boxes = {0.0: [_walk(0)], 0.5: [_walk(0.5)]}
    boxes.update({t / 2: [] for t in range(2, 2 + int(2 * MAX_GAP_S) + 2)})  # gone longer than the gap
    later = 0.5 + MAX_GAP_S + 1.5
    boxes[later] = [_walk(0.5)]  # someone at the same place, later: not the same track
    assert [len(tr.times_s) for tr in body_tracks(boxes)] == [2, 1]
    # two bodies equally near one track: it ends rather than guess
    meet = {0.0: [(0.40, 0.2, 0.52, 0.9)], 0.5: [(0.36, 0.2, 0.48, 0.9), (0.44, 0.2, 0.56, 0.9)]}
    assert [len(tr.times_s) for tr in body_tracks(meet)] == [1, 1, 1]
    # too fast to be the same body
    jump = {0.0: [(0.0, 0.2, 0.1, 0.9)], 0.5: [(0.8, 0.2, 0.9, 0.9)]}
    assert len(body_tracks(jump)) == 2


def test_a_face_sighting_wins_over_a_body_one_at_the_same_step():
    seen = [Sighting(1.0, 0.2, 0.2), Sighting(1.1, 0.7, 0.7, body=True), Sighting(3.0, 0.7, 0.7, body=True)]
    path = teacher_path(seen, duration_s=3.0)
    by_t = {p.t_s: p for p in path}
    assert (by_t[1.0].x, by_t[1.0].body) == (0.2, False)
    assert by_t[3.0].seen and by_t[3.0].body and by_t[3.0].x == 0.7


def test_people_stage_stores_bodies_and_room_use_follows_the_turned_away_person(tmp_path):
    """Real stages on 35 s of the clip (51-86 s): a woman stands at the table with her back turned and shows her
    face only as she leaves; marked as the teacher, her body gives her position for most of the time she is there."""
    from videocoach import people_steps, pipeline
    from videocoach.av.ffmpeg import ffmpeg_binary
    from videocoach.config import Settings
    from videocoach.core import serialize
    from videocoach.privacy.bodies import BodySightings
    from videocoach.privacy.identity import MIN_FACE_PX
    from videocoach.privacy.people import EMBED_MIN_SCORE
    from videocoach.privacy.redact import FaceTracks
    from videocoach.storage import auth
    from videocoach.storage.store import Store

    store = Store(Settings(data_dir=tmp_path / "data", key_file=tmp_path / "keys" / "media.key"))
    teacher = auth.create_user(store, "rivera", "teacher", "teacher-password", "Ms Rivera")
    clip = tmp_path / "walk.mp4"
    subprocess.run([ffmpeg_binary(), "-v", "error", "-ss", "50", "-t", "35", "-i", str(shared(*CLIP)), "-an",
                    "-c:v", "libx264", "-crf", "18", str(clip)], check=True)
    lesson = pipeline.ingest_file(store, teacher, clip)
    pipeline.run(store, lesson.id, stages=["faces", "people"])
    found = BodySightings.from_json(store.stage(lesson.id, people_steps.BODIES))
    assert len(found.times_s) >= 68 and found.bodies  # every half second of the 35 s, bodies among them
    tracks = serialize.loads(FaceTracks, store.stage(lesson.id, "faces"))
    # her face as she turns to leave (~18.5 s into the cut): the identifiable track there is marked as the teacher
    hers = [t for t in tracks.tracks if 16.0 <= t.start_s <= 20.0 and any(
        d.score >= EMBED_MIN_SCORE and d.box[2] - d.box[0] >= MIN_FACE_PX * 0.5 for d in t.detections)]
    assert hers
    store.mark_face(teacher, lesson.id, hers[0].id, "teacher")
    use = people_steps.room_use(store, teacher, lesson.id)
    assert use is not None
    face_s = 35.0 - use.lost_s
    assert face_s <= 3.0  # her face: a moment
    assert use.body_s >= 10.0  # her body: most of the ~18 s she was in the picture
    assert all(0.4 <= p.x <= 1.0 for p in use.path if p.body)  # at the table or walking out right


def test_sightings_of_stretches_side_by_side_merge_in_time_order_and_refuse_another_video():
    from videocoach.privacy.bodies import Body, BodySightings, merge_sightings

    a = BodySightings(640, 360, 0.5, (0.0, 0.5), (Body(0.5, (1, 2, 30, 90), 0.4),))
    b = BodySightings(640, 360, 0.5, (10.0, 10.5), (Body(10.5, (5, 2, 40, 90), 0.5), Body(10.0, (5, 2, 40, 90), 0.6)))
    merged = merge_sightings([b, a])
    assert merged.times_s == (0.0, 0.5, 10.0, 10.5)
    assert [x.t_s for x in merged.bodies] == [0.5, 10.0, 10.5]
    with pytest.raises(ValueError):
        merge_sightings([a, BodySightings(1280, 720, 0.5, (), ())])
