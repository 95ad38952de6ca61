"""Logins and access, through the real app (AppTest) on the analysed sample lesson."""

from __future__ import annotations

import pytest

from e2e_helpers import app_test, copy_store, goto, login, texts, use_settings
from videocoach.storage.store import Store


@pytest.fixture(scope="module")
def settings(analysed_sample, tmp_path_factory):
    return copy_store(analysed_sample, tmp_path_factory.mktemp("app-access"))


@pytest.fixture
def env(settings, monkeypatch, analysed_sample):
    use_settings(monkeypatch, settings)
    return {"settings": settings, "lesson_id": analysed_sample["lesson_id"], "pw": analysed_sample["passwords"]}


def test_wrong_password_stays_on_the_login_page(env):
    at = app_test().run()
    assert [t.value for t in at.title] == ["videocoach"]
    at.text_input(key="login.user").input("rivera")
    at.text_input(key="login.password").input("not-the-password")
    next(b for b in at.button if b.label == "Log in").click()
    at.run()
    assert "User name or password is wrong." in [e.value for e in at.error]
    assert "Lessons" not in [t.value for t in at.title]
    with Store(env["settings"]) as db:
        assert any(e.action == "login" and not e.allowed for e in db.audit_entries())


def test_a_page_needs_a_login(env):
    at = app_test().run()
    with pytest.raises(ValueError):  # only the login page is registered before a login
        at.switch_page("videocoach/ui/pages/prewatch.py")


def test_another_teacher_cannot_list_or_open_the_lesson(env):
    at = login(app_test(), "other", env["pw"]["other"])
    assert "Lessons" in [t.value for t in at.title]
    assert "Sample lesson" not in texts(at)
    assert not [s for s in at.selectbox if s.label == "Lesson"]  # nothing to pick
    for page in ("prewatch", "bookmarks", "meeting"):
        goto(at, page, lesson_id=env["lesson_id"])  # as if the id had leaked (a link)
        assert "No such lesson, or you may not open it." in [e.value for e in at.error], page
        assert "Sample lesson" not in texts(at)
    with Store(env["settings"]) as db:
        other = db.user_by_name("other")
        refused = [e for e in db.audit_entries(env["lesson_id"]) if e.actor_id == other.id and not e.allowed]
        assert {e.action for e in refused} >= {"prewatch.view", "bookmark.list", "meeting.view"}


def test_the_coach_sees_the_shared_lesson_and_logs_out(env):
    at = login(app_test(), "okafor", env["pw"]["okafor"])
    assert "Lessons shared with you" in texts(at)
    assert "Sample lesson" in texts(at)
    next(b for b in at.button if b.label == "Log out").click()
    at.run()
    assert [t.value for t in at.title] == ["videocoach"]
    assert "vc.user_id" not in at.session_state


def test_account_page_changes_the_password(env):
    at = login(app_test(), "other", env["pw"]["other"])
    goto(at, "account")
    assert "Account" in [t.value for t in at.title]
    inputs = {t.label: t for t in at.text_input}
    inputs["Current password"].input(env["pw"]["other"])
    inputs["New password"].input("a-brand-new-password")
    inputs["New password again"].input("a-brand-new-password")
    next(b for b in at.button if b.label == "Change password").click()
    at.run()
    assert "Password changed." in [s.value for s in at.success]
    assert login(app_test(), "other", "a-brand-new-password").title[0].value == "Lessons"


def test_admin_creates_an_account(env):
    from videocoach.storage import auth

    with Store(env["settings"]) as db:
        auth.create_user(db, "head", "admin", "admin-password", "Head of CPD")
    at = login(app_test(), "head", "admin-password")
    assert "Account" in [t.value for t in at.title]
    inputs = {t.label: t for t in at.text_input}
    inputs["User name (or school e-mail)"].input("new.coach@school.example")
    inputs["Name shown to others"].input("Ms New")
    next(s for s in at.selectbox if s.label == "Role").select("coach")
    inputs["First password (at least 8 characters; ask them to change it)"].input("first-password")
    next(b for b in at.button if b.label == "Create account").click()
    at.run()
    assert "Created coach account new.coach@school.example." in [s.value.replace("\\", "") for s in at.success]
    with Store(env["settings"]) as db:
        assert db.user_by_name("new.coach@school.example").role == "coach"
