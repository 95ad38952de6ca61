"""The stages side by side (``videocoach.overlap``): the transcription beside diarize -> levels -> roles, the video
stages beside them all.  First the lanes' plumbing with plain stage functions (fast), then the real pipeline on
20 s of the sample lesson with the real models: both audio lanes run at once, a failure in either fails the lesson
with its message and cancels the other, and a re-run redoes only the unfinished stages."""

from __future__ import annotations

import subprocess
import threading
import time

import pytest

from conftest import SAMPLE_MEDIA
from videocoach import pipeline
from videocoach.av.ffmpeg import ffmpeg_binary
from videocoach.config import Settings
from videocoach.overlap import Cancelled, Plan, plan, run_plan
from videocoach.storage.store import Store

AUDIO = list(pipeline.AUDIO_STAGES)
VIDEO = list(pipeline.VIDEO_STAGES)


def test_plan_puts_the_transcription_beside_the_other_audio_stages():
    lanes = plan(AUDIO + VIDEO, VIDEO)
    assert lanes == Plan(before=("audio",), beside=("transcribe",), middle=("diarize", "levels", "roles"),
                         after=("metrics",), video=tuple(VIDEO))
    assert lanes.threads == 3  # besides the calling thread
    # resumed with the audio and the transcript done: nothing beside, the rest in order
    assert plan(["diarize", "levels", "roles", "metrics"], VIDEO) == Plan(before=("diarize", "levels", "roles",
                                                                                   "metrics"))
    # only the transcription left: nothing to run beside it
    assert plan(["transcribe", "metrics", "faces"], VIDEO) == Plan(before=("transcribe", "metrics"), video=("faces",))
    assert plan(["levels", "metrics"], VIDEO) == Plan(before=("levels", "metrics"))  # stale results refreshed
    assert plan(VIDEO, VIDEO) == Plan(before=tuple(VIDEO))  # nothing to hear first: the video in the calling thread
    # stages asked for by name: one after another in the calling thread, the audio ones first
    assert plan(["faces", "audio", "transcribe", "diarize"], VIDEO, side_by_side=False) == Plan(
        before=("audio", "transcribe", "diarize", "faces"))


class Lanes:
    """Plain stage functions for ``run_plan``: each records its thread; ``behaviour[name]`` runs inside it."""

    def __init__(self, **behaviour):
        self.behaviour = behaviour
        self.ran: list[tuple[str, str]] = []  # (stage, thread name)
        self.cancelled: list[str] = []
        self.seen: list[tuple[str, float, str]] = []

    def run_stages(self, own_thread, names, progress):
        for name in names:
            self.ran.append((name, threading.current_thread().name))
            try:
                self.behaviour.get(name, lambda p: None)(lambda f: progress(name, f))
            except Cancelled:
                self.cancelled.append(name)
                raise
            progress(name, 1.0)

    def progress(self, stage, fraction):
        self.seen.append((stage, fraction, threading.current_thread().name))


def _until_cancelled(progress):
    for _ in range(1000):  # at most 10 s: the calling thread cancels long before
        progress(0.5)
        time.sleep(0.01)


def test_the_lanes_run_at_once_and_report_through_the_calling_thread():
    both = threading.Barrier(2, timeout=10)  # transcribe and diarize must be running at the same time
    lanes = Lanes(transcribe=lambda p: (p(0.5), both.wait()), diarize=lambda p: (both.wait(), p(0.5)))
    run_plan(plan(AUDIO + ["faces"], VIDEO), lanes.run_stages, lanes.progress, video_nice=0)
    threads = dict(lanes.ran)
    assert threads["audio"] == threads["metrics"] == threading.current_thread().name
    assert len({threads["audio"], threads["transcribe"], threads["faces"], threads["diarize"]}) == 4
    assert threads["diarize"] == threads["levels"] == threads["roles"]
    order = [name for name, _ in lanes.ran]
    assert order.index("metrics") > max(order.index(s) for s in ("transcribe", "diarize", "levels", "roles"))
    assert {name for _, _, name in lanes.seen} == {threading.current_thread().name}
    assert {(s, f) for s, f, _ in lanes.seen} >= {("transcribe", 0.5), ("transcribe", 1.0), ("faces", 1.0),
                                                  ("metrics", 1.0)}


def test_a_failed_transcription_fails_the_run_at_once_and_cancels_the_others():
    def transcribe(progress):
        progress(0.2)
        raise RuntimeError("the ASR model is damaged")

    lanes = Lanes(transcribe=transcribe, diarize=_until_cancelled, faces=_until_cancelled)
    with pytest.raises(RuntimeError, match="the ASR model is damaged"):
        run_plan(plan(AUDIO + ["faces"], VIDEO), lanes.run_stages, lanes.progress, video_nice=0)
    # the other audio lane and the video lane were cancelled
    assert "metrics" not in dict(lanes.ran) and "levels" not in dict(lanes.ran)
    assert sorted(lanes.cancelled) == ["diarize", "faces"]
    assert not [t for t in threading.enumerate() if t.name.startswith("stages-")]


def test_a_failed_diarisation_cancels_the_transcription_and_the_video():
    started = threading.Event()

    def transcribe(progress):
        started.set()
        _until_cancelled(progress)

    def diarize(progress):
        assert started.wait(10)
        raise OSError("disk full")

    lanes = Lanes(transcribe=transcribe, diarize=diarize, faces=_until_cancelled)
    with pytest.raises(OSError, match="disk full"):
        run_plan(plan(AUDIO + ["faces"], VIDEO), lanes.run_stages, lanes.progress, video_nice=0)
    assert sorted(lanes.cancelled) == ["faces", "transcribe"]  # both threads ended before run_plan returned
    assert not [t for t in threading.enumerate() if t.name.startswith("stages-")]


# -- the real pipeline ---------------------------------------------------------------------------------------------
@pytest.fixture
def short_lesson(tmp_path):
    lesson = SAMPLE_MEDIA / "lesson.mp4"
    if not lesson.exists():
        pytest.skip("sample lesson missing")
    clip = tmp_path / "clip.mp4"
    subprocess.run([ffmpeg_binary(), "-v", "error", "-i", str(lesson), "-t", "20", "-c", "copy", str(clip)],
                   check=True)
    store = Store(Settings(tmp_path / "data", tmp_path / "keys" / "k"))
    owner = store.add_user("t", "teacher", None)
    lesson = pipeline.ingest_file(store, owner, clip, title="side by side",
                                  options=pipeline.AnalyseOptions(redact=False))
    yield store, lesson.id
    store.close()


class Watch:
    """Wraps the real stage functions: which thread ran each, when, how often; a hook may break one."""

    def __init__(self, monkeypatch, hooks=None):
        self.calls: dict[str, list[tuple[str, float, float]]] = {}
        self.cancelled: list[str] = []
        for name in pipeline.AUDIO_STAGES:
            monkeypatch.setitem(pipeline.STAGE_FUNCTIONS, name, self._wrap(name, pipeline.STAGE_FUNCTIONS[name],
                                                                           (hooks or {}).get(name)))

    def _wrap(self, name, real, hook):
        def stage(store, lesson, options, progress):
            t0 = time.monotonic()
            try:
                if hook is not None:
                    hook(store, lesson, progress)
                real(store, lesson, options, progress)
            except Cancelled:
                self.cancelled.append(name)
                raise
            self.calls.setdefault(name, []).append((threading.current_thread().name, t0, time.monotonic()))
        return stage

    def count(self, name):
        return len(self.calls.get(name, []))


@pytest.mark.slow
def test_the_real_audio_stages_run_side_by_side_fail_together_and_resume(short_lesson, monkeypatch):
    store, lesson_id = short_lesson
    # 1. diarisation fails while the transcription runs beside it: the lesson fails with diarisation's message,
    #    the transcription is cancelled (nothing of it saved), the audio is kept
    transcribing = threading.Event()

    def keep_transcribing(store, lesson, progress):
        transcribing.set()
        _until_cancelled(lambda f: progress("transcribe", 0.01))

    def broken_disk(store, lesson, progress):
        assert transcribing.wait(120)
        raise OSError("no space left on the device while diarising")

    watch = Watch(monkeypatch, {"transcribe": keep_transcribing, "diarize": broken_disk})
    with pytest.raises(pipeline.PipelineError, match="no space left on the device while diarising"):
        pipeline.run(store, lesson_id)
    lesson = store.lesson(lesson_id)
    assert lesson.status == "failed" and "no space left" in lesson.error
    assert watch.cancelled == ["transcribe"]
    assert set(store.finished_stages(lesson_id)) == {"probe", "audio"}

    # 2. the roles stage fails once the real transcription has finished beside diarisation: what finished is kept
    def transcript_saved(store, lesson, progress):
        for _ in range(1200):
            if "transcribe" in store.finished_stages(lesson.id):
                raise ValueError("roles broke")
            time.sleep(0.1)

    monkeypatch.undo()
    watch = Watch(monkeypatch, {"roles": transcript_saved})
    with pytest.raises(pipeline.PipelineError, match="roles broke"):
        pipeline.run(store, lesson_id)
    assert store.lesson(lesson_id).status == "failed"
    assert set(store.finished_stages(lesson_id)) >= {"audio", "transcribe", "diarize", "levels"}
    assert "roles" not in store.finished_stages(lesson_id)
    (asr_thread, asr_from, asr_to), = watch.calls["transcribe"]
    (dia_thread, dia_from, dia_to), = watch.calls["diarize"]
    assert asr_thread != dia_thread and asr_from < dia_to and dia_from < asr_to  # at the same time
    assert watch.count("audio") == 0  # kept from the first run

    # 3. the re-run redoes only what had not finished
    monkeypatch.undo()
    watch = Watch(monkeypatch)
    assert pipeline.run(store, lesson_id).status == "ready"
    assert {name: watch.count(name) for name in pipeline.AUDIO_STAGES} == {
        "audio": 0, "transcribe": 0, "diarize": 0, "levels": 0, "roles": 1, "metrics": 1}
    assert set(store.finished_stages(lesson_id)) >= set(pipeline.AUDIO_STAGES)
