"""Refusing bad tokens under load: counted not logged row by row, limited per client address, cheap.

The starlette routes the app mounts are called in-process through ASGI (no sockets), with the client address set
in the request scope as uvicorn sets it; clocks are injected so windows end without waiting.
"""

from __future__ import annotations

import asyncio
import json
import os

import pytest

from videocoach.config import Settings
from videocoach.ui.ratelimit import FailureLimiter, Strike, address_key, client_address, retry_after_header
from videocoach.ui.refusals import RefusalTally
from videocoach.storage.store import Store
from videocoach.ui.mediaserver import MediaServer, media_path, session_path, upload_path
from videocoach.ui.media_tokens import MediaTokens

ATTACKER = "10.0.0.66"
VIEWER = "10.0.0.7"
T0 = 6_000_000.0  # a window boundary for both clocks


class Clock:
    def __init__(self, t: float = T0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def world(tmp_path):
    settings = Settings(data_dir=tmp_path / "data", key_file=tmp_path / "keys" / "master.key")
    store = Store(settings)
    alice = store.add_user("alice", "teacher", None, "Alice")
    carol = store.add_user("carol", "coach", None, "Carol")
    lesson = store.create_lesson(alice, "Fractions", "fractions.mp4")
    data = os.urandom(300_000)
    store.put_media_bytes(lesson.id, "redacted", data)
    store.save_stage(lesson.id, "render", json.dumps({"policy_name": "blur-all-pupils"}))
    store.save_stage(lesson.id, "audit", json.dumps({"findings": []}))
    store.update_lesson(lesson.id, status="ready", duration_s=8.0)
    clock = Clock()
    yield {"settings": settings, "store": store, "alice": alice, "carol": carol, "lesson": store.lesson(lesson.id),
           "tokens": MediaTokens.for_settings(settings), "clock": clock, "data": data}
    store.close()


def make_server(world, *, max_failures: int = 1000, settings: Settings | None = None) -> MediaServer:
    clock = world["clock"]
    return MediaServer(settings or world["settings"], limiter=FailureLimiter(max_failures, 60.0, clock=clock),
                       tally=RefusalTally(60.0, clock=clock), tarpit_s=0.0)


def call(server: MediaServer, method: str, path: str, **kw) -> tuple[int, dict[str, str], bytes]:
    return asyncio.run(acall(server, method, path, **kw))


async def acall(server: MediaServer, method: str, path: str, *, client: str = VIEWER, headers: dict | None = None,
                body: bytes = b"") -> tuple[int, dict[str, str], bytes]:
    """One request through the routes' starlette app, as uvicorn would hand it over from ``client``."""
    from starlette.applications import Starlette

    app = Starlette(routes=server.routes())
    raw_headers = [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    if body:
        raw_headers.append((b"content-length", str(len(body)).encode()))
    path_only, _, query = path.partition("?")
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method,
             "scheme": "http", "path": path_only, "raw_path": path_only.encode(), "query_string": query.encode(),
             "root_path": "", "headers": raw_headers, "client": (client, 50000), "server": ("127.0.0.1", 8501)}
    sent: list[dict] = []
    chunks = [body]

    async def receive():
        if chunks:
            return {"type": "http.request", "body": chunks.pop(), "more_body": False}
        await asyncio.Event().wait()  # the client stays connected until the response is sent

    async def send(message):
        sent.append(message)

    await app(scope, receive, send)
    start = next(m for m in sent if m["type"] == "http.response.start")
    out_headers = {k.decode().lower(): v.decode() for k, v in start["headers"]}
    return start["status"], out_headers, b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")


def forged(world, n: int) -> list[str]:
    """``n`` distinct tokens signed with a key that is not the deployment's (a forger's best try)."""
    other = MediaTokens(b"f" * 32)
    return [other.mint(world["alice"].id, world["lesson"].id, "redacted") for _ in range(n)]


def refusal_rows(store: Store) -> list:
    return [e for e in store.audit_entries(limit=100_000) if e.actor_id is None and "count=" in e.detail]


def detail_fields(detail: str) -> dict[str, str]:
    return dict(part.split("=", 1) for part in detail.split())


# -- aggregated refusal rows -------------------------------------------------------------------------------------------
def test_a_forged_token_flood_writes_one_counted_row_per_reason_per_window(world):
    store, clock, tokens = world["store"], world["clock"], world["tokens"]
    server = make_server(world)
    before = len(store.audit_entries(limit=100_000))
    expired = [tokens.mint(world["alice"].id, world["lesson"].id, "redacted", now=T0 - 7200) for _ in range(20)]
    for tok in forged(world, 150) + expired + ["not-a-token", "a.b"]:
        assert call(server, "GET", media_path(tok), client=ATTACKER, headers={"Range": "bytes=0-99"})[0] == 403
    assert len(store.audit_entries(limit=100_000)) == before  # nothing written while the window runs
    assert server._store is None  # refused before any database work: the store was never even opened

    clock.t += 60.0
    assert server.flush_refusals() == 3
    rows = refusal_rows(store)
    counts = {detail_fields(e.detail)["reason"]: int(detail_fields(e.detail)["count"]) for e in rows}
    assert counts == {"bad-signature": 150, "expired": 20, "malformed": 2}
    assert all(e.action == "media.view" and not e.allowed and e.lesson_id is None for e in rows)
    assert all(detail_fields(e.detail)["address"] == ATTACKER and detail_fields(e.detail)["window"] == "60s"
               for e in rows)
    assert all(e.at <= T0 + 60.0 for e in rows)  # stamped at the end of the window they count

    # the next window: counted apart, written at shutdown even though it has not ended
    for tok in forged(world, 7):
        call(server, "GET", media_path(tok), client=ATTACKER)
    server.close()
    rows = refusal_rows(store)
    assert len(rows) == 4
    assert sum(int(detail_fields(e.detail)["count"]) for e in rows) == 150 + 20 + 2 + 7  # every refusal counted


def test_each_address_and_route_is_counted_apart(world):
    store, clock = world["store"], world["clock"]
    server = make_server(world)
    bad = forged(world, 1)[0]
    for _ in range(5):
        call(server, "GET", media_path(bad), client="10.0.0.1")
    for _ in range(3):
        call(server, "GET", media_path(bad), client="10.0.0.2")
    assert call(server, "GET", session_path(bad), client="10.0.0.1")[0] == 403
    assert call(server, "PUT", upload_path(bad) + "?name=x.mp4", client="10.0.0.1", body=b"x" * 10)[0] == 403
    clock.t += 61.0
    server.close()
    got = {(e.action, detail_fields(e.detail)["address"]): int(detail_fields(e.detail)["count"])
           for e in refusal_rows(store)}
    assert got == {("media.view", "10.0.0.1"): 5, ("media.view", "10.0.0.2"): 3, ("login.cookie", "10.0.0.1"): 1,
                   ("lesson.upload", "10.0.0.1"): 1}


# -- what a logged-in user does is still written row by row -------------------------------------------------------------
def test_a_logged_in_viewers_views_and_refusals_are_all_logged_during_a_flood(world):
    store, alice, carol, lesson, tokens = (world[k] for k in ("store", "alice", "carol", "lesson", "tokens"))
    server = make_server(world, max_failures=5)
    for tok in forged(world, 50):  # the flood comes from the viewer's own address (one school NAT)
        call(server, "GET", media_path(tok), client=VIEWER)
    views = [tokens.mint(alice.id, lesson.id, "redacted", purpose="meeting") for _ in range(4)]
    for tok in views:
        status, _, body = call(server, "GET", media_path(tok), client=VIEWER, headers={"Range": "bytes=10-19"})
        assert status == 206 and body == world["data"][10:20]  # a valid token is never throttled
    not_shared = tokens.mint(carol.id, lesson.id, "redacted")
    for _ in range(3):
        assert call(server, "GET", media_path(not_shared), client=VIEWER)[0] == 404
    server.close()
    entries = store.audit_entries(lesson.id)
    assert len([e for e in entries if e.action == "media.meeting" and e.allowed and e.actor_id == alice.id]) == 4
    assert len([e for e in entries if e.actor_id == carol.id and not e.allowed]) == 3
    counted = refusal_rows(store)
    assert sum(int(detail_fields(e.detail)["count"]) for e in counted) == 50


# -- the per-address limit ---------------------------------------------------------------------------------------------
def test_too_many_bad_tokens_get_429_with_retry_after_until_the_window_ends(world):
    store, clock, alice, lesson = world["store"], world["clock"], world["alice"], world["lesson"]
    server = make_server(world, max_failures=5)
    bad = forged(world, 1)[0]
    statuses = [call(server, "GET", media_path(bad), client=ATTACKER)[0] for _ in range(8)]
    assert statuses == [403] * 5 + [429] * 3
    clock.t += 20.0
    status, headers, _ = call(server, "GET", media_path(bad), client=ATTACKER)
    assert status == 429 and headers["retry-after"] == "40"
    # another address, and a valid token from the limited address, are served
    assert call(server, "GET", media_path(bad), client=VIEWER)[0] == 403
    good = world["tokens"].mint(alice.id, lesson.id, "redacted")
    assert call(server, "GET", media_path(good), client=VIEWER, headers={"Range": "bytes=0-9"})[0] == 206
    assert call(server, "GET", media_path(good), client=ATTACKER, headers={"Range": "bytes=0-9"})[0] == 206
    # the other routes share the address's budget
    assert call(server, "GET", session_path(bad), client=ATTACKER)[0] == 429
    status, headers, body = call(server, "PUT", upload_path(bad), client=ATTACKER, body=b"x")
    assert status == 429 and "retry-after" in headers and "error" in json.loads(body)
    clock.t += 41.0  # the window has ended: the address starts afresh
    assert call(server, "GET", media_path(bad), client=ATTACKER)[0] == 403
    server.close()
    by_reason: dict[str, int] = {}
    for e in refusal_rows(store):
        if detail_fields(e.detail)["address"] == ATTACKER:
            reason = detail_fields(e.detail)["reason"]
            by_reason[reason] = by_reason.get(reason, 0) + int(detail_fields(e.detail)["count"])
    assert by_reason == {"bad-signature": 6, "rate-limited": 6}  # 429s are counted too


def test_the_limiter_counts_failures_only_and_forgets_old_addresses():
    clock = Clock(100.0)
    limiter = FailureLimiter(max_failures=3, window_s=10.0, max_addresses=2, clock=clock)
    assert [limiter.record_failure("a") for _ in range(3)] == [Strike(1, None), Strike(2, None), Strike(3, None)]
    assert limiter.retry_after("a") is None  # at the limit, not over it
    strike = limiter.record_failure("a")
    assert strike.failures == 4 and strike.retry_after_s == pytest.approx(10.0)
    clock.t += 4.0
    assert limiter.retry_after("a") == pytest.approx(6.0) and retry_after_header(6.0) == "6"
    assert retry_after_header(0.2) == "1"
    assert limiter.retry_after("b") is None
    limiter.record_failure("b")
    limiter.record_failure("c")  # over max_addresses: the oldest ("a") is forgotten
    assert limiter.addresses() == 2 and limiter.retry_after("a") is None
    clock.t += 20.0
    assert limiter.record_failure("b") == Strike(1, None)


def test_client_address_keys_and_trusted_proxies():
    assert address_key("2001:db8::1") == address_key("2001:db8::ffff") == "2001:db8::/64"
    assert address_key("::ffff:10.1.2.3") == "10.1.2.3"
    assert address_key(None) == "unknown"
    assert client_address("10.0.0.5", "1.2.3.4") == "10.0.0.5"  # no trusted proxy: the header is ignored
    assert client_address("10.0.0.5", "6.6.6.6, 1.2.3.4", ("10.0.0.5",)) == "1.2.3.4"
    assert client_address("10.0.0.5", "1.2.3.4, 10.0.0.9", ("10.0.0.5", "10.0.0.9")) == "1.2.3.4"
    assert client_address("10.0.0.5", None, ("10.0.0.5",)) == "10.0.0.5"


def test_behind_a_trusted_proxy_each_client_has_its_own_budget(world):
    from dataclasses import replace

    settings = replace(world["settings"], trusted_proxies=("127.0.0.1",))
    server = make_server(world, max_failures=2, settings=settings)
    bad = forged(world, 1)[0]
    first = [call(server, "GET", media_path(bad), client="127.0.0.1", headers={"X-Forwarded-For": "1.1.1.1"})[0]
             for _ in range(3)]
    other = call(server, "GET", media_path(bad), client="127.0.0.1", headers={"X-Forwarded-For": "2.2.2.2"})[0]
    assert first == [403, 403, 429] and other == 403
    server.close()


def test_the_tally_folds_addresses_past_its_limit_into_other():
    tally = RefusalTally(window_s=60.0, max_keys=2, clock=Clock())
    for address in ("a", "b", "c", "d"):
        tally.add("media.view", address, "bad-signature")
    assert tally.pending() == 4 and tally.due() == []
    counts = tally.drain()
    assert {c.address: c.count for c in counts} == {"a": 1, "b": 1, "other": 2}
    assert counts[0].detail == "address=a reason=bad-signature count=1 window=60s"


def test_the_apps_lifespan_writes_the_counted_refusals_at_shutdown(world):
    from videocoach.ui.mediaserver import media_app

    routes, lifespan = media_app(world["settings"])
    server = routes[0].endpoint.__self__

    async def run_app() -> list[int]:
        async with lifespan(None):
            statuses = [(await acall(server, "GET", media_path(tok), client="10.9.9.9"))[0]
                        for tok in forged(world, 3)]
            assert refusal_rows(world["store"]) == []
        return statuses  # the server has stopped

    assert asyncio.run(run_app()) == [403] * 3
    rows = refusal_rows(world["store"])
    assert [detail_fields(e.detail)["count"] for e in rows] == ["3"]
