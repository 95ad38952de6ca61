"""Face identity (privacy/identity.py) on real faces: offline weights, same vs different person, fail-closed refusals,
and the teacher photo refused with nothing stored."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageSequence

from conftest import shared
from videocoach.privacy import identity
from videocoach.privacy.faces import load_detector


def gif_frames(name: str, every: int = 6) -> list[np.ndarray]:
    with Image.open(shared("faces", "clips", name)) as im:
        frames = [np.asarray(f.convert("RGB"))[:, :, ::-1].copy() for f in ImageSequence.Iterator(im)]
    return frames[::every]


@pytest.fixture(scope="module")
def models():
    return identity.load_embedder(), load_detector(0.3)


def faces_in(frames, det, pick):
    out = []
    for im in frames:
        d = det.detect(im)
        d = d[d[:, 4] >= 0.5]
        if len(d):
            out.append((im, d[pick(d)][:4]))
    return out


def test_weights_load_offline_from_the_package(no_network):
    assert identity.model_path(identity.DESCRIPTOR_FILE).is_file()
    emb = identity.load_embedder()  # a hub download would raise NetworkBlocked
    det = load_detector(0.3)
    vecs = []
    for im in gif_frames("head-pose-face-detection-female.gif"):
        d = det.detect(im)
        vecs.append(emb.embed(im, d[np.argmax(d[:, 4])][:4]))
    found = [v for v in vecs if v is not None]
    assert found and all(v.shape == (128,) for v in found)


def test_same_woman_across_clips_matches_and_the_man_does_not(models):
    emb, det = models
    largest = lambda d: int(np.argmax((d[:, 2] - d[:, 0]) * (d[:, 3] - d[:, 1])))  # noqa: E731
    woman = [emb.embed(im, b) for im, b in faces_in(gif_frames("head-pose-face-detection-female.gif", 2), det, largest)]
    man = [emb.embed(im, b) for im, b in faces_in(gif_frames("head-pose-face-detection-male.gif", 2), det, largest)]
    woman = [v for v in woman if v is not None]
    man = [v for v in man if v is not None]
    assert len(woman) >= 3 and len(man) >= 3
    assert not any(identity.is_teacher(v, woman) for v in man)  # the man is never taken for her
    together = gif_frames("head-pose-face-detection-female-and-male.gif")
    left = [emb.embed(im, b) for im, b in faces_in(together, det, lambda d: int(np.argmin(d[:, 0])))]
    right = [emb.embed(im, b) for im, b in faces_in(together, det, lambda d: int(np.argmax(d[:, 0])))]
    from videocoach.privacy.people import teacher_tracks

    descs = {1: [v for v in left if v is not None], 2: [v for v in right if v is not None], 3: man}
    assert teacher_tracks(descs, woman) == (1,)  # she is found in the other clip (her views together), he is not


def test_unidentifiable_faces_are_never_the_teacher(models):
    emb, _det = models
    im = gif_frames("head-pose-face-detection-female.gif")[0]
    assert emb.embed(im, (10, 10, 30, 30)) is None  # too small: stays hidden
    assert not identity.is_teacher(None, [np.zeros(128, np.float32)])
    assert not identity.is_teacher(np.zeros(128, np.float32), [])


def test_frontal_check_refuses_a_profile_layout():
    box = (0, 0, 100, 100)
    frontal = identity.Landmarks(((70, 40), (58, 40), (30, 40), (42, 40), (50, 60)))
    profile = identity.Landmarks(((90, 40), (85, 40), (78, 40), (80, 40), (98, 60)))  # eyes bunched, nose outside
    assert identity.frontal_enough(frontal, box)
    assert not identity.frontal_enough(profile, box)


def test_teacher_photo_with_no_face_or_several_is_refused_and_nothing_is_stored(tmp_path, models):
    import cv2

    from videocoach import people_steps
    from videocoach.config import Settings
    from videocoach.storage import auth
    from videocoach.storage.store import Store

    store = Store(Settings(data_dir=tmp_path / "data", key_file=tmp_path / "keys" / "media.key"))
    teacher = auth.create_user(store, "rivera", "teacher", "teacher-password", "Ms Rivera")
    blank = np.full((240, 320, 3), 200, np.uint8)
    two = gif_frames("head-pose-face-detection-female-and-male.gif")[0]
    for image, words in ((blank, "no face"), (two, "2 faces")):
        ok, data = cv2.imencode(".png", image)
        with pytest.raises(identity.PhotoRefused, match=words):
            people_steps.enrol_from_photo(store, teacher, data.tobytes())
        assert store.teacher_face(teacher.id) is None
    with pytest.raises(identity.PhotoRefused, match="could not be read"):
        people_steps.enrol_from_photo(store, teacher, b"not an image")
    one = gif_frames("head-pose-face-detection-female.gif")[3]
    ok, data = cv2.imencode(".png", one)
    people_steps.enrol_from_photo(store, teacher, data.tobytes())
    kept = people_steps.enrolled_face(store, teacher.id)
    assert len(kept) == 1 and kept[0].shape == (128,)
    raw = store._db.execute("SELECT face FROM teacher_faces").fetchone()["face"]
    assert "descriptors" not in raw  # sealed, like the voice print
    store.withdraw_teacher_face(teacher)
    assert store.teacher_face(teacher.id) is None


def test_second_opinion_drops_only_a_doubtful_flag_that_is_clearly_not_a_face():
    from videocoach.privacy import second_opinion

    op = second_opinion.load()
    frames = gif_frames("head-pose-face-detection-female.gif", 2)
    im = frames[len(frames) // 2]
    d = load_detector(0.3).detect(im)
    face = d[np.argmax(d[:, 4])].copy()
    face[4] = 0.31  # a doubtful score: looked at again close up, and kept
    assert op(im, face)
    wall = np.full_like(im, 170)
    flag = np.array([100, 100, 140, 140, 0.31], np.float32)
    assert not op(wall, flag)  # nothing face-like there: dropped
    flag[4] = second_opinion.KEEP_SCORE  # a confident flag is never doubted
    assert op(wall, flag)
