"""End to end in a real browser: `videocoach app` (worker + `streamlit run app.py`) on a loopback port with a fresh
data directory, driven by Debian's headless Chromium through Playwright (no browser download).

A teacher logs in, uploads the sample lesson, waits for the real pipeline (in the background worker), pre-watches
it, bookmarks a moment, and plays the bookmark's clip in meeting mode: the video's currentTime must advance, and the
time from the click to playing is measured.  A second teacher can neither see the lesson nor fetch its video, with
the first teacher's URL or with a forged token.  Every page is saved as a screenshot in test-artifacts/screenshots/.
"""

from __future__ import annotations

import json
import time

import pytest

from e2e_helpers import REPO, SCREENSHOTS, app_server, browser_login, launch_browser, screenshot
from videocoach.storage import auth
from videocoach.config import Settings
from videocoach.storage.store import Store
from videocoach.ui.media_tokens import MediaTokens
from videocoach.ui.mediaserver import media_path

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SAMPLE = REPO / "sample_media" / "lesson.mp4"
ANALYSIS_TIMEOUT_MS = 20 * 60 * 1000  # the real pipeline on 2 shared cores
PLAYER = ".vc-root"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    if not SAMPLE.exists():
        pytest.skip("sample_media/lesson.mp4 is missing")
    pytest.importorskip("playwright.sync_api")
    root = tmp_path_factory.mktemp("e2e")
    settings = Settings(data_dir=root / "data", key_file=root / "keys" / "media.key")
    with Store(settings) as db:
        auth.create_user(db, "rivera", "teacher", "teacher-password", "Ms Rivera")
        auth.create_user(db, "okafor", "coach", "coach-password", "Mr Okafor")
        auth.create_user(db, "other", "teacher", "other-password", "Mr Other")
    with app_server(settings, root / "app.log") as base:
        yield {"base": base, "settings": settings, "log": root / "app.log"}


def wait_text(page, text: str, timeout_ms: int = 60_000) -> None:
    page.get_by_text(text, exact=False).first.wait_for(timeout=timeout_ms)


def nav(page, name: str) -> None:
    page.get_by_role("link", name=name).first.click()
    page.get_by_role("heading", name=name, exact=True).first.wait_for(timeout=60_000)


def test_teacher_to_meeting_and_a_stranger_locked_out(server):
    from playwright.sync_api import sync_playwright

    base = server["base"]
    timings: dict = {}
    outside: list[str] = []
    with sync_playwright() as p:
        browser = launch_browser(p)
        teacher_ctx = browser.new_context(viewport={"width": 1400, "height": 1000})
        page = teacher_ctx.new_page()
        page.on("request", lambda r: outside.append(r.url)
                if not r.url.startswith((base, "data:", "blob:", "about:")) else None)

        page.goto(base + "/")
        page.get_by_role("textbox", name="User name").wait_for(timeout=60_000)
        screenshot(page, "01-login")
        browser_login(page, base, "rivera", "teacher-password")
        # a reload starts a new Streamlit session: the login's HttpOnly cookie keeps her logged in
        deadline = time.monotonic() + 30
        while not any(c["name"] == "vc_session" and c["httpOnly"] for c in teacher_ctx.cookies()):
            assert time.monotonic() < deadline, "the login did not set its session cookie"
            page.wait_for_timeout(200)
        page.reload()
        page.get_by_role("heading", name="Lessons", exact=True).wait_for(timeout=60_000)
        assert page.get_by_role("textbox", name="Password").count() == 0

        # upload the sample lesson (streamed by the upload form to the upload route)
        form = page.locator(".up-root")
        form.locator("input[type=file]").set_input_files(str(SAMPLE))
        form.locator("input[name=title]").fill("Salty ice (e2e)")
        form.locator("input[name=sample]").fill("0:01-0:05")  # where the teacher speaks alone (lesson script)
        t_up = time.monotonic()
        form.locator("button.up-go").click()
        page.get_by_text("Analysis runs in the background").wait_for(timeout=180_000)
        timings["upload_to_stored_s"] = round(time.monotonic() - t_up, 2)
        screenshot(page, "02-lessons-uploaded")

        # wait for the background analysis (the page polls)
        t0 = time.monotonic()
        with Store(server["settings"]) as db:
            lesson = db.lessons_for(db.user_by_name("rivera"))[0]
            while lesson.status not in ("ready", "blocked", "failed"):
                assert time.monotonic() - t0 < ANALYSIS_TIMEOUT_MS / 1000, f"analysis still {lesson.status}"
                page.wait_for_timeout(2000)
                lesson = db.lesson(lesson.id)
        timings["analysis_wall_s"] = round(time.monotonic() - t0, 1)
        assert lesson.status in ("ready", "blocked"), (lesson.status, lesson.error)
        page.locator("text=/ready|needs a privacy review/").first.wait_for(timeout=30_000)  # the page saw it too
        screenshot(page, "03-lessons-ready")

        # pre-watch
        page.get_by_role("button", name="Open lesson").first.click()
        page.get_by_role("heading", name="Pre-watch").wait_for(timeout=60_000)
        if lesson.status == "blocked":  # the redaction audit found something: the owner reviews and clears it
            screenshot(page, "04a-prewatch-privacy-review")
            page.get_by_text("I have looked at every finding").click()
            page.get_by_role("button", name="Clear for playback").click()
            page.wait_for_timeout(1500)
        video = page.locator(f"{PLAYER} video")
        video.wait_for(timeout=60_000)
        page.wait_for_function("() => { const v = document.querySelector('.vc-root video') || "
                               "[...document.querySelectorAll('*')].map(e => e.shadowRoot && "
                               "e.shadowRoot.querySelector('video')).find(Boolean); return v && v.readyState >= 1; }",
                               timeout=60_000)
        src = video.get_attribute("src")
        assert src and src.startswith("/vc-media/")
        rows = page.locator(f"{PLAYER} .row")
        assert rows.count() >= 10
        target = rows.nth(min(8, rows.count() - 1))
        t_line = float(target.get_attribute("data-t"))
        target.click()
        page.wait_for_function(f"(v) => v.currentTime >= {t_line - 0.5} && !v.paused", arg=video.element_handle(),
                               timeout=30_000)
        video.evaluate("v => v.pause()")
        screenshot(page, "04-prewatch")

        # bookmark the current moment
        page.locator(f"{PLAYER} button.bm-now").click()
        dialog = page.get_by_role("dialog")  # the form opens over the player, not below the transcript
        dialog.get_by_text("Marked at").wait_for(timeout=30_000)
        dialog.get_by_label("Note").fill("Pupils answer the salt question (e2e)")
        dialog.get_by_role("button", name="Add bookmark").click()
        dialog.wait_for(state="detached", timeout=30_000)
        with Store(server["settings"]) as db:
            marks = db.bookmarks(db.user_by_name("rivera"), lesson.id)
        assert [b.note for b in marks] == ["Pupils answer the salt question (e2e)"]
        assert abs(marks[0].start_s - t_line) < 30

        nav(page, "Bookmarks")
        wait_text(page, "added by Ms Rivera")  # the bookmark's edit panel (the table itself is a canvas)
        screenshot(page, "05-bookmarks")

        # meeting mode: play the bookmark's clip
        nav(page, "Meeting")
        clip = page.locator(f"{PLAYER} .clip").first
        clip.wait_for(timeout=60_000)
        page.wait_for_function("() => true")
        mvideo = page.locator(f"{PLAYER} video")
        page.wait_for_function("(v) => v.readyState >= 1", arg=mvideo.element_handle(), timeout=60_000)
        start_s = max(0.0, marks[0].start_s - 10.0)
        t_click = time.monotonic()
        clip.click()
        page.wait_for_function(f"(v) => !v.paused && v.currentTime > {start_s + 0.2}", arg=mvideo.element_handle(),
                               timeout=30_000)
        timings["clip_click_to_advancing_s"] = round(time.monotonic() - t_click, 3)
        before = mvideo.evaluate("v => v.currentTime")
        page.wait_for_timeout(1200)
        after = mvideo.evaluate("v => v.currentTime")
        assert after > before + 0.5, (before, after)  # it plays, not just seeks
        assert start_s - 0.5 <= before <= marks[0].end_s + 20.5
        latency = page.locator(PLAYER).get_attribute("data-last-clip-latency-ms")
        timings["clip_click_to_playing_ms_in_page"] = int(latency) if latency else None
        mvideo.evaluate("v => v.pause()")
        page.get_by_label("Note on this replay").fill("Looked at it from the pupils' side (e2e)")
        page.get_by_role("button", name="Add note").click()
        wait_text(page, "Looked at it from the pupils' side (e2e)")
        page.get_by_label("Agreed focus").fill("Wait time after questions")
        page.get_by_role("button", name="Save record").click()
        page.wait_for_timeout(1500)
        screenshot(page, "06-meeting")
        with Store(server["settings"]) as db:
            rivera = db.user_by_name("rivera")
            assert db.meeting_record(rivera, lesson.id).focus == "Wait time after questions"
            assert any(e.action == "media.clip" for e in db.audit_entries(lesson.id))

        nav(page, "My progress")
        page.wait_for_timeout(1500)
        screenshot(page, "07-progress")
        nav(page, "Account")
        screenshot(page, "08-account")

        # the teacher's own URL works from her browser (a range request)
        own = teacher_ctx.request.get(base + src, headers={"Range": "bytes=0-99"})
        assert own.status == 206 and len(own.body()) == 100

        # a second teacher: sees nothing, fetches nothing
        other_ctx = browser.new_context(viewport={"width": 1400, "height": 1000})
        other = other_ctx.new_page()
        browser_login(other, base, "other", "other-password")
        other.wait_for_timeout(1500)
        assert other.get_by_text("Salty ice (e2e)").count() == 0
        screenshot(other, "09-other-teacher-lessons")
        other.goto(f"{base}/prewatch?lesson={lesson.id}")  # a leaked deep link (a new session, still logged in)
        other.get_by_text("No such lesson, or you may not open it.").wait_for(timeout=60_000)
        assert other.get_by_text("Salty ice (e2e)").count() == 0
        assert other.locator(f"{PLAYER} video").count() == 0
        screenshot(other, "10-other-teacher-deep-link")
        stolen = other_ctx.request.get(base + src, headers={"Range": "bytes=0-99"})
        assert stolen.status in (403, 404)
        with Store(server["settings"]) as db:
            forged = MediaTokens(b"f" * 32).mint(db.user_by_name("other").id, lesson.id, "redacted")
            own_key_wrong_user = MediaTokens.for_settings(server["settings"]).mint(
                db.user_by_name("other").id, lesson.id, "redacted")
        assert other_ctx.request.get(base + media_path(forged)).status == 403
        assert other_ctx.request.get(base + media_path(own_key_wrong_user)).status == 404
        # logging out ends the remembered login: a reload shows the login form again
        other.goto(base + "/")
        other.get_by_role("button", name="Log out").click()
        other.get_by_role("textbox", name="User name").wait_for(timeout=60_000)
        other.reload()
        other.get_by_role("textbox", name="User name").wait_for(timeout=60_000)
        browser.close()

    assert not outside, f"the app reached outside the server: {outside[:5]}"
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    (SCREENSHOTS.parent / "e2e_timings.json").write_text(json.dumps(timings, indent=2))
    print("e2e timings:", timings)
