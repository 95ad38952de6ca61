"""Issue 19, "No, not me": the owner's answer to a wrong "Is this you?" (from a loose face-print match, real dlib
descriptors; or the first-lesson suggestion without a print).  The person stays hidden and is not asked about again
in that lesson, the next candidate is asked instead, the answer outlives a restart of the store (SQLite and
PostgreSQL), a coach can answer neither yes nor no (refused, audited), and saying no keeps nothing beyond a row of
the lesson's record."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from test_people import track, tracks_of, vec
from test_photo_print import faces  # noqa: F401 (the fixture: real dlib descriptors of her, of the man, photos)
from videocoach import people_steps
from videocoach.config import Settings
from videocoach.core import serialize
from videocoach.privacy import identity, people
from videocoach.storage import auth
from videocoach.storage.records import AccessDenied
from videocoach.storage.store import Store


def _open(tmp_path, url=None) -> Store:
    return Store(Settings(data_dir=tmp_path / "data", key_file=tmp_path / "keys" / "media.key", database_url=url))


def _lesson(store: Store, ft, descs, enrolled=(), *, ready=True):
    """A teacher, a coach it is shared with, and a lesson whose people step ran on these tracks and descriptors (the
    detection pass's sealed descriptors and thumbnails too, as the pipeline keeps them)."""
    teacher = auth.create_user(store, "rivera", "teacher", "teacher-password", "Ms Rivera")
    coach = auth.create_user(store, "okafor", "coach", "coach-password", "Mr Okafor")
    lesson = store.create_lesson(teacher, "lesson", "a.mp4")
    store.share(teacher, lesson.id, coach)
    store.save_stage(lesson.id, "faces", serialize.dumps(ft))
    ok, png = cv2.imencode(".png", np.full((96, 96, 3), 128, np.uint8))
    store.put_media_bytes(lesson.id, people_steps.TRACK_FACES,
                          people.track_faces_to_json(descs, {t.id: png.tobytes() for t in ft.tracks}))
    if len(enrolled):
        store.save_teacher_face(teacher, json.dumps({"descriptors": identity.descriptors_to_json(enrolled)}), "photo")
    people_steps.stage_people(store, lesson, None)
    if ready:
        for stage in ("render", "audit"):
            store.save_stage(lesson.id, stage, "{}")
        store.update_lesson(lesson.id, status="ready")
    return teacher, coach, lesson


def _loosest(faces):
    emb, photos, her, man = faces
    her_c = people.centroid(her)
    return max((emb.embed_photo(*p) for p in photos), key=lambda v: identity.distance(v, her_c))


@pytest.mark.parametrize("db", ["sqlite", "postgresql"])
def test_no_hides_the_question_for_good_and_survives_a_restart(tmp_path, faces, db, request):  # noqa: F811
    emb, photos, her, man = faces
    url = None
    if db == "postgresql":
        from servers import new_database

        url = new_database(request.getfixturevalue("postgres_admin_url"))
    print_ = _loosest(faces)
    ft = tracks_of(track(1, 0, 4, 50), track(2, 0, 4, 400))
    store = _open(tmp_path, url)
    teacher, coach, lesson = _lesson(store, ft, {1: her, 2: man}, [print_])
    asked = people_steps.load_people(store, teacher, lesson.id)
    assert (asked.suggested_teacher, asked.suggested_by, asked.teacher_track_ids) == (1, "print", ())

    vault_before = sorted(p.name for p in (store.media_dir / lesson.id).iterdir())
    face_before = store.teacher_face(teacher.id)
    assert people_steps.not_me(store, teacher, lesson.id, 1) is False  # nobody was shown: nothing made again
    after = people_steps.load_people(store, teacher, lesson.id)
    assert after.suggested_teacher is None and after.teacher_track_ids == ()  # the man is not like her: nobody asked
    assert people_steps.declined_people(store, teacher, lesson.id) == {1}
    assert store.lesson(lesson.id).status == "ready" and store.jobs_for_lesson(lesson.id) == []
    # nothing kept but the answer: no media, no change to the print, one row naming the person id
    assert sorted(p.name for p in (store.media_dir / lesson.id).iterdir()) == vault_before
    assert store.teacher_face(teacher.id) == face_before
    rows = [dict(r) for r in store._db.execute("SELECT * FROM person_answers").fetchall()]
    assert [(r["lesson_id"], r["person_id"], r["answer"], r["answered_by"]) for r in rows] == \
        [(lesson.id, 1, "not_me", teacher.id)]
    assert set(rows[0]) == {"lesson_id", "person_id", "answer", "answered_by", "created_at"}

    for step, action in ((people_steps.not_me, "people.not_me"), (people_steps.confirm_teacher, "people.confirm"),
                         (people_steps.undo_not_me, "people.not_me_undo")):
        with pytest.raises(AccessDenied):
            step(store, coach, lesson.id, 2)
        refused = [e for e in store.audit_entries(lesson.id) if e.action == action and e.actor_id == coach.id]
        assert refused and not refused[-1].allowed
    with pytest.raises(AccessDenied):
        store.say_not_me(coach, lesson.id, 1)
    mine = [e for e in store.audit_entries(lesson.id) if e.action == "people.not_me" and e.allowed]
    assert [(e.actor_id, e.detail) for e in mine] == [(teacher.id, "person=1")]
    with pytest.raises(ValueError, match="not you"):
        people_steps.confirm_teacher(store, teacher, lesson.id, 1)  # undo first
    store.close()

    store = _open(tmp_path, url)  # a restart: the answer is in the lesson's record
    assert people_steps.declined_people(store, teacher, lesson.id) == {1}
    people_steps.stage_people(store, store.lesson(lesson.id), None)  # the people step run again (a re-render)
    again = people_steps.load_people(store, teacher, lesson.id)
    assert again.suggested_teacher is None and again.teacher_track_ids == ()
    # a closer print (say, confirmed in another lesson) still never shows her here
    store.save_teacher_face(teacher, json.dumps({"descriptors": identity.descriptors_to_json(her)}), "test")
    assert people_steps.apply_enrolment(store, teacher) == []
    assert people_steps.load_people(store, teacher, lesson.id).teacher_track_ids == ()
    assert people.find_people(ft, {1: her, 2: man}, her).teacher_track_ids == (1,)  # which it would, without the no

    assert people_steps.undo_not_me(store, teacher, lesson.id, 1) is True  # undone: now shown, the video made again
    assert people_steps.load_people(store, teacher, lesson.id).teacher_track_ids == (1,)
    assert [j.kind for j in store.jobs_for_lesson(lesson.id)] == ["rerender"]
    store.say_not_me(teacher, lesson.id, 2**31 + 7)  # track ids (so person ids) reach 2**31: stored whole
    assert 2**31 + 7 in store.not_me(lesson.id)
    store.clear_stages(lesson.id, ["faces"])  # a new detection numbers tracks afresh: the answers go with them
    assert store.not_me(lesson.id) == frozenset()
    store.close()


def test_no_to_the_first_lesson_suggestion_asks_about_the_next_or_nobody(tmp_path):
    a, b, c = vec(11), vec(12), vec(13)  # three different people, on screen together (never linked)
    ft = tracks_of(track(1, 0, 30, 50), track(2, 0, 20, 250), track(3, 0, 10, 450))
    store = _open(tmp_path)
    teacher, coach, lesson = _lesson(store, ft, {1: [a], 2: [b], 3: [c]})
    order = []
    for _ in range(4):
        found = people_steps.load_people(store, teacher, lesson.id)
        order.append((found.suggested_teacher, found.suggested_by))
        if found.suggested_teacher is None:
            break
        people_steps.not_me(store, teacher, lesson.id, found.suggested_teacher)
    assert order == [(1, "presence"), (2, "presence"), (3, "presence"), (None, None)]
    assert all(p.id in {1, 2, 3} for p in found.people) and len(found.people) == 3  # still listed, all hidden
    people_steps.undo_not_me(store, teacher, lesson.id, 2)
    assert people_steps.load_people(store, teacher, lesson.id).suggested_teacher == 2


def test_no_to_a_second_loose_match_keeps_the_other_question():
    base = np.full(128, 0.05, np.float32)
    near, nearer = base.copy(), base.copy()
    nearer[0] += 0.36
    near[1] += 0.42  # both only loosely like the one-view print; far from each other
    ft = tracks_of(track(1, 0, 4, 50), track(2, 0, 4, 400))
    descs = {1: [near, near], 2: [nearer, nearer]}
    found = people.find_people(ft, descs, [base])
    assert (found.suggested_teacher, found.teacher_track_ids) == (2, ())
    after = people_steps.with_answers(found, ft, [base], (), frozenset({2}))
    assert (after.suggested_teacher, after.suggested_by) == (1, "print")
    assert people_steps.with_answers(found, ft, [base], (), frozenset({1, 2})).suggested_teacher is None
    assert people_steps.with_answers(found, ft, [base], (), frozenset()) is found


def test_no_about_someone_shown_makes_the_video_again_without_them_once_it_is_made(tmp_path):
    a, b = vec(21), vec(22)
    ft = tracks_of(track(1, 0, 4, 50), track(2, 0, 4, 400))
    store = _open(tmp_path)
    teacher, coach, lesson = _lesson(store, ft, {1: [a, a], 2: [b]}, [a, a], ready=False)
    assert people_steps.load_people(store, teacher, lesson.id).teacher_track_ids == (1,)
    with pytest.raises(ValueError, match="still being made"):
        people_steps.not_me(store, teacher, lesson.id, 1)
    assert store.not_me(lesson.id) == frozenset()
    for stage in ("render", "audit"):
        store.save_stage(lesson.id, stage, "{}")
    store.put_media_bytes(lesson.id, "redacted", b"a rendition showing person 1")
    store.update_lesson(lesson.id, status="ready")
    assert people_steps.not_me(store, teacher, lesson.id, 1) is True
    found = people_steps.load_people(store, teacher, lesson.id)
    assert found.teacher_track_ids == () and found.suggested_teacher is None
    assert store.media_path(lesson.id, "redacted") is None and store.stage(lesson.id, "render") is None
    assert store.lesson(lesson.id).status == "processing"
    assert [j.kind for j in store.jobs_for_lesson(lesson.id)] == ["rerender"]


def test_the_audit_log_says_not_me_in_plain_words():
    from videocoach.storage.records import AuditEntry
    from videocoach.ui import wording

    entry = AuditEntry(1, 0.0, 2, "people.not_me", "0" * 32, "person=3", True)
    assert "said a person in a lesson is not them" in wording.activity_sentence(entry, "You")
    assert (wording.duration(45.4), wording.duration(125), wording.duration(120)) == ("45 s", "2 min 5 s", "2 min")
    assert wording.people_caption(1, 1, 2.0).startswith("1 person seen clearly for 2 s or more (and 1 brief")


def _panel_script():
    from videocoach.config import Settings
    from videocoach.storage.store import Store
    from videocoach.ui.pages import people_panel

    db = Store(Settings.from_env())
    user = db.user_by_name("rivera")
    people_panel.people_panel(db, user, db.lessons_for(user)[0])


def test_prewatch_panel_no_not_me_hides_the_question_and_undo_brings_it_back(tmp_path, faces, monkeypatch):  # noqa: F811
    from streamlit.testing.v1 import AppTest

    from e2e_helpers import use_settings

    emb, photos, her, man = faces
    ft = tracks_of(track(1, 0, 4, 50), track(2, 0, 4, 400))
    settings = Settings(data_dir=tmp_path / "data", key_file=tmp_path / "keys" / "media.key")
    store = Store(settings)
    teacher, coach, lesson = _lesson(store, ft, {1: her, 2: man}, [_loosest(faces)])
    ok, png = cv2.imencode(".png", photos[0][0][:96, :96])
    store.put_media_bytes(lesson.id, people_steps.THUMBS, people.thumbnails_to_json({1: png.tobytes()}))
    use_settings(monkeypatch, settings)

    at = AppTest.from_function(_panel_script, default_timeout=120).run()
    assert not at.exception
    page = " ".join(m.value for m in at.markdown)
    assert "Is this you?" in page and "Person 1" in page and "on screen 4 s" in page
    assert "track" not in page.lower() and "person=1" not in page
    at.button(key="pw.people.print.no").click().run()
    assert not at.exception
    page = " ".join(m.value for m in at.markdown)
    assert "Is this you?" not in page and "you said this is not you" in page
    assert not [b for b in at.button if b.key == "pw.people.print.no"]
    assert not [b for b in at.button if b.key == "pw.people.me.1"]  # no "This is me" for a "not me": undo first
    assert store.not_me(lesson.id) == {1} and store.jobs_for_lesson(lesson.id) == []
    at.button(key="pw.people.undo.1").click().run()
    assert not at.exception
    assert "Is this you?" in " ".join(m.value for m in at.markdown)
    assert store.not_me(lesson.id) == frozenset()
