"""Signed, short-lived media tokens: ``base64url(claims JSON) "." base64url(HMAC-SHA256(key, claims JSON))``, bound
to the browser that asked (a hash of its XSRF cookie) and to the login they were made for.  Checking one needs no
database and no file: a forged or expired token is refused before any other work.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
import secrets
import time
from dataclasses import dataclass
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from videocoach.config import Settings
from videocoach.storage.vault import load_or_create_key


UPLOAD_KIND = "upload"  # an upload token's kind: never servable
SESSION_KIND = "session"  # a one-minute grant that turns a login into an HttpOnly cookie: never servable
# What may reach a browser, with its content type.  "original" is never here.  "audio" only for a lesson without
# video (voices are not restricted like faces are; a video lesson plays its audio inside the redacted rendition).
SERVABLE_KINDS: dict[str, str] = {"redacted": "video/mp4", "audio": "audio/wav"}
TOKEN_TTL_S = 3600.0  # 1 h; the session re-mints a fresh token well before expiry (see player.media_url)
_TOKEN_INFO = b"videocoach media token v1"
_MAX_TOKEN_LEN = 1024
XSRF_COOKIE = "_streamlit_xsrf"
EXPORT_KIND = "export"  # a bookmark export (made when fetched): never servable as media
EXPORT_FORMATS: dict[str, str] = {"csv": "text/csv; charset=utf-8", "json": "application/json"}
EXPORT_TTL_S = 600.0


class TokenError(ValueError):
    """A media token that is missing, malformed, forged or expired; ``reason`` is a short word for the audit log."""

    def __init__(self, message: str, reason: str = "malformed") -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class MediaClaims:
    user_id: int
    lesson_id: str
    kind: str
    expires_at: float
    purpose: str  # "view", "meeting", ... (shown in the audit log)
    nonce: str
    binding: str | None = None  # hash of the browser's XSRF secret, when the minting session had one
    session: str | None = None  # the login session's tag (Store.login_session_tag): the link ends with the login


class MediaTokens:
    """Mints and verifies media tokens with one HMAC key."""

    def __init__(self, key: bytes) -> None:
        if len(key) < 32:
            raise ValueError("a media token key needs at least 32 bytes")
        self._key = key

    @classmethod
    def for_settings(cls, settings: Settings) -> "MediaTokens":
        master = load_or_create_key(settings.key_file, settings.data_dir)
        hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_TOKEN_INFO)
        return cls(hkdf.derive(master))

    def mint(
        self, user_id: int, lesson_id: str, kind: str, *, purpose: str = "view", ttl_s: float = TOKEN_TTL_S,
        now: float | None = None, browser_cookie: str | None = None, session: str | None = None,
    ) -> str:
        """A token for ``user_id`` to play ``kind`` of a lesson; ``browser_cookie`` (the XSRF cookie of the
        browser the session runs in) binds it to that browser, ``session`` (a login session tag) to that login."""
        if kind not in SERVABLE_KINDS:
            raise ValueError(f"media kind {kind!r} is never served")
        return self._mint(user_id, str(lesson_id), kind, str(purpose)[:40], secrets.token_hex(8), ttl_s, now,
                          browser_cookie, session)

    def mint_export(self, user_id: int, lesson_id: str, fmt: str, *, ttl_s: float = EXPORT_TTL_S,
                    now: float | None = None, browser_cookie: str | None = None, session: str | None = None) -> str:
        """A token for ``user_id`` to download the lesson's bookmarks as ``fmt`` (made fresh when fetched)."""
        if fmt not in EXPORT_FORMATS:
            raise ValueError(f"no export format {fmt!r}")
        return self._mint(user_id, str(lesson_id), EXPORT_KIND, fmt, secrets.token_hex(8), ttl_s, now,
                          browser_cookie, session)

    def mint_upload(self, user_id: int, *, ttl_s: float = TOKEN_TTL_S, now: float | None = None,
                    browser_cookie: str | None = None, session: str | None = None) -> str:
        """A token that lets ``user_id`` upload lessons from this browser for ``ttl_s``."""
        return self._mint(user_id, "", UPLOAD_KIND, "upload", secrets.token_hex(8), ttl_s, now, browser_cookie,
                          session)

    def mint_session_grant(self, user_id: int, grant_id: str, *, ttl_s: float = 60.0, now: float | None = None,
                           browser_cookie: str | None = None) -> str:
        """A short-lived grant the browser fetches once from ``/vc-session/`` to receive its session id as an
        HttpOnly cookie (a Streamlit script cannot set cookies itself).  ``grant_id`` is a one-time id from
        ``Store.create_login_grant``, never the session id itself."""
        return self._mint(user_id, "", SESSION_KIND, "login", str(grant_id), ttl_s, now, browser_cookie)

    def _mint(self, user_id: int, lesson_id: str, kind: str, purpose: str, nonce: str, ttl_s: float,
              now: float | None, browser_cookie: str | None, session: str | None = None) -> str:
        now = time.time() if now is None else now
        claims = {"u": int(user_id), "l": lesson_id, "k": kind, "x": int(now + ttl_s), "p": purpose, "n": nonce}
        binding = browser_binding(browser_cookie)
        if binding is not None:
            claims["b"] = binding
        if session:
            claims["s"] = str(session)
        return self.sign(claims)

    def sign(self, claims: dict) -> str:
        """Sign arbitrary claims (``mint`` checks them first; tests use this to forge well-signed bad claims)."""
        body = json.dumps(claims, separators=(",", ":"), sort_keys=True).encode()
        mac = hmac.new(self._key, body, hashlib.sha256).digest()
        return f"{_b64(body)}.{_b64(mac)}"

    def verify_for_browser(self, token: str, kind: str, xsrf_cookie: str | None) -> MediaClaims:
        """:meth:`verify`, and the token is of ``kind`` and was minted for the browser presenting it."""
        return _check_browser(self.verify(token), kind, xsrf_cookie)

    def verify(self, token: str, *, now: float | None = None) -> MediaClaims:
        if not token or len(token) > _MAX_TOKEN_LEN or token.count(".") != 1:
            raise TokenError("malformed media token")
        body_part, mac_part = token.split(".")
        try:
            body, mac = _unb64(body_part), _unb64(mac_part)
        except (ValueError, binascii.Error) as exc:
            raise TokenError("malformed media token") from exc
        if not hmac.compare_digest(mac, hmac.new(self._key, body, hashlib.sha256).digest()):
            raise TokenError("media token signature does not match", "bad-signature")
        try:
            raw = json.loads(body)
            claims = MediaClaims(int(raw["u"]), str(raw["l"]), str(raw["k"]), float(raw["x"]), str(raw["p"]),
                                 str(raw["n"]), str(raw["b"]) if raw.get("b") is not None else None,
                                 str(raw["s"]) if raw.get("s") is not None else None)
        except (ValueError, KeyError, TypeError) as exc:
            raise TokenError("malformed media token claims") from exc
        if (time.time() if now is None else now) >= claims.expires_at:
            raise TokenError("media token expired", "expired")
        return claims


def _check_browser(claims: MediaClaims, kind: str, xsrf_cookie: str | None) -> MediaClaims:
    if claims.kind != kind:
        raise TokenError(f"not a{'n' if kind[0] in 'aeiou' else ''} {kind} token", "wrong-kind")
    if claims.binding is not None and not hmac.compare_digest(claims.binding, browser_binding(xsrf_cookie) or ""):
        raise TokenError(f"{kind} token was issued to another browser", "other-browser")
    return claims


def browser_binding(xsrf_cookie: str | None) -> str | None:
    """A stable hash of the secret in Streamlit's XSRF cookie, or None without one.

    The cookie is ``2|mask|masked token|timestamp`` (hex); Streamlit re-masks it now and then, so the unmasked token
    is what identifies the browser.  Any other format is hashed as it is.
    """
    if not isinstance(xsrf_cookie, str) or not xsrf_cookie:
        return None
    secret = xsrf_cookie.encode()
    parts = xsrf_cookie.split("|")
    if len(parts) == 4 and parts[0] == "2":
        try:
            mask, masked = bytes.fromhex(parts[1]), bytes.fromhex(parts[2])
        except ValueError:
            pass
        else:
            if mask:
                secret = bytes(b ^ mask[i % len(mask)] for i, b in enumerate(masked))
    return hashlib.sha256(b"videocoach browser binding\0" + secret).hexdigest()[:32]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    if not re.fullmatch(r"[A-Za-z0-9_-]*", text):
        raise ValueError("not base64url")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
