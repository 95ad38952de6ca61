"""Transcription on several workers: the audio cut into chunks at silences, the chunks pulled from one queue.

Why: the transcription is the longest audio stage (a 50-minute lesson: about 330 s on one thread, while the
diariser's lane is done after about 170 s).  One Whisper call is sequential (each 30 s window starts where the last
one's words ended), so the only way to put a second core on it is to decode independent pieces side by side.

The cutting (``plan_chunks``, pure) follows one rule: **never cut inside speech**.  The cuts are taken from the
speech that Silero VAD finds (the very call and options faster-whisper's own ``vad_filter`` uses, run once on the
whole audio), each in the middle of a gap between two speech regions.  Those gaps are at least 1.2 s of silence:
the VAD only ends a region after 2 s below its threshold (``min_silence_duration_ms``) and then pads each side by
0.4 s.  There are few chunks (``cut_samples``: each about half of what is left, at the longest pause near there,
``CHUNK_MIN_S``..``CHUNK_MAX_S``); one longer stretch of talk with no such gap stays whole.

What a chunk loses at its boundary, against one call over the whole audio:

- the 30 s window that was running at the cut ends there, and the next chunk starts a fresh window at its first
  speech: where Whisper's windows fall moves, and with it how a hard window (babble, overlapping voices) happens to
  be decoded, for better or worse (the WER in ``bench/bench_asr_workers.py`` and ``eval/eval_asr.py --workers``);
- with ``condition_on_previous_text`` on, the text decoded before the cut is not the prompt after it (each chunk
  starts with no prompt, as a new file would).  Within a chunk it is kept as configured.  Off (the default), each
  window stands alone anyway, so nothing is lost;
- a language is detected once, on the first chunk's speech (what one call would use), and given to every chunk.

Running (``run_chunks``): ``workers`` threads pull chunks in time order from one queue and decode them on one loaded
model (faster-whisper's ``num_workers``: CTranslate2 runs that many ``generate`` calls at once, each on its own
``cpu_threads``; its work is outside the GIL).  Results come back in any order and are put back in time order; the
progress is the share of the audio's seconds decoded so far (monotonic).  A worker's failure stops the others at
their next segment and is raised in the calling thread with its own message (a note says which stretch of audio);
nothing is returned half-done.
"""

from __future__ import annotations

import queue
import threading
from dataclasses import dataclass
from typing import Callable, Generic, Sequence, TypeVar

SAMPLE_RATE = 16_000  # Hz
# Each chunk costs about half a Whisper window more than one call would spend on its audio (its last window is cut
# short by the chunk's end, and a 30 s window costs the same however little speech it holds): 8 chunks of 30-120 s
# in 584 s of lesson took 23 windows against 19 (+20 % CPU), and each boundary moves where the windows fall, which can
# tip a hard window (babble) into Whisper's temperature fallback.  So there are few chunks: each about 1/share of
# what is left (share = the number of workers: "guided" scheduling), long at first and shorter to the end, so the
# workers come out level.
CHUNK_SHARE = 2.0  # the default share: two workers
CHUNK_MIN_S = 30.0  # one Whisper window: shorter chunks only add boundaries
# faster-whisper computes a chunk's log-mel features in one go (its numpy STFT: about 50 bytes per sample at its
# peak, ~0.5 GB for 10 minutes), two chunks at once: at 600 s the 50-minute lesson peaked at 3.30 GB in the process
# (bench_lesson.py --minutes 50 --stop-at-statistics), at 240 s 3.10 GB; 180 s keeps that part near 0.15 GB per
# worker, for a few more boundaries (a 50-minute lesson: about 20 chunks)
CHUNK_MAX_S = 180.0

R = TypeVar("R")


@dataclass(frozen=True)
class Chunk:
    """One piece of the audio: it covers ``start_s``..``end_s`` (both cuts in silence, or the audio's ends) and
    decodes the samples in ``spans`` (sample ranges, in order, inside the cover), joined end to end."""

    index: int
    start_s: float
    end_s: float
    spans: tuple[tuple[int, int], ...]

    def __post_init__(self) -> None:
        if not 0.0 <= self.start_s <= self.end_s:
            raise ValueError(f"chunk {self.index}: need 0 <= start <= end, got {self.start_s}..{self.end_s}")
        if not self.spans:
            raise ValueError(f"chunk {self.index} has nothing to decode")

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s


def cut_samples(
    speech: Sequence[tuple[int, int]],
    n_samples: int,
    *,
    share: float = CHUNK_SHARE,
    min_s: float = CHUNK_MIN_S,
    max_s: float = CHUNK_MAX_S,
) -> list[int]:
    """Sample positions to cut at, each in the middle of a gap between two regions of ``speech`` (sorted,
    non-overlapping sample ranges).  No piece is shorter than ``min_s``.  From each cut the next piece aims at
    ``1/share`` of what is left (within ``min_s``..``max_s``): among the gaps within half of that aim either side,
    the longest silence (in whole seconds: the end of an exchange, a change of activity), then the nearest; failing
    those, the gap nearest the aim up to ``max_s``; failing that (talk with no gap for longer than ``max_s``), the
    first gap after it."""
    if not (0.0 < min_s <= max_s and share >= 1.0):
        raise ValueError(f"need 0 < min_s <= max_s and share >= 1, got {min_s}, {max_s}, {share}")
    gaps = [  # (middle, width) of each silence between two speech regions
        ((a_end + b_start) // 2, b_start - a_end) for (_, a_end), (b_start, _) in zip(speech, speech[1:])
        if b_start > a_end
    ]
    lo, hi = round(min_s * SAMPLE_RATE), round(max_s * SAMPLE_RATE)
    cuts: list[int] = []
    start = 0
    while usable := [(g, w) for g, w in gaps if g - start >= lo and n_samples - g >= lo]:  # no piece under min_s
        aim = min(hi, max(lo, round((n_samples - start) / share)))

        def off(gw: tuple[int, int]) -> int:
            return abs(gw[0] - start - aim)

        near = [gw for gw in usable if 2 * off(gw) <= aim and gw[0] - start <= hi]
        in_range = [gw for gw in usable if gw[0] - start <= hi]
        if near:
            cut = min(near, key=lambda gw: (-(gw[1] // SAMPLE_RATE), off(gw)))[0]
        else:
            cut = min(in_range, key=off)[0] if in_range else usable[0][0]
        cuts.append(cut)
        start = cut
    return cuts


def plan_chunks(
    speech: Sequence[tuple[int, int]],
    n_samples: int,
    *,
    speech_only: bool = True,
    share: float = CHUNK_SHARE,
    min_s: float = CHUNK_MIN_S,
    max_s: float = CHUNK_MAX_S,
) -> tuple[Chunk, ...]:
    """The chunks of an audio of ``n_samples`` whose speech regions are ``speech``.  ``speech_only``: a chunk
    decodes only its speech regions (faster-whisper's ``vad_filter``); else all of its samples.  No speech and
    ``speech_only``: no chunk."""
    if speech_only and not speech:
        return ()
    cuts = cut_samples(speech, n_samples, share=share, min_s=min_s, max_s=max_s)
    edges = [0, *cuts, n_samples]
    chunks = []
    for i, (a, b) in enumerate(zip(edges, edges[1:])):
        spans = tuple((s, e) for s, e in speech if a <= s and e <= b) if speech_only else ((a, b),)
        chunks.append(Chunk(i, a / SAMPLE_RATE, b / SAMPLE_RATE, spans))
    return tuple(chunks)


class _Stopped(Exception):
    """Raised inside a worker's decoding when another worker failed or the caller gave up."""


@dataclass(frozen=True)
class _Event(Generic[R]):
    chunk: Chunk
    at_s: float | None = None  # decoded up to here (absolute seconds)
    result: R | None = None
    error: BaseException | None = None
    done: bool = False


def run_chunks(
    chunks: Sequence[Chunk],
    decode: Callable[[Chunk, Callable[[float], None]], R],
    *,
    workers: int,
    progress: Callable[[float], None],
    total_s: float,
) -> list[R]:
    """``decode(chunk, at)`` for every chunk on ``workers`` threads; the results in the chunks' order.

    ``decode`` calls ``at(t)`` as it goes (``t``: absolute seconds decoded up to); ``at`` raises in a worker that
    must stop.  ``progress(fraction of total_s decoded)`` is called from the calling thread only, and may raise
    (e.g. a cancellation): the workers are then stopped and waited for, and the exception goes on.
    """
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    todo: queue.SimpleQueue[Chunk] = queue.SimpleQueue()
    for chunk in chunks:  # in time order: the last chunks to start are the last of the audio
        todo.put(chunk)
    events: queue.SimpleQueue[_Event[R]] = queue.SimpleQueue()
    stop = threading.Event()

    def work() -> None:
        while not stop.is_set():
            try:
                chunk = todo.get_nowait()
            except queue.Empty:
                return

            def at(t: float, chunk: Chunk = chunk) -> None:
                if stop.is_set():
                    raise _Stopped
                events.put(_Event(chunk, at_s=t))

            try:
                result = decode(chunk, at)
            except _Stopped:
                return
            except BaseException as exc:  # noqa: BLE001 - carried to the calling thread, which raises it
                events.put(_Event(chunk, error=exc, done=True))
                return
            events.put(_Event(chunk, result=result, done=True))

    threads = [
        threading.Thread(target=work, name=f"asr-worker-{i}", daemon=True) for i in range(min(workers, len(chunks)))
    ]
    decoded_s = {c.index: 0.0 for c in chunks}
    if len(decoded_s) != len(chunks):
        raise ValueError("chunk indices must be distinct")
    results: dict[int, R] = {}
    try:
        for thread in threads:
            thread.start()
        while len(results) < len(chunks):
            event = events.get()
            i = event.chunk.index
            if event.error is not None:
                event.error.add_note(
                    f"while transcribing the audio from {event.chunk.start_s:.1f} s to {event.chunk.end_s:.1f} s"
                )
                raise event.error
            if event.done:
                results[i] = event.result  # type: ignore[assignment]
                decoded_s[i] = event.chunk.duration_s
            elif event.at_s is not None:
                decoded_s[i] = max(decoded_s[i], min(event.at_s, event.chunk.end_s) - event.chunk.start_s)
            progress(sum(decoded_s.values()) / total_s if total_s > 0 else 1.0)
    finally:
        stop.set()  # the workers stop at their next segment; wait for them, so nothing runs on after we return
        for thread in threads:
            if thread.is_alive():
                thread.join()
    return [results[c.index] for c in chunks]


__all__ = ["CHUNK_MAX_S", "CHUNK_MIN_S", "CHUNK_SHARE", "Chunk", "cut_samples", "plan_chunks", "run_chunks"]
