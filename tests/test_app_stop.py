"""Ctrl-C on `videocoach app` (and so `videocoach demo`, which ends in it) stops the background worker the app
started, and says so: a real process tree, a real SIGINT to the terminal's process group."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from e2e_helpers import REPO, free_port
from videocoach import worker
from videocoach.config import Settings


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"  # a zombie has stopped
    except FileNotFoundError:
        return False


def _as_a_terminal() -> None:
    """In the child, before exec: Ctrl-C as a terminal's foreground command gets it (default SIGINT).  A pytest
    started by a non-interactive shell's ``&`` ignores SIGINT, and children inherit that: Python then installs no
    KeyboardInterrupt handler, and a Ctrl-C before streamlit set its own handler would be lost."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _wait_for_open(app) -> str:
    """The app's first lines, up to the one naming its address (from then on, Ctrl-C is the app's to handle)."""
    seen = []
    for raw in app.stdout:
        seen.append(raw.decode(errors="replace"))
        if "videocoach: open http" in seen[-1]:
            return "".join(seen)
    raise AssertionError("the app ended before it opened: " + "".join(seen))


def test_ctrl_c_stops_the_worker_the_app_started(tmp_path):
    settings = Settings(data_dir=tmp_path / "data", key_file=tmp_path / "keys" / "media.key")
    env = dict(os.environ, VIDEOCOACH_DATA=str(settings.data_dir), VIDEOCOACH_KEY_FILE=str(settings.key_file),
               PYTHONPATH=str(REPO), VIDEOCOACH_WORKER="auto")
    # its own session, as a terminal gives a command its own foreground process group
    app = subprocess.Popen([sys.executable, "-m", "videocoach.cli", "app", "--port", str(free_port())], env=env,
                           cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
                           preexec_fn=_as_a_terminal)
    try:
        head = _wait_for_open(app)
        pid = None
        deadline = time.monotonic() + 180
        while pid is None and time.monotonic() < deadline and app.poll() is None:
            pid = worker.worker_pid(settings)
            time.sleep(0.2)
        assert pid is not None and _alive(pid), "the app started no worker"
        os.killpg(app.pid, signal.SIGINT)  # Ctrl-C: the app's group, not the worker's (its own session)
        out, _ = app.communicate(timeout=60)
    finally:
        if app.poll() is None:
            os.killpg(app.pid, signal.SIGKILL)
            app.wait()
    text = head + out.decode(errors="replace")
    assert f"stopped the background worker (pid {pid})" in text, text
    assert not _alive(pid) and worker.worker_pid(settings) is None


def test_a_worker_running_before_the_app_is_left_and_named(tmp_path):
    settings = Settings(data_dir=tmp_path / "data", key_file=tmp_path / "keys" / "media.key")
    env = dict(os.environ, VIDEOCOACH_DATA=str(settings.data_dir), VIDEOCOACH_KEY_FILE=str(settings.key_file),
               PYTHONPATH=str(REPO))
    service = subprocess.Popen([sys.executable, "-m", "videocoach.cli", "worker"], env=env, cwd=REPO,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 180
        while worker.worker_pid(settings) is None and time.monotonic() < deadline:
            time.sleep(0.2)
        assert worker.worker_pid(settings) == service.pid
        app = subprocess.Popen([sys.executable, "-m", "videocoach.cli", "app", "--port", str(free_port())],
                               env=dict(env, VIDEOCOACH_WORKER="auto"), cwd=REPO, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, start_new_session=True,
                               preexec_fn=_as_a_terminal)
        _wait_for_open(app)
        os.killpg(app.pid, signal.SIGINT)
        out, _ = app.communicate(timeout=60)
        assert f"keeps running; stop it with `kill {service.pid}`" in out.decode(errors="replace")
        assert _alive(service.pid)
    finally:
        service.terminate()
        service.wait(timeout=30)
