"""Face descriptors computed in a child process, beside the detection pass.

dlib holds Python's GIL while it computes a descriptor (a pure-Python loop beside a thread computing descriptors ran
at a tenth of its speed), so a thread cannot overlap it with the detection pass; a process can.  ``EmbedProcess``
starts one child, ``python -m videocoach.privacy.embed_process`` (a plain interpreter: not multiprocessing's spawn,
which re-runs the parent's ``__main__`` -- in the app that is a Streamlit page), which loads dlib's models once
(``identity.load_embedder``: offline, from the installed package) and computes, for each job, the descriptors
``identity.FaceEmbedder.embed`` gives for a list of crops -- the same function on the same pixels, so the same
numbers.  Jobs and results travel as length-prefixed pickles over the child's stdin and stdout (a child this process
started itself: nothing else writes there); a writer thread keeps the detection pass from waiting on a full pipe,
a reader thread resolves the futures in order (one child answers its jobs one after another).

- Priority: the child runs at the niceness of the thread that started it (the video side's, below the audio
  stages), never higher.
- Fail closed: a child that dies, cannot load the models or answers nonsense makes every pending and later job raise
  ``EmbedProcessError``; the caller's stage fails with that message, and no fragment becomes visible through a
  missing descriptor (a track without one stays hidden anyway).  The next ``shared()`` call starts a new child.
- ``shared()`` keeps one child per process for the worker's lifetime, like the cached ASR model: a lesson does not
  pay for starting it again.
"""

from __future__ import annotations

import os
import pickle
import queue
import struct
import subprocess
import sys
import threading
from collections import deque
from concurrent.futures import Future
from pathlib import Path
from typing import BinaryIO, Sequence

import numpy as np

Crop = tuple[np.ndarray, tuple[float, float, float, float]]
_HEADER = struct.Struct("<Q")
_READY = "ready"


class EmbedProcessError(RuntimeError):
    """The descriptor process failed (it died, or could not load the face models)."""


def _send(stream: BinaryIO, obj: object) -> None:
    data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(_HEADER.pack(len(data)) + data)
    stream.flush()


def _receive(stream: BinaryIO) -> object:
    head = stream.read(_HEADER.size)
    if len(head) < _HEADER.size:
        raise EOFError("the descriptor process closed its output")
    (n,) = _HEADER.unpack(head)
    data = stream.read(n)
    if len(data) < n:
        raise EOFError("the descriptor process closed its output mid-answer")
    return pickle.loads(data)


class EmbedProcess:
    """One child process computing face descriptors; ``submit`` returns a future of ``embed``'s results."""

    def __init__(self) -> None:
        nice = os.getpriority(os.PRIO_PROCESS, 0)  # the calling thread's (Linux: niceness is per thread)
        root = str(Path(__file__).resolve().parents[2])  # the folder holding this ``videocoach`` package
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH")) if p))
        self._child = subprocess.Popen([sys.executable, "-m", "videocoach.privacy.embed_process", str(nice)],
                                       stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env)
        self._pending: deque[Future] = deque()
        self._lock = threading.Lock()
        self._failure: str | None = None
        self.closed = False
        self._ready: Future = Future()
        self._pending.append(self._ready)
        self._jobs: queue.Queue = queue.Queue()
        threading.Thread(target=self._write, name="embed-process-writer", daemon=True).start()
        threading.Thread(target=self._read, name="embed-process-reader", daemon=True).start()

    def submit(self, crops: Sequence[Crop]) -> "Future[list[np.ndarray | None]]":
        future: Future = Future()
        with self._lock:
            if self._failure is not None or self.closed:
                raise EmbedProcessError(f"the face descriptor process failed: {self._failure or 'closed'}")
            self._pending.append(future)
            self._jobs.put([(np.ascontiguousarray(c), tuple(float(v) for v in b)) for c, b in crops])
        return future

    @staticmethod
    def result(future: "Future[list[np.ndarray | None]]") -> list[np.ndarray | None]:
        return future.result()

    @property
    def broken(self) -> bool:
        return self._failure is not None

    def _fail(self, why: str) -> None:
        with self._lock:
            if self._failure is None:
                self._failure = why
            pending, self._pending = list(self._pending), deque()
        for f in pending:
            if not f.done():
                f.set_exception(EmbedProcessError(f"the face descriptor process failed: {why}"))

    def _write(self) -> None:
        stdin = self._child.stdin
        while True:
            job = self._jobs.get()
            if job is None:
                break
            try:
                _send(stdin, job)
            except (BrokenPipeError, OSError, ValueError) as exc:
                self._fail(f"could not hand it a job ({exc})")
                return
        try:
            stdin.close()
        except OSError:
            pass

    def _read(self) -> None:
        while True:
            try:
                answer = _receive(self._child.stdout)
            except (EOFError, OSError, pickle.UnpicklingError) as exc:
                code = self._child.wait()
                self._fail(f"it stopped (exit status {code}): {exc}")
                return
            with self._lock:
                future = self._pending.popleft() if self._pending else None
            if future is None:
                self._fail("it answered a job nobody asked for")
                return
            if isinstance(answer, str) and answer.startswith("error:"):
                self._fail(answer[len("error:"):].strip())
                future.set_exception(EmbedProcessError(f"the face descriptor process failed: {answer}"))
                return
            future.set_result(answer)

    def wait_ready(self) -> None:
        """Block until the child has loaded its models (raises ``EmbedProcessError`` if it could not)."""
        self._ready.result()

    def close(self) -> None:
        with self._lock:
            self.closed = True
        self._jobs.put(None)
        try:
            self._child.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self._child.kill()
            self._child.wait()
        self._fail("closed")

    @property
    def pid(self) -> int:
        return self._child.pid


_shared: EmbedProcess | None = None
_shared_lock = threading.Lock()


def shared() -> EmbedProcess:
    """This process's descriptor child (a new one if the last one broke or was closed)."""
    global _shared
    with _shared_lock:
        if _shared is None or _shared.broken or _shared.closed:
            if _shared is not None and not _shared.closed:
                _shared.close()
            _shared = EmbedProcess()
        return _shared


def _child_main(nice: int) -> None:
    """The child: load the models, say so, then answer each job with its descriptors until stdin closes."""
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    sys.stdout = sys.stderr  # nothing printed by a library may corrupt the answers
    if nice > os.getpriority(os.PRIO_PROCESS, 0):
        os.setpriority(os.PRIO_PROCESS, 0, nice)
    from videocoach.privacy import identity

    try:
        embedder = identity.load_embedder()
    except identity.IdentityError as exc:
        _send(stdout, f"error: {exc}")
        return
    _send(stdout, _READY)
    while True:
        try:
            job = _receive(stdin)
        except EOFError:
            return
        _send(stdout, [embedder.embed(crop, box) for crop, box in job])


if __name__ == "__main__":
    _child_main(int(sys.argv[1]) if len(sys.argv) > 1 else 0)


__all__ = ["EmbedProcess", "EmbedProcessError", "shared"]
