"""Refusals of people who are not logged in, counted instead of written one by one.

A forged or expired token, or a rate-limited address, would otherwise add one audit row per request: anyone could
grow the database at hundreds of rows a second.  Here each refusal is counted under (action, client address,
reason) in fixed wall-clock windows; when a window ends its counts become ONE audit row per key
(``Store.audit_refusals``), e.g. ``media.view`` / ``address=10.0.0.7 reason=bad-signature count=5120 window=60s``.
Every refusal is counted; the log grows by at most a few rows per attacking address per window.

Only refusals that carry no trusted identity are counted here.  Whatever a logged-in user does (a view, a refusal
for a lesson they may not open) is still written at once, row by row, by the store.

Thread-safe and pure: the caller writes what :meth:`RefusalTally.due` / :meth:`RefusalTally.drain` hand back.
Past ``max_keys`` distinct keys in one window, further addresses are counted under ``address=other``.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

WINDOW_S = 60.0
MAX_KEYS = 4096
OTHER_ADDRESS = "other"


@dataclass(frozen=True)
class RefusalCount:
    """How many times ``action`` was refused to ``address`` for ``reason`` in the window starting ``window_start``."""

    action: str
    address: str
    reason: str
    count: int
    window_start: float  # unix seconds
    window_s: float

    @property
    def window_end(self) -> float:
        return self.window_start + self.window_s

    @property
    def detail(self) -> str:
        return (f"address={self.address} reason={self.reason} count={self.count} "
                f"window={self.window_s:g}s")


class RefusalTally:
    """Counts refusals per (action, address, reason) per fixed window of ``window_s`` (aligned to the clock)."""

    def __init__(self, window_s: float = WINDOW_S, max_keys: int = MAX_KEYS, clock=time.time) -> None:
        if window_s <= 0 or max_keys < 1:
            raise ValueError("a tally needs window_s > 0 and max_keys >= 1")
        self.window_s = float(window_s)
        self.max_keys = max_keys
        self._clock = clock
        self._lock = threading.Lock()
        # window start -> (action, address, reason) -> count
        self._counts: dict[float, dict[tuple[str, str, str], int]] = {}

    def now(self) -> float:
        return self._clock()

    def window_of(self, at: float) -> float:
        return (at // self.window_s) * self.window_s

    def add(self, action: str, address: str, reason: str, now: float | None = None) -> float:
        """Count one refusal; returns the end of its window (when it becomes due)."""
        now = self._clock() if now is None else now
        start = self.window_of(now)
        with self._lock:
            counts = self._counts.setdefault(start, {})
            key = (action[:40], (address or "unknown")[:64], reason[:40])
            if key not in counts and len(counts) >= self.max_keys:
                key = (key[0], OTHER_ADDRESS, key[2])
            counts[key] = counts.get(key, 0) + 1
        return start + self.window_s

    def due(self, now: float | None = None) -> list[RefusalCount]:
        """The counts of every window that has ended by ``now``, removed from the tally."""
        now = self._clock() if now is None else now
        with self._lock:
            ended = [start for start in self._counts if start + self.window_s <= now]
            return self._take(ended)

    def drain(self) -> list[RefusalCount]:
        """Everything counted so far, ended or not (at shutdown)."""
        with self._lock:
            return self._take(list(self._counts))

    def pending(self) -> int:
        """Refusals counted and not yet handed back."""
        with self._lock:
            return sum(sum(counts.values()) for counts in self._counts.values())

    def _take(self, starts: list[float]) -> list[RefusalCount]:
        out = []
        for start in sorted(starts):
            for (action, address, reason), count in sorted(self._counts.pop(start).items()):
                out.append(RefusalCount(action, address, reason, count, start, self.window_s))
        return out


_SHARED: RefusalTally | None = None
_SHARED_LOCK = threading.Lock()


def shared_tally() -> RefusalTally:
    """The process's one tally: the media routes write it (each window end and at shutdown, see
    ``mediaserver.media_app``); the login page adds the logins it refused without checking a password."""
    global _SHARED
    with _SHARED_LOCK:
        if _SHARED is None:
            _SHARED = RefusalTally()
        return _SHARED


__all__ = ["RefusalCount", "RefusalTally", "WINDOW_S", "shared_tally"]
