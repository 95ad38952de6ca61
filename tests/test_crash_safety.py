"""Crash safety: kill the real pipeline (SIGKILL, no cleanup) inside each stage, restart it, and it resumes with
nothing lost or duplicated — one lesson, each stage once, no orphaned sealed files, no plaintext left behind."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import REPO, SAMPLE_MEDIA
from videocoach import pipeline
from videocoach.av.ffmpeg import ffmpeg_binary

pytestmark = pytest.mark.slow

ORDER = ["probe", "audio", "transcribe", "diarize", "levels", "roles", "metrics", "faces", "people", "render", "audit"]
AUX = list(pipeline.AUX_RESULTS)  # kept by a stage beside its own result ("question_lm", by "metrics")
KILL_IN = ["audio", "transcribe", "diarize", "faces", "render", "audit"]


def _finished(db_path: Path) -> list[str]:
    if not db_path.exists():
        return []
    try:
        con = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=5)
        try:
            return [r[0] for r in con.execute("SELECT stage FROM stages") if r[0] not in AUX]
        finally:
            con.close()
    except sqlite3.OperationalError:
        return []


def test_kill_in_each_stage_then_resume(tmp_path):
    lesson = SAMPLE_MEDIA / "lesson.mp4"
    if not lesson.exists():
        pytest.skip("sample lesson missing")
    clip = tmp_path / "clip.mp4"  # 20 s of the sample lesson keeps each run short
    subprocess.run([ffmpeg_binary(), "-v", "error", "-i", str(lesson), "-t", "20", "-c", "copy", str(clip)], check=True)
    env = dict(os.environ, VIDEOCOACH_DATA=str(tmp_path / "data"), VIDEOCOACH_KEY_FILE=str(tmp_path / "key"),
               VIDEOCOACH_CACHE=os.environ.get("VIDEOCOACH_CACHE", str(Path.home() / ".cache" / "videocoach")))
    argv = [sys.executable, "-m", "videocoach.cli", "-q", "analyse", str(clip), "--owner", "rivera"]
    db = tmp_path / "data" / "videocoach.sqlite3"

    killed_in = []
    for target in KILL_IN:
        before = ORDER[ORDER.index(target) - 1]
        proc = subprocess.Popen(argv, env=env, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 300
        while proc.poll() is None and time.monotonic() < deadline:
            done = _finished(db)
            if before in done and target not in done:
                time.sleep(0.3)  # inside the target stage now
                break
            time.sleep(0.05)
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            killed_in.append([s for s in ORDER if s not in _finished(db)][0] if len(_finished(db)) < len(ORDER) else None)
        else:
            assert proc.returncode == 0, proc.stderr.read().decode()
    assert len([k for k in killed_in if k]) >= 4, killed_in

    final = subprocess.run(argv, env=env, cwd=REPO, capture_output=True, text=True, timeout=600)
    assert final.returncode == 0, final.stderr
    assert "resuming lesson" in final.stderr

    con = sqlite3.connect(db)
    lessons = con.execute("SELECT id, status FROM lessons").fetchall()
    assert len(lessons) == 1 and lessons[0][1] in ("ready", "blocked")
    lesson_id = lessons[0][0]
    stages = [r[0] for r in con.execute("SELECT stage FROM stages WHERE lesson_id=?", (lesson_id,))]
    assert sorted(stages) == sorted(ORDER + AUX)  # each exactly once
    media_rows = {tmp_path / "data" / r[0] for r in con.execute("SELECT relpath FROM media")}
    on_disk = {p for p in (tmp_path / "data" / "media").rglob("*") if p.is_file() and p.name != ".lock"}
    assert on_disk == media_rows  # no orphans, nothing missing
    assert {r[0] for r in con.execute("SELECT kind FROM media")} >= {"original", "audio", "redacted"}
    leftovers = [p for p in (tmp_path / "data" / "work").rglob("*") if p.is_file()]
    assert leftovers == []  # no plaintext left by the killed runs
