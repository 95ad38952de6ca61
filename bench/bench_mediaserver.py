"""How fast the login-checked media route answers a seek: random HTTP range requests into a sealed file the size of
a 50-minute lesson rendition, over loopback, through the same starlette route the app mounts.

    python bench/bench_mediaserver.py [--size-mb 400] [--requests 60]

Prints, for a browser-like seek (``Range: bytes=X-``, the first 256 KiB read, then the connection closed) and for a
bounded 2 MiB range: median and 95th-percentile time to the first byte and to the last byte read, plus the
sequential throughput of one whole-file read.  Each request checks the token, the user's access and the lesson's
playability, then decrypts only the 1 MiB chunks it touches.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from videocoach.config import Settings  # noqa: E402
from videocoach.storage.store import Store  # noqa: E402
from videocoach.ui.mediaserver import MediaServer, media_path  # noqa: E402
from videocoach.ui.media_tokens import MediaTokens  # noqa: E402


def serve(server: MediaServer) -> int:
    import uvicorn
    from starlette.applications import Starlette

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    userver = uvicorn.Server(uvicorn.Config(Starlette(routes=server.routes()), host="127.0.0.1", port=port,
                                            log_level="warning", lifespan="off"))
    threading.Thread(target=userver.run, daemon=True).start()
    while not userver.started:
        time.sleep(0.02)
    return port


def timed_get(port: int, path: str, range_header: str | None, read_bytes: int | None) -> tuple[float, float, int]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    t0 = time.perf_counter()
    conn.request("GET", path, headers={"Range": range_header} if range_header else {})
    resp = conn.getresponse()
    first = resp.read(1)
    t_first = time.perf_counter() - t0
    got = len(first)
    while read_bytes is None or got < read_bytes:
        block = resp.read(min(65536, (read_bytes - got) if read_bytes else 65536))
        if not block:
            break
        got += len(block)
    t_last = time.perf_counter() - t0
    conn.close()
    if resp.status not in (200, 206):
        raise RuntimeError(f"HTTP {resp.status}")
    return t_first, t_last, got


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size-mb", type=int, default=400, help="size of the sealed rendition (a 50-min lesson ~ 400 MB)")
    ap.add_argument("--requests", type=int, default=60)
    args = ap.parse_args()
    rng = random.Random(7)
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp) / "data", key_file=Path(tmp) / "keys" / "k.key")
        store = Store(settings)
        teacher = store.add_user("bench", "teacher", None)
        lesson = store.create_lesson(teacher, "bench", "bench.mp4")
        plain = Path(tmp) / "plain.bin"
        with open(plain, "wb") as fh:
            for _ in range(args.size_mb):
                fh.write(os.urandom(1024 * 1024))
        t0 = time.perf_counter()
        size = store.put_media_file(lesson.id, "redacted", plain)
        seal_s = time.perf_counter() - t0
        plain.unlink()
        store.save_stage(lesson.id, "render", "{}")
        store.save_stage(lesson.id, "audit", json.dumps({"findings": []}))
        server = MediaServer(settings)
        port = serve(server)
        path = media_path(MediaTokens.for_settings(settings).mint(teacher.id, lesson.id, "redacted"))

        seek_first, seek_last, bounded_first, bounded_last = [], [], [], []
        for _ in range(args.requests):
            start = rng.randrange(0, size - 3 * 1024 * 1024)
            f, l, _ = timed_get(port, path, f"bytes={start}-", 256 * 1024)
            seek_first.append(f)
            seek_last.append(l)
            f, l, n = timed_get(port, path, f"bytes={start}-{start + 2 * 1024 * 1024 - 1}", None)
            assert n == 2 * 1024 * 1024
            bounded_first.append(f)
            bounded_last.append(l)
        t0 = time.perf_counter()
        _, _, total = timed_get(port, path, None, None)
        whole_s = time.perf_counter() - t0
        server.close()
        store.close()

    ms = lambda xs, q: 1000 * pct(xs, q)  # noqa: E731
    print(f"sealed file: {size / 1e6:.0f} MB (sealing took {seal_s:.1f} s, {size / 1e6 / seal_s:.0f} MB/s)")
    print(f"{'request':<38} {'first byte p50':>15} {'p95':>8} {'last byte p50':>14} {'p95':>8}")
    print(f"{'seek: bytes=X- (first 256 KiB read)':<38} {ms(seek_first, .5):>12.1f} ms {ms(seek_first, .95):>5.1f} ms"
          f" {ms(seek_last, .5):>11.1f} ms {ms(seek_last, .95):>5.1f} ms")
    print(f"{'range: bytes=X-(X+2MiB)':<38} {ms(bounded_first, .5):>12.1f} ms {ms(bounded_first, .95):>5.1f} ms"
          f" {ms(bounded_last, .5):>11.1f} ms {ms(bounded_last, .95):>5.1f} ms")
    print(f"whole file, one request: {total / 1e6:.0f} MB in {whole_s:.1f} s = {total / 1e6 / whole_s:.0f} MB/s "
          f"(a 1080p lesson plays at ~0.5-1 MB/s)")
    print(f"({args.requests} random offsets; loopback; CPU: {os.cpu_count()} cores, shared)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
