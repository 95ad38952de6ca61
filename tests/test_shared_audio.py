"""The lesson's audio is read once while stages hold it (the transcription and diariser lanes side by side), read-only,
and a new extraction is read afresh; the analysis process caps its malloc arenas (``core/heap.py``)."""

from __future__ import annotations

import gc
import subprocess

import numpy as np
import pytest

from conftest import shared
from videocoach import pipeline
from videocoach.av.ffmpeg import ffmpeg_binary
from videocoach.config import Settings
from videocoach.core.heap import limit_arenas
from videocoach.storage.store import Store


def test_stages_share_one_read_only_copy_of_the_audio_and_a_new_extraction_is_read_again(tmp_path):
    store = Store(Settings(tmp_path / "data", tmp_path / "keys" / "k"))
    owner = store.add_user("t", "teacher", None)
    clip = tmp_path / "jfk.mp4"
    subprocess.run([ffmpeg_binary(), "-v", "error", "-f", "lavfi", "-i", "testsrc=size=320x240:rate=10:duration=11",
                    "-i", str(shared("speech", "jfk", "jfk.flac")), "-shortest", "-c:v", "libx264", "-c:a", "aac",
                    str(clip)], check=True)
    lesson = pipeline.ingest_file(store, owner, clip)
    pipeline.run(store, lesson.id, stages=["audio"])
    a, b = pipeline.load_audio(store, lesson.id), pipeline.load_audio(store, lesson.id)
    assert a is b and a.dtype == np.float32 and a.ndim == 1 and a.size > 16000 * 10
    with pytest.raises(ValueError):
        a[0] = 1.0  # read-only: no stage may change what another reads
    first = a.copy()
    del a, b
    gc.collect()
    store.clear_stages(lesson.id, ["audio"])
    pipeline.run(store, lesson.id, stages=["audio"])  # extracted again: a new file, read again
    again = pipeline.load_audio(store, lesson.id)
    assert np.array_equal(again, first)


def test_the_analysis_process_caps_its_malloc_arenas():
    assert limit_arenas() is True  # glibc here: mallopt(M_ARENA_MAX, 2) accepted
