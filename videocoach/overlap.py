"""The video stages beside the audio ones: statistics first, both cores busy.

``pipeline.run`` runs the audio stages (whose results make the statistics) in the calling thread and, when the video
stages are pending too, the video stages in a second thread (``VideoSide``) at a lower CPU priority: the audio
stages get a core whenever they want one, and the video work fills the rest.  onnxruntime, ffmpeg and CTranslate2 do
their work outside the GIL, so two threads use two cores.

- The second thread opens its own ``Store`` (one SQLite connection per thread: a connection's transactions are not
  shared between threads).
- Progress from the second thread is queued and handed to the caller's callback from the calling thread only (the
  worker writes progress into the store through the caller's connection): ``drain()``, called from the caller's own
  progress calls and while waiting for the thread.
- Cancelling (the audio side failed, Ctrl-C) makes the next progress call inside the video stages raise
  ``Cancelled``; the rendering removes its partial output on the way out (``redact`` rule 7).
"""

from __future__ import annotations

import os
import queue
import sys
import threading
from typing import Callable, Sequence

from videocoach.core.model import Progress

VIDEO_NICE = 10  # CPU priority of the video thread and everything it starts (pool threads, ffmpeg): below audio
# (the default; ``Settings.video_nice`` sets it per deployment: 0 where other heavy work would starve the video)


class Cancelled(BaseException):
    """The video side was told to stop (not an Exception: nothing may swallow it on the way out)."""


class VideoSide:
    """Runs ``run_stages(stages, progress)`` in a thread; its progress reaches the caller through ``drain()``."""

    def __init__(self, run_stages: Callable[[Sequence[str], Progress], None], stages: Sequence[str], *,
                 nice: int | None = None) -> None:
        self._run_stages = run_stages
        self.nice = nice
        self.stages = tuple(stages)
        self._events: queue.SimpleQueue[tuple[str, float]] = queue.SimpleQueue()
        self._cancel = threading.Event()
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._main, name="video-stages", daemon=True)

    def start(self) -> "VideoSide":
        self._thread.start()
        return self

    def _progress(self, stage: str, fraction: float) -> None:
        if self._cancel.is_set():
            raise Cancelled("the video stages were cancelled")
        self._events.put((stage, fraction))

    def _main(self) -> None:
        lower_priority(self.nice)
        try:
            self._run_stages(self.stages, self._progress)
        except BaseException as exc:  # noqa: BLE001 - carried to the calling thread, which raises it
            self.error = exc

    def drain(self, progress: Progress) -> None:
        """Hand the queued progress of the video stages to ``progress`` (call from the calling thread only)."""
        while True:
            try:
                stage, fraction = self._events.get_nowait()
            except queue.Empty:
                return
            progress(stage, fraction)

    def wait(self, progress: Progress, poll_s: float = 0.5) -> None:
        """Wait for the video stages, passing their progress on; raises what they raised."""
        while self._thread.is_alive():
            self._thread.join(poll_s)
            self.drain(progress)
        self.drain(progress)
        if self.error is not None:
            raise self.error

    def cancel(self) -> None:
        """Stop at the next progress call and wait for the thread (its error, if any, is dropped)."""
        self._cancel.set()
        self._thread.join()


def lower_priority(nice: int | None = None) -> None:
    """Lower the CPU priority of the calling thread only (Linux: a thread id is a process id for setpriority)."""
    nice = VIDEO_NICE if nice is None else nice
    if nice <= 0 or not sys.platform.startswith("linux"):
        return  # elsewhere PRIO_PROCESS with a thread id could name another process
    try:
        tid = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, tid, min(19, os.getpriority(os.PRIO_PROCESS, tid) + nice))
    except OSError:
        pass  # a priority is a preference: the work runs either way


__all__ = ["Cancelled", "VIDEO_NICE", "VideoSide", "lower_priority"]
