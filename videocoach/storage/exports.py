"""Exports in the formats people already use: WebVTT / SRT transcripts with speaker roles, RTTM turns, JSON of
everything, CSV of metrics.  Pure functions from the data model to text."""

from __future__ import annotations

import csv
import io
import json
from typing import Any, Literal

from videocoach.core.model import LessonAnalysis, Utterance
from videocoach.core.serialize import to_plain

ExportFormat = Literal["vtt", "srt", "rttm", "json", "csv"]
FORMATS: tuple[ExportFormat, ...] = ("vtt", "srt", "rttm", "json", "csv")


def _timestamp(seconds: float, sep: str) -> str:
    ms_total = int(round(max(0.0, seconds) * 1000))
    h, rem = divmod(ms_total, 3_600_000)
    m, rem = divmod(rem, 60_000)
    s, ms = divmod(rem, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}{sep}{ms:03d}"


def _label(u: Utterance) -> str:
    if u.role == "teacher":
        return "Teacher"
    if u.role == "pupil":
        return f"Pupil ({u.speaker})" if u.speaker else "Pupil"
    return "Unknown speaker"


def _cue_text(text: str) -> str:
    # a blank line or "-->" would end or corrupt a cue
    return " ".join(text.replace("-->", "->").split())


def to_webvtt(utterances: tuple[Utterance, ...]) -> str:
    lines = ["WEBVTT", ""]
    for i, u in enumerate(utterances, 1):
        lines += [str(i), f"{_timestamp(u.start, '.')} --> {_timestamp(u.end, '.')}",
                  f"<v {_label(u)}>{_escape_vtt(_cue_text(u.text))}", ""]
    return "\n".join(lines)


def _escape_vtt(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def to_srt(utterances: tuple[Utterance, ...]) -> str:
    lines = []
    for i, u in enumerate(utterances, 1):
        lines += [str(i), f"{_timestamp(u.start, ',')} --> {_timestamp(u.end, ',')}",
                  f"{_label(u)}: {_cue_text(u.text)}", ""]
    return "\n".join(lines)


def to_rttm(analysis: LessonAnalysis, uri: str = "lesson") -> str:
    """NIST RTTM: one SPEAKER row per diarisation turn; the speaker name carries its role."""
    uri = "".join(c if c.isalnum() or c in "-_." else "_" for c in uri) or "lesson"
    rows = []
    for t in analysis.role_turns():
        rows.append(f"SPEAKER {uri} 1 {t.start:.3f} {t.duration:.3f} <NA> <NA> {t.role}_{t.speaker} <NA> <NA>")
    return "\n".join(rows) + ("\n" if rows else "")


def to_json(analysis: LessonAnalysis, metrics: Any, lesson: dict | None = None, extra: dict | None = None) -> str:
    doc = {
        "lesson": lesson or {},
        "analysis": to_plain(analysis),
        "utterances": to_plain(analysis.utterances()),
        "metrics": to_plain(metrics),
    }
    if extra:
        doc.update(to_plain(extra))
    return json.dumps(doc, ensure_ascii=False, indent=2)


def flatten(obj: Any, prefix: str = "") -> dict[str, Any]:
    """Scalar fields of a nested structure as dotted keys (sequences are summarised by their length)."""
    plain = to_plain(obj)
    out: dict[str, Any] = {}
    if isinstance(plain, dict):
        for k, v in plain.items():
            key = f"{prefix}.{k}" if prefix else k
            if isinstance(v, (dict,)):
                out.update(flatten(v, key))
            elif isinstance(v, list):
                out[f"{key}.count"] = len(v)
            else:
                out[key] = v
    return out


def to_csv(metrics: Any) -> str:
    """Metric,value rows of every scalar measure, then a blank line and one row per question."""
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["metric", "value"])
    for k, v in flatten(metrics).items():
        w.writerow([k, v])
    questions = to_plain(getattr(metrics, "questions", ()))
    if questions:
        w.writerow([])
        cols = [k for k, v in questions[0].items() if not isinstance(v, (list, dict))]
        w.writerow(["question." + c for c in cols])
        for q in questions:
            w.writerow([q.get(c) for c in cols])
    return buf.getvalue()
