"""The task queue (Huey) on its embedded SQLite storage and on Redis: a submitted job reaches a worker through the
real queue, a job handed out twice runs once, a dead worker's job goes back to the queue, the purge is hourly."""

from __future__ import annotations

import datetime

import pytest

from videocoach import tasks
from videocoach.config import Settings
from videocoach.storage.store import Store


@pytest.fixture(params=["embedded", "redis"])
def settings(request, tmp_path, database_url):
    queue_url = None
    if request.param == "redis":
        from servers import redis_server

        server = redis_server()
        queue_url = server.__enter__()
        request.addfinalizer(lambda: server.__exit__(None, None, None))
    return Settings(data_dir=tmp_path / "data", key_file=tmp_path / "key", database_url=database_url,
                    queue_url=queue_url)


def _drain(queue: tasks.Queue) -> int:
    """Run what is queued, as a worker thread does (dequeue, execute), in this process."""
    n = 0
    while (task := queue.huey.dequeue()) is not None:
        queue.huey.execute(task)
        n += 1
    return n


def test_a_job_goes_through_the_queue_once(settings):
    queue = tasks.queue_for(settings)
    with Store(settings) as store:
        teacher = store.add_user("tina", "teacher", None)
        lesson = store.create_lesson(teacher, "x", "x.mp4")
        job_id = store.enqueue_job(lesson.id, "no-such-kind")
        tasks.submit(settings, job_id)
        tasks.submit(settings, job_id)  # handed out twice (a recovery racing a start): runs once
        assert queue.huey.pending_count() == 2
        assert _drain(queue) == 2
        job = store.job(job_id)
        assert job.status == "failed" and "unknown job kind" in job.message


def test_a_dead_workers_job_is_queued_again(settings):
    queue = tasks.queue_for(settings)
    with Store(settings) as store:
        teacher = store.add_user("tina", "teacher", None)
        lesson = store.create_lesson(teacher, "x", "x.mp4")
        fresh, dead = store.enqueue_job(lesson.id, "analyse"), store.enqueue_job(lesson.id, "analyse")
        assert store.start_job(fresh) and store.start_job(dead)
        assert store.start_job(dead) is None  # already running
        store._db.execute("UPDATE jobs SET updated_at=updated_at-? WHERE id=?", (tasks.STALE_AFTER_S + 1, dead))
        queue.recover.call_local()
        assert store.job(dead).status == "queued" and store.job(fresh).status == "running"
        assert queue.huey.pending_count() == 1
        assert queue.huey.dequeue().args == (dead,)


def test_a_job_whose_lesson_another_worker_holds_waits_and_is_retried(settings):
    queue = tasks.queue_for(settings)
    with Store(settings) as store:
        teacher = store.add_user("tina", "teacher", None)
        lesson = store.create_lesson(teacher, "x", "x.mp4")
        job_id = store.enqueue_job(lesson.id, "analyse")
        tasks.submit(settings, job_id)
        with store.lesson_lock(lesson.id):  # another worker is processing this lesson
            assert _drain(queue) == 1
        assert store.job(job_id).status == "queued" and "another worker" in store.job(job_id).message
        assert queue.huey.scheduled_count() == 1  # tried again BUSY_RETRY_S later


def test_the_purge_is_hourly_and_recovery_each_minute(settings):
    queue = tasks.queue_for(settings)
    on_the_hour, past_it = datetime.datetime(2026, 1, 1, 10, 0), datetime.datetime(2026, 1, 1, 10, 5)
    assert queue.purge.task_class().validate_datetime(on_the_hour) and not queue.purge.task_class().validate_datetime(past_it)
    assert queue.recover.task_class().validate_datetime(past_it)


def test_the_embedded_worker_takes_jobs_from_its_queue_and_stops_on_sigterm(tmp_path):
    """`videocoach worker` on one machine: no server, the queue a SQLite file in the data directory."""
    import os
    import signal
    import subprocess
    import sys
    import time

    from conftest import REPO
    from videocoach.ui import review

    settings = Settings(data_dir=tmp_path / "data", key_file=tmp_path / "key")
    with Store(settings) as store:
        lesson = store.create_lesson(store.add_user("tina", "teacher", None), "x", "x.mp4")
        job_id = review.start_job(store, settings, lesson.id, "no-such-kind", start_worker=False)
    env = dict(os.environ, VIDEOCOACH_DATA=str(settings.data_dir), VIDEOCOACH_KEY_FILE=str(settings.key_file))
    env.pop("VIDEOCOACH_QUEUE_URL", None), env.pop("VIDEOCOACH_DATABASE_URL", None)
    proc = subprocess.Popen([sys.executable, "-m", "videocoach.cli", "worker"], cwd=REPO, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        with Store(settings) as store:
            deadline = time.monotonic() + 120
            while store.job(job_id).status in ("queued", "running") and time.monotonic() < deadline:
                time.sleep(0.2)
            assert store.job(job_id).status == "failed" and "unknown job kind" in store.job(job_id).message
        assert (settings.data_dir / "queue.sqlite3").exists()
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) is not None
