"""Passwords (argon2id) and the login check.  The UI and the CLI call these; the store never sees a password."""

from __future__ import annotations

import time

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from videocoach.storage.store import Store, User

_HASHER = PasswordHasher()  # argon2id with the library's recommended parameters
MIN_PASSWORD_LEN = 8


class AuthError(ValueError):
    pass


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_LEN:
        raise AuthError(f"a password needs at least {MIN_PASSWORD_LEN} characters")
    return _HASHER.hash(password)


def authenticate(store: Store, username: str, password: str) -> User | None:
    """The user if the password matches; None otherwise (and the failure is audited).  Constant work per try."""
    user = store.user_by_name(username or "")
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
    store.audit(user.id if user else None, "login", None, f"user={(username or '')[:64]}", allowed=ok)
    if not ok:
        time.sleep(0.2)
        return None
    return user


def create_user(store: Store, username: str, role: str, password: str, display_name: str = "") -> User:
    if store.user_by_name(username) is not None:
        raise AuthError(f"user {username!r} already exists")
    return store.add_user(username, role, hash_password(password), display_name)  # type: ignore[arg-type]


_DUMMY_HASH = _HASHER.hash("not-a-real-password-videocoach")
