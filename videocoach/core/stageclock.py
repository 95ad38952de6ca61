"""Per-stage progress with a time estimate, from the ``(stage, fraction)`` progress calls of a run.

Stages may run side by side (the video stages beside the audio ones), so a single "current stage" is not enough:
``StageClock`` keeps every stage's fraction and start time and says, for each stage still running, about how long
it has left (its elapsed time scaled by what remains; no estimate before ``MIN_FRACTION`` is done).  Pure: the time
comes from the caller (``now_s``), nothing is stored.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

MIN_FRACTION = 0.02  # below this an estimate is noise

# plain words for the interface
STAGE_WORDS = {
    "audio": "reading the sound",
    "transcribe": "transcript",
    "diarize": "who speaks when",
    "levels": "sound levels",
    "roles": "teacher and pupils",
    "metrics": "statistics",
    "faces": "hiding faces",
    "render": "rendering the video",
    "audit": "checking the video",
}


@dataclass(frozen=True)
class StageState:
    stage: str
    fraction: float
    started_s: float
    updated_s: float

    def __post_init__(self) -> None:
        if not 0.0 <= self.fraction <= 1.0 or self.updated_s < self.started_s:
            raise ValueError(f"bad stage state {self!r}")

    @property
    def done(self) -> bool:
        return self.fraction >= 1.0

    @property
    def left_s(self) -> float | None:
        """Seconds left, from the pace so far; None until there is a pace to go by."""
        if self.done:
            return 0.0
        if self.fraction < MIN_FRACTION:
            return None
        return (self.updated_s - self.started_s) * (1.0 - self.fraction) / self.fraction


def fmt_left(seconds: float | None) -> str:
    if seconds is None:
        return "estimating"
    if seconds < 60:
        return "under a minute left"
    return f"about {math.ceil(seconds / 60)} min left"


class StageClock:
    """Collects progress calls; ``running()`` and ``describe()`` report the stages not finished."""

    def __init__(self) -> None:
        self._stages: dict[str, StageState] = {}

    def update(self, stage: str, fraction: float, now_s: float) -> None:
        fraction = min(max(float(fraction), 0.0), 1.0)
        old = self._stages.get(stage)
        started = now_s if old is None or (fraction == 0.0 and old.done) else old.started_s
        self._stages[stage] = StageState(stage, fraction, started, max(now_s, started))

    def running(self) -> list[StageState]:
        return [s for s in self._stages.values() if not s.done]

    def describe(self) -> str:
        """One line for the interface, e.g. "transcript 40 % (about 2 min left) · hiding faces 5 % (estimating)"."""
        return " · ".join(f"{STAGE_WORDS.get(s.stage, s.stage)} {s.fraction:.0%} ({fmt_left(s.left_s)})"
                          for s in self.running())

    def overall(self) -> float:
        """The least advanced running stage's fraction (1.0 when none runs)."""
        running = self.running()
        return min((s.fraction for s in running), default=1.0)


__all__ = ["STAGE_WORDS", "StageClock", "StageState", "fmt_left"]
