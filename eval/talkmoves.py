"""Loader for the TalkMoves transcripts (../shared/data/transcripts/talkmoves): one row per human-segmented sentence.

The xlsx files are not uniform: the time column is called ``TimeStamp``, ``TImeStamp``, ``Video Length``, ``S`` or
``SS``; the speaker column is ``Speaker`` or ``S``; some workbooks carry an extra "Tags" sheet that only lists the
tag names.  We read every sheet that has a ``Sentence`` column and take the speaker from the column just before it.

Tags are stored as text such as "8 - Press for Accuracy" (with spelling variants); only the leading number counts.
Role: a row with a teacher tag and no student tag is the teacher's, a row with a student tag and no teacher tag a
pupil's; otherwise the speaker name decides (T, T1, T2, Teacher, Ms./Mr./Mrs. ... are teachers).
"""

from __future__ import annotations

import math
import pickle
import re
from dataclasses import dataclass
from pathlib import Path

DEFAULT_ROOT = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "transcripts" / "talkmoves"
CACHE = Path(__file__).resolve().parent / "out" / "talkmoves_rows.pkl"

_TEACHER_NAME = re.compile(r"^(t\d?:?|teacher\d?|(ms|mr|mrs|miss|dr)\.?\s.*)$", re.IGNORECASE)


@dataclass(frozen=True)
class TalkMovesRow:
    subset: str  # "Subset 1" | "Subset 2"
    lesson: str  # file stem
    index: int
    speaker: str
    role: str  # "teacher" | "pupil"
    text: str  # as the human transcribed it, with punctuation
    teacher_tag: int | None
    student_tag: int | None
    time_s: float | None


def _tag(value: object) -> int | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    m = re.match(r"\s*(\d)", str(value))
    return int(m.group(1)) if m else None


def _time_s(value: object) -> float | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    text = str(value).strip()
    m = re.match(r"^(\d+):(\d{1,2})(?::(\d{1,2}))?", text)
    if not m:
        return None
    parts = [int(p) for p in m.groups() if p is not None]
    return float(parts[0] * 3600 + parts[1] * 60 + parts[2]) if len(parts) == 3 else float(parts[0] * 60 + parts[1])


def _role(speaker: str, teacher_tag: int | None, student_tag: int | None) -> str:
    if teacher_tag is not None and student_tag is None:
        return "teacher"
    if student_tag is not None and teacher_tag is None:
        return "pupil"
    return "teacher" if _TEACHER_NAME.match(speaker.strip()) else "pupil"


def load_talkmoves(root: Path = DEFAULT_ROOT, use_cache: bool = True) -> list[TalkMovesRow]:
    """Every sentence of every lesson in both subsets (cached in eval/out/, keyed on the file list and sizes)."""
    import pandas as pd

    files = sorted(p for sub in ("Subset 1", "Subset 2") for p in (root / sub).glob("*.xlsx"))
    if not files:
        raise FileNotFoundError(f"no TalkMoves xlsx under {root}")
    key = tuple((str(p), p.stat().st_size) for p in files)
    if use_cache and CACHE.is_file():
        with CACHE.open("rb") as fh:
            cached_key, rows = pickle.load(fh)
        if cached_key == key:
            return rows
    rows: list[TalkMovesRow] = []
    for path in files:
        for df in pd.read_excel(path, sheet_name=None).values():
            if "Sentence" not in df.columns:
                continue
            cols = list(df.columns)
            speaker_col = cols[cols.index("Sentence") - 1]
            time_col = cols[cols.index("Sentence") - 3] if cols.index("Sentence") >= 3 else None
            for i, rec in enumerate(df.to_dict("records")):
                text = rec.get("Sentence")
                if not isinstance(text, str) or not text.strip():
                    continue
                speaker = str(rec.get(speaker_col, "")).strip()
                ttag, stag = _tag(rec.get("Teacher Tag")), _tag(rec.get("Student Tag"))
                rows.append(
                    TalkMovesRow(
                        subset=path.parent.name,
                        lesson=path.stem,
                        index=i,
                        speaker=speaker,
                        role=_role(speaker, ttag, stag),
                        text=text.strip(),
                        teacher_tag=ttag,
                        student_tag=stag,
                        time_s=_time_s(rec.get(time_col)) if time_col else None,
                    )
                )
    CACHE.parent.mkdir(parents=True, exist_ok=True)
    with CACHE.open("wb") as fh:
        pickle.dump((key, rows), fh)
    return rows
