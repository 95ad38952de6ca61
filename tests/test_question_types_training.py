"""The training scripts reproduce the shipped model files from the data, (issue 18): the same structure and text, numbers to their 4th decimal.

- ``scripts/train_question_types.py`` -> ``videocoach/data/question_types.json``: the words and the rules only, about
  25 s of CPU (more on a loaded machine).
- ``scripts/train_uptake.py`` -> ``videocoach/data/uptake.json``: needs Whisper's decoder states over the 1,757 rated
  exchanges (``QuestionLM.reply_states``), cached under ``eval/out/uptake_states/``; building that cache the first
  time takes minutes, so the test is marked slow (it fits from the cache when present).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data" / "transcripts"


def _train(script: str, out: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
    done = subprocess.run([sys.executable, str(REPO / "scripts" / script), "--out", str(out)], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=1800)
    assert done.returncode == 0, done.stderr[-3000:]


def _close(a, b, where: str = "") -> None:
    """Equal structure and text; numbers equal up to one unit of the 4th decimal the files are rounded to (a
    different CPU's floating point may move a last digit)."""
    if isinstance(a, dict) and isinstance(b, dict):
        assert sorted(a) == sorted(b), f"{where}: keys {sorted(set(a) ^ set(b))} differ"
        for k in a:
            _close(a[k], b[k], f"{where}.{k}")
    elif isinstance(a, list) and isinstance(b, list):
        assert len(a) == len(b), f"{where}: {len(a)} items against {len(b)}"
        for i, (x, y) in enumerate(zip(a, b)):
            _close(x, y, f"{where}[{i}]")
    elif isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool):
        assert abs(a - b) <= 2e-4 + 1e-9 * abs(b), f"{where}: {a} against {b}"
    else:
        assert a == b, f"{where}: {a!r} against {b!r}"


def _same_file(made: Path, shipped: Path) -> None:
    import json

    _close(json.loads(made.read_text(encoding="utf-8")), json.loads(shipped.read_text(encoding="utf-8")),
           shipped.name)


@pytest.mark.skipif(not (SHARED / "ncte").is_dir(), reason="needs ../shared/data/transcripts/ncte")
def test_question_type_training_reproduces_the_shipped_file(tmp_path):
    out = tmp_path / "question_types.json"
    _train("train_question_types.py", out)
    _same_file(out, REPO / "videocoach" / "data" / "question_types.json")


@pytest.mark.slow
@pytest.mark.skipif(not (SHARED / "uptake" / "uptake_data.csv").is_file(),
                    reason="needs ../shared/data/transcripts/uptake/uptake_data.csv")
def test_uptake_training_reproduces_the_shipped_file(tmp_path):
    out = tmp_path / "uptake.json"
    _train("train_uptake.py", out)
    _same_file(out, REPO / "videocoach" / "data" / "uptake.json")
