"""A teacher enrolled from ONE photo (issue 19): the photo print on real frames (real dlib model), a loose match that
only suggests the teacher and shows nobody, and the owner's confirmation through the store (a coach cannot)."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from conftest import shared
from test_identity import gif_frames
from test_people import track, tracks_of
from videocoach.privacy import identity, people
from videocoach.privacy.faces import load_detector

FEMALE = "head-pose-face-detection-female.gif"
TOGETHER = "head-pose-face-detection-female-and-male.gif"


@pytest.fixture(scope="module")
def faces():
    """The photo candidates (frames of the woman alone) and plain descriptors of her and the man in another clip."""
    shared("faces", "clips", FEMALE)
    emb, det = identity.load_embedder(), load_detector(0.3)

    def boxes(name, every, pick):
        out = []
        for im in gif_frames(name, every):
            d = det.detect(im)
            d = d[d[:, 4] >= 0.5]
            if len(d):
                out.append((im, d[pick(d)][:4]))
        return out

    photos = [(im, b) for im, b in boxes(FEMALE, 1, lambda d: 0) if emb.embed(im, b) is not None]
    her = [emb.embed(im, b) for im, b in boxes(TOGETHER, 2, lambda d: int(np.argmin(d[:, 0])))]  # on the left
    man = [emb.embed(im, b) for im, b in boxes(TOGETHER, 2, lambda d: int(np.argmax(d[:, 0])))]
    return emb, photos, [v for v in her if v is not None], [v for v in man if v is not None]


def test_the_photo_print_is_closer_to_her_in_another_recording_and_far_from_the_man(faces):
    emb, photos, her, man = faces
    assert len(photos) >= 8 and len(her) >= 5 and len(man) >= 5
    her_c, man_c = people.centroid(her), people.centroid(man)
    chip = [identity.distance(emb.embed(im, b), her_c) for im, b in photos]
    prints = [emb.embed_photo(im, b) for im, b in photos]
    to_her = [identity.distance(p, her_c) for p in prints]
    to_man = [identity.distance(p, man_c) for p in prints]
    assert np.median(to_her) < np.median(chip)  # three scales, mirrored: closer than one chip
    assert max(to_her) <= identity.PHOTO_SUGGEST_MAX_DISTANCE  # every photo at least suggests her
    assert min(to_man) > identity.PHOTO_SUGGEST_MAX_DISTANCE  # and never the man
    assert all(p.shape == (128,) and p.dtype == np.float32 for p in prints)
    assert emb.embed_photo(photos[0][0], (10, 10, 30, 30)) is None  # too small: refused, as a plain descriptor


def test_a_loose_photo_match_is_suggested_and_shows_nobody_until_confirmed(faces):
    emb, photos, her, man = faces
    ft = tracks_of(track(1, 0, 4, 50), track(2, 0, 4, 400))
    descs = {1: her, 2: man}
    loose = [p for p in (emb.embed_photo(im, b) for im, b in photos)
             if identity.distance(p, people.centroid(her)) > identity.ONE_VIEW_MAX_DISTANCE]
    assert loose, "some photos match her only loosely"
    for print_ in loose:
        res = people.find_people(ft, descs, [print_])
        assert res.enrolled and res.teacher_track_ids == ()  # nothing shown by a loose match alone
        assert (res.suggested_teacher, res.suggested_by) == (1, "print")
        assert people.PeopleResult.from_json(res.to_json()) == res
        only_man = people.find_people(tracks_of(track(2, 0, 4, 400)), {2: man}, [print_])
        assert only_man.suggested_teacher is None and only_man.teacher_track_ids == ()
        confirmed = people.confirmed_print([print_], res.person_descriptors(1))
        assert len(confirmed) == len(her) + 1  # her own views added to the photo
        after = people.find_people(ft, descs, confirmed)
        assert after.teacher_track_ids == (1,) and after.suggested_teacher is None  # now shown, the man hidden


def test_confirming_someone_unlike_the_print_replaces_it():
    rng = np.random.default_rng(0)
    a, b = (rng.normal(size=128).astype(np.float32) for _ in range(2))
    a, b = a / np.linalg.norm(a) * 0.6, b / np.linalg.norm(b) * 0.6  # about 0.85 apart: two people
    assert people.confirmed_print([a], [b, b]) == [b, b]  # never a print halfway between two faces
    assert people.confirmed_print([a], []) == []


def test_a_print_of_one_view_must_match_more_closely_to_show():
    assert identity.show_max_distance([np.zeros(128)]) == identity.ONE_VIEW_MAX_DISTANCE
    assert identity.show_max_distance([np.zeros(128)] * 2) == identity.SAME_PERSON_MAX_DISTANCE
    assert identity.ONE_VIEW_MAX_DISTANCE < identity.SAME_PERSON_MAX_DISTANCE < identity.PHOTO_SUGGEST_MAX_DISTANCE
    ft = tracks_of(track(1, 0, 4, 50))
    base = np.full(128, 0.05, np.float32)
    at = base.copy()
    at[0] += 0.32  # between the two thresholds
    photo_only = people.find_people(ft, {1: [at, at]}, [base])
    assert photo_only.teacher_track_ids == () and photo_only.suggested_by == "print"  # one view: asked, not shown
    assert people.find_people(ft, {1: [at, at]}, [base, base]).teacher_track_ids == (1,)


def test_older_people_results_read_their_suggestion_as_from_presence():
    res = people.PeopleResult((), 0, (), 4, False)
    raw = json.loads(res.to_json())
    del raw["suggested_by"]
    assert people.PeopleResult.from_json(json.dumps(raw)).suggested_by == "presence"
    raw["suggested_by"] = "guess"
    with pytest.raises(ValueError, match="suggestion source"):
        people.PeopleResult.from_json(json.dumps(raw))


def test_photo_enrolment_suggests_in_a_finished_lesson_and_only_the_owner_confirms(tmp_path, faces):
    from videocoach import people_steps
    from videocoach.config import Settings
    from videocoach.core import serialize
    from videocoach.storage import auth
    from videocoach.storage.records import AccessDenied
    from videocoach.storage.store import Store

    emb, photos, her, man = faces
    her_c = people.centroid(her)
    im, _box = max(photos, key=lambda p: identity.distance(emb.embed_photo(*p), her_c))  # the loosest photo
    store = Store(Settings(data_dir=tmp_path / "data", key_file=tmp_path / "keys" / "media.key"))
    teacher = auth.create_user(store, "rivera", "teacher", "teacher-password", "Ms Rivera")
    coach = auth.create_user(store, "okafor", "coach", "coach-password", "Mr Okafor")
    lesson = store.create_lesson(teacher, "lesson", "a.mp4")
    store.share(teacher, lesson.id, coach)
    ft = tracks_of(track(1, 0, 4, 50), track(2, 0, 4, 400))
    store.save_stage(lesson.id, "faces", serialize.dumps(ft))
    store.save_stage(lesson.id, "people", people.find_people(ft, {1: her, 2: man}).to_json())
    for stage in ("render", "audit"):
        store.save_stage(lesson.id, stage, "{}")
    store.update_lesson(lesson.id, status="ready")

    ok, png = cv2.imencode(".png", im)
    assert people_steps.enrol_from_photo(store, teacher, png.tobytes()) == []  # nobody shown: nothing re-rendered
    found = people_steps.load_people(store, teacher, lesson.id)
    assert found.enrolled and found.teacher_track_ids == ()
    assert (found.suggested_teacher, found.suggested_by) == (1, "print")
    assert store.lesson(lesson.id).status == "ready" and store.jobs_for_lesson(lesson.id) == []

    with pytest.raises(AccessDenied):
        people_steps.confirm_teacher(store, coach, lesson.id, 1)  # a coach cannot say who the teacher is
    assert len(people_steps.enrolled_face(store, teacher.id)) == 1 and store.stage(lesson.id, "render") == "{}"

    people_steps.confirm_teacher(store, teacher, lesson.id, 1)
    kept = people_steps.enrolled_face(store, teacher.id)
    assert len(kept) == min(len(her) + 1, people_steps.ENROL_MAX)  # the photo and her own views here
    assert store.stage(lesson.id, "people") is None and store.stage(lesson.id, "render") is None
    assert [j.kind for j in store.jobs_for_lesson(lesson.id)] == ["rerender"]
    again = people.find_people(ft, {1: her, 2: man}, kept)
    assert again.teacher_track_ids == (1,)  # the people step, run again, shows her and not the man


def test_withdrawing_the_print_stops_asking_is_this_you(tmp_path):
    from videocoach import people_steps
    from videocoach.config import Settings
    from videocoach.storage import auth
    from videocoach.storage.store import Store

    store = Store(Settings(data_dir=tmp_path / "data", key_file=tmp_path / "keys" / "media.key"))
    teacher = auth.create_user(store, "rivera", "teacher", "teacher-password", "Ms Rivera")
    lesson = store.create_lesson(teacher, "lesson", "a.mp4")
    store.save_stage(lesson.id, "people", people.PeopleResult((), 0, (), 3, True, suggested_by="print").to_json())
    store.save_teacher_face(teacher, json.dumps({"descriptors": [[0.1] * 128]}), "photo")
    assert store.withdraw_teacher_face(teacher) == []  # nobody was shown: nothing to render again
    after = people_steps.load_people(store, teacher, lesson.id)
    assert after.suggested_teacher is None and after.suggested_by is None and not after.enrolled


def _panel_script():
    from videocoach.config import Settings
    from videocoach.storage.store import Store
    from videocoach.ui.pages import people_panel

    db = Store(Settings.from_env())
    user = db.user_by_name("rivera")
    people_panel.people_panel(db, user, db.lessons_for(user)[0])


def test_prewatch_panel_asks_is_this_you_and_the_answer_adds_to_the_print(tmp_path, faces, monkeypatch):
    """The owner's people panel (AppTest, no browser): the loosely matching person is asked about with their
    thumbnail; "Yes, this is me" keeps their views in the print and queues the lesson's re-render."""
    from streamlit.testing.v1 import AppTest

    from e2e_helpers import use_settings
    from videocoach import people_steps
    from videocoach.config import Settings
    from videocoach.core import serialize
    from videocoach.storage import auth
    from videocoach.storage.store import Store

    emb, photos, her, man = faces
    settings = Settings(data_dir=tmp_path / "data", key_file=tmp_path / "keys" / "media.key")
    store = Store(settings)
    teacher = auth.create_user(store, "rivera", "teacher", "teacher-password", "Ms Rivera")
    lesson = store.create_lesson(teacher, "lesson", "a.mp4")
    ft = tracks_of(track(1, 0, 4, 50), track(2, 0, 4, 400))
    store.save_stage(lesson.id, "faces", serialize.dumps(ft))
    her_c = people.centroid(her)
    print_ = max((emb.embed_photo(*p) for p in photos), key=lambda v: identity.distance(v, her_c))  # the loosest
    store.save_teacher_face(teacher, json.dumps({"descriptors": identity.descriptors_to_json([print_])}), "photo")
    found = people.find_people(ft, {1: her, 2: man}, [print_])
    assert found.suggested_by == "print" and found.teacher_track_ids == ()
    store.save_stage(lesson.id, "people", found.to_json())
    ok, png = cv2.imencode(".png", photos[0][0][:96, :96])
    store.put_media_bytes(lesson.id, people_steps.THUMBS, people.thumbnails_to_json({1: png.tobytes()}))
    use_settings(monkeypatch, settings)

    at = AppTest.from_function(_panel_script, default_timeout=120).run()
    assert not at.exception
    page = " ".join(m.value for m in at.markdown)
    assert "Is this you?" in page and "looks a little like your face print" in page
    assert any("data:image/png;base64," in h.proto.body for h in at.get("html"))  # the thumbnail, inlined
    at.button(key="pw.people.print.yes").click().run()
    assert not at.exception
    assert len(people_steps.enrolled_face(store, teacher.id)) == len(her) + 1
    assert [j.kind for j in store.jobs_for_lesson(lesson.id)] == ["rerender"]
