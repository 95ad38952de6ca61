"""The login-checked media route: a lesson's REDACTED video over HTTP range requests, decrypted chunk by chunk.

Why not ``st.video``: Streamlit reads the whole file into memory and serves it under a media URL that nobody checks.
Here the Streamlit session (which knows who logged in) mints a short-lived signed token, and the browser's
``<video>`` element fetches ``/vc-media/<token>`` from a starlette route mounted on the same server (``st.App``).

A token is ``base64url(claims JSON) "." base64url(HMAC-SHA256(key, claims JSON))`` with the claims
``{"u": user id, "l": lesson id, "k": kind, "x": expiry (unix s), "p": purpose, "n": random nonce, "b": browser}``.
``b`` binds the token to the browser that asked for it: a hash of the secret in Streamlit's per-browser XSRF cookie
(``_streamlit_xsrf``, which the browser sends with the video's range requests), so a copied or leaked URL does not
play in another browser, even another logged-in user's.  (Without XSRF protection there is no such cookie and tokens
are unbound; keep ``server.enableXsrfProtection`` on.)  The key is
derived from the deployment's master key (HKDF, its own ``info``), so every process of one deployment agrees and a
token never outlives a key change.  Every request is checked again, not just the token: the user still exists and
may still open the lesson (a withdrawn share stops playback at once), the kind is servable, and the lesson may play
now (see :func:`playback_refusal`).  The raw "original" is never served, whatever a token says.

Answers: 403 for a missing, malformed, forged or expired token and for a lesson that may not play now (blocked by
the redaction audit, being re-rendered); 404 for a lesson the user may not open (not told apart from "no such
lesson") and for a kind that is never served; 416 for a range outside the file; 429 (with ``Retry-After``) once an
address has sent too many bad tokens (:mod:`videocoach.ui.ratelimit`).  The first successful request of a token is
written to the audit log (a view or a clip play), not every range request.  A refusal of a verified token is audited
at once by ``Store.require_access`` or here; a bad token (no trusted identity) is refused before any database or
file work and only counted, one aggregated audit row per address, reason and minute (:mod:`videocoach.ui.refusals`).
"""

from __future__ import annotations

import base64
import collections
import hashlib
import hmac
import json
import threading
from pathlib import Path
from typing import Callable, Iterator

from videocoach.config import Settings
from videocoach.storage.records import AccessDenied, Lesson, NotFound, User
from videocoach.storage.store import Store
from videocoach.storage.vault import VaultError
from videocoach.ui.byte_ranges import ByteRange, RangeNotSatisfiable, parse_range
from videocoach.ui.media_tokens import (
    EXPORT_FORMATS,
    EXPORT_KIND,
    SERVABLE_KINDS,
    SESSION_KIND,
    UPLOAD_KIND,
    XSRF_COOKIE,
    MediaClaims,
    MediaTokens,
    TokenError,
    browser_binding,
)
from videocoach.ui.ratelimit import (
    UNKNOWN_ADDRESS,
    FailureLimiter,
    Strike,
    client_address,
    retry_after_header,
    shared_limiter,
)
from videocoach.ui.refusals import RefusalTally, shared_tally

ROUTE_PREFIX = "/vc-media/"
ROUTE_PATH = ROUTE_PREFIX + "{token}"
UPLOAD_PREFIX = "/vc-upload/"
UPLOAD_PATH = UPLOAD_PREFIX + "{token}"
SESSION_PREFIX = "/vc-session/"
SESSION_PATH = SESSION_PREFIX + "{token}"
SESSION_COOKIE = "vc_session"
SESSION_TTL_S = 12 * 3600.0  # a remembered login lasts a working day; logging out ends it at once
_GIF = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")
_SEEN_LIMIT = 4096  # tokens remembered per process for "audit once per token"
# A refusal of a bad token is answered late: the n-th failure of an address in its window after n x 50 ms, at most
# TARPIT_S (every 429).  It costs the server a sleeping coroutine, not CPU, and a client firing requests back to back
# slows down from its first failure (20 failures take ~10 s; then ~1 request/s per connection).  A person whose
# token expired waits 50 ms.
TARPIT_S = 1.0
FAILURE_DELAY_S = 0.05
_TARPIT_MAX = 1024  # refusals held back at once (each a sleeping coroutine); past that they are answered at once
EXPORT_PREFIX = "/vc-export/"
EXPORT_PATH = EXPORT_PREFIX + "{token}"
# -- may this lesson play now? -------------------------------------------------------------------------------------------
def audit_findings(store: Store, lesson_id: str) -> list[dict] | None:
    """The redaction audit's findings (possibly empty), or None when the audit has not run (yet)."""
    text = store.stage(lesson_id, "audit")
    if text is None:
        return None
    findings = json.loads(text).get("findings") or []
    return list(findings)


def playback_refusal(store: Store, lesson: Lesson, kind: str = "redacted") -> str | None:
    """Why ``kind`` of this lesson may not be played now (a sentence for the user), or None when it may.

    Fail closed: the redacted rendition plays only once its render AND its audit have finished for the current face
    marks and policy, and the audit found nothing or a reviewer cleared its findings.
    """
    if kind not in SERVABLE_KINDS:
        return "this kind of media is never played"
    kinds = store.media_kinds(lesson.id)
    if kind == "audio":
        probe = json.loads(store.stage(lesson.id, "probe") or "{}")
        if probe.get("has_video", True):
            return "this lesson has video: its sound plays with the redacted video"
        return None if "audio" in kinds else "the lesson's audio has not been extracted yet"
    if lesson.status == "blocked" and not lesson.settings.get("audit_cleared_at"):
        return "the redaction check found faces that may not be hidden: a reviewer must look at them first"
    if "redacted" not in kinds or store.stage(lesson.id, "render") is None:
        return "the redacted video is not ready yet (faces are being hidden)"
    findings = audit_findings(store, lesson.id)
    if findings is None:
        return "the redacted video is being checked for missed faces"
    if findings and not lesson.settings.get("audit_cleared_at"):
        return "the redaction check found faces that may not be hidden: a reviewer must look at them first"
    return None


# -- the route -----------------------------------------------------------------------------------------------------------
class MediaServer:
    """One per server process: a store for the checks (used under a lock: one SQLite connection), the token key,
    the per-address failure limiter and the tally of refusals not yet written.

    A request whose token is missing, malformed, forged, expired, of the wrong kind or from another browser is
    refused before any database or file work and without the store's lock (an HMAC and a JSON parse): it is counted
    in :attr:`tally` (one audit row per address, reason and window, see :mod:`videocoach.ui.refusals`) and in
    :attr:`limiter`, which turns an address's 403s into 429s once it fails too often.  A 429 is answered after
    ``tarpit_s`` so that a client firing back-to-back requests slows down instead of spinning the server.
    """

    def __init__(self, settings: Settings, *, limiter: FailureLimiter | None = None,
                 tally: RefusalTally | None = None, tarpit_s: float = TARPIT_S) -> None:
        self.settings = settings
        self.limiter = limiter if limiter is not None else FailureLimiter()
        self.tally = tally if tally is not None else RefusalTally()
        self.tarpit_s = tarpit_s
        self._lock = threading.Lock()
        self._store: Store | None = None
        self._tokens: MediaTokens | None = None
        self._seen: collections.OrderedDict[str, None] = collections.OrderedDict()
        self._timer_lock = threading.Lock()
        self._flush_timer: threading.Timer | None = None
        self._closed = False
        self._periodic = False  # flush at every window end, counted here or not (the shared tally)
        self._tarpitted = 0  # refusals being held back now (touched on the event loop only)

    def _open(self) -> tuple[Store, MediaTokens]:
        if self._tokens is None:
            self._tokens = MediaTokens.for_settings(self.settings)
        if self._store is None:
            self._store = Store(self.settings)
        return self._store, self._tokens

    def token_key(self) -> MediaTokens:
        """The token key, read once from the key file; the store is not opened for it."""
        tokens = self._tokens
        if tokens is None:
            with self._lock:
                if self._tokens is None:
                    self._tokens = MediaTokens.for_settings(self.settings)
                tokens = self._tokens
        return tokens

    def close(self) -> None:
        """Write every refusal still counted, then close the store (at shutdown)."""
        with self._timer_lock:
            self._closed = True
            if self._flush_timer is not None:
                self._flush_timer.cancel()
                self._flush_timer = None
        try:
            self.flush_refusals(everything=True)
        finally:
            with self._lock:
                if self._store is not None:
                    self._store.close()
                    self._store = None

    def routes(self) -> list:
        from starlette.routing import Route

        return [Route(ROUTE_PATH, self.handle, methods=["GET", "HEAD"], name="vc-media"),
                Route(UPLOAD_PATH, self.handle_upload, methods=["PUT"], name="vc-upload"),
                Route(SESSION_PATH, self.handle_session, methods=["GET"], name="vc-session"),
                Route(EXPORT_PATH, self.handle_export, methods=["GET"], name="vc-export")]

    def _first_use(self, token: str) -> bool:
        digest = hashlib.sha256(token.encode()).hexdigest()
        if digest in self._seen:
            self._seen.move_to_end(digest)
            return False
        self._seen[digest] = None
        while len(self._seen) > _SEEN_LIMIT:
            self._seen.popitem(last=False)
        return True

    # -- refusals of people not logged in ----------------------------------------------------------------------------
    def client_address(self, request) -> str:
        peer = request.client.host if request.client is not None else None
        return client_address(peer, request.headers.get("x-forwarded-for"), self.settings.trusted_proxies)

    def refuse_unauthenticated(self, action: str, address: str, reason: str) -> Strike:
        """Count one refusal of an unverified token (no database work now): the address's failures this window,
        and the seconds it must wait when it has failed too often (answer 429; otherwise 403)."""
        strike = self.limiter.record_failure(address)
        self.tally.add(action, address, "rate-limited" if strike.retry_after_s is not None else reason)
        self._schedule_flush()
        return strike

    def flush_refusals(self, *, everything: bool = False) -> int:
        """Write the counts of ended windows (or of all windows) as aggregated audit rows; how many rows."""
        counts = self.tally.drain() if everything else self.tally.due()
        if counts:
            with self._lock:
                store, _ = self._open()
                store.audit_refusals(counts)
        return len(counts)

    def _schedule_flush(self) -> None:
        with self._timer_lock:
            if self._flush_timer is not None or self._closed:
                return
            now = self.tally.now()
            delay = self.tally.window_of(now) + self.tally.window_s - now + 0.05
            self._flush_timer = threading.Timer(max(0.0, delay), self._flush_due)
            self._flush_timer.daemon = True
            self._flush_timer.start()

    def _flush_due(self) -> None:
        with self._timer_lock:
            self._flush_timer = None
        self.flush_refusals()
        if self._periodic or self.tally.pending():
            self._schedule_flush()

    def flush_every_window(self) -> None:
        """Write the tally at every window end from now on (others, e.g. the login page, add to it too)."""
        self._periodic = True
        self._schedule_flush()

    async def _refused(self, request, action: str, exc: TokenError, *, as_json: bool = False):
        """403 for an unverified token, or 429 + Retry-After (held back ``tarpit_s``) once its address is over the
        limit.  Runs on the event loop: no lock, no database, no file."""
        import asyncio

        from starlette.responses import JSONResponse, PlainTextResponse

        headers = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"}
        strike = self.refuse_unauthenticated(action, self.client_address(request), exc.reason)
        delay = min(self.tarpit_s, FAILURE_DELAY_S * strike.failures)
        if strike.retry_after_s is None:
            status, message = 403, "forbidden"
        else:
            status, message = 429, "too many refused requests from your address: try again later"
            headers["Retry-After"] = retry_after_header(strike.retry_after_s)
            delay = min(self.tarpit_s, strike.retry_after_s)
        if delay > 0 and self._tarpitted < _TARPIT_MAX:
            self._tarpitted += 1
            try:
                await asyncio.sleep(delay)
            finally:
                self._tarpitted -= 1
        if as_json:
            return JSONResponse({"error": message}, status_code=status, headers=headers)
        return PlainTextResponse(message, status_code=status, headers=headers)

    # -- media -----------------------------------------------------------------------------------------------------------
    def check_media_token(self, token: str, xsrf_cookie: str | None) -> MediaClaims:
        """The claims of a well-signed, unexpired token minted for this browser (no database work)."""
        claims = self.token_key().verify(token)
        if claims.binding is not None and not hmac.compare_digest(claims.binding, browser_binding(xsrf_cookie) or ""):
            raise TokenError("media token was issued to another browser", "other-browser")
        return claims

    def authorise(self, token: str, xsrf_cookie: str | None = None,
                  address: str = UNKNOWN_ADDRESS) -> tuple[int, str, MediaClaims | None, str]:
        """(status, message, claims, content type): 200 when the request may be served.  Audits as it goes."""
        try:
            claims = self.check_media_token(token, xsrf_cookie)
        except TokenError as exc:
            strike = self.refuse_unauthenticated("media.view", address, exc.reason)
            if strike.retry_after_s is not None:
                return 429, "too many refused requests", None, ""
            return 403, "forbidden", None, ""
        return self.authorise_claims(token, claims)

    def authorise_claims(self, token: str, claims: MediaClaims) -> tuple[int, str, MediaClaims | None, str]:
        """The checks of a verified token against the store: the user, their access, the lesson's state."""
        with self._lock:
            store, _ = self._open()
            if claims.session is not None and not store.login_session_live(claims.session):
                if self._first_use(token + "#ended"):
                    store.audit(claims.user_id, "media.view", None, "refused: the login this link was made for has ended",
                                allowed=False)
                return 403, "forbidden", None, ""
            if claims.kind not in SERVABLE_KINDS:
                store.audit(claims.user_id, "media.view", None, f"refused kind {claims.kind[:20]}", allowed=False)
                return 404, "not found", None, ""
            try:
                user = store.user(claims.user_id)
            except NotFound:
                return 403, "forbidden", None, ""
            try:
                lesson = store.require_access(user, claims.lesson_id, f"media.{claims.purpose}")
            except AccessDenied:
                return 404, "not found", None, ""
            refusal = playback_refusal(store, lesson, claims.kind)
            if refusal is not None:
                if self._first_use(token + "#refused"):
                    store.audit(user.id, f"media.{claims.purpose}", lesson.id, f"refused: {refusal}", allowed=False)
                return 403, refusal, None, ""
            if self._first_use(token):
                store.audit(user.id, f"media.{claims.purpose}", lesson.id, f"kind={claims.kind}")
            return 200, "", claims, SERVABLE_KINDS[claims.kind]

    def open_sealed(self, claims: MediaClaims):
        with self._lock:
            store, _ = self._open()
            return store.open_media(claims.lesson_id, claims.kind)

    async def handle(self, request):
        from starlette.concurrency import run_in_threadpool
        from starlette.responses import PlainTextResponse, Response, StreamingResponse

        token = request.path_params.get("token", "")
        if self._tokens is None:
            await run_in_threadpool(self.token_key)
        try:
            claims = self.check_media_token(token, request.cookies.get(XSRF_COOKIE))
        except TokenError as exc:
            return await self._refused(request, "media.view", exc)
        status, message, claims, content_type = await run_in_threadpool(self.authorise_claims, token, claims)
        base_headers = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff",
                        "Referrer-Policy": "no-referrer"}
        if status != 200 or claims is None:
            return PlainTextResponse(message, status_code=status, headers=base_headers)
        try:
            sealed = await run_in_threadpool(self.open_sealed, claims)
        except (NotFound, VaultError):
            return PlainTextResponse("not found", status_code=404, headers=base_headers)
        size = sealed.size
        try:
            byte_range = parse_range(request.headers.get("range"), size)
        except RangeNotSatisfiable:
            sealed.close()
            return Response(status_code=416, headers={**base_headers, "Content-Range": f"bytes */{size}"})
        headers = {**base_headers, "Accept-Ranges": "bytes", "Content-Disposition": "inline"}
        if byte_range is None:
            byte_range, status = ByteRange(0, size), 200
        else:
            status = 206
            headers["Content-Range"] = f"bytes {byte_range.start}-{byte_range.stop - 1}/{size}"
        headers["Content-Length"] = str(byte_range.length)
        if request.method == "HEAD" or byte_range.length == 0:
            sealed.close()
            return Response(status_code=status, headers=headers, media_type=content_type)
        return StreamingResponse(_stream(sealed, byte_range), status_code=status, headers=headers,
                                 media_type=content_type)


    # -- remembered logins ------------------------------------------------------------------------------------------
    def resume_session(self, claims: MediaClaims) -> str | None:
        """The session id a verified grant carries, when the session is live (a refusal is audited)."""
        with self._lock:
            store, _ = self._open()
            raw = store.consume_login_grant(claims.nonce)  # one time only
            user = store.resume_login_session(raw, claims.binding) if raw is not None else None
            if user is None or user.id != claims.user_id:
                store.audit(None, "login.cookie", None, "refused: no such login grant or session", allowed=False)
                return None
            return raw

    async def handle_session(self, request):
        from starlette.concurrency import run_in_threadpool
        from starlette.responses import PlainTextResponse, Response

        headers = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"}
        if self._tokens is None:
            await run_in_threadpool(self.token_key)
        try:
            claims = self.token_key().verify_for_browser(request.path_params.get("token", ""), SESSION_KIND,
                                                         request.cookies.get(XSRF_COOKIE))
        except TokenError as exc:
            return await self._refused(request, "login.cookie", exc)
        session_id = await run_in_threadpool(self.resume_session, claims)
        if session_id is None:
            return PlainTextResponse("forbidden", status_code=403, headers=headers)
        response = Response(_GIF, media_type="image/gif", headers=headers)
        response.set_cookie(SESSION_COOKIE, session_id, max_age=int(SESSION_TTL_S), path="/", httponly=True,
                            samesite="strict", secure=request.url.scheme == "https")
        return response

    # -- bookmark exports (made when fetched, never a file in Streamlit's /media/) ----------------------------------
    def export_bookmarks(self, claims: MediaClaims) -> tuple[int, str, str]:
        """(status, body, format): the lesson's bookmarks for a verified, browser-bound export token whose login is
        still live (refusals audited)."""
        from videocoach.ui import review

        with self._lock:
            store, _ = self._open()
            refusal = None
            if claims.purpose not in EXPORT_FORMATS:
                refusal = "unknown export format"
            elif claims.session is not None and not store.login_session_live(claims.session):
                refusal = "the login this link was made for has ended"
            else:
                try:
                    user = store.user(claims.user_id)
                except NotFound:
                    refusal = "no such user"
            if refusal is not None:
                store.audit(None, "bookmark.export", None, f"refused: {refusal}", allowed=False)
                return 403, "forbidden", ""
            try:
                lesson = store.require_access(user, claims.lesson_id, "bookmark.export")
            except AccessDenied:
                return 404, "not found", ""
            bookmarks = store.bookmarks(user, lesson.id)
            body = (review.bookmarks_csv(bookmarks) if claims.purpose == "csv"
                    else review.bookmarks_json(lesson, bookmarks))
            store.audit(user.id, "bookmark.export", lesson.id, f"format={claims.purpose}")
            return 200, body, claims.purpose

    async def handle_export(self, request):
        from starlette.concurrency import run_in_threadpool
        from starlette.responses import PlainTextResponse, Response

        headers = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"}
        if self._tokens is None:
            await run_in_threadpool(self.token_key)
        try:  # a bad token is refused before any database work, and counted per address (as the media route)
            claims = self.token_key().verify_for_browser(request.path_params.get("token", ""), EXPORT_KIND,
                                                         request.cookies.get(XSRF_COOKIE))
        except TokenError as exc:
            return await self._refused(request, "bookmark.export", exc)
        status, body, fmt = await run_in_threadpool(self.export_bookmarks, claims)
        if status != 200:
            return PlainTextResponse(body, status_code=status, headers=headers)
        headers["Content-Disposition"] = f'attachment; filename="bookmarks.{fmt}"'
        return Response(body, media_type=EXPORT_FORMATS[fmt], headers=headers)

    # -- uploads ---------------------------------------------------------------------------------------------------------
    def upload_user(self, claims: MediaClaims) -> User | None:
        """The teacher a verified upload token names, if they still exist and are a teacher (refusals audited)."""
        with self._lock:
            store, _ = self._open()
            if claims.session is not None and not store.login_session_live(claims.session):
                store.audit(claims.user_id, "lesson.upload", None, "refused: the login this link was made for has ended",
                            allowed=False)
                return None
            try:
                user = store.user(claims.user_id)
            except NotFound as exc:
                store.audit(None, "lesson.upload", None, f"refused: {exc}", allowed=False)
                return None
            if user.role != "teacher":
                store.audit(user.id, "lesson.upload", None, "refused: only a teacher owns lessons", allowed=False)
                return None
            return user

    def ingest_upload(self, user: User, path: Path, params: dict[str, str]) -> Lesson:
        """Check and seal an uploaded working file and queue its analysis (its own store: this takes a while)."""
        from videocoach.ui import review

        span = review.parse_span(params.get("sample", ""))
        with Store(self.settings) as store:
            return review.upload_lesson(store, self.settings, user, path, params.get("name") or "lesson.mp4",
                                        title=params.get("title", ""), policy_name=params.get("policy") or None,
                                        teacher_sample=span)

    async def handle_upload(self, request):
        import os
        import tempfile

        from starlette.concurrency import run_in_threadpool
        from starlette.responses import JSONResponse

        from videocoach.av.media import MediaError
        from videocoach.privacy.policy import PolicyError

        headers = {"Cache-Control": "no-store"}
        if self._tokens is None:
            await run_in_threadpool(self.token_key)
        try:
            claims = self.token_key().verify_for_browser(request.path_params.get("token", ""), UPLOAD_KIND,
                                                         request.cookies.get(XSRF_COOKIE))
        except TokenError as exc:
            return await self._refused(request, "lesson.upload", exc, as_json=True)
        user = await run_in_threadpool(self.upload_user, claims)
        if user is None:
            return JSONResponse({"error": "forbidden"}, status_code=403, headers=headers)
        limit = self.settings.max_upload_bytes
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            return JSONResponse({"error": f"the file is larger than the limit of {limit / 1024**3:.1f} GiB"},
                                status_code=413, headers=headers)
        params = {k: str(request.query_params.get(k, ""))[:300] for k in ("name", "title", "policy", "sample")}
        work_dir = Path(self.settings.data_dir) / "work" / str(os.getpid())
        work_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd, tmp = tempfile.mkstemp(prefix="upload-", dir=work_dir)  # plaintext working file, removed below
        path = Path(tmp)
        try:
            size = 0
            with os.fdopen(fd, "wb") as out:
                async for chunk in request.stream():
                    size += len(chunk)
                    if size > limit:
                        return JSONResponse({"error": f"the file is larger than the limit of "
                                                      f"{limit / 1024**3:.1f} GiB"}, status_code=413, headers=headers)
                    if chunk:
                        await run_in_threadpool(out.write, chunk)
            if size == 0:
                return JSONResponse({"error": "the upload was empty"}, status_code=400, headers=headers)
            try:
                lesson = await run_in_threadpool(self.ingest_upload, user, path, params)
            except (MediaError, PolicyError, ValueError) as exc:
                return JSONResponse({"error": str(exc)}, status_code=400, headers=headers)
            return JSONResponse({"lesson_id": lesson.id, "title": lesson.title}, status_code=201, headers=headers)
        finally:
            path.unlink(missing_ok=True)


def _stream(sealed, byte_range: ByteRange) -> Iterator[bytes]:
    """Decrypt only the chunks the range touches; the file is closed when the client stops reading."""
    try:
        yield from sealed.iter_range(byte_range.start, byte_range.stop)
    finally:
        sealed.close()


def media_app(settings: Settings | None = None) -> tuple[list, Callable]:
    """The routes ``app.py`` hands to ``st.App`` and its lifespan: one server with the process's shared limiter
    and tally (the login page counts failed logins against the one and its refusals in the other), which writes
    the counted refusals at each window end and at shutdown."""
    import contextlib

    server = MediaServer(settings or Settings.from_env(), limiter=shared_limiter(), tally=shared_tally())

    @contextlib.asynccontextmanager
    async def lifespan(app):
        server.flush_every_window()
        try:
            yield None
        finally:
            server.close()

    return server.routes(), lifespan


def media_routes(settings: Settings | None = None) -> list:
    """The routes alone (their counted refusals are written at window ends; :func:`media_app` also at shutdown)."""
    return MediaServer(settings or Settings.from_env(), limiter=shared_limiter()).routes()


def media_path(token: str) -> str:
    return ROUTE_PREFIX + token


def session_path(token: str) -> str:
    return SESSION_PREFIX + token


def upload_path(token: str) -> str:
    return UPLOAD_PREFIX + token


def export_path(token: str) -> str:
    return EXPORT_PREFIX + token


__all__ = [
    "MediaServer",
    "audit_findings",
    "export_path",
    "media_app",
    "media_path",
    "media_routes",
    "upload_path",
    "session_path",
    "playback_refusal",
]
