"""Failed logins back off per account and per client address; every failure and every refusal is audited."""

from __future__ import annotations

import pytest

from videocoach.storage import auth
from videocoach.config import Settings
from videocoach.storage.store import Store


@pytest.fixture
def store(tmp_path, database_url):
    s = Store(Settings(data_dir=tmp_path / "data", key_file=tmp_path / "keys" / "master.key",
                       database_url=database_url))
    auth.create_user(s, "rivera", "teacher", "right-password")
    auth.create_user(s, "okafor", "coach", "coach-password")
    yield s
    s.close()


def _fail(store, n, user="rivera", address="10.0.0.9", now=1000.0):
    for i in range(n):
        assert auth.authenticate(store, user, f"wrong-{i}", address, now=now + i) is None


def test_backoff_grows_and_is_capped():
    assert [auth.backoff_s(n) for n in range(auth.FREE_FAILURES)] == [0.0] * auth.FREE_FAILURES
    waits = [auth.backoff_s(n) for n in range(auth.FREE_FAILURES, auth.FREE_FAILURES + 20)]
    assert waits == sorted(waits) and waits[0] > 0 and max(waits) == auth.LOCKOUT_MAX_S


def test_after_too_many_failures_even_the_right_password_waits(store):
    _fail(store, 9)  # the attack: 9 wrong passwords, then the right one
    last = 1008.0
    assert auth.locked_for(store, "rivera", "10.0.0.9", now=last + 1) > 0
    assert auth.authenticate(store, "rivera", "right-password", "10.0.0.9", now=last + 1) is None
    # from another address the account is still locked
    assert auth.authenticate(store, "rivera", "right-password", "10.9.9.9", now=last + 1) is None
    entries = [e for e in store.audit_entries() if e.action == "login"]
    locked = [e for e in entries if not e.allowed and "refused: locked" in e.detail]
    assert len(locked) >= 2 and any("from=10.9.9.9" in e.detail for e in locked)
    assert sum(1 for e in entries if not e.allowed and "from=10.0.0.9" in e.detail) == 10  # every try audited
    # once the wait is over, the right password works and the account's count starts again
    later = last + auth.LOCKOUT_MAX_S + 1
    assert auth.authenticate(store, "rivera", "right-password", "10.0.0.9", now=later).username == "rivera"
    assert auth.locked_for(store, "rivera", None, now=later) == 0


def test_one_address_guessing_many_accounts_is_slowed_too(store):
    for i, name in enumerate(["rivera", "okafor", "nobody", "admin", "x", "y", "z"]):
        auth.authenticate(store, name, "guess", "10.0.0.7", now=2000.0 + i)
    assert auth.locked_for(store, "okafor", "10.0.0.7", now=2007.0) > 0
    assert auth.authenticate(store, "okafor", "coach-password", "10.0.0.7", now=2007.0) is None
    assert auth.authenticate(store, "okafor", "coach-password", "10.0.0.8", now=2007.0) is not None  # other address


def test_failures_age_out_of_the_window(store):
    _fail(store, 7)
    assert auth.locked_for(store, "rivera", "10.0.0.9", now=1007.0) > 0
    assert auth.locked_for(store, "rivera", "10.0.0.9", now=1010.0 + auth.WINDOW_S) == 0


def test_hammering_a_locked_account_is_counted_not_logged_row_by_row(store):
    _fail(store, 9)  # the last at 1008: locked for 32 s
    rows_before = len(store.audit_entries(limit=100_000))
    refused: list[str] = []
    for i in range(300):  # a script hammering the login form while locked
        assert auth.authenticate(store, "rivera", "right-password", "10.0.0.9", now=1010.0 + i * 0.01,
                                 count_refusal=refused.append) is None
    assert refused == ["locked"] * 300  # every refusal counted (the app writes one row per address and minute)
    assert len(store.audit_entries(limit=100_000)) == rows_before  # and none of them as a row of its own
    for scope in ("user:rivera", "addr:10.0.0.9"):
        count, last = store.login_failures(scope, 0.0)
        assert count <= auth.FREE_FAILURES + auth.LOCKED_EXTRA_ROWS  # the table stays bounded
        assert last == pytest.approx(1010.0 + 299 * 0.01)  # and the wait restarts from the latest try
    assert auth.locked_for(store, "rivera", "10.0.0.9", now=1013.0) > 0
