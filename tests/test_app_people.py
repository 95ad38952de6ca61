"""The people panel of Pre-watch (AppTest) on the sample lesson analysed by the real pipeline, as a new teacher meets
it: people with time on screen and a picture (inside the owner's page, never at a media URL), the first-lesson
question "Is this you?" in plain words, "No, not me" asking about the next person and outliving a new session; a
shared coach sees no question and no answer buttons."""

from __future__ import annotations

import re

import pytest

from e2e_helpers import app_test, copy_store, goto, login, texts, use_settings
from videocoach import people_steps
from videocoach.storage.store import Store

QUESTION = "Is this you?"


@pytest.fixture(scope="module")
def settings(analysed_sample, tmp_path_factory):
    return copy_store(analysed_sample, tmp_path_factory.mktemp("app-people"))


@pytest.fixture
def env(settings, monkeypatch, analysed_sample):
    use_settings(monkeypatch, settings)
    return {"settings": settings, "lesson_id": analysed_sample["lesson_id"], "pw": analysed_sample["passwords"]}


def open_prewatch(env, user="rivera"):
    at = login(app_test(), user, env["pw"][user])
    return goto(at, "prewatch", lesson_id=env["lesson_id"])


def _asked(at) -> int | None:
    """The person number the question asks about, or None."""
    for m in at.markdown:
        found = re.search(r"\*\*Is this you\?\*\* Person (\d+)", m.value)
        if found:
            return int(found.group(1))
    return None


def test_a_new_teacher_is_asked_in_plain_words_and_no_asks_about_the_next_person(env):
    at = open_prewatch(env)
    page = texts(at)
    assert "People in this lesson" in page
    with Store(env["settings"]) as db:
        teacher = db.user_by_name("rivera")
        found = people_steps.load_people(db, teacher, env["lesson_id"])
    assert found is not None and not found.enrolled and len(found.people) >= 2
    rows = [m.value for m in at.markdown if re.match(r"\*\*Person \d+\*\* · on screen \d", m.value)]
    assert len(rows) == len(found.people)  # each person, with time on screen and when seen
    panel = " ".join(rows + [m.value for m in at.markdown if QUESTION in m.value]
                     + [c.value for c in at.caption if "seen clearly" in c.value])
    assert "brief or unclear" in panel
    for word in ("presence", "print\"", "suggested", "track", "descriptor", "None", "person=", "_"):
        assert word not in panel, f"internal word {word!r} in the people panel"
    bodies = [h.proto.body for h in at.get("html")]
    assert any("data:image/png;base64," in b for b in bodies)  # the pictures: inside the owner's page
    assert not any("/media/" in b or "/vc-media/" in b for b in bodies)

    first = _asked(at)
    assert first is not None and QUESTION in page  # with no face print: the person on screen longest
    at.button(key="pw.people.print.no").click().run()
    assert not at.exception
    second = _asked(at)
    assert second != first
    assert "you said this is not you" in next(m.value for m in at.markdown if m.value.startswith(f"**Person {first}**"))
    with Store(env["settings"]) as db:
        assert len(db.not_me(env["lesson_id"])) == 1
        assert [j for j in db.jobs_for_lesson(env["lesson_id"]) if j.status == "queued"] == []  # nothing re-made
        entries = [e for e in db.audit_entries(env["lesson_id"]) if e.action == "people.not_me"]
        assert [(e.actor_id, e.allowed) for e in entries] == [(teacher.id, True)]

    again = open_prewatch(env)  # a new session (a restart of the page): the answer is kept
    assert _asked(again) == second
    assert "you said this is not you" in texts(again)


def test_a_shared_coach_sees_no_question_and_no_answer_buttons(env):
    at = open_prewatch(env, "okafor")
    page = texts(at)
    assert "Pre-watch" in page
    assert QUESTION not in page and "People in this lesson" not in page
    assert not [b for b in at.button if str(b.key or "").startswith("pw.people")]
