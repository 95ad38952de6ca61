"""A coach's and a teacher's afternoon in a real browser, on the sample lesson analysed once by the real pipeline
(``analysed_sample``; its upload is the pipeline's ingest): the Lessons page -> Pre-watch (figures equal to
`videocoach show`) -> a bookmark at "this moment" (a bad time refused, naming the field; the default span around
the moment) -> the Bookmarks page (played from there, the note in full) -> the meeting clip with its trigger and
outcome -> Progress (the same figures).  The teacher then sees when her coach watched.

Every page is saved at a laptop size (1366x768) and a tablet size (1024x768) in test-artifacts/walkthrough/, and
checked: no label or button cut off, and the page's primary action inside the first screen.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from e2e_helpers import REPO, app_server, browser_login, copy_store, launch_browser, settle
from videocoach.storage.store import Store
from videocoach.ui import review

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SHOTS = REPO / "test-artifacts" / "walkthrough"
SIZES = {"laptop": (1366, 768), "tablet": (1024, 768)}
PLAYER = ".vc-root"
NOTE = ("Amir starts to answer, stops, and looks at the teacher; nobody else tries. A long note that must be shown "
        "in full on the Bookmarks page, not cut off after a few words: it goes on about the wait time and the "
        "follow-up question that the coach wants to talk about in the meeting.")

# text that is cut off: the element's content is wider than its box (an ellipsis, or hidden overflow)
CUT_OFF_JS = """() => {
  const sel = '[data-testid="stMetricLabel"] p, [data-testid="stMetricValue"] div, button p, h1, h2, h3,'
            + ' [data-testid="stExpander"] summary p, [role="columnheader"], .gdg-header';
  return [...document.querySelectorAll(sel)]
    .filter((e) => e.offsetParent !== null && e.scrollWidth > e.clientWidth + 1)
    .map((e) => (e.innerText || '').trim().slice(0, 60));
}"""


@pytest.fixture(scope="module")
def world(analysed_sample, tmp_path_factory):
    pytest.importorskip("playwright.sync_api")
    root = tmp_path_factory.mktemp("walkthrough")
    settings = copy_store(analysed_sample, root)
    lesson_id = analysed_sample["lesson_id"]
    with Store(settings) as db:  # the owner's privacy review (tested on its own elsewhere), so the video plays
        teacher = db.user_by_name(analysed_sample["teacher"])
        if db.lesson(lesson_id).status == "blocked":
            review.clear_audit(db, teacher, lesson_id)
    env = dict(os.environ, VIDEOCOACH_DATA=str(settings.data_dir), VIDEOCOACH_KEY_FILE=str(settings.key_file),
               PYTHONPATH=str(REPO))
    shown = subprocess.run([sys.executable, "-m", "videocoach.cli", "show", lesson_id[:8]], env=env, cwd=REPO,
                           capture_output=True, text=True, check=True).stdout
    with app_server(settings, root / "app.log") as base:
        yield {"base": base, "settings": settings, "lesson_id": lesson_id, "cli": shown,
               "pw": analysed_sample["passwords"], "coach": analysed_sample["coach"],
               "teacher": analysed_sample["teacher"]}


def cli_figures(text: str) -> dict[str, str]:
    m = re.search(r"time: teacher only (\d+) %, pupils only (\d+) %, both (\d+) %, silence (\d+) %;\s+turns: "
                  r"teacher (\d+), pupils (\d+)", text)
    assert m, text
    keys = ("Teacher only", "Pupils only", "Both at once", "Silence")
    figures = {k: f"{v} %" for k, v in zip(keys, m.groups()[:4])}
    figures["teacher turns"], figures["pupil turns"] = m.group(5), m.group(6)
    return figures


def nav(page, name: str) -> None:
    page.get_by_role("link", name=name).first.click()
    page.get_by_role("heading", name=name, exact=True).first.wait_for(timeout=60_000)
    settle(page)


def look(page, name: str, primary) -> None:
    """Screenshot at both sizes; at each, nothing cut off and ``primary`` (a locator) inside the first screen."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    for size, (w, h) in SIZES.items():
        page.set_viewport_size({"width": w, "height": h})
        settle(page)
        page.evaluate("() => { const m = document.querySelector('[data-testid=\"stMain\"]'); if (m) m.scrollTo(0, 0); }")
        page.wait_for_timeout(400)
        page.screenshot(path=str(SHOTS / f"{name}-{size}.png"))
        cut = page.evaluate(CUT_OFF_JS)
        assert not cut, f"{name} at {w}x{h}: cut off: {cut}"
        box = primary.bounding_box()
        assert box is not None, f"{name} at {w}x{h}: the primary action is not shown"
        assert 0 <= box["y"] and box["y"] + box["height"] <= h and box["x"] + box["width"] <= w, \
            f"{name} at {w}x{h}: the primary action is off the first screen: {box}"
    page.set_viewport_size({"width": SIZES["laptop"][0], "height": SIZES["laptop"][1]})
    settle(page)


def metric_values(page) -> dict[str, str]:
    return page.evaluate("""() => Object.fromEntries([...document.querySelectorAll('[data-testid="stMetric"]')]
        .map((m) => [m.querySelector('[data-testid="stMetricLabel"]').innerText.trim(),
                     m.querySelector('[data-testid="stMetricValue"]').innerText.trim()]))""")


def test_coach_and_teacher_walk_through(world):
    from playwright.sync_api import sync_playwright

    base, lesson_id = world["base"], world["lesson_id"]
    cli = cli_figures(world["cli"])
    with sync_playwright() as p:
        browser = launch_browser(p)
        ctx = browser.new_context(viewport={"width": 1366, "height": 768})
        page = ctx.new_page()
        browser_login(page, base, world["coach"], world["pw"][world["coach"]])
        settle(page)
        look(page, "01-coach-lessons", page.get_by_role("button", name="Open lesson").first)

        # pre-watch: the figures are the command line's
        page.get_by_role("button", name="Open lesson").first.click()
        page.get_by_role("heading", name="Pre-watch").wait_for(timeout=60_000)
        video = page.locator(f"{PLAYER} video")
        page.wait_for_function("(v) => v.readyState >= 1", arg=video.element_handle(timeout=60_000), timeout=60_000)
        settle(page)
        shown = metric_values(page)
        for key in ("Teacher only", "Pupils only", "Both at once", "Silence"):
            assert shown[key] == cli[key], (key, shown, world["cli"])
        assert sum(int(shown[k].rstrip(" %")) for k in ("Teacher only", "Pupils only", "Both at once", "Silence")) == 100
        page.get_by_text(f"{cli['teacher turns']} speaking turns").first.wait_for(timeout=10_000)
        page.get_by_text(f"{cli['pupil turns']} speaking turns").first.wait_for(timeout=10_000)
        look(page, "02-coach-prewatch", page.locator(f"{PLAYER} button.bm-now"))

        # bookmark this moment: a dialog over the player, a span around the moment, a bad time refused
        video.evaluate("v => { v.currentTime = 40; v.pause(); }")
        page.wait_for_function("(v) => Math.abs(v.currentTime - 40) < 0.5", arg=video.element_handle())
        page.locator(f"{PLAYER} button.bm-now").click()
        dialog = page.get_by_role("dialog")
        dialog.get_by_text("Marked at 0:40").wait_for(timeout=30_000)
        from_box = dialog.get_by_role("textbox", name="From (m:ss)")
        to_box = dialog.get_by_role("textbox", name="To (m:ss)")
        assert (from_box.input_value(), to_box.input_value()) == ("0:30", "1:00")
        look(page, "03-coach-bookmark-dialog", dialog.get_by_role("button", name="Add bookmark"))
        to_box.fill("1:99")
        dialog.get_by_role("textbox", name="Note").fill(NOTE)
        dialog.get_by_role("button", name="Add bookmark").click()
        dialog.get_by_text("To: '1:99' is not a time").wait_for(timeout=30_000)
        page.screenshot(path=str(SHOTS / "04-coach-bookmark-refused-laptop.png"))
        with Store(world["settings"]) as db:
            assert db.bookmarks(db.user_by_name(world["coach"]), lesson_id) == []
        dialog.get_by_role("textbox", name="From (m:ss)").fill("0:30")
        dialog.get_by_role("textbox", name="To (m:ss)").fill("1:00")
        dialog.get_by_role("textbox", name="Note").fill(NOTE)
        dialog.get_by_role("textbox", name="Trigger").fill("Open question about the salty ice")
        dialog.get_by_role("textbox", name="Outcome").fill("Amir answers after a long wait")
        dialog.get_by_role("button", name="Add bookmark").click()
        dialog.wait_for(state="detached", timeout=30_000)
        with Store(world["settings"]) as db:
            marks = db.bookmarks(db.user_by_name(world["coach"]), lesson_id)
        assert [(b.start_s, b.end_s, b.note) for b in marks] == [(30.0, 60.0, NOTE)]

        # the Bookmarks page: played from here, the note in full
        nav(page, "Bookmarks")
        page.get_by_text(NOTE[-40:]).first.wait_for(timeout=30_000)
        play = page.get_by_role("button", name="Play").first
        look(page, "05-coach-bookmarks", play)
        play.click()
        bvideo = page.locator(f"{PLAYER} video")
        page.wait_for_function("(v) => v.currentTime >= 29.5 && v.currentTime < 62", arg=bvideo.element_handle(),
                               timeout=30_000)

        # the meeting: the clip with the same label everywhere, its trigger and outcome beside it
        nav(page, "Meeting")
        clip = page.locator(f"{PLAYER} .clip").first
        clip.wait_for(timeout=60_000)
        span = "0:20–1:20"  # the bookmark 0:30–1:00 with the default 10 s lead-in and 20 s lead-out
        assert span in clip.inner_text() and "Trigger: Open question about the salty ice" in clip.inner_text()
        assert "Outcome: Amir answers after a long wait" in clip.inner_text()
        page.get_by_text(f"Clip {span}").first.wait_for(timeout=30_000)
        page.get_by_text("Amir answers after a long wait").first.wait_for(timeout=30_000)
        look(page, "06-coach-meeting", clip)
        clip.click()
        mvideo = page.locator(f"{PLAYER} video")
        page.wait_for_function("(v) => !v.paused && v.currentTime > 20.2", arg=mvideo.element_handle(),
                               timeout=30_000)
        mvideo.evaluate("v => v.pause()")

        # progress: the same figures again
        nav(page, "Progress")
        progress_text = page.locator('[data-testid="stMain"]').inner_text()
        look(page, "07-coach-progress", page.get_by_role("heading", name="Progress"))
        ctx.close()

        # the teacher: her progress and who watched her lesson
        tctx = browser.new_context(viewport={"width": 1366, "height": 768})
        teacher = tctx.new_page()
        browser_login(teacher, base, world["teacher"], world["pw"][world["teacher"]])
        nav(teacher, "My progress")
        look(teacher, "08-teacher-progress", teacher.get_by_role("heading", name="My progress"))
        nav(teacher, "Account")
        teacher.get_by_text("Mr Okafor opened the lesson video").first.wait_for(timeout=30_000)
        teacher.get_by_text("Mr Okafor played the clip 0:20–1:20 in the meeting").first.wait_for(timeout=30_000)
        look(teacher, "09-teacher-account", teacher.get_by_role("heading", name="Who watched your lessons"))
        browser.close()
    latest = f"teacher only {cli['Teacher only']}, pupils only {cli['Pupils only']}, both {cli['Both at once']}, " \
             f"silence {cli['Silence']}"
    assert latest in progress_text, progress_text
