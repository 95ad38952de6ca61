"""Interval arithmetic on half-open ``(start_s, end_s)`` pairs of float seconds -- shared by the pure metrics.

``union`` sorts and merges; ``intersect`` and ``subtract`` take sorted, disjoint lists (what ``union`` returns).
"""

from __future__ import annotations

from typing import Iterable, Sequence

from videocoach.core.model import RoleTurn

Spans = list[tuple[float, float]]


def union(spans: Iterable[tuple[float, float]]) -> Spans:
    out: Spans = []
    for a, b in sorted((float(a), float(b)) for a, b in spans if b > a):
        if out and a <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out


def intersect(a: Spans, b: Spans) -> Spans:
    out, i, j = [], 0, 0
    while i < len(a) and j < len(b):
        lo, hi = max(a[i][0], b[j][0]), min(a[i][1], b[j][1])
        if hi > lo:
            out.append((lo, hi))
        if a[i][1] < b[j][1]:
            i += 1
        else:
            j += 1
    return out


def subtract(a: Spans, b: Spans) -> Spans:
    """Parts of ``a`` not covered by ``b``."""
    out, j = [], 0
    for start, end in a:
        cur = start
        while j < len(b) and b[j][1] <= cur:
            j += 1
        k = j
        while k < len(b) and b[k][0] < end:
            if b[k][0] > cur:
                out.append((cur, b[k][0]))
            cur = max(cur, b[k][1])
            k += 1
        if cur < end:
            out.append((cur, end))
    return out


def total(spans: Iterable[tuple[float, float]]) -> float:
    return sum(b - a for a, b in spans)


def multi_speaker(turns: Sequence[RoleTurn] | Iterable[RoleTurn]) -> Spans:
    """Where two or more different speakers talk at once."""
    per_speaker: dict[str, Spans] = {}
    for t in turns:
        per_speaker.setdefault(t.speaker, []).append((t.start, t.end))
    events = sorted(
        ((x, step) for spans in per_speaker.values() for a, b in union(spans) for x, step in ((a, 1), (b, -1))),
        key=lambda e: (e[0], e[1]),
    )
    out, level, since = [], 0, 0.0
    for x, step in events:
        if level >= 2 and x > since:
            out.append((since, x))
        level += step
        since = x
    return union(out)
