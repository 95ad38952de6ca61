"""Helpers for the app tests: a private copy of the analysed sample store, AppTest driving, and the real app server
plus headless Chromium for the browser test."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Iterator

from videocoach.config import Settings

REPO = Path(__file__).resolve().parents[1]
APP = REPO / "app.py"
PAGES = "videocoach/ui/pages"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--autoplay-policy=no-user-gesture-required"]
SCREENSHOTS = REPO / "test-artifacts" / "screenshots"


# -- stores ------------------------------------------------------------------------------------------------------------
def copy_store(sample: dict, dest: Path) -> Settings:
    """A private copy of the session's analysed sample store (data dir and key), so a test may change it freely."""
    src: Settings = sample["settings"]
    data, key = dest / "data", dest / "keys" / "media.key"
    shutil.copytree(src.data_dir, data, ignore=shutil.ignore_patterns("work", "worker.lock", "*.log"))
    key.parent.mkdir(parents=True)
    shutil.copy2(src.key_file, key)
    return Settings(data_dir=data, key_file=key)


def use_settings(monkeypatch, settings: Settings) -> None:
    """Point the app (which reads the environment) at ``settings``; never start a worker from a test."""
    monkeypatch.setenv("VIDEOCOACH_DATA", str(settings.data_dir))
    monkeypatch.setenv("VIDEOCOACH_KEY_FILE", str(settings.key_file))
    monkeypatch.setenv("VIDEOCOACH_WORKER", "external")


# -- AppTest -----------------------------------------------------------------------------------------------------------
def app_test(timeout_s: float = 120.0):
    from streamlit.testing.v1 import AppTest

    return AppTest.from_file(str(APP), default_timeout=timeout_s)


def login(at, username: str, password: str):
    at.run()
    at.text_input(key="login.user").input(username)
    at.text_input(key="login.password").input(password)
    next(b for b in at.button if b.label == "Log in").click()
    at.run()
    assert not at.exception, at.exception
    return at


def goto(at, page: str, lesson_id: str | None = None):
    if lesson_id is not None:
        at.session_state["vc.lesson_id"] = lesson_id
    at.switch_page(f"{PAGES}/{page}.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def walk(node) -> Iterator[Any]:
    yield node
    children = getattr(node, "children", None)
    if isinstance(children, dict):
        for child in children.values():
            yield from walk(child)


def component_data(at, name: str, key: str = "") -> dict:
    """The data the app handed to a ``st.components.v2`` component (its proto carries it as JSON)."""
    for node in walk(at._tree):
        proto = getattr(node, "proto", None)
        if proto is not None and getattr(proto, "component_name", "") == name and key in str(proto.id):
            return json.loads(proto.json)
    raise AssertionError(f"no {name} {key!r} on the page")


def player_data(at, key: str) -> dict:
    return component_data(at, "vc_player", key)


def texts(at) -> str:
    """Every markdown, caption, info, error, title and metric on the page, as one string (for 'is it shown')."""
    parts = []
    for kind in ("title", "markdown", "caption", "info", "error", "warning", "success", "subheader", "header"):
        parts += [str(getattr(e, "value", "")) for e in getattr(at, kind)]
    parts += [f"{m.label} {m.value}" for m in at.metric]
    parts += [str(e.label) for e in at.expander]
    return "\n".join(parts)


# -- the real server ---------------------------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def app_server(settings: Settings, log_path: Path) -> Iterator[str]:
    """`videocoach app` (the worker and `streamlit run app.py`) on a free loopback port; yields the base URL.

    Everything it started is stopped afterwards by process id: the app's process group, and the worker (whose id
    is in the data directory's lock file)."""
    port = free_port()
    env = dict(os.environ, VIDEOCOACH_DATA=str(settings.data_dir), VIDEOCOACH_KEY_FILE=str(settings.key_file),
               PYTHONPATH=str(REPO), VIDEOCOACH_WORKER="auto")
    log = open(log_path, "ab")
    proc = subprocess.Popen([sys.executable, "-m", "videocoach.cli", "app", "--port", str(port), "--address",
                             "127.0.0.1"], cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                with urllib.request.urlopen(base + "/_stcore/health", timeout=2) as resp:
                    if resp.status == 200:
                        break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the app did not start; see {log_path}")
            time.sleep(0.5)
        yield base
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
        stop_worker(settings)
        log.close()


def stop_worker(settings: Settings) -> None:
    lock = Path(settings.data_dir) / "worker.lock"
    with contextlib.suppress(FileNotFoundError, ValueError):
        pid = int(lock.read_text().strip() or "0")
        if pid > 0:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
            for _ in range(100):
                try:
                    os.kill(pid, 0)
                except ProcessLookupError:
                    break
                time.sleep(0.1)


def launch_browser(playwright):
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)


def browser_login(page, base: str, username: str, password: str) -> None:
    page.goto(base + "/")
    page.get_by_role("textbox", name="User name").fill(username)
    page.get_by_role("textbox", name="Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("heading", name="Lessons", exact=True).wait_for(timeout=60_000)
    wait_for_session_cookie(page)


def wait_for_session_cookie(page, timeout_s: float = 30.0) -> None:
    """The page hands the browser its HttpOnly session cookie through an image after the login; a test that opens
    another URL (a new Streamlit session) right away must wait for it, as a person's next click always does."""
    from videocoach.ui.mediaserver import SESSION_COOKIE

    deadline = time.monotonic() + timeout_s
    while not any(c["name"] == SESSION_COOKIE for c in page.context.cookies()):
        if time.monotonic() > deadline:
            raise AssertionError("the login did not hand the browser its session cookie")
        page.wait_for_timeout(100)


def settle(page, timeout_ms: int = 30_000) -> None:
    """Wait until the script run is over and no element is still a loading skeleton."""
    page.wait_for_timeout(300)
    try:
        page.wait_for_function(
            "() => !document.querySelector('[data-testid=\"stSkeleton\"]') && "
            "!document.querySelector('[data-testid=\"stStatusWidget\"] [data-testid=\"stStatusWidgetRunningIcon\"]')",
            timeout=timeout_ms)
    except Exception:  # noqa: BLE001 - a screenshot of a slow page is still worth taking
        pass
    page.wait_for_timeout(700)  # charts draw after their data arrives


def screenshot(page, name: str) -> Path:
    """The whole page: Streamlit scrolls inside its main container, so the viewport grows to the content first."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    settle(page)
    size = page.viewport_size or {"width": 1400, "height": 1000}
    for _ in range(2):  # charts re-layout after a resize: measure again
        height = page.evaluate("() => { const m = document.querySelector('[data-testid=\"stMain\"]');"
                               " return m ? m.scrollHeight : document.body.scrollHeight; }")
        page.set_viewport_size({"width": size["width"], "height": max(size["height"], min(int(height) + 40, 8000))})
        page.wait_for_timeout(700)
    page.screenshot(path=str(path), full_page=True)
    page.set_viewport_size(size)
    return path
