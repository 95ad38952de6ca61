"""The media route under load, on loopback only: real viewers, forged-token floods, a login brute force.

    python bench/bench_load.py [--seconds 10] [--cases viewers1,viewers10,viewers50,attack,login]

Each case starts the login-checked media route (the same starlette routes ``app.py`` mounts, default limiter,
tally and tarpit) under uvicorn in its own process on 127.0.0.1, runs for ``--seconds``, stops it (which writes the
counted refusals) and prints requests/s, p50/p95/p99 time to first and last byte, status counts, and the growth of
the database and of the audit log.

* ``viewersN``: N viewers (threads, keep-alive), each streaming random 1 MiB ranges of the sample lesson (sealed as
  the lesson's redacted rendition; the analysis is not needed by the route) with their own valid token.
* ``attack``: 10 viewers, and 50 forged-token clients alongside (a separate asyncio process, each client from its
  own loopback address 127.0.1.x, a fresh forged token per request, next request as soon as the answer arrives).
* ``login``: 4 threads from one address guessing a teacher's password through ``auth.authenticate``, once without a
  limit (as the login page does today) and once behind the shared limiter the way the login page is meant to use
  it (``retry_after`` before the check, ``record_failure`` after a wrong password).

Numbers from a shared 2-core machine are noisy: compare cases of one run, e.g. the viewers' p95 with and without
attackers.
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import os
import random
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from videocoach.config import Settings  # noqa: E402
from videocoach.storage.store import Store  # noqa: E402
from videocoach.ui.media_tokens import MediaTokens  # noqa: E402
from videocoach.ui.mediaserver import media_path  # noqa: E402

RANGE_BYTES = 1024 * 1024  # a browser's typical range request while playing
ATTACKERS = 50
LOGIN_THREADS = 4


# -- the server process --------------------------------------------------------------------------------------------------
def serve(data_dir: str, key_file: str, port: int) -> None:
    import uvicorn
    from starlette.applications import Starlette

    from videocoach.ui.mediaserver import MediaServer

    def stop(signum, frame):  # uvicorn re-raises SIGTERM once it has stopped: exit through the finally below
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    server = MediaServer(Settings(data_dir=Path(data_dir), key_file=Path(key_file)))
    try:
        uvicorn.run(Starlette(routes=server.routes()), host="127.0.0.1", port=port, log_level="warning",
                    lifespan="off")
    finally:
        server.close()  # the refusals still counted are written


def start_server(settings: Settings) -> tuple[subprocess.Popen, int]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, __file__, "--serve", str(settings.data_dir), str(settings.key_file),
                             str(port)], cwd=ROOT)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return proc, port
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("the server did not start")


def stop_server(proc: subprocess.Popen) -> int:
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=30)
    return proc.returncode


# -- the store ---------------------------------------------------------------------------------------------------------------
def make_store(tmp: Path, sample: Path, viewers: int) -> tuple[Settings, list[str], str]:
    settings = Settings(data_dir=tmp / "data", key_file=tmp / "keys" / "bench.key")
    with Store(settings) as store:
        teacher = store.add_user("teacher", "teacher", None)
        coach = store.add_user("coach", "coach", None)
        lesson = store.create_lesson(teacher, "sample lesson", sample.name)
        store.put_media_file(lesson.id, "redacted", sample)
        store.save_stage(lesson.id, "render", "{}")
        store.save_stage(lesson.id, "audit", json.dumps({"findings": []}))
        store.update_lesson(lesson.id, status="ready")
        store.share(teacher, lesson.id, coach)
        from videocoach.storage.auth import hash_password

        store.set_password_hash(teacher.id, hash_password("the-right-password"))
        tokens = MediaTokens.for_settings(settings)
        paths = [media_path(tokens.mint((teacher if i % 2 else coach).id, lesson.id, "redacted"))
                 for i in range(viewers)]
        sealed = store.open_media(lesson.id, "redacted")
        size = sealed.size
        sealed.close()
    return settings, paths, str(size)


def db_size(settings: Settings) -> tuple[int, int]:
    """(bytes of the database after a checkpoint, rows in the audit log)."""
    db_path = Path(settings.data_dir) / "videocoach.sqlite3"
    con = sqlite3.connect(db_path)
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    rows = con.execute("SELECT COUNT(*) FROM audit_log").fetchone()[0]
    con.close()
    return os.path.getsize(db_path), rows


# -- viewers ------------------------------------------------------------------------------------------------------------------
def viewer(port: int, path: str, size: int, until: float, out: list, seed: int) -> None:
    rng = random.Random(seed)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    while time.perf_counter() < until:
        start = rng.randrange(0, max(1, size - RANGE_BYTES))
        t0 = time.perf_counter()
        conn.request("GET", path, headers={"Range": f"bytes={start}-{start + RANGE_BYTES - 1}"})
        resp = conn.getresponse()
        t_first = time.perf_counter() - t0
        resp.read()
        out.append((resp.status, t_first, time.perf_counter() - t0))
    conn.close()


def run_viewers(port: int, paths: list[str], size: int, seconds: float) -> list[tuple[int, float, float]]:
    out: list = []
    until = time.perf_counter() + seconds
    threads = [threading.Thread(target=viewer, args=(port, p, size, until, out, i)) for i, p in enumerate(paths)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return out


# -- forged-token clients (their own process) ------------------------------------------------------------------------------
async def _attacker(port: int, source: str, until: float, out: list) -> None:
    forger = MediaTokens(os.urandom(32))
    reader, writer = await asyncio.open_connection("127.0.0.1", port, local_addr=(source, 0))
    while time.perf_counter() < until:
        path = media_path(forger.mint(1, "0" * 32, "redacted"))
        t0 = time.perf_counter()
        writer.write(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nRange: bytes=0-1048575\r\n\r\n".encode())
        await writer.drain()
        head = await reader.readuntil(b"\r\n\r\n")
        t_first = time.perf_counter() - t0
        lines = head.decode("latin-1").split("\r\n")
        length = next((int(line.split(":", 1)[1]) for line in lines if line.lower().startswith("content-length:")), 0)
        await reader.readexactly(length)
        out.append((int(lines[0].split()[1]), t_first, time.perf_counter() - t0))
    writer.close()


def attack(port: int, seconds: float) -> None:
    out: list = []
    until = time.perf_counter() + seconds

    async def main() -> None:
        await asyncio.gather(*(_attacker(port, f"127.0.1.{i + 1}", until, out) for i in range(ATTACKERS)))

    asyncio.run(main())
    print(json.dumps(out))


# -- login brute force ------------------------------------------------------------------------------------------------------
def brute_force(settings: Settings, seconds: float, limited: bool) -> list[tuple[int, float, float]]:
    from videocoach.storage.auth import authenticate
    from videocoach.ui.ratelimit import FailureLimiter
    from videocoach.ui.refusals import RefusalTally

    limiter, tally = FailureLimiter(), RefusalTally()
    out: list = []
    until = time.perf_counter() + seconds
    address = "127.0.2.1"

    def guess(n: int) -> None:
        with Store(settings) as store:
            i = 0
            while time.perf_counter() < until:
                t0 = time.perf_counter()
                if limited and limiter.retry_after(address) is not None:
                    tally.add("login", address, "rate-limited")
                    status = 429
                else:
                    ok = authenticate(store, "teacher", f"guess-{n}-{i}") is not None
                    if not ok and limited:
                        limiter.record_failure(address)
                    status = 200 if ok else 401
                    i += 1
                dt = time.perf_counter() - t0
                out.append((status, dt, dt))
                if status == 429:
                    time.sleep(0.001)  # a form post round trip at the least; a real client waits for the page

    threads = [threading.Thread(target=guess, args=(n,)) for n in range(LOGIN_THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    counts = tally.drain()
    if counts:
        with Store(settings) as store:
            store.audit_refusals(counts)
    return out


# -- report -------------------------------------------------------------------------------------------------------------------
def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))] if ordered else float("nan")


def report(name: str, samples: list, seconds: float, growth: tuple[int, int]) -> dict:
    first = [s[1] for s in samples]
    last = [s[2] for s in samples]
    statuses = dict(sorted(Counter(s[0] for s in samples).items()))
    row = {"case": name, "rps": len(samples) / seconds, "statuses": statuses,
           "first_ms": [1000 * pct(first, q) for q in (.5, .95, .99)],
           "last_ms": [1000 * pct(last, q) for q in (.5, .95, .99)],
           "db_kb": growth[0] / 1024, "audit_rows": growth[1]}
    f, l = row["first_ms"], row["last_ms"]
    print(f"{name:<28} {row['rps']:>7.1f}/s  first {f[0]:6.1f} {f[1]:6.1f} {f[2]:6.1f} ms  last {l[0]:6.1f} "
          f"{l[1]:6.1f} {l[2]:6.1f} ms  {statuses}  db +{row['db_kb']:.0f} KiB  audit +{row['audit_rows']} rows",
          flush=True)
    return row


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=10.0, help="length of each case (bounded)")
    ap.add_argument("--cases", default="viewers1,viewers10,viewers50,attack,login")
    ap.add_argument("--sample", type=Path, default=ROOT / "sample_media" / "lesson.mp4")
    ap.add_argument("--serve", nargs=3, help=argparse.SUPPRESS)
    ap.add_argument("--attack", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.serve:
        serve(*args.serve)
        return 0
    if args.attack:
        attack(args.attack, args.seconds)
        return 0
    seconds = min(max(args.seconds, 1.0), 60.0)
    cases = [c.strip() for c in args.cases.split(",") if c.strip()]
    tmp = Path(tempfile.mkdtemp(prefix="bench-load-"))
    try:
        settings, paths, size = make_store(tmp, args.sample, 50)
        size = int(size)
        print(f"media route on 127.0.0.1, sample lesson {size / 1e6:.1f} MB sealed, {RANGE_BYTES // 1024} KiB ranges, "
              f"{seconds:g} s per case, {os.cpu_count()} CPUs (shared)")
        print(f"{'case':<28} {'req/s':>9}  {'first byte p50/p95/p99':>28}  {'last byte p50/p95/p99':>27}")
        rows = {}
        for case in cases:
            before = db_size(settings)
            if case.startswith("viewers"):
                proc, port = start_server(settings)
                samples = run_viewers(port, paths[: int(case[len("viewers"):])], size, seconds)
                stop_server(proc)
                after = db_size(settings)
                rows[case] = report(f"{case[len('viewers'):]} viewer(s)", samples, seconds,
                                    (after[0] - before[0], after[1] - before[1]))
            elif case == "attack":
                proc, port = start_server(settings)
                attackers = subprocess.Popen([sys.executable, __file__, "--attack", str(port), "--seconds",
                                              str(seconds)], stdout=subprocess.PIPE, cwd=ROOT)
                samples = run_viewers(port, paths[:10], size, seconds)
                forged = json.loads(attackers.communicate(timeout=seconds + 60)[0])
                stop_server(proc)
                after = db_size(settings)
                growth = (after[0] - before[0], after[1] - before[1])
                rows["attack"] = report("10 viewers w/ 50 forgers", samples, seconds, growth)
                report("  the 50 forged-token clients", forged, seconds, growth)
            elif case == "login":
                for limited in (False, True):
                    samples = brute_force(settings, seconds, limited)
                    after = db_size(settings)
                    report(f"login brute force{' (limited)' if limited else ''}", samples, seconds,
                           (after[0] - before[0], after[1] - before[1]))
                    before = after
            else:
                raise SystemExit(f"unknown case {case!r}")
        if "viewers10" in rows and "attack" in rows:
            ratio = rows["attack"]["last_ms"][1] / rows["viewers10"]["last_ms"][1]
            print(f"10 viewers' p95 time to last byte with 50 forged-token clients / without: {ratio:.2f}x "
                  f"(target <= 1.5x)")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
