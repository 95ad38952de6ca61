"""Stages side by side: the audio stages beside each other, the video stages beside them (statistics first).

``pipeline.run`` hands its list of unfinished stages to ``plan``, which cuts it into lanes, and ``run_plan`` runs
them (nothing here knows what a stage does beyond which results it reads):

- ``before`` (the audio extraction) in the calling thread; then two threads at the caller's priority: ``beside``
  (transcription: it reads only the audio, and it is the longest audio stage) and ``middle`` (diarisation, levels,
  roles: none of them reads the transcript); then, both done, ``after`` (the metrics, which read every audio result)
  in the calling thread;
- from the start, the video stages in a third thread at a lower CPU priority (``VIDEO_NICE``): the audio stages get
  the cores whenever they want them, and the video work fills the rest.

onnxruntime, ffmpeg, CTranslate2 and torch do their work outside the GIL, so the threads use both cores; each model
runs on one intra-op thread (``AsrConfig.cpu_threads``, ``DiarizeConfig.seg_threads``): a second one per model only
adds waiting when the lanes share two cores.  The transcription lane decodes chunks of the audio on two workers
(``AsrConfig.workers``, ``audio/asr_chunks.py``), so it also takes the core the other lane leaves once it is done.

- Each thread opens its own ``Store`` (one SQLite connection per thread: a connection's transactions are not shared
  between threads).  Each stage saves its own result, so a run cut short resumes at the unfinished stages only.
- Progress from the threads is queued and handed to the caller's callback from the calling thread only (the worker
  writes progress into the store through the caller's connection): ``Side.drain()``, every half second while the
  calling thread waits for the audio lanes, and from its own progress calls.
- A failure in an audio lane is raised in the calling thread within half a second (the lesson fails at once); a
  failure of the video stages once the audio ones are done (the statistics are kept).  Any failure, or Ctrl-C,
  cancels the other threads: their next progress call raises ``Cancelled``, and the rendering removes its partial
  output on the way out (``redact`` rule 7).
"""

from __future__ import annotations

import os
import queue
import sys
import threading
from dataclasses import dataclass
from typing import Callable, Sequence

from videocoach.core.model import Progress

VIDEO_NICE = 19  # CPU priority of the video thread and everything it starts (pool threads, ffmpeg): below audio
# (the default; ``Settings.video_nice`` sets it per deployment: 0 where other heavy work would starve the video).
# 19, not 10: the video's threads and ffmpeg processes are several against one thread per audio lane, so at +10
# they took 22 % of the CPU until the statistics, at +19 10 % (3 min bench lesson run at nice 5, load 15-18;
# bench_lesson.py --stop-at-statistics --video-nice 10|19); once the audio is done they have the cores anyway

# What each audio stage reads (pipeline.py's stage functions): transcribe, diarize and levels only the audio; roles
# the diarisation; metrics all of them.  So the transcription runs beside diarize -> levels -> roles.
BEFORE_BESIDE = ("audio",)  # what the stages beside need first
BESIDE = ("transcribe",)  # in a thread of its own, at the caller's priority
AFTER_BESIDE = ("metrics",)  # needs the results of both lanes

RunStages = Callable[[bool, Sequence[str], Progress], None]  # (in a thread of its own?, stage names, progress)


class Cancelled(BaseException):
    """A thread's stages were told to stop (not an Exception: nothing may swallow it on the way out)."""


@dataclass(frozen=True)
class Plan:
    """Which stages run where, in this order: ``before`` (calling thread); ``beside`` and ``middle`` (a thread each,
    at the caller's priority); ``after`` (calling thread).  ``video``: a low-priority thread from the start."""

    before: tuple[str, ...] = ()
    beside: tuple[str, ...] = ()
    middle: tuple[str, ...] = ()
    after: tuple[str, ...] = ()
    video: tuple[str, ...] = ()

    @property
    def threads(self) -> int:
        """Threads besides the calling one."""
        return 2 * bool(self.beside) + bool(self.video)  # ``plan`` sets beside only with a middle


def plan(todo: Sequence[str], video_stages: Sequence[str], *, side_by_side: bool = True) -> Plan:
    """Cut ``todo`` (in the pipeline's order) into lanes; ``side_by_side=False``: all in the calling thread, the
    audio stages first."""
    audio = tuple(s for s in todo if s not in video_stages)
    video = tuple(s for s in todo if s in video_stages)
    if not side_by_side or not audio:
        return Plan(before=audio + video)
    beside = tuple(s for s in audio if s in BESIDE)
    middle = tuple(s for s in audio if s not in BEFORE_BESIDE + BESIDE + AFTER_BESIDE)
    if not beside or not middle:  # nothing to run beside: one after another
        return Plan(before=audio, video=video)
    return Plan(before=tuple(s for s in audio if s in BEFORE_BESIDE), beside=beside, middle=middle,
                after=tuple(s for s in audio if s in AFTER_BESIDE), video=video)


def run_plan(lanes: Plan, run_stages: RunStages, progress: Progress, *, video_nice: int | None = None) -> None:
    """Run the plan's lanes (``run_stages(own_thread, names, progress)`` runs stages in order); raises the first
    failure after cancelling the other threads."""
    sides: list[Side] = []

    def relay(stage: str, fraction: float) -> None:  # the calling thread's progress: the threads' rides along
        progress(stage, fraction)
        tick()

    def tick() -> None:
        for side in sides:
            side.drain(progress)
            if side.fail_fast:
                side.raise_failure()

    def start(names: tuple[str, ...], nice: int, fail_fast: bool) -> Side:
        side = Side(lambda n, p: run_stages(True, n, p), names, nice=nice, fail_fast=fail_fast).start()
        sides.append(side)
        return side

    try:
        if lanes.video:
            start(lanes.video, VIDEO_NICE if video_nice is None else video_nice, False)
        run_stages(False, lanes.before, relay)
        for side in [start(names, 0, True) for names in (lanes.beside, lanes.middle) if names]:
            side.wait(progress, tick=tick)  # the other lane's failure is raised by tick()
        run_stages(False, lanes.after, relay)
        for side in sides:
            side.wait(progress, tick=tick)
    except BaseException:
        for side in sides:
            side.cancel()
        raise


class Side:
    """Runs ``run_stages(stages, progress)`` in a thread; its progress reaches the caller through ``drain()``.
    ``fail_fast``: its failure is raised by ``raise_failure()`` as soon as it happens (else only by ``wait``)."""

    def __init__(self, run_stages: Callable[[Sequence[str], Progress], None], stages: Sequence[str], *,
                 nice: int | None = None, fail_fast: bool = False) -> None:
        self._run_stages = run_stages
        self.nice = nice
        self.fail_fast = fail_fast
        self.stages = tuple(stages)
        self._events: queue.SimpleQueue[tuple[str, float]] = queue.SimpleQueue()
        self._cancel = threading.Event()
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._main, name="stages-" + "-".join(self.stages), daemon=True)

    def start(self) -> "Side":
        self._thread.start()
        return self

    def _progress(self, stage: str, fraction: float) -> None:
        if self._cancel.is_set():
            raise Cancelled("the stages were cancelled")
        self._events.put((stage, fraction))

    def _main(self) -> None:
        lower_priority(self.nice)
        try:
            self._run_stages(self.stages, self._progress)
        except BaseException as exc:  # noqa: BLE001 - carried to the calling thread, which raises it
            self.error = exc

    def drain(self, progress: Progress) -> None:
        """Hand the queued progress of the stages to ``progress`` (call from the calling thread only)."""
        while True:
            try:
                stage, fraction = self._events.get_nowait()
            except queue.Empty:
                return
            progress(stage, fraction)

    def raise_failure(self) -> None:
        """Raise what the stages raised, if they have failed (and were not cancelled)."""
        if self.error is not None and not self._cancel.is_set():
            raise self.error

    def wait(self, progress: Progress, poll_s: float = 0.5, tick: Callable[[], None] | None = None) -> None:
        """Wait for the stages, passing their progress on (and calling ``tick`` every poll); raises what they
        raised."""
        while self._thread.is_alive():
            self._thread.join(poll_s)
            self.drain(progress)
            if tick is not None:
                tick()
        self.drain(progress)
        if self.error is not None:
            raise self.error

    def cancel(self) -> None:
        """Stop at the next progress call and wait for the thread (its error, if any, is dropped)."""
        self._cancel.set()
        self._thread.join()


VideoSide = Side  # its first use: the video stages beside the audio ones


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


__all__ = ["Cancelled", "Plan", "Side", "VIDEO_NICE", "VideoSide", "lower_priority", "plan", "run_plan"]
