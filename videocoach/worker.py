"""The background worker: runs queued jobs (analysis, re-rendering) in its own process, never inside a Streamlit
script run.  The app records a job in the store and hands its id to the task queue (:mod:`videocoach.tasks`,
Huey); ``videocoach worker`` is the queue's consumer.

A killed worker leaves its job 'running'; its heartbeat stops, and a live worker (or the next one to start) puts it
back in the queue, where the pipeline resumes at the first unfinished stage.  On one machine (the embedded queue)
one worker per data directory (a lock file), so models are loaded once; across machines (Redis) any number.
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
from typing import Callable

from videocoach import pipeline
from videocoach.config import Settings
from videocoach.storage.records import LessonBusy
from videocoach.storage.store import Store

JOB_KINDS = ("analyse", "rerender")


def run_job(store: Store, job_id: int, kind: str, lesson_id: str, params: dict,
            on_stage: Callable[[str, str], None] | None = None) -> None:
    """Run one claimed job to its end (done or failed).  Raises LessonBusy, with the job queued again, when another
    process holds the lesson."""
    from videocoach.core.stageclock import StageClock

    last = {"t": 0.0}
    stored: set[str] = set()
    clock = StageClock()  # stages may run side by side: each with its fraction and time estimate

    def progress(stage: str, fraction: float) -> None:
        now = time.monotonic()
        clock.update(stage, fraction, now)
        if fraction in (0.0, 1.0) or now - last["t"] > 0.5:  # throttle database writes
            last["t"] = now
            store.update_job(job_id, stage=clock.describe() or stage, progress=clock.overall())
        if fraction == 1.0 and on_stage is not None and stage not in stored \
                and stage in store.finished_stages(lesson_id):
            stored.add(stage)
            on_stage(lesson_id, stage)

    try:
        if kind == "analyse":
            pipeline.run(store, lesson_id, progress=progress)
        elif kind == "rerender":
            pipeline.rerender(store, lesson_id, policy_name=params.get("policy"),
                              consent_record=params.get("consent_record"), progress=progress)
        else:
            raise ValueError(f"unknown job kind {kind!r}")
    except Exception as exc:  # the job fails, the worker goes on; the lesson records the user-facing message
        if isinstance(exc.__cause__, LessonBusy):
            store.update_job(job_id, status="queued", message="waiting: another worker has this lesson")
            raise exc.__cause__ from exc
        store.update_job(job_id, status="failed", message=str(exc)[:2000])
        return
    store.update_job(job_id, status="done", progress=1.0, message="")





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


def work(settings: Settings, *, once: bool = True) -> int:
    """``videocoach worker --once``: purge expired lessons, then run every queued job in this process until none is
    left (no queue, no consumer; ``videocoach worker`` is :func:`videocoach.tasks.serve`).  Returns jobs run."""
    if not once:
        raise ValueError("the long-running worker is videocoach.tasks.serve")
    done = 0
    with Store(settings) as store:
        store.requeue_stale_jobs()
        purge_now(store)
        while (claimed := store.claim_job()) is not None:
            job, params = claimed
            with contextlib.suppress(LessonBusy):  # another process has it; it stays queued
                run_job(store, job.id, job.kind, job.lesson_id, params)
                done += 1
    return done


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
    None when one was already running.  With a shared queue (``VIDEOCOACH_QUEUE_URL``) the workers are services of
    their own (docs/deploy.md): nothing is started here."""
    if settings.queue_url or worker_running(settings):
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
