"""Per-client-address limits on failures by someone not (yet) logged in: forged or expired media, upload and login
grant tokens, and failed logins.  Pure, in-process, thread-safe; nothing is written anywhere.

A fixed window per address: the first ``max_failures`` failures in ``window_s`` are answered as usual (403, "wrong
password"); after that the address is refused with 429 and a ``Retry-After`` until its window ends.  Only failures
count: a request with a valid token or a successful login is never throttled, so a real viewer behind the same
address (a school NAT) keeps playing.

The address is the TCP peer's (``request.client.host`` in starlette, ``st.context.ip_address`` in a Streamlit
page).  Behind a reverse proxy that is the proxy's address, and every client would share one budget: list the
proxy in ``VIDEOCOACH_TRUSTED_PROXIES`` so :func:`client_address` takes the client from ``X-Forwarded-For`` -- and
only then, since anyone can send that header.  IPv6 clients are keyed by their /64 (one host usually owns a whole
/64 and could otherwise rotate addresses).

One limiter serves the whole process (:func:`shared_limiter`): the media route and the login page count against
the same budget.  It remembers at most ``max_addresses`` addresses; past that the oldest are forgotten first.
"""

from __future__ import annotations

import collections
import ipaddress
import math
import threading
import time
from dataclasses import dataclass

MAX_FAILURES = 20  # per address per window: a person mistyping a password a few times never meets it
WINDOW_S = 60.0
MAX_ADDRESSES = 10_000  # ~100 bytes each: about 1 MB at most
UNKNOWN_ADDRESS = "unknown"


@dataclass(frozen=True)
class Strike:
    """One failure, counted: the address's failures in its window, and how long it must wait when over the limit."""

    failures: int
    retry_after_s: float | None  # None: not refused (yet)


@dataclass(frozen=True)
class _Window:
    start: float  # monotonic seconds
    failures: int


class FailureLimiter:
    """Counts failures per client address in fixed windows; says how long a refused address must wait."""

    def __init__(self, max_failures: int = MAX_FAILURES, window_s: float = WINDOW_S,
                 max_addresses: int = MAX_ADDRESSES, clock=time.monotonic) -> None:
        if max_failures < 1 or window_s <= 0 or max_addresses < 1:
            raise ValueError("a limiter needs max_failures >= 1, window_s > 0 and max_addresses >= 1")
        self.max_failures = max_failures
        self.window_s = float(window_s)
        self.max_addresses = max_addresses
        self._clock = clock
        self._lock = threading.Lock()
        self._windows: collections.OrderedDict[str, _Window] = collections.OrderedDict()

    def retry_after(self, address: str, now: float | None = None) -> float | None:
        """Seconds until ``address`` may try again, or None when it is not refused now."""
        now = self._clock() if now is None else now
        key = address_key(address)
        with self._lock:
            window = self._windows.get(key)
            return self._wait(window, now)

    def record_failure(self, address: str, now: float | None = None) -> Strike:
        """Count one failure of ``address``: its failures so far this window, and the seconds it must now wait
        when this failure went over the limit."""
        now = self._clock() if now is None else now
        key = address_key(address)
        with self._lock:
            window = self._windows.pop(key, None)
            if window is None or now >= window.start + self.window_s:
                window = _Window(now, 0)
            window = _Window(window.start, window.failures + 1)
            self._windows[key] = window  # most recently failed last
            while len(self._windows) > self.max_addresses:
                self._windows.popitem(last=False)
            return Strike(window.failures, self._wait(window, now))

    def _wait(self, window: _Window | None, now: float) -> float | None:
        if window is None or window.failures <= self.max_failures:
            return None
        left = window.start + self.window_s - now
        return left if left > 0 else None

    def addresses(self) -> int:
        with self._lock:
            return len(self._windows)


def retry_after_header(seconds: float) -> str:
    """``Retry-After`` in whole seconds, rounded up (never 0: the client would retry at once)."""
    return str(max(1, math.ceil(seconds)))


def address_key(address: str | None) -> str:
    """The key an address is counted under: the address itself, or its /64 for IPv6."""
    if not address:
        return UNKNOWN_ADDRESS
    try:
        ip = ipaddress.ip_address(address.strip())
    except ValueError:
        return address.strip()[:64] or UNKNOWN_ADDRESS
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


def client_address(peer: str | None, forwarded_for: str | None, trusted_proxies: tuple[str, ...] = ()) -> str:
    """The client's address: the TCP peer, or -- only when the peer is a trusted proxy -- the right-most address
    in ``X-Forwarded-For`` that is not itself a trusted proxy (the left-most entries are the client's to forge)."""
    peer = (peer or "").strip() or UNKNOWN_ADDRESS
    if not forwarded_for or peer not in trusted_proxies:
        return peer
    hops = [hop.strip() for hop in forwarded_for.split(",") if hop.strip()]
    for hop in reversed(hops):
        if hop not in trusted_proxies:
            return hop[:64]
    return peer


_SHARED: FailureLimiter | None = None
_SHARED_LOCK = threading.Lock()


def shared_limiter() -> FailureLimiter:
    """The process's one limiter, shared by the media routes and the login page (Streamlit runs both in one
    process; a per-page ``st.cache_resource`` would not reach the starlette routes)."""
    global _SHARED
    with _SHARED_LOCK:
        if _SHARED is None:
            _SHARED = FailureLimiter()
        return _SHARED


__all__ = ["FailureLimiter", "Strike", "address_key", "client_address", "retry_after_header", "shared_limiter",
           "MAX_FAILURES", "WINDOW_S"]
