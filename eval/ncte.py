"""Loader for the NCTE transcripts (../shared/data/transcripts/ncte): 29 csv files, one row per speaker turn.

Only ``text`` and ``speaker`` (teacher / student / multiple students) are human data; the other columns are model
predictions and are ignored.  A turn holds several sentences, so each turn is split at the human transcriber's
sentence punctuation (. ? !) into sentences; the gold for "is a question" is then the sentence's own "?".
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

DEFAULT_ROOT = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "transcripts" / "ncte"

# a sentence ends at . ? ! (runs of them) followed by space or the end; "[inaudible]" and similar stay inside
_SENTENCE = re.compile(r"[^.?!]+(?:[.?!]+|$)")


@dataclass(frozen=True)
class NcteSentence:
    lesson: str
    turn: int
    role: str  # "teacher" | "pupil" (student or multiple students)
    speaker: str  # the csv's label
    text: str


def split_sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE.findall(text) if re.search(r"[A-Za-z0-9]", s)]


def load_ncte(root: Path = DEFAULT_ROOT) -> list[NcteSentence]:
    import pandas as pd

    files = sorted(root.glob("*.csv"), key=lambda p: int(p.stem) if p.stem.isdigit() else 0)
    if not files:
        raise FileNotFoundError(f"no NCTE csv under {root}")
    out: list[NcteSentence] = []
    for path in files:
        df = pd.read_csv(path)
        for turn, (text, speaker) in enumerate(zip(df["text"], df["speaker"])):
            if not isinstance(text, str):
                continue
            speaker = str(speaker).strip()
            role = "teacher" if speaker == "teacher" else "pupil"
            for sentence in split_sentences(text):
                out.append(NcteSentence(lesson=path.stem, turn=turn, role=role, speaker=speaker, text=sentence))
    return out
