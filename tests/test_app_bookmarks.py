"""The Bookmarks page (AppTest, real store): coach and coachee add bookmarks, each shows its author; edit, delete,
export as CSV and JSON."""

from __future__ import annotations

import csv
import io
import json

import pytest

from e2e_helpers import app_test, copy_store, goto, login, player_data, texts, use_settings
from videocoach.storage.store import Store
from videocoach.ui import review


@pytest.fixture(scope="module")
def settings(analysed_sample, tmp_path_factory):
    return copy_store(analysed_sample, tmp_path_factory.mktemp("app-bookmarks"))


@pytest.fixture
def env(settings, monkeypatch, analysed_sample):
    use_settings(monkeypatch, settings)
    return {"settings": settings, "lesson_id": analysed_sample["lesson_id"], "pw": analysed_sample["passwords"]}


def add_bookmark(at, start: str, end: str, note: str, tags: list[str], trigger: str = "", outcome: str = ""):
    form_inputs = {t.label: t for t in at.text_input if "bm.add" in str(t.form_id)}
    form_inputs["From (m:ss)"].input(start)
    form_inputs["To (m:ss)"].input(end)
    form_inputs["Trigger"].input(trigger)
    form_inputs["Outcome"].input(outcome)
    next(a for a in at.text_area if "bm.add" in str(a.form_id)).input(note)
    next(m for m in at.multiselect if "bm.add" in str(m.form_id)).set_value(tags)
    next(b for b in at.button if b.label == "Add bookmark").click()
    at.run()
    assert not at.exception, at.exception


def bookmarks_page(env, user):
    return goto(login(app_test(), user, env["pw"][user]), "bookmarks", lesson_id=env["lesson_id"])


def test_csv_export_defuses_spreadsheet_formulas():
    from videocoach.storage.records import Bookmark

    b = Bookmark(1, "x" * 32, 1, "=HYPERLINK(\"http://evil\")", 1.0, 2.0, "+cmd", ("-x",), "@a", "ok", 0.0, 0.0)
    row = next(csv.DictReader(io.StringIO(review.bookmarks_csv([b]))))
    assert row["author"].startswith("'=") and row["note"] == "'+cmd" and row["tags"] == "'-x" and row["trigger"] == "'@a"


def test_both_add_edit_delete_and_export(env):
    at = bookmarks_page(env, "rivera")
    add_bookmark(at, "0:30", "0:42", "Pupils go quiet after the salt question", ["critical incident", "question"],
                 trigger="Closed question to the whole class", outcome="Nobody answered for 6 s")
    coach = bookmarks_page(env, "okafor")
    add_bookmark(coach, "1:05", "1:05", "Lovely explanation from Bella", ["positive feature"])
    db = Store(env["settings"])
    rivera = db.user_by_name("rivera")
    ours = ("Pupils go quiet after the salt question", "Lovely explanation from Bella")
    marks = [b for b in db.bookmarks(rivera, env["lesson_id"]) if b.note in ours]
    assert [(b.start_s, b.end_s, b.author_name) for b in marks] == [(30.0, 42.0, "Ms Rivera"), (65.0, 65.0, "Mr Okafor")]
    assert marks[0].tags == ("critical incident", "question") and marks[0].trigger.startswith("Closed")

    at.run()  # the teacher's page now lists both, with their authors, each playable, notes in full
    shown = texts(at)
    assert "**0:30–0:42** · critical incident, question · added by Ms Rivera" in shown
    assert "**1:05** · positive feature · added by Mr Okafor" in shown
    assert review.md("Pupils go quiet after the salt question") in shown
    assert {f"bm.play.{b.id}" for b in marks} <= {b.key for b in at.button}
    at.button(key=f"bm.play.{marks[1].id}").click()
    at.run()
    assert player_data(at, "bm.player")["seek"]["t"] == 65.0 and player_data(at, "bm.player")["seek"]["play"]

    # the export buttons offer exactly what review.bookmarks_csv / bookmarks_json make of the stored bookmarks
    # (links to the login-checked export route: never a file in Streamlit's /media/)
    links = at.get("link_button")
    assert [d.proto.label for d in links] == ["⬇ CSV", "⬇ JSON"]
    assert all(d.proto.url.startswith("/vc-export/") for d in links) and not at.get("download_button")
    rows = list(csv.DictReader(io.StringIO(review.bookmarks_csv(marks))))
    assert [r["note"] for r in rows] == ["Pupils go quiet after the salt question", "Lovely explanation from Bella"]
    assert rows[0]["tags"] == "critical incident; question" and rows[0]["author"] == "Ms Rivera"
    exported = json.loads(review.bookmarks_json(db.lesson(env["lesson_id"]), marks))
    assert exported["lesson"]["id"] == env["lesson_id"] and len(exported["bookmarks"]) == 2

    # edit the coach's bookmark (both may edit), then delete the teacher's
    coach_mark = marks[1]
    edit_note = next(a for a in at.text_area if f"bm.edit.{coach_mark.id}" in str(a.form_id))
    edit_note.input("Lovely explanation from Bella, using 'dissolve'")
    next(b for b in at.button if b.label == "Save changes" and f"bm.edit.{coach_mark.id}" in str(b.form_id)).click()
    at.run()
    at.checkbox(key=f"bm.sure.{marks[0].id}").check()
    at.run()
    at.button(key=f"bm.delete.{marks[0].id}").click()
    at.run()
    left = [b.note for b in db.bookmarks(rivera, env["lesson_id"])]
    assert "Lovely explanation from Bella, using 'dissolve'" in left and ours[0] not in left
    db.close()


def test_times_are_checked_and_name_the_field(env):
    at = bookmarks_page(env, "rivera")
    with Store(env["settings"]) as db:
        before = len(db.bookmarks(db.user_by_name("rivera"), env["lesson_id"]))
    add_bookmark(at, "0:57", "1:99", "typo in To", [])
    assert any(e.value.startswith("To:") and "1:99" in e.value for e in at.error)
    add_bookmark(at, "0:57", "0:50", "end before start", [])
    assert any("comes before From" in e.value for e in at.error)
    with Store(env["settings"]) as db:
        assert len(db.bookmarks(db.user_by_name("rivera"), env["lesson_id"])) == before


def test_a_bad_time_is_refused(env):
    at = bookmarks_page(env, "rivera")
    with Store(env["settings"]) as db:
        before = len(db.bookmarks(db.user_by_name("rivera"), env["lesson_id"]))
    add_bookmark(at, "half past", "", "x", [])
    assert any("is not a time" in e.value for e in at.error)
    with Store(env["settings"]) as db:
        assert len(db.bookmarks(db.user_by_name("rivera"), env["lesson_id"])) == before

