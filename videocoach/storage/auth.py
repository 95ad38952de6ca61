"""Passwords (argon2id) and the login check.  The UI and the CLI call these; the store never sees a password."""

from __future__ import annotations

import time
from typing import Callable

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from videocoach.storage.records import User
from videocoach.storage.store import Store

_HASHER = PasswordHasher()  # argon2id with the library's recommended parameters
MIN_PASSWORD_LEN = 8
# Back-off: after FREE_FAILURES failed logins within WINDOW_S, for one account or from one address, the next try
# waits 2, 4, 8 ... s after the last failure (at most LOCKOUT_MAX_S); a try inside the wait is refused unchecked
# (and counts as a failure).
FREE_FAILURES = 5
WINDOW_S = 3600.0
LOCKOUT_MAX_S = 900.0
LOCKED_EXTRA_ROWS = 10  # failure rows kept per scope past the free ones: 2 ** 11 s is past LOCKOUT_MAX_S already


class AuthError(ValueError):
    pass


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_LEN:
        raise AuthError(f"a password needs at least {MIN_PASSWORD_LEN} characters")
    return _HASHER.hash(password)


def backoff_s(failures: int) -> float:
    """How long after the last failure the next try must wait, given the failures in the window."""
    if failures < FREE_FAILURES:
        return 0.0
    return min(LOCKOUT_MAX_S, 2.0 ** (failures - FREE_FAILURES + 1))


def _scopes(username: str, address: str | None) -> list[str]:
    scopes = ["user:" + (username or "").strip().lower()[:64]]
    if address:
        scopes.append("addr:" + address.strip()[:64])
    return scopes


def locked_for(store: Store, username: str, address: str | None = None, now: float | None = None) -> float:
    """Seconds until this account / address may try again (0: it may now)."""
    now = time.time() if now is None else now
    wait = 0.0
    for scope in _scopes(username, address):
        count, last = store.login_failures(scope, now - WINDOW_S)
        if last is not None:
            wait = max(wait, last + backoff_s(count) - now)
    return max(0.0, wait)


def authenticate(store: Store, username: str, password: str, address: str | None = None,
                 now: float | None = None, count_refusal: Callable[[str], None] | None = None) -> User | None:
    """The user if the password matches; None otherwise (and the failure is audited).  Constant work per try.

    Back-off per account and per client ``address``: once either has failed too often, tries are refused without
    checking the password until the wait is over (see :func:`backoff_s`).  Each checked failure is audited row by
    row; a try refused unchecked is handed to ``count_refusal`` (the app counts those per address and minute, so a
    script hammering the form cannot flood the log) or, without one, audited as a row."""
    scopes = _scopes(username, address)
    wait = locked_for(store, username, address, now)
    user = store.user_by_name(username or "")
    who = f"user={(username or '')[:64]}" + (f" from={address[:64]}" if address else "")
    if wait > 0:  # refused unchecked, and the wait restarts: hammering a locked account keeps it locked
        if count_refusal is not None:
            count_refusal("locked")
        else:
            store.audit(user.id if user else None, "login", None, f"{who} refused: locked for {wait:.0f} s",
                        allowed=False)
        store.record_login_failure(scopes, now, max_rows=FREE_FAILURES + LOCKED_EXTRA_ROWS)
        return None
    stored = store.password_hash(user.id) if user else None
    ok = False
    if stored:
        try:
            ok = _HASHER.verify(stored, password or "")
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            ok = False
        if ok and _HASHER.check_needs_rehash(stored):
            store.set_password_hash(user.id, _HASHER.hash(password))  # type: ignore[union-attr]
    else:
        # spend the same time as a real check so user names cannot be probed by timing
        try:
            _HASHER.verify(_DUMMY_HASH, password or "")
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            pass
    store.audit(user.id if user else None, "login", None, who, allowed=ok)
    if not ok:
        store.record_login_failure(scopes, now)
        time.sleep(0.2)
        return None
    store.clear_login_failures(scopes[0])  # the account's count; an address's count only expires
    return user


def create_user(store: Store, username: str, role: str, password: str, display_name: str = "") -> User:
    if store.user_by_name(username) is not None:
        raise AuthError(f"user {username!r} already exists")
    return store.add_user(username, role, hash_password(password), display_name)  # type: ignore[arg-type]


_DUMMY_HASH = _HASHER.hash("not-a-real-password-videocoach")
