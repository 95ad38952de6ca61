"""The login-checked media route: range requests over sealed media, and every refusal.

A real store in tmp_path, a real H.264 file sealed as the lesson's "redacted" rendition, the route served by uvicorn
on a loopback port (the same starlette route ``app.py`` mounts on Streamlit's server), requests with http.client.
"""

from __future__ import annotations

import http.client
import json
import socket
import subprocess
import threading
import time

import pytest

from videocoach.core import serialize
from videocoach.config import Settings
from videocoach.core.model import MediaInfo
from videocoach.av.ffmpeg import ffmpeg_binary
from videocoach.storage.store import Store
from videocoach.ui import review
from videocoach.ui.byte_ranges import ByteRange, RangeNotSatisfiable, parse_range
from videocoach.ui.mediaserver import MediaServer, media_path, upload_path, playback_refusal, session_path
from videocoach.ui.media_tokens import MediaTokens, TokenError
from videocoach.storage.vault import CHUNK_SIZE


# -- fixtures --------------------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def video_bytes(tmp_path_factory) -> bytes:
    """A real ~2.5 MB H.264/AAC mp4 (several 1 MiB vault chunks) made by ffmpeg."""
    out = tmp_path_factory.mktemp("media") / "clip.mp4"
    subprocess.run(
        [ffmpeg_binary(), "-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i",
         "testsrc2=size=640x360:rate=25", "-f", "lavfi", "-i", "sine=frequency=300", "-t", "8",
         "-c:v", "libx264", "-preset", "ultrafast", "-crf", "12", "-g", "25", "-pix_fmt", "yuv420p",
         "-c:a", "aac", "-movflags", "+faststart", str(out)],
        check=True, capture_output=True, timeout=120,
    )
    data = out.read_bytes()
    assert len(data) > 2 * CHUNK_SIZE
    return data


@pytest.fixture
def world(tmp_path, video_bytes):
    settings = Settings(data_dir=tmp_path / "data", key_file=tmp_path / "keys" / "master.key")
    store = Store(settings)
    alice = store.add_user("alice", "teacher", None, "Alice")
    bob = store.add_user("bob", "teacher", None, "Bob")
    coach = store.add_user("carol", "coach", None, "Carol")
    lesson = store.create_lesson(alice, "Fractions", "fractions.mp4")
    store.put_media_bytes(lesson.id, "original", b"RAW-ORIGINAL-" + video_bytes[:4096])
    store.put_media_bytes(lesson.id, "redacted", video_bytes)
    info = MediaInfo(duration_s=8.0, container="mov", has_audio=True, has_video=True, audio_codec="aac",
                     video_codec="h264", width=640, height=360, fps=25.0, size_bytes=len(video_bytes))
    store.save_stage(lesson.id, "probe", serialize.dumps(info))
    for stage in ("audio", "transcribe", "diarize", "levels", "roles", "metrics", "faces", "people"):
        store.save_stage(lesson.id, stage, "{}")  # finished (contents not needed by the route)
    store.save_stage(lesson.id, "render", json.dumps({"policy_name": "blur-all-pupils"}))
    store.save_stage(lesson.id, "audit", json.dumps({"findings": []}))
    store.update_lesson(lesson.id, status="ready", duration_s=8.0)
    server = MediaServer(settings)
    port = _serve(server)
    yield {"settings": settings, "store": store, "alice": alice, "bob": bob, "coach": coach,
           "lesson": store.lesson(lesson.id), "port": port, "tokens": MediaTokens.for_settings(settings),
           "video": video_bytes}
    server.close()
    store.close()


def _serve(server: MediaServer) -> int:
    import uvicorn
    from starlette.applications import Starlette

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    config = uvicorn.Config(Starlette(routes=server.routes()), host="127.0.0.1", port=port, log_level="warning",
                            lifespan="off")
    userver = uvicorn.Server(config)
    thread = threading.Thread(target=userver.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not userver.started:
        if time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    return port


def get(world, token: str, range_header: str | None = None, method: str = "GET", cookie: str | None = None):
    conn = http.client.HTTPConnection("127.0.0.1", world["port"], timeout=30)
    headers = {"Range": range_header} if range_header else {}
    if cookie is not None:
        headers["Cookie"] = f"_streamlit_xsrf={cookie}"
    conn.request(method, media_path(token), headers=headers)
    resp = conn.getresponse()
    body = resp.read()
    conn.close()
    return resp.status, {k.lower(): v for k, v in resp.getheaders()}, body


def token_for(world, user, lesson=None, kind="redacted", **kw) -> str:
    return world["tokens"].mint(user.id, (lesson or world["lesson"]).id, kind, **kw)


# -- ranges ----------------------------------------------------------------------------------------------------------------
def test_range_requests_return_exactly_the_decrypted_bytes(world):
    video, tok = world["video"], token_for(world, world["alice"])
    size = len(video)
    cases = {
        "bytes=0-99": (0, 100),
        f"bytes={CHUNK_SIZE - 10}-{CHUNK_SIZE + 9}": (CHUNK_SIZE - 10, CHUNK_SIZE + 10),  # across a chunk boundary
        "bytes=-500": (size - 500, size),
        f"bytes={size - 1000}-": (size - 1000, size),
        f"bytes=100-{size + 5000}": (100, size),  # an end past the file is cut to the file
    }
    for header, (start, stop) in cases.items():
        status, headers, body = get(world, tok, header)
        assert status == 206, header
        assert body == video[start:stop], header
        assert headers["content-range"] == f"bytes {start}-{stop - 1}/{size}"
        assert headers["content-length"] == str(stop - start)
        assert headers["accept-ranges"] == "bytes"
        assert headers["cache-control"] == "no-store"
        assert headers["content-type"].startswith("video/mp4")


def test_whole_file_and_head(world):
    tok = token_for(world, world["alice"])
    status, headers, body = get(world, tok)
    assert status == 200 and body == world["video"]
    assert headers["content-length"] == str(len(world["video"]))
    status, headers, body = get(world, tok, "bytes=10-19", method="HEAD")
    assert status == 206 and body == b"" and headers["content-length"] == "10"


@pytest.mark.parametrize("header", ["bytes=999999999-", "bytes=50-10", "bytes=-0", "bytes=abc-def", "bytes=-",
                                    "bytes=" + "9" * 4400 + "-", "bytes=-" + "1" * 5000, "bytes=0-" + "7" * 300])
def test_unsatisfiable_ranges_get_416(world, header):
    status, headers, body = get(world, token_for(world, world["alice"]), header)
    assert status == 416
    assert headers["content-range"] == f"bytes */{len(world['video'])}"
    assert body == b""


def test_parse_range_rules():
    assert parse_range(None, 100) is None
    assert parse_range("bytes=0-0", 100) == ByteRange(0, 1)
    assert parse_range("bytes=90-", 100) == ByteRange(90, 100)
    assert parse_range("bytes=-10", 100) == ByteRange(90, 100)
    assert parse_range("bytes=-1000", 100) == ByteRange(0, 100)
    assert parse_range("bytes=0-1,5-6", 100) is None  # several ranges: the whole file (allowed by RFC 9110)
    assert parse_range("items=0-1", 100) is None
    for bad in ("bytes=100-", "bytes=5-1", "bytes=x-1"):
        with pytest.raises(RangeNotSatisfiable):
            parse_range(bad, 100)


# -- who may fetch what ------------------------------------------------------------------------------------------------------
def test_another_teacher_gets_404_even_with_a_valid_token(world):
    status, _, body = get(world, token_for(world, world["bob"]), "bytes=0-99")
    assert status == 404
    assert world["video"][:100] not in body
    refusals = [e for e in world["store"].audit_entries(world["lesson"].id) if not e.allowed]
    assert any(e.actor_id == world["bob"].id and e.action == "media.view" for e in refusals)


def test_a_coach_plays_only_while_the_lesson_is_shared(world):
    store, alice, coach, lesson = world["store"], world["alice"], world["coach"], world["lesson"]
    tok = token_for(world, coach)
    assert get(world, tok, "bytes=0-9")[0] == 404
    store.share(alice, lesson.id, coach)
    status, _, body = get(world, tok, "bytes=0-9")
    assert status == 206 and body == world["video"][:10]
    store.unshare(alice, lesson.id, coach)
    assert get(world, tok, "bytes=0-9")[0] == 404  # the same, unexpired token stops working at once


def test_expired_forged_tampered_and_garbage_tokens_get_403(world):
    alice, lesson = world["alice"], world["lesson"]
    expired = world["tokens"].mint(alice.id, lesson.id, "redacted", now=time.time() - 7200)
    forged = MediaTokens(b"k" * 32).mint(alice.id, lesson.id, "redacted")
    good = token_for(world, alice)
    body, mac = good.split(".")
    claims = json.loads(_unb64(body))
    claims["u"] = world["bob"].id
    tampered = _b64(json.dumps(claims, separators=(",", ":"), sort_keys=True).encode()) + "." + mac
    for tok in (expired, forged, tampered, "not-a-token", "a.b.c", "", "x" * 2000):
        status, _, body = get(world, tok or "%20", "bytes=0-99")
        assert status in (403, 404), tok[:40]
        assert world["video"][:100] not in body
    for tok in (expired, forged, tampered):
        assert get(world, tok, "bytes=0-99")[0] == 403
    with pytest.raises(TokenError):
        world["tokens"].verify(expired)


def test_original_is_never_served(world):
    alice, lesson = world["alice"], world["lesson"]
    with pytest.raises(ValueError):
        world["tokens"].mint(alice.id, lesson.id, "original")
    # even a correctly signed token naming "original" (a leaked key, a bug elsewhere) gets nothing
    tok = world["tokens"].sign({"u": alice.id, "l": lesson.id, "k": "original", "x": int(time.time()) + 600,
                                "p": "view", "n": "x"})
    status, _, body = get(world, tok)
    assert status == 404 and b"RAW-ORIGINAL" not in body


def test_a_blocked_lesson_does_not_play_until_the_owner_clears_it(world):
    store, alice, lesson = world["store"], world["alice"], world["lesson"]
    store.save_stage(lesson.id, "audit", json.dumps({"findings": [{"t_s": 3.0, "box": [1, 2, 3, 4], "score": 0.6,
                                                                    "crop_png_b64": ""}]}))
    store.update_lesson(lesson.id, status="blocked")
    tok = token_for(world, alice)
    assert get(world, tok, "bytes=0-9")[0] == 403
    assert playback_refusal(store, store.lesson(lesson.id)) is not None
    store.share(alice, lesson.id, world["coach"])
    with pytest.raises(PermissionError):
        review.clear_audit(store, world["coach"], lesson.id)  # only the owner clears
    review.clear_audit(store, alice, lesson.id)
    assert store.lesson(lesson.id).status == "ready"
    assert get(world, tok, "bytes=0-9")[0] == 206


def test_nothing_plays_while_the_rendition_is_being_redone(world):
    store, alice, lesson = world["store"], world["alice"], world["lesson"]
    tok = token_for(world, alice)
    assert get(world, tok, "bytes=0-9")[0] == 206
    review.mark_face(store, world["settings"], alice, lesson.id, 7, None, start_worker=False)  # un-mark: re-render
    assert store.stage(lesson.id, "render") is None
    assert get(world, tok, "bytes=0-9")[0] == 403
    assert [j.kind for j in store.jobs_for_lesson(lesson.id)] == ["rerender"]


def test_a_view_is_audited_once_per_token_not_per_range_request(world):
    store, alice, lesson = world["store"], world["alice"], world["lesson"]
    tok = token_for(world, alice, purpose="meeting")
    for start in range(0, 5000, 1000):
        assert get(world, tok, f"bytes={start}-{start + 999}")[0] == 206
    views = [e for e in store.audit_entries(lesson.id) if e.action == "media.meeting" and e.allowed]
    assert len(views) == 1 and views[0].actor_id == alice.id


def test_a_token_plays_only_in_the_browser_it_was_issued_to(world):
    """The token is bound to the browser's XSRF secret: a copied URL does not play in another browser."""
    from streamlit.web.server.starlette.starlette_app_utils import generate_xsrf_token_string

    mine = generate_xsrf_token_string(b"A" * 16, 1700000000)
    mine_remasked = generate_xsrf_token_string(b"A" * 16, 1700000000)  # Streamlit re-masks the same secret
    assert mine != mine_remasked
    theirs = generate_xsrf_token_string(b"B" * 16, 1700000000)
    tok = world["tokens"].mint(world["alice"].id, world["lesson"].id, "redacted", browser_cookie=mine)
    assert get(world, tok, "bytes=0-9", cookie=mine)[0] == 206
    assert get(world, tok, "bytes=0-9", cookie=mine_remasked)[0] == 206
    assert get(world, tok, "bytes=0-9", cookie=theirs)[0] == 403
    assert get(world, tok, "bytes=0-9")[0] == 403  # no cookie at all


def test_a_deleted_lesson_is_gone(world):
    store, alice, lesson = world["store"], world["alice"], world["lesson"]
    tok = token_for(world, alice)
    store.delete_lesson(alice, lesson.id, "test")
    assert get(world, tok, "bytes=0-9")[0] == 404


def _b64(data: bytes) -> str:
    import base64

    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    import base64

    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


# -- uploads: streamed to disk, checked, sealed, queued ---------------------------------------------------------------------
def put(world, token: str, body: bytes, query: str = "", cookie: str | None = None):
    conn = http.client.HTTPConnection("127.0.0.1", world["port"], timeout=120)
    headers = {"Content-Type": "application/octet-stream"}
    if cookie is not None:
        headers["Cookie"] = f"_streamlit_xsrf={cookie}"
    conn.request("PUT", upload_path(token) + query, body=body, headers=headers)
    resp = conn.getresponse()
    data = resp.read()
    conn.close()
    return resp.status, json.loads(data or b"{}")


@pytest.fixture
def no_autostart(monkeypatch):
    monkeypatch.setenv("VIDEOCOACH_WORKER", "external")  # queue the job; never start a worker from a test


def test_upload_streams_to_a_sealed_lesson_and_queues_analysis(world, no_autostart):
    store, alice = world["store"], world["alice"]
    tok = world["tokens"].mint_upload(alice.id)
    status, body = put(world, tok, world["video"], "?name=fractions%202.mp4&title=Fractions%202&policy=blur-all-pupils"
                                                   "&sample=0:01-0:04")
    assert status == 201, body
    lesson = store.lesson(body["lesson_id"])
    assert (lesson.owner_id, lesson.title, lesson.original_name) == (alice.id, "Fractions 2", "fractions 2.mp4")
    assert lesson.settings["teacher_sample"] == {"start": 1.0, "end": 4.0}
    assert [j.kind for j in store.jobs_for_lesson(lesson.id)] == ["analyse"]
    with store.open_media(lesson.id, "original") as sealed:
        assert sealed.read_range(0, sealed.size) == world["video"]
    assert list((world["settings"].data_dir / "work").rglob("upload-*")) == []  # no plaintext left behind


def test_a_bad_upload_is_refused_with_the_reason_and_stores_nothing(world, no_autostart):
    store, alice = world["store"], world["alice"]
    before = len(store.all_lessons())
    tok = world["tokens"].mint_upload(alice.id)
    status, body = put(world, tok, b"just some text, not a video\n" * 100, "?name=notes.mp4")
    assert status == 400 and "notes.mp4" in body["error"] and "upload-" not in body["error"]
    status, body = put(world, tok, world["video"], "?name=x.mp4&policy=no-such-policy")
    assert status == 400 and "no-such-policy" in body["error"]
    status, body = put(world, tok, world["video"], "?name=x.mp4&sample=half-past")
    assert status == 400 and "not a time" in body["error"]
    assert len(store.all_lessons()) == before
    assert list((world["settings"].data_dir / "work").rglob("upload-*")) == []


def test_upload_refusals(world, no_autostart, tmp_path):
    store, alice, coach = world["store"], world["alice"], world["coach"]
    before = len(store.all_lessons())
    cases = {
        "a coach": world["tokens"].mint_upload(coach.id),
        "a media token": token_for(world, alice),
        "expired": world["tokens"].mint_upload(alice.id, now=time.time() - 7200),
        "forged": MediaTokens(b"z" * 32).mint_upload(alice.id),
    }
    for what, tok in cases.items():
        status, _ = put(world, tok, world["video"], "?name=x.mp4")
        assert status == 403, what
    from streamlit.web.server.starlette.starlette_app_utils import generate_xsrf_token_string

    bound = world["tokens"].mint_upload(alice.id, browser_cookie=generate_xsrf_token_string(b"A" * 16, 1))
    assert put(world, bound, world["video"], "?name=x.mp4",
               cookie=generate_xsrf_token_string(b"B" * 16, 1))[0] == 403
    # an upload token never plays anything
    assert get(world, world["tokens"].mint_upload(alice.id), "bytes=0-9")[0] in (403, 404)
    assert len(store.all_lessons()) == before


def test_an_upload_over_the_size_limit_gets_413(tmp_path, video_bytes, no_autostart):
    import dataclasses

    settings = Settings(data_dir=tmp_path / "data", key_file=tmp_path / "keys" / "k.key")
    settings = dataclasses.replace(settings, max_upload_bytes=1_000_000)
    store = Store(settings)
    alice = store.add_user("alice", "teacher", None)
    server = MediaServer(settings)
    world = {"port": _serve(server)}
    status, body = put(world, MediaTokens.for_settings(settings).mint_upload(alice.id), video_bytes, "?name=big.mp4")
    assert status == 413 and "limit" in body["error"]
    assert store.all_lessons() == []
    server.close()
    store.close()


# -- remembered logins: a reload keeps the user logged in, only in the same browser, until log out ---------------------
def _get_session(world, token: str, cookie: str | None):
    conn = http.client.HTTPConnection("127.0.0.1", world["port"], timeout=30)
    conn.request("GET", session_path(token), headers={"Cookie": f"_streamlit_xsrf={cookie}"} if cookie else {})
    resp = conn.getresponse()
    resp.read()
    conn.close()
    return resp.status, resp.getheader("set-cookie") or ""


def test_a_login_grant_sets_an_httponly_cookie_for_its_browser_only(world):
    from streamlit.web.server.starlette.starlette_app_utils import generate_xsrf_token_string

    from videocoach.ui.media_tokens import browser_binding

    store, alice, tokens = world["store"], world["alice"], world["tokens"]
    mine = generate_xsrf_token_string(b"A" * 16, 1700000000)
    theirs = generate_xsrf_token_string(b"B" * 16, 1700000000)
    raw = store.create_login_session(alice, 3600, browser_binding(mine))
    grant = tokens.mint_session_grant(alice.id, store.create_login_grant(raw), browser_cookie=mine)
    assert raw not in tokens.verify(grant).nonce  # the page holds a one-time id, never the session id

    assert _get_session(world, grant, theirs)[0] == 403  # a grant copied to another browser sets nothing
    status, cookie = _get_session(world, grant, mine)
    assert status == 200 and f"vc_session={raw}" in cookie
    assert "httponly" in cookie.lower() and "samesite=strict" in cookie.lower()
    assert _get_session(world, grant, mine)[0] == 403  # one time only

    assert store.resume_login_session(raw, browser_binding(mine)).id == alice.id
    assert store.resume_login_session(raw, browser_binding(theirs)) is None  # the cookie alone is not enough
    # a media token is no login grant, and a grant plays no media
    assert _get_session(world, token_for(world, alice), mine)[0] == 403
    assert get(world, grant, "bytes=0-9", cookie=mine)[0] in (403, 404)

    unused = tokens.mint_session_grant(alice.id, store.create_login_grant(raw), browser_cookie=mine)
    store.end_login_session(raw)  # log out
    assert store.resume_login_session(raw, browser_binding(mine)) is None
    assert _get_session(world, unused, mine)[0] == 403


def test_a_new_password_ends_remembered_logins(world):
    store, alice = world["store"], world["alice"]
    raw = store.create_login_session(alice, 3600, None)
    assert store.resume_login_session(raw).id == alice.id
    store.set_password_hash(alice.id, "x")
    assert store.resume_login_session(raw) is None
    expired = store.create_login_session(alice, -1, None)
    assert store.resume_login_session(expired) is None


# -- links that end with the login, bookmark exports ------------------------------------------------------------------
def test_a_link_ends_with_the_login_it_was_made_for(world):
    store, alice = world["store"], world["alice"]
    raw = store.create_login_session(alice, 3600, None)
    tag = store.login_session_tag(raw)
    assert raw not in tag
    token = token_for(world, alice, session=tag)
    assert get(world, token, "bytes=0-9")[0] == 206
    store.end_login_session(raw)  # log out
    assert get(world, token, "bytes=0-9")[0] == 403
    assert get(world, token_for(world, alice, session="f" * 32), "bytes=0-9")[0] == 403  # no such login


def _get_export(world, token: str, cookie: str | None = None):
    conn = http.client.HTTPConnection("127.0.0.1", world["port"], timeout=30)
    conn.request("GET", "/vc-export/" + token, headers={"Cookie": f"_streamlit_xsrf={cookie}"} if cookie else {})
    resp = conn.getresponse()
    body = resp.read()
    conn.close()
    return resp.status, {k.lower(): v for k, v in resp.getheaders()}, body


def test_bookmark_exports_need_a_valid_token_for_this_browser_and_login(world):
    from streamlit.web.server.starlette.starlette_app_utils import generate_xsrf_token_string

    store, alice, coach, tokens = world["store"], world["alice"], world["coach"], world["tokens"]
    lesson = world["lesson"]
    store.add_bookmark(alice, lesson.id, 1.0, 2.0, note="private note about Sam")
    mine = generate_xsrf_token_string(b"A" * 16, 1700000000)
    theirs = generate_xsrf_token_string(b"B" * 16, 1700000000)
    raw = store.create_login_session(alice, 3600, None)
    token = tokens.mint_export(alice.id, lesson.id, "csv", browser_cookie=mine,
                               session=store.login_session_tag(raw))
    status, headers, body = _get_export(world, token, mine)
    assert status == 200 and b"private note about Sam" in body and "attachment" in headers["content-disposition"]
    assert _get_export(world, token)[0] == 403  # no cookie
    assert _get_export(world, token, theirs)[0] == 403  # another browser
    assert _get_export(world, token_for(world, alice), mine)[0] == 403  # a media token is no export token
    assert _get_export(world, tokens.mint_export(coach.id, lesson.id, "json"))[0] == 404  # not shared
    store.end_login_session(raw)
    assert _get_export(world, token, mine)[0] == 403  # logged out: the link is dead
    with pytest.raises(ValueError):
        tokens.mint_export(alice.id, lesson.id, "../etc/passwd")
