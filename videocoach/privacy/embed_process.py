"""Face descriptors computed in a child process, beside the detection pass.

dlib holds Python's GIL while it computes a descriptor (a pure-Python loop beside a thread computing descriptors ran
at a tenth of its speed), so a thread cannot overlap it with the detection pass; a process can.  ``EmbedProcess``
keeps one child (started on first use, spawned, so nothing of the parent's state is copied) that loads dlib's models
once (``identity.load_embedder``: offline, from the installed package) and computes, for each job, the descriptors
``identity.FaceEmbedder.embed`` gives for a list of crops -- the same function on the same pixels, so the same
numbers.

- Priority: the child runs at the niceness of the thread that asked for it (the video side's, below the audio
  stages: ``overlap.VIDEO_NICE``), never higher.
- Fail closed: a child that dies or cannot load the models makes every pending and later job raise
  (``EmbedProcessError``); the caller's stage fails with that message, and no fragment becomes visible through a
  missing descriptor (a track without one stays hidden anyway).  The next ``shared()`` call starts a new child.
- ``shared()`` keeps one child per process for the worker's lifetime, like the cached ASR model: a lesson does not
  pay for starting it again.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Sequence

import numpy as np

Crop = tuple[np.ndarray, tuple[float, float, float, float]]

_embedder = None  # in the child: the loaded models


class EmbedProcessError(RuntimeError):
    """The descriptor process failed (it died, or could not load the face models)."""


def _start_child(nice: int) -> None:
    global _embedder
    from videocoach.privacy import identity

    current = os.getpriority(os.PRIO_PROCESS, 0)
    if nice > current:
        os.setpriority(os.PRIO_PROCESS, 0, nice)
    _embedder = identity.load_embedder()


def _embed_all(crops: Sequence[Crop]) -> list[np.ndarray | None]:
    if _embedder is None:
        raise EmbedProcessError("the face models are not loaded in the descriptor process")
    return [_embedder.embed(crop, box) for crop, box in crops]


class EmbedProcess:
    """One child process computing face descriptors; ``submit`` returns a future of ``embed``'s results."""

    def __init__(self) -> None:
        nice = os.getpriority(os.PRIO_PROCESS, 0)  # the calling thread's (Linux: niceness is per thread)
        self._pool = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"),
                                         initializer=_start_child, initargs=(nice,))
        self.closed = False

    def submit(self, crops: Sequence[Crop]) -> "Future[list[np.ndarray | None]]":
        try:
            return self._pool.submit(_embed_all, list(crops))
        except (BrokenProcessPool, RuntimeError) as exc:
            raise EmbedProcessError(f"the face descriptor process failed: {exc}") from exc

    @staticmethod
    def result(future: "Future[list[np.ndarray | None]]") -> list[np.ndarray | None]:
        try:
            return future.result()
        except BrokenProcessPool as exc:
            raise EmbedProcessError(f"the face descriptor process failed: {exc}") from exc

    @property
    def broken(self) -> bool:
        return bool(getattr(self._pool, "_broken", False))

    def close(self) -> None:
        self.closed = True
        self._pool.shutdown(wait=True, cancel_futures=True)


_shared: EmbedProcess | None = None
_lock = threading.Lock()


def shared() -> EmbedProcess:
    """This process's descriptor child (a new one if the last one broke or was closed)."""
    global _shared
    with _lock:
        if _shared is None or _shared.broken or _shared.closed:
            if _shared is not None:
                _shared.close()
            _shared = EmbedProcess()
        return _shared


__all__ = ["EmbedProcess", "EmbedProcessError", "shared"]
