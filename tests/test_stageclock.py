"""Per-stage progress with time estimates (pure) and the video side's thread plumbing."""

from __future__ import annotations

import threading

import pytest

from videocoach.core.stageclock import StageClock, StageState, fmt_left
from videocoach.overlap import Cancelled, VideoSide


def test_stages_side_by_side_each_with_an_estimate():
    clock = StageClock()
    clock.update("transcribe", 0.0, 100.0)
    clock.update("faces", 0.0, 100.0)
    clock.update("transcribe", 0.5, 160.0)  # 60 s for half: about 60 s left
    clock.update("faces", 0.01, 160.0)  # too little done to say
    states = {s.stage: s for s in clock.running()}
    assert states["transcribe"].left_s == pytest.approx(60.0)
    assert states["faces"].left_s is None
    text = clock.describe()
    assert "transcript 50% (about 1 min left)" in text and "hiding faces 1% (estimating)" in text
    assert clock.overall() == pytest.approx(0.01)
    clock.update("transcribe", 1.0, 170.0)
    assert [s.stage for s in clock.running()] == ["faces"]
    clock.update("faces", 1.0, 300.0)
    assert clock.describe() == "" and clock.overall() == 1.0


def test_estimate_wording_and_bad_states():
    assert fmt_left(None) == "estimating" and fmt_left(30) == "under a minute left"
    assert fmt_left(61) == "about 2 min left"
    with pytest.raises(ValueError):
        StageState("x", 1.5, 0.0, 1.0)
    with pytest.raises(ValueError):
        StageState("x", 0.5, 2.0, 1.0)


def test_video_side_passes_progress_through_the_calling_thread_and_raises_its_error():
    seen: list[tuple[str, float, str]] = []
    release = threading.Event()

    def stages(names, progress):
        for name in names:
            progress(name, 0.5)
        release.wait(10)
        raise RuntimeError("detector broke")

    side = VideoSide(stages, ["faces", "render"]).start()
    record = lambda s, f: seen.append((s, f, threading.current_thread().name))  # noqa: E731
    release.set()
    with pytest.raises(RuntimeError, match="detector broke"):
        side.wait(record)
    assert [(s, f) for s, f, _ in seen] == [("faces", 0.5), ("render", 0.5)]
    assert {name for _, _, name in seen} == {threading.current_thread().name}


def test_video_side_cancel_stops_at_the_next_progress_call():
    started = threading.Event()
    stopped = []

    def stages(names, progress):
        started.set()
        try:
            while True:
                progress("faces", 0.1)
                threading.Event().wait(0.01)
        except Cancelled:
            stopped.append(True)
            raise

    side = VideoSide(stages, ["faces"]).start()
    assert started.wait(10)
    side.cancel()
    assert stopped == [True] and isinstance(side.error, Cancelled)


def test_lower_priority_touches_only_the_calling_thread():
    import os
    import sys

    from videocoach.overlap import lower_priority

    if not sys.platform.startswith("linux"):
        pytest.skip("per-thread priorities are a Linux feature")
    main = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    seen = {}

    def work():
        lower_priority(3)
        seen["side"] = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())

    t = threading.Thread(target=work)
    t.start()
    t.join()
    assert seen["side"] == min(19, main + 3)
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == main
