"""Background jobs on Huey, an existing task queue: embedded on one machine, the same code across many.

- One machine (the default, ``videocoach demo``): ``SqliteHuey``, its queue a SQLite file in the data directory;
  no server to run.
- Many machines: ``VIDEOCOACH_QUEUE_URL=redis://host:6379/0`` gives ``RedisHuey``; every worker runs
  ``videocoach worker`` with the same settings (see docs/deploy.md).

The queue carries job ids only; the jobs table in the store is the durable record.  Huey acknowledges nothing: a
task whose worker is killed is gone from the queue (Huey issues #418, #559, #571).  So a running job's worker
stamps the job every ``HEARTBEAT_S``; a job stamped longer than ``STALE_AFTER_S`` ago is put back in the queue (by
any live worker's heartbeat, by the periodic ``recover`` task, and at every worker start) and runs again on another
worker, where the pipeline resumes at the first unfinished stage.  Two runs of one lesson never overlap: the
pipeline holds the lesson lock (a PostgreSQL advisory lock across machines; a lock file on one machine) and a run
that finds it held is retried later.  The hourly retention purge is Huey's periodic task.
"""

from __future__ import annotations

import contextlib
import functools
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

from huey import Huey, RedisHuey, SqliteHuey, crontab
from huey.exceptions import RetryTask

from videocoach.config import Settings

HEARTBEAT_S = 5.0
STALE_AFTER_S = 30.0
BUSY_RETRY_S = 10.0  # a job whose lesson another worker is processing waits this long and tries again


@dataclass(frozen=True)
class Queue:
    """One deployment's task queue and its tasks."""

    huey: Huey
    run_job: Callable  # run_job(job_id): the Huey task
    purge: Callable
    recover: Callable

    def submit(self, job_id: int) -> None:
        self.run_job(job_id)


def make_huey(settings: Settings) -> Huey:
    if settings.queue_url:
        return RedisHuey("videocoach", url=settings.queue_url, results=False)
    Path(settings.data_dir).mkdir(parents=True, exist_ok=True, mode=0o700)
    return SqliteHuey("videocoach", filename=str(Path(settings.data_dir) / "queue.sqlite3"), results=False)


@functools.lru_cache(maxsize=8)
def queue_for(settings: Settings) -> Queue:
    """The queue of these settings, with its tasks registered (one per process and settings)."""
    huey = make_huey(settings)

    @huey.task(name="videocoach.run_job")
    def run_job(job_id: int) -> None:
        from videocoach import worker
        from videocoach.storage.records import LessonBusy

        store = _worker_store(settings)
        claimed = store.start_job(job_id)
        if claimed is None:  # done, running elsewhere, or erased with its lesson
            return
        job, params = claimed
        with _heartbeat(store, job_id, lambda: _requeue_stale(store, queue)):
            try:
                worker.run_job(store, job.id, job.kind, job.lesson_id, params, on_stage=_log_stage)
            except LessonBusy as exc:
                raise RetryTask(delay=BUSY_RETRY_S) from exc

    @huey.periodic_task(crontab(minute="0"), name="videocoach.purge")
    def purge() -> None:
        from videocoach import worker
        from videocoach.storage.store import Store

        with Store(settings) as store:
            worker.purge_now(store)

    @huey.periodic_task(crontab(), name="videocoach.recover")
    def recover() -> None:
        store = _worker_store(settings)
        _requeue_stale(store, queue)
        # jobs the store queued by itself (a withdrawn face print, marks dropped on upgrade) reach the queue within
        # two minutes; each at most once from here (a duplicate would only find the job taken: start_job is atomic)
        for job_id in store.queued_job_ids(older_than_s=STORE_QUEUED_AFTER_S):
            if job_id not in _handed_over:
                _handed_over.add(job_id)
                queue.submit(job_id)

    queue = Queue(huey, run_job, purge, recover)
    return queue


_local = threading.local()
STORE_QUEUED_AFTER_S = 60.0
_handed_over: set[int] = set()  # queued jobs this process's periodic check has handed to the queue


def _worker_store(settings: Settings):
    """The worker thread's store, opened once (a store is opened per thread; opening one per task costs ~0.1 s)."""
    from videocoach.storage.store import Store

    stores = _local.__dict__.setdefault("stores", {})
    if settings not in stores:
        stores[settings] = Store(settings)
    return stores[settings]


def submit(settings: Settings, job_id: int) -> None:
    """Hand a queued job (a row in the store's jobs table) to the workers."""
    queue_for(settings).submit(job_id)


def _requeue_stale(store, queue: Queue) -> list[int]:
    ids = store.requeue_stale_job_ids(STALE_AFTER_S)
    for job_id in ids:
        print(f"videocoach worker: job {job_id} resumed (its worker stopped)", file=sys.stderr, flush=True)
        queue.submit(job_id)
    return ids


def _log_stage(lesson_id: str, stage: str) -> None:
    print(f"videocoach worker: stage {stage} of lesson {lesson_id} stored", file=sys.stderr, flush=True)


@contextlib.contextmanager
def _heartbeat(store, job_id: int, also: Callable[[], object]) -> Iterator[None]:
    """Stamp the job every HEARTBEAT_S while it runs (so it is not taken for dead) and look for dead workers'
    jobs every STALE_AFTER_S."""
    stop = threading.Event()

    def beat() -> None:
        last_check = time.monotonic()
        while not stop.wait(HEARTBEAT_S):
            try:
                store.update_job(job_id)
                if time.monotonic() - last_check >= STALE_AFTER_S:
                    last_check = time.monotonic()
                    also()
            except Exception as exc:  # noqa: BLE001 - a missed beat is retried; the job itself goes on
                print(f"videocoach worker: heartbeat of job {job_id} failed: {exc}", file=sys.stderr, flush=True)

    thread = threading.Thread(target=beat, name=f"heartbeat-{job_id}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def serve(settings: Settings, *, periodic: bool = True) -> int:
    """``videocoach worker``: the queue's consumer until SIGINT/SIGTERM (a stopped job is resumed by the next).
    With the embedded queue one per data directory (a lock file); with a shared queue any number, kept apart per
    lesson by the lesson lock."""
    from videocoach import worker

    if settings.queue_url:
        return _consume(settings, periodic)
    with worker.worker_lock(settings) as got:
        if not got:
            print("a worker is already running for this data directory", file=sys.stderr)
            return 0
        return _consume(settings, periodic)


def _consume(settings: Settings, periodic: bool) -> int:
    """A Huey consumer with one worker thread (one lesson at a time per process: the models use every core)."""
    from videocoach import worker
    from videocoach.storage.store import Store

    queue = queue_for(settings)
    with Store(settings) as store:  # schema upgraded, and whatever a stopped worker left is queued again
        _requeue_stale(store, queue)
        for job_id in store.queued_job_ids():  # queued while no queue carried them (e.g. by the store itself)
            queue.submit(job_id)
        worker.purge_now(store)
    print("videocoach worker: ready", file=sys.stderr, flush=True)
    consumer = queue.huey.create_consumer(workers=1, worker_type="thread", periodic=periodic,
                                          initial_delay=0.05, max_delay=1.0, check_worker_health=True)
    consumer.run()
    return 0
