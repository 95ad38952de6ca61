"""The transcription on two workers (``AsrConfig.workers``, ``videocoach.audio.asr_chunks``): the cutting at
silences, the queue, and the real model on the sample lesson against one worker."""

from __future__ import annotations

import json
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from conftest import SAMPLE_MEDIA, shared
from test_transcribe import assert_transcript_invariants, run_with_progress
from videocoach.audio.asr_chunks import Chunk, cut_samples, plan_chunks, run_chunks
from videocoach.audio.transcribe import SAMPLE_RATE, AsrConfig, decode_audio, load_asr

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "eval"))
from eval_asr import lesson_reference, wer  # noqa: E402

SR = SAMPLE_RATE


def s(seconds: float) -> int:
    return round(seconds * SR)


def regions(*spans_s: tuple[float, float]) -> list[tuple[int, int]]:
    return [(s(a), s(b)) for a, b in spans_s]


# ----------------------------------------------------------------------------------------------- the cutting (pure)


def test_cuts_fall_in_the_middle_of_gaps_and_pieces_shrink_towards_the_end():
    speech = regions(*[(10.0 * i, 10.0 * i + 8.0) for i in range(30)])  # 8 s talk, 2 s pause, 300 s
    cuts = cut_samples(speech, s(300.0), share=2, min_s=30.0, max_s=120.0)
    edges = [0, *cuts, s(300.0)]
    pieces = [(b - a) / SR for a, b in zip(edges, edges[1:])]
    assert all(30.0 <= p <= 120.0 for p in pieces)
    for cut in cuts:
        assert not any(start <= cut <= end for start, end in speech), "a cut inside speech"
        assert cut % s(10.0) == s(9.0), "the middle of a pause"
    # half of what is left each time (at most max_s), the pause nearest that: the last pieces are the shortest
    assert pieces == [119.0, 90.0, 50.0, 41.0]
    assert len(cut_samples(speech, s(300.0), share=4, min_s=30.0, max_s=120.0)) > len(cuts)


def test_the_longest_silence_in_range_wins_over_the_target():
    speech = regions((0.0, 30.0), (32.0, 55.0), (57.0, 80.0), (95.0, 120.0), (122.0, 200.0))
    # the 15 s pause (87.5 s), not the 2 s ones nearer 100 s; then the only pause left that leaves 30 s
    assert [c / SR for c in cut_samples(speech, s(200.0))] == [87.5, 121.0]


def test_talk_without_a_pause_is_never_cut():
    speech = regions((1.0, 250.0), (253.0, 300.0))  # 249 s of talk with no pause (longer than max_s)
    cuts = cut_samples(speech, s(300.0), min_s=30.0, max_s=120.0)
    assert cuts == [s(251.5)]  # the first pause after the talk; the first piece is longer than max_s
    assert cut_samples(regions((1.0, 299.0)), s(300.0)) == []


def test_no_piece_shorter_than_min_s_and_short_audio_is_one_chunk():
    speech = regions((0.0, 20.0), (22.0, 50.0), (52.0, 70.0))  # 70 s: each cut would leave under 30 s
    assert cut_samples(speech, s(70.0), min_s=30.0) == []
    speech = regions((0.0, 20.0), (22.0, 50.0), (52.0, 88.0))  # 90 s: the pause at 51 s leaves 51 + 39 s
    assert cut_samples(speech, s(90.0), min_s=30.0) == [s(51.0)]
    assert cut_samples(regions((0.0, 10.0), (12.0, 20.0)), s(25.0)) == []


def test_plan_chunks_cover_the_audio_and_keep_every_speech_region():
    speech = regions(*[(10.0 * i + 1.0, 10.0 * i + 8.0) for i in range(30)])
    n = s(300.0)
    chunks = plan_chunks(speech, n)
    assert [c.index for c in chunks] == list(range(len(chunks))) and len(chunks) >= 3
    assert chunks[0].start_s == 0.0 and chunks[-1].end_s == 300.0
    assert all(a.end_s == b.start_s for a, b in zip(chunks, chunks[1:]))
    assert [span for c in chunks for span in c.spans] == speech  # each region decoded once, in order
    for c in chunks:
        assert all(c.start_s * SR <= a and b <= c.end_s * SR for a, b in c.spans)
    whole = plan_chunks(speech, n, speech_only=False)  # without the VAD filter: every sample, the same cuts
    assert [(c.start_s, c.end_s) for c in whole] == [(c.start_s, c.end_s) for c in chunks]
    assert [c.spans for c in whole] == [((round(c.start_s * SR), round(c.end_s * SR)),) for c in chunks]
    assert plan_chunks([], n) == ()


def test_a_chunk_needs_something_to_decode_and_ordered_times():
    with pytest.raises(ValueError, match="nothing to decode"):
        Chunk(0, 0.0, 1.0, ())
    with pytest.raises(ValueError, match="start <= end"):
        Chunk(0, 2.0, 1.0, ((0, 1),))


# ----------------------------------------------------------------------------------------------- the queue


def _chunks(n: int) -> list[Chunk]:
    return [Chunk(i, 10.0 * i, 10.0 * (i + 1), ((s(10.0 * i), s(10.0 * (i + 1))),)) for i in range(n)]


def test_results_come_back_in_time_order_and_progress_is_monotonic():
    chunks = _chunks(6)
    threads_seen: set[str] = set()

    def decode(chunk, at):
        threads_seen.add(threading.current_thread().name)
        time.sleep(0.05 * (6 - chunk.index) % 0.17)  # finish out of order
        at(chunk.start_s + 4.0)
        at(chunk.start_s + 2.0)  # a step back within a chunk is not a step back of the whole
        at(chunk.end_s)
        return chunk.index

    fractions: list[float] = []
    assert run_chunks(chunks, decode, workers=2, progress=fractions.append, total_s=60.0) == list(range(6))
    assert fractions == sorted(fractions) and fractions[-1] == pytest.approx(1.0)
    assert len(threads_seen) == 2


def test_a_failing_worker_fails_the_run_with_its_message_and_stops_the_other():
    chunks = _chunks(8)
    started: list[int] = []

    def decode(chunk, at):
        started.append(chunk.index)
        if chunk.index == 1:
            raise OSError("disk on fire")
        for k in range(20):
            time.sleep(0.01)
            at(chunk.start_s + k * 0.5)
        return chunk.index

    with pytest.raises(OSError, match="disk on fire") as info:
        run_chunks(chunks, decode, workers=2, progress=lambda f: None, total_s=80.0)
    assert any("from 10.0 s to 20.0 s" in note for note in info.value.__notes__)
    assert len(started) < len(chunks), "the other worker went on to the end"
    assert not [t for t in threading.enumerate() if t.name.startswith("asr-worker")], "a worker still runs"


def test_an_exception_from_progress_stops_the_workers():
    class Stop(BaseException):
        pass

    def progress(fraction):
        if fraction > 0.2:
            raise Stop

    def decode(chunk, at):
        for k in range(10):
            time.sleep(0.01)
            at(chunk.start_s + k)
        return chunk.index

    with pytest.raises(Stop):
        run_chunks(_chunks(10), decode, workers=2, progress=progress, total_s=100.0)
    assert not [t for t in threading.enumerate() if t.name.startswith("asr-worker")]


# ----------------------------------------------------------------------------------------------- the real model


@pytest.fixture(scope="module")
def lesson_audio() -> np.ndarray:
    return decode_audio(SAMPLE_MEDIA / "lesson.mp4")


@pytest.fixture(scope="module")
def script() -> dict:
    return json.loads((SAMPLE_MEDIA / "lesson_script.json").read_text())


@pytest.fixture(scope="module")
def asr():
    """faster-whisper base, one thread per worker (as the pipeline runs it), loaded once per setting."""
    loaded = {}

    def get(workers: int):
        if workers not in loaded:
            loaded[workers] = load_asr(AsrConfig(cpu_threads=1, workers=workers))
        return loaded[workers]

    return get


def _spoken(script: dict) -> list[tuple[float, float]]:
    """Where the script has anyone speaking (every line, and the background babble)."""
    return [(x["start"], x["end"]) for x in script["lines"] + script["background"]]


def test_lesson_cuts_fall_in_silence(lesson_audio, script, asr):
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    speech = [(c["start"], c["end"]) for c in get_speech_timestamps(lesson_audio, VadOptions())]
    spoken = _spoken(script)
    default = plan_chunks(speech, len(lesson_audio))
    small = plan_chunks(speech, len(lesson_audio), share=8, min_s=10.0, max_s=30.0)  # many more cuts
    assert len(default) == 2 and len(small) >= 5
    for chunks in (default, small):
        for chunk in chunks[1:]:
            cut = chunk.start_s
            assert not any(start <= cut <= end for start, end in spoken), f"cut at {cut:.2f} s is inside speech"
            nearest = min(min(abs(cut - start), abs(cut - end)) for start, end in spoken)
            assert nearest >= 0.5, f"cut at {cut:.2f} s is {nearest:.2f} s from speech"
    assert asr(2)._chunks(lesson_audio) == default  # what the transcriber runs


@pytest.mark.slow
def test_two_workers_transcribe_the_lesson_as_well_as_one(no_network, lesson_audio, asr):
    duration = len(lesson_audio) / SR
    reference = lesson_reference()
    one = asr(1).transcribe(lesson_audio)
    two, fractions = run_with_progress(asr(2), lesson_audio)
    assert any(0.0 < f < 1.0 for f in fractions)
    wer_one, wer_two = wer(reference, one.text), wer(reference, two.text)
    assert abs(wer_one - wer_two) <= 0.01, (wer_one, wer_two, one.text, two.text)
    assert wer_two <= 0.25, two.text  # and both are a usable transcript of the lesson
    assert_transcript_invariants(two, duration)
    ends = [u.end for u in two.utterances]
    assert all(b.start >= a.start for a, b in zip(two.utterances, two.utterances[1:]))
    assert max(ends) <= duration and min(u.start for u in two.utterances) >= 0.0
    assert two.engine == one.engine and two.language == one.language == "en"
    # the first chunk's words all come before the cut, the second's after (absolute times, in order)
    cut = asr(2)._chunks(lesson_audio)[1].start_s
    words = [w for u in two.utterances for w in u.words]
    assert any(w.end < cut for w in words) and any(w.start > cut for w in words)
    assert not any(w.start < cut < w.end for w in words)


def test_audio_shorter_than_a_chunk_is_transcribed_as_with_one_worker(no_network, asr):
    audio = decode_audio(shared("speech", "jfk", "jfk.flac"))
    assert asr(2)._chunks(audio) == ()
    assert asr(2).transcribe(audio) == asr(1).transcribe(audio)


def test_one_chunk_through_the_queue_is_faster_whispers_own_vad_run(no_network, asr):
    """Joining a chunk's speech and mapping the times back gives exactly what faster-whisper's ``vad_filter`` gives
    over the same audio: the chunk path adds nothing of its own but the boundaries."""
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    audio = decode_audio(shared("speech", "pyannote_sample", "sample.wav"))
    speech = [(c["start"], c["end"]) for c in get_speech_timestamps(audio, VadOptions())]
    (chunk,) = plan_chunks(speech, len(audio))
    model = asr(2)
    fractions: list[float] = []
    from videocoach.audio.transcribe import _MonotonicProgress, _transcript

    utterances, language = model._transcribe_chunks(
        audio, [chunk], _MonotonicProgress(lambda stage, f: fractions.append(f))
    )
    assert _transcript(utterances, language, model.config) == asr(1).transcribe(audio)
    assert fractions == sorted(fractions) and fractions[-1] == pytest.approx(1.0)


def test_workers_must_be_positive_and_one_is_a_single_model_worker():
    with pytest.raises(ValueError, match="workers"):
        AsrConfig(workers=0)
    assert AsrConfig().workers == 2 and replace(AsrConfig(), workers=1).workers == 1
