"""Beyond one machine: PostgreSQL, Redis (the Huey queue) and three worker processes, each with its own work
directory, standing in for three machines that share the data directory.  Six short lessons are uploaded at once
and one worker is SIGKILLed in the middle of a stage.

What must hold: every lesson ends ready; each stage's result is stored once (the finished stages of the killed
worker's lesson are kept, not run again); the audit log is complete; no plaintext is left on any worker."""

from __future__ import annotations

import concurrent.futures
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import REPO, SAMPLE_MEDIA
from servers import new_database, redis_server
from videocoach import pipeline, tasks
from videocoach.av.ffmpeg import ffmpeg_binary
from videocoach.config import Settings
from videocoach.storage.store import Store

pytestmark = pytest.mark.slow

LESSONS = 6
AUDIO_STAGES = list(pipeline.AUDIO_STAGES)
STORED = re.compile(r"stage (\w+) of lesson ([0-9a-f]{32}) stored")
PLAINTEXT_MARKS = (b"ftypisom", b"ftypmp42", b"ftypM4A", b"RIFF", b"WAVEfmt")  # an unsealed media or audio file


def _stored(log: Path) -> list[tuple[str, str]]:
    return [(m.group(2), m.group(1)) for m in STORED.finditer(log.read_text(errors="replace"))] if log.exists() else []


def _start_worker(env: dict, machine: Path) -> tuple[subprocess.Popen, Path]:
    log = machine / f"worker-{time.monotonic_ns()}.log"
    proc = subprocess.Popen([sys.executable, "-m", "videocoach.cli", "worker"], cwd=REPO,
                            env=dict(env, VIDEOCOACH_WORK_DIR=str(machine / "work")),
                            stdout=open(log, "wb"), stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    return proc, log


def _wait(predicate, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


def test_three_workers_six_lessons_one_killed_mid_stage(tmp_path, postgres_admin_url):
    if not (SAMPLE_MEDIA / "lesson.mp4").exists():
        pytest.skip("sample lesson missing")
    clip = tmp_path / "clip.m4a"  # a few seconds of the sample lesson's sound: audio stages only, lean on 2 cores
    subprocess.run([ffmpeg_binary(), "-v", "error", "-ss", "30", "-i", str(SAMPLE_MEDIA / "lesson.mp4"), "-t", "8",
                    "-vn", "-c:a", "copy", str(clip)], check=True)
    with redis_server() as redis_url:
        shared = tmp_path / "shared"  # the data directory on the shared mount
        settings = Settings(data_dir=shared / "data", key_file=tmp_path / "key", database_url=new_database(
            postgres_admin_url), queue_url=redis_url, work_dir=tmp_path / "app" / "work")
        env = dict(os.environ, VIDEOCOACH_DATA=str(settings.data_dir), VIDEOCOACH_KEY_FILE=str(settings.key_file),
                   VIDEOCOACH_DATABASE_URL=settings.database_url, VIDEOCOACH_QUEUE_URL=redis_url,
                   VIDEOCOACH_CACHE=os.environ.get("VIDEOCOACH_CACHE", str(Path.home() / ".cache" / "videocoach")))
        with Store(settings) as store:
            teacher = store.add_user("rivera", "teacher", None, "Ms Rivera")
        machines = [tmp_path / f"machine{i}" for i in range(3)]
        for m in machines:
            m.mkdir()
        workers = [_start_worker(env, m) for m in machines]
        logs = [log for _, log in workers]
        try:
            def upload(i: int) -> str:  # one app session per upload, all at once
                with Store(settings) as s:
                    lesson = pipeline.ingest_file(s, teacher, clip, title=f"Lesson {i}",
                                                  options=pipeline.AnalyseOptions(redact=False))
                    tasks.submit(settings, s.enqueue_job(lesson.id, "analyse"))
                    return lesson.id

            with concurrent.futures.ThreadPoolExecutor(LESSONS) as pool:
                lesson_ids = list(pool.map(upload, range(LESSONS)))

            # the victim: the first worker seen between two stages of a lesson (its next stage has begun)
            victim: list[int] = []

            def someone_mid_lesson() -> bool:
                for i, log in enumerate(logs):
                    done = [s for _, s in _stored(log)]
                    if done and done[-1] in AUDIO_STAGES[:-1]:
                        victim.append(i)
                        return True
                return False

            _wait(someone_mid_lesson, 600, "a worker to finish a stage")
            v = victim[0]
            lesson_v, stage_v = _stored(logs[v])[-1]
            time.sleep(0.3)  # inside the next stage now
            workers[v][0].send_signal(signal.SIGKILL)
            workers[v][0].wait()
            killed_stored = set(_stored(logs[v]))

            def all_ready() -> bool:
                with Store(settings) as s:
                    return all(s.lesson(i).status in ("ready", "failed") for i in lesson_ids)

            _wait(all_ready, 1200, "every lesson to finish")
            # the killed machine's worker comes back (systemd Restart=), and clears what its predecessor left
            workers.append(_start_worker(env, machines[v]))
            _wait(lambda: "videocoach worker: ready" in workers[-1][1].read_text(errors="replace")
                  or workers[-1][0].poll() is not None, 300, "the restarted worker")
        finally:
            for proc, _ in workers:
                if proc.poll() is None:
                    proc.send_signal(signal.SIGINT)
            for proc, _ in workers:
                try:
                    proc.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()

        with Store(settings) as store:
            # every lesson ends ready
            assert {store.lesson(i).status for i in lesson_ids} == {"ready"}, [store.lesson(i).error for i in lesson_ids]
            assert all(j.status == "done" for i in lesson_ids for j in store.jobs_for_lesson(i))
            for i in lesson_ids:
                assert set(AUDIO_STAGES) <= set(store.finished_stages(i))
            # each stage's result stored once, across all workers (the killed one's stages were kept, not redone)
            stored = [entry for _, log in workers for entry in _stored(log)]
            assert sorted(stored) == sorted((i, s) for i in lesson_ids for s in AUDIO_STAGES), stored
            assert (lesson_v, stage_v) in killed_stored
            others = {entry for _, log in workers[:v] + workers[v + 1:] for entry in _stored(log)}
            assert any(lv == lesson_v for lv, _ in others - killed_stored)  # another worker finished that lesson
            # the audit log is complete: the account, and each upload
            entries = store.audit_entries(limit=100000)
            assert [e.action for e in entries if e.action == "user.create"] == ["user.create"]
            for i in lesson_ids:
                assert [e.action for e in store.audit_entries(i)].count("lesson.create") == 1
        # no plaintext left on any worker, nor on the shared mount
        for m in machines:
            left = [p for p in (m / "work").rglob("*") if p.is_file()]
            assert left == [], left
        for path in (shared / "data").rglob("*"):
            if path.is_file():
                data = path.read_bytes()
                assert not any(mark in data for mark in PLAINTEXT_MARKS), path
