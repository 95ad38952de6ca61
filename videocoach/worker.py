"""The background worker: runs queued jobs (analysis, re-rendering) in its own process, never inside a Streamlit
script run.  The app enqueues jobs in the store and polls their progress.

A killed worker leaves its job 'running'; the next worker start puts it back in the queue and the pipeline resumes at
the first unfinished stage.  One worker per data directory (a lock file), so models are loaded once.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from videocoach import pipeline
from videocoach.config import Settings
from videocoach.storage.store import Store

JOB_KINDS = ("analyse", "rerender")


def run_job(store: Store, job_id: int, kind: str, lesson_id: str, params: dict) -> None:
    last = {"t": 0.0}

    def progress(stage: str, fraction: float) -> None:
        now = time.monotonic()
        if fraction in (0.0, 1.0) or now - last["t"] > 0.5:  # throttle database writes
            last["t"] = now
            store.update_job(job_id, stage=stage, progress=float(min(max(fraction, 0.0), 1.0)))

    try:
        if kind == "analyse":
            pipeline.run(store, lesson_id, progress=progress)
        elif kind == "rerender":
            pipeline.rerender(store, lesson_id, policy_name=params.get("policy"),
                              consent_record=params.get("consent_record"), progress=progress)
        else:
            raise ValueError(f"unknown job kind {kind!r}")
    except Exception as exc:  # the job fails, the worker goes on; the lesson records the user-facing message
        store.update_job(job_id, status="failed", message=str(exc)[:2000])
        return
    store.update_job(job_id, status="done", progress=1.0, message="")


PURGE_EVERY_S = 3600.0  # the automatic retention purge: at start, then hourly


def purge_now(store: Store) -> list[str]:
    """The automatic purge (``videocoach purge`` by hand does the same); a failure is reported, never fatal."""
    from videocoach import retention

    try:
        erased = retention.purge_expired(store)
    except Exception as exc:  # noqa: BLE001 - the worker must go on serving jobs
        print(f"videocoach worker: retention purge failed: {exc}", file=sys.stderr)
        return []
    if erased:
        print(f"videocoach worker: erased {len(erased)} lesson(s) past their retention date", file=sys.stderr)
    return erased


def work(settings: Settings, *, once: bool = False, poll_s: float = 1.0, max_idle_s: float | None = None,
         purge_every_s: float = PURGE_EVERY_S) -> int:
    """Process jobs until told to stop (or, with ``once``, until the queue is empty), purging expired lessons at
    start and every ``purge_every_s`` between jobs.  Returns jobs run."""
    store = Store(settings)
    store.requeue_stale_jobs()
    done = 0
    idle_since = time.monotonic()
    last_purge = -float("inf")
    try:
        while True:
            if time.monotonic() - last_purge >= purge_every_s:
                purge_now(store)
                last_purge = time.monotonic()
            claimed = store.claim_job()
            if claimed is None:
                if once or (max_idle_s is not None and time.monotonic() - idle_since > max_idle_s):
                    return done
                time.sleep(poll_s)
                continue
            job, params = claimed
            run_job(store, job.id, job.kind, job.lesson_id, params)
            done += 1
            idle_since = time.monotonic()
    finally:
        store.close()


def _lock_path(settings: Settings) -> Path:
    return Path(settings.data_dir) / "worker.lock"


@contextlib.contextmanager
def worker_lock(settings: Settings):
    """Held for a worker's lifetime; a second worker on the same data directory exits at once."""
    path = _lock_path(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    fh = open(path, "a+")
    try:
        fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        fh.close()
        yield False
        return
    try:
        fh.seek(0)
        fh.truncate()
        fh.write(str(os.getpid()))
        fh.flush()
        yield True
    finally:
        fcntl.flock(fh, fcntl.LOCK_UN)
        fh.close()


def worker_running(settings: Settings) -> bool:
    path = _lock_path(settings)
    if not path.exists():
        return False
    with open(path, "a+") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(fh, fcntl.LOCK_UN)
        return False


def ensure_worker(settings: Settings) -> subprocess.Popen | None:
    """Start a detached worker process for this data directory unless one is running; the process started, or
    None when one was already running."""
    if worker_running(settings):
        return None
    env = dict(os.environ)
    env["VIDEOCOACH_DATA"] = str(settings.data_dir)
    env["VIDEOCOACH_KEY_FILE"] = str(settings.key_file)
    env["VIDEOCOACH_RETENTION_DAYS"] = str(settings.retention_days_after_meeting)
    log = open(Path(settings.data_dir) / "worker.log", "ab")
    return subprocess.Popen(
        [sys.executable, "-m", "videocoach.cli", "worker"],
        env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
    )


def worker_pid(settings: Settings) -> int | None:
    """The pid of the worker holding this data directory's lock, or None when none runs."""
    if not worker_running(settings):
        return None
    try:
        return int(_lock_path(settings).read_text().strip() or 0) or None
    except (OSError, ValueError):
        return None


def stop_worker(settings: Settings, started: subprocess.Popen | None = None, timeout_s: float = 15.0) -> int | None:
    """Stop this data directory's worker: SIGTERM to its process group (its ffmpeg children too), then SIGKILL
    after ``timeout_s``.  A job it was running stays queued as 'running' and resumes at the next start.  Returns
    the pid stopped, or None when none ran.  ``started``: the process ``ensure_worker`` returned, so it is reaped."""
    pid = worker_pid(settings) or (started.pid if started is not None and started.poll() is None else None)
    if pid is None:
        return None

    def send(sig: int) -> None:
        try:
            if os.getpgid(pid) == pid:  # started in its own session by ensure_worker: the group is its own
                os.killpg(pid, sig)
            else:
                os.kill(pid, sig)
        except ProcessLookupError:
            pass

    send(signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if started is not None and started.poll() is not None:
            break
        if started is None and not worker_running(settings):
            break
        time.sleep(0.1)
    else:
        send(signal.SIGKILL)
    if started is not None:
        try:
            started.wait(timeout=5.0)
        except subprocess.TimeoutExpired:
            pass
    return pid


def serve(settings: Settings) -> int:
    """`videocoach worker`: the long-running loop, stopping cleanly on SIGTERM."""
    stop = {"now": False}

    def _term(signum, frame):  # finish nothing half-way: the pipeline keeps finished stages; the job is requeued
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _term)
    with worker_lock(settings) as got:
        if not got:
            print("a worker is already running for this data directory", file=sys.stderr)
            return 0
        try:
            work(settings)
        except KeyboardInterrupt:
            stop["now"] = True
    return 0
