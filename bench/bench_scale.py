"""Beyond one machine, measured on this one: lessons per hour with one and with two workers (PostgreSQL + Redis,
short audio-only lessons), and the task queue's own overhead per job (embedded SqliteHuey and Redis).

    PYTHONPATH=$PWD .venv/bin/python bench/bench_scale.py --lessons 4 --seconds 8
    PYTHONPATH=$PWD .venv/bin/python bench/bench_scale.py --overhead-only

The servers are started like the tests start them (tests/servers.py: Debian postgresql and redis-server, 127.0.0.1).
Each worker is started and ready (its ``ready`` line) before the clock starts; model loading inside its first job is
counted, as a real worker's first lesson pays it too.  Prints; asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from servers import new_database, postgres_server, redis_server  # noqa: E402

from videocoach import pipeline, tasks  # noqa: E402
from videocoach.av.ffmpeg import ffmpeg_binary  # noqa: E402
from videocoach.config import Settings  # noqa: E402
from videocoach.storage.store import Store  # noqa: E402


def overhead(settings: Settings, n: int) -> tuple[float, float]:
    """(ms to submit one job, ms for a worker to take it off the queue and find it already done), averaged."""
    queue = tasks.queue_for(settings)
    with Store(settings) as store:
        teacher = store.add_user(f"t{time.monotonic_ns()}", "teacher", None)
        lesson = store.create_lesson(teacher, "x", "x.mp4")
        ids = [store.enqueue_job(lesson.id, "analyse") for _ in range(n)]
        for i in ids:
            store.update_job(i, status="done")
    t0 = time.perf_counter()
    for i in ids:
        queue.submit(i)
    t1 = time.perf_counter()
    while (task := queue.huey.dequeue()) is not None:
        queue.huey.execute(task)
    t2 = time.perf_counter()
    return (t1 - t0) / n * 1000, (t2 - t1) / n * 1000


def lessons_per_hour(settings: Settings, env: dict, clip: Path, lessons: int, workers: int, tmp: Path) -> float:
    procs = []
    for w in range(workers):
        log = tmp / f"worker{workers}-{w}.log"
        procs.append((subprocess.Popen([sys.executable, "-m", "videocoach.cli", "worker"], cwd=REPO,
                                       env=dict(env, VIDEOCOACH_WORK_DIR=str(tmp / f"m{workers}-{w}")),
                                       stdout=open(log, "wb"), stderr=subprocess.STDOUT), log))
    try:
        while not all("videocoach worker: ready" in log.read_text(errors="replace") for _, log in procs):
            time.sleep(0.2)
        with Store(settings) as store:
            teacher = store.add_user(f"t{workers}", "teacher", None)
            t0 = time.perf_counter()
            ids = []
            for i in range(lessons):
                lesson = pipeline.ingest_file(store, teacher, clip, title=f"L{i}",
                                              options=pipeline.AnalyseOptions(redact=False))
                tasks.submit(settings, store.enqueue_job(lesson.id, "analyse"))
                ids.append(lesson.id)
            while not all(store.lesson(i).status in ("ready", "failed") for i in ids):
                time.sleep(0.5)
            elapsed = time.perf_counter() - t0
            failed = [i for i in ids if store.lesson(i).status == "failed"]
            if failed:
                print(f"  {len(failed)} lesson(s) failed: {store.lesson(failed[0]).error}")
        return lessons / elapsed * 3600
    finally:
        for p, _ in procs:
            p.terminate()
            p.wait()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--lessons", type=int, default=4)
    ap.add_argument("--seconds", type=float, default=8.0, help="length of each short lesson")
    ap.add_argument("--jobs", type=int, default=200, help="jobs for the overhead measurement")
    ap.add_argument("--overhead-only", action="store_true")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmpdir, postgres_server() as pg, redis_server() as redis_url:
        tmp = Path(tmpdir)
        for name, queue_url, db in (("embedded SqliteHuey + SQLite", None, None),
                                    ("Redis + PostgreSQL", redis_url, new_database(pg))):
            s = Settings(data_dir=tmp / f"o-{len(name)}", key_file=tmp / "key", database_url=db, queue_url=queue_url)
            submit_ms, take_ms = overhead(s, args.jobs)
            print(f"queue overhead, {name}: submit {submit_ms:.2f} ms/job, dequeue+claim {take_ms:.2f} ms/job "
                  f"({args.jobs} jobs)")
        if args.overhead_only:
            return
        clip = tmp / "clip.m4a"
        subprocess.run([ffmpeg_binary(), "-v", "error", "-ss", "30", "-i", str(REPO / "sample_media" / "lesson.mp4"),
                        "-t", str(args.seconds), "-vn", "-c:a", "copy", str(clip)], check=True)
        for workers in (1, 2):
            settings = Settings(data_dir=tmp / f"data{workers}", key_file=tmp / "key", database_url=new_database(pg),
                                queue_url=redis_url)
            env = dict(os.environ, VIDEOCOACH_DATA=str(settings.data_dir), VIDEOCOACH_KEY_FILE=str(settings.key_file),
                       VIDEOCOACH_DATABASE_URL=settings.database_url, VIDEOCOACH_QUEUE_URL=redis_url)
            rate = lessons_per_hour(settings, env, clip, args.lessons, workers, tmp)
            print(f"{workers} worker(s): {rate:.0f} lessons/hour ({args.lessons} lessons of {args.seconds:g} s, "
                  f"audio stages, {os.cpu_count()} cores)")


if __name__ == "__main__":
    main()
