"""Who may change what others see: every Store method that acts for a user, called as the coach a lesson is shared
with.  Methods are found by introspection, so a new one cannot be forgotten: it must be listed below, either as
something a shared coach may do (with the reason) or as owner-only, and every owner-only one must refuse the coach
(AccessDenied, a refused row in the audit log, nothing changed)."""

from __future__ import annotations

import inspect
import json
import re
from pathlib import Path

import pytest

from videocoach.config import Settings
from videocoach.storage.records import AccessDenied, MeetingRecord
from videocoach.storage.store import Store

# methods a shared coach may call, and why
COACH_MAY = {
    "add_bookmark": "bookmarks are the coach's and the teacher's shared notes",
    "update_bookmark": "bookmarks are the coach's and the teacher's shared notes",
    "delete_bookmark": "bookmarks are the coach's and the teacher's shared notes",
    "add_replay_note": "a note on a replayed clip, part of the coaching conversation",
    "save_meeting_record": "the coach keeps the coaching meeting's record",
    "set_meeting_date": "the coach schedules the meeting (retention follows it; it changes what no one sees)",
}
# access-checked reads (they change nothing)
READERS = {"bookmarks", "meeting_record", "replay_notes", "require_access", "can_access", "lessons_for"}
# not about someone else's lesson: a coach can own no lesson; a login is one's own; a face print is one's own
# (it shows its owner only in lessons they own, and withdrawing it re-renders only those)
OWN = {"create_lesson", "create_login_session", "save_teacher_face", "withdraw_teacher_face"}
# only the lesson's owner: these change what others see (or show what only the owner may see)
OWNER_ONLY = {"mark_face", "begin_policy_change", "clear_audit_findings", "delete_lesson", "share", "unshare",
              "face_mark_details", "say_not_me", "undo_not_me"}
# mutating methods with no user at all: the pipeline's and the operator's, never called by a page
INTERNAL = {"update_lesson", "save_stage", "clear_stages", "put_media_file", "put_media_stream", "put_media_bytes",
            "delete_media", "save_teacher_voice", "enqueue_job", "claim_job", "start_job", "update_job",
            "requeue_stale_jobs", "requeue_stale_job_ids", "remove_orphan_media",
            "not_me"}  # (not_me only reads, for the people step) (set_password_hash: the account page, after checking the current password)


def _acting_methods() -> set[str]:
    names = set()
    for name, fn in inspect.getmembers(Store, inspect.isfunction):
        if name.startswith("_"):
            continue
        for p in inspect.signature(fn).parameters.values():
            if re.fullmatch(r"User( \| None)?", str(p.annotation)):
                names.add(name)
    return names


def test_every_method_acting_for_a_user_is_classified():
    acting = _acting_methods()
    listed = set(COACH_MAY) | READERS | OWN | OWNER_ONLY
    assert acting - listed == set(), "classify the new Store method(s): coach may (with a reason) or owner only"
    assert listed - acting == set(), "a listed method no longer exists or no longer acts for a user"


def test_pages_never_call_the_pipeline_only_methods():
    pages = Path(__file__).resolve().parents[1] / "videocoach" / "ui" / "pages"
    for page in pages.glob("*.py"):
        text = page.read_text()
        called = {m for m in INTERNAL if re.search(rf"\bdb\.{m}\(", text)}
        assert not called, f"{page.name} calls {sorted(called)} (no access check)"


@pytest.fixture
def world(tmp_path, database_url):
    store = Store(Settings(data_dir=tmp_path / "data", key_file=tmp_path / "keys" / "master.key",
                           database_url=database_url))
    owner = store.add_user("tina", "teacher", None, "Tina")
    coach = store.add_user("carl", "coach", None, "Carl")
    other = store.add_user("cleo", "coach", None, "Cleo")
    lesson = store.create_lesson(owner, "Fractions", "fractions.mp4")
    store.share(owner, lesson.id, coach)
    store.save_stage(lesson.id, "faces", json.dumps({"tracks": []}))
    store.save_stage(lesson.id, "render", "{}")
    store.save_stage(lesson.id, "audit", json.dumps({"findings": [{"t_s": 1.0}]}))
    store.update_lesson(lesson.id, status="blocked")
    store.mark_face(owner, lesson.id, 2, "teacher")
    yield {"store": store, "owner": owner, "coach": coach, "other": other, "lesson": store.lesson(lesson.id)}
    store.close()


def _owner_only_calls(w):
    lid, coach = w["lesson"].id, w["coach"]
    return {
        "mark_face": lambda s: s.mark_face(coach, lid, 5, "consented", "form 7B-12"),
        "begin_policy_change": lambda s: s.begin_policy_change(coach, lid, "all-consented"),
        "clear_audit_findings": lambda s: s.clear_audit_findings(coach, lid),
        "delete_lesson": lambda s: s.delete_lesson(coach, lid, "coach tries"),
        "share": lambda s: s.share(coach, lid, w["other"]),
        "unshare": lambda s: s.unshare(coach, lid, coach),
        "face_mark_details": lambda s: s.face_mark_details(coach, lid),
        "say_not_me": lambda s: s.say_not_me(coach, lid, 2),
        "undo_not_me": lambda s: s.undo_not_me(coach, lid, 2),
    }


def _state(store: Store, lesson_id: str):
    lesson = store.lesson(lesson_id)
    return (lesson.status, lesson.policy_name, json.dumps(lesson.settings, sort_keys=True),
            store.face_marks(lesson_id), [u.username for u in store.shared_with(lesson_id)],
            store.finished_stages(lesson_id), store.not_me(lesson_id))


@pytest.mark.parametrize("method", sorted(OWNER_ONLY))
def test_a_shared_coach_is_refused_every_owner_only_method(world, method):
    store, lid = world["store"], world["lesson"].id
    calls = _owner_only_calls(world)
    assert set(calls) == OWNER_ONLY
    before = _state(store, lid)
    with pytest.raises(AccessDenied):
        calls[method](store)
    assert _state(store, lid) == before  # nothing changed
    refused = [e for e in store.audit_entries(lid) if e.actor_id == world["coach"].id and not e.allowed]
    assert refused, f"{method}: the refusal is not in the audit log"


def test_the_coach_may_do_what_coach_may_lists(world):
    store, coach, lid = world["store"], world["coach"], world["lesson"].id
    bm = store.add_bookmark(coach, lid, 1.0, 2.0, note="n")
    store.update_bookmark(coach, bm.id, note="m")
    store.add_replay_note(coach, bm.id, "r")
    store.delete_bookmark(coach, bm.id)
    store.save_meeting_record(coach, MeetingRecord(lesson_id=lid, focus="questions"))
    store.set_meeting_date(coach, lid, 1.8e9)
    assert store.lesson(lid).meeting_at == 1.8e9


def test_a_consented_mark_needs_a_consent_record_and_the_owner_sees_every_mark(world):
    store, owner, lid = world["store"], world["owner"], world["lesson"].id
    for record in (None, "", "   "):
        with pytest.raises(ValueError, match="consent record"):
            store.mark_face(owner, lid, 5, "consented", record)
    assert 5 not in store.face_marks(lid)
    store.mark_face(owner, lid, 5, "consented", "form 7B-12, Mrs Obi holds it")
    marks = {m.track_id: m for m in store.face_mark_details(owner, lid)}
    assert marks[5].label == "consented" and marks[5].consent_record == "form 7B-12, Mrs Obi holds it"
    assert marks[5].marked_by_name == "Tina" and marks[5].created_at > 0
    assert marks[2].label == "teacher" and marks[2].consent_record is None
    store.mark_face(owner, lid, 5, None)
    assert 5 not in {m.track_id for m in store.face_mark_details(owner, lid)}
    with pytest.raises(ValueError):
        store.mark_face(owner, lid, 5, "visible", "x")


def test_an_older_consented_mark_without_a_record_is_dropped_and_the_lesson_rerendered(world, tmp_path):
    store, owner, lid = world["store"], world["owner"], world["lesson"].id
    with store.transaction() as db:  # as an older version stored it
        db.execute("INSERT INTO face_marks(lesson_id, track_id, label, marked_by, created_at) VALUES (?,?,?,?,?)",
                   (lid, 9, "consented", owner.id, 1.0))
    reopened = Store(store.settings)
    try:
        assert reopened.face_marks(lid) == {2: "teacher"}
        assert reopened.stage(lid, "render") is None and reopened.lesson(lid).status == "processing"
        assert reopened.jobs_for_lesson(lid)[-1].kind == "rerender"
    finally:
        reopened.close()
