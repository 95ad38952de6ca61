"""One browser session: the store handle, who is logged in, and which lesson is open.

Everything here lives in ``st.session_state`` (per user, server side) under ``vc.``-prefixed keys -- never in
``st.cache_resource``, which every user shares.  The logged-in user is re-read from the store on every run, so a
deleted account is logged out at once.  Logins are the argon2 password check of :mod:`videocoach.storage.auth`; when the
deployment configures ``[auth]`` in ``.streamlit/secrets.toml``, ``st.login`` (OIDC, the school's identity provider)
is offered too and its verified e-mail is mapped to a store user of that name (accounts are never created from a
login).
"""

from __future__ import annotations

import streamlit as st

from videocoach.storage import auth
from videocoach.config import Settings
from videocoach.storage.records import AccessDenied, Lesson, NotFound, User
from videocoach.storage.store import Store
from videocoach.ui.ratelimit import UNKNOWN_ADDRESS
from videocoach.ui.refusals import shared_tally

KEY_STORE = "vc.store"
KEY_USER = "vc.user_id"
KEY_OIDC_AUDITED = "vc.oidc_audited"
KEY_LESSON = "vc.lesson_id"
KEY_PICK = "vc.lesson_pick"
KEY_MEDIA_URLS = "vc.media_urls"
KEY_SESSION_ID = "vc.session_id"  # this login's remembered-session id (ended on log out)
KEY_COOKIE_GRANT = "vc.cookie_grant"  # a grant the page hands the browser once, to get the session cookie
QUERY_LESSON = "lesson"


def settings() -> Settings:
    return Settings.from_env()


def store() -> Store:
    """This session's store (one SQLite connection per session; opened on first use)."""
    current = settings()
    held = st.session_state.get(KEY_STORE)
    if held is None or held.settings != current:
        held = Store(current)
        st.session_state[KEY_STORE] = held
    return held


# -- login ---------------------------------------------------------------------------------------------------------------
def oidc_configured() -> bool:
    """True when ``[auth]`` is set in the deployment's secrets (then ``st.login`` is offered)."""
    try:
        return "auth" in st.secrets
    except (FileNotFoundError, KeyError, AttributeError):
        return False
    except Exception as exc:  # noqa: BLE001 - Streamlit raises its own error type for a missing/bad secrets file
        if type(exc).__name__.startswith("StreamlitSecret"):
            return False
        raise


def _oidc_user(db: Store) -> User | None:
    if not oidc_configured():
        return None
    info = st.user
    if not getattr(info, "is_logged_in", False):
        return None
    email = str(info.get("email") or "").strip().lower()
    if not email or info.get("email_verified") is False:  # an address the identity provider did not verify
        return None
    user = db.user_by_name(email)
    if user is not None and not st.session_state.get(KEY_OIDC_AUDITED):
        db.audit(user.id, "login", None, "oidc", allowed=True)
        st.session_state[KEY_OIDC_AUDITED] = True
    return user


def current_user(db: Store) -> User | None:
    user_id = st.session_state.get(KEY_USER)
    if user_id is not None:
        try:
            return db.user(int(user_id))
        except NotFound:
            logout()
            return None
    return _remembered_user(db) or _oidc_user(db)


def _cookie(name: str) -> str | None:
    try:
        value = st.context.cookies.get(name)
    except (AttributeError, RuntimeError):
        return None
    return value if isinstance(value, str) and value else None


def _remembered_user(db: Store) -> User | None:
    """A browser that reloads the page (a new Streamlit session) stays logged in through its HttpOnly session
    cookie, bound to the same browser and ended by logging out, a password change or its 12-hour expiry."""
    from videocoach.ui.mediaserver import SESSION_COOKIE
    from videocoach.ui.media_tokens import browser_binding

    raw = _cookie(SESSION_COOKIE)
    user = db.resume_login_session(raw, browser_binding(browser_cookie()))
    if user is not None:
        st.session_state[KEY_USER] = user.id
        st.session_state[KEY_SESSION_ID] = raw
    return user


def remember_login(db: Store, user: User) -> None:
    """Start a remembered session for this browser; the page hands the browser its cookie (see
    :func:`hand_over_cookie`).  Without a browser cookie to bind to (AppTest), nothing is remembered."""
    from videocoach.ui.mediaserver import SESSION_TTL_S
    from videocoach.ui.media_tokens import MediaTokens, browser_binding

    xsrf = browser_cookie()
    if xsrf is None:
        return
    raw = db.create_login_session(user, SESSION_TTL_S, browser_binding(xsrf))
    st.session_state[KEY_SESSION_ID] = raw
    grant = db.create_login_grant(raw)  # a one-time id: the session id itself never goes into the page
    st.session_state[KEY_COOKIE_GRANT] = MediaTokens.for_settings(db.settings).mint_session_grant(
        user.id, grant, browser_cookie=xsrf)


def hand_over_cookie() -> None:
    """Once after a password login: an invisible image whose response sets the HttpOnly session cookie."""
    from videocoach.ui.mediaserver import session_path

    grant = st.session_state.pop(KEY_COOKIE_GRANT, None)
    if grant:
        st.html(f'<img src="{session_path(grant)}" alt="" width="1" height="1" style="position:absolute;opacity:0">')


def oidc_unknown_email() -> str | None:
    """The e-mail of an identity-provider login that has no videocoach account (to tell the user), else None."""
    if not oidc_configured() or not getattr(st.user, "is_logged_in", False):
        return None
    email = str(st.user.get("email") or "").strip().lower()
    return email if email and store().user_by_name(email) is None else None


def client_address() -> str | None:
    try:
        address = st.context.ip_address
    except (AttributeError, RuntimeError):
        return None
    return str(address) if address else None


def login_session_tag() -> str | None:
    """The tag media and export links carry so they end with this login (None without a remembered login)."""
    return Store.login_session_tag(st.session_state.get(KEY_SESSION_ID))


def login(db: Store, username: str, password: str) -> User | None:
    address = client_address()

    def count_refusal(reason: str) -> None:  # per address and minute, one audit row (ui.refusals)
        shared_tally().add("login", address or UNKNOWN_ADDRESS, reason)

    user = auth.authenticate(db, username, password, address, count_refusal=count_refusal)
    if user is not None:
        _end_remembered(db)
        _forget_session()  # nothing of a previous login survives (lesson choice, media tokens, form values)
        st.session_state[KEY_USER] = user.id
        remember_login(db, user)
    return user


def _end_remembered(db: Store) -> None:
    from videocoach.ui.mediaserver import SESSION_COOKIE

    for raw in {st.session_state.get(KEY_SESSION_ID), _cookie(SESSION_COOKIE)}:
        db.end_login_session(raw)


def _forget_session() -> None:
    for key in list(st.session_state):
        if key != KEY_STORE:
            del st.session_state[key]


def logout() -> None:
    _end_remembered(store())
    _forget_session()
    if oidc_configured() and getattr(st.user, "is_logged_in", False):
        st.logout()


def require_user() -> tuple[Store, User]:
    """The store and the logged-in user; a page that runs without one stops here (the app shows the login page)."""
    db = store()
    user = current_user(db)
    if user is None:
        st.warning("Please log in.")
        st.stop()
    return db, user  # type: ignore[return-value]


def browser_cookie() -> str | None:
    """This browser's Streamlit XSRF cookie (media and upload tokens are bound to it), or None."""
    from videocoach.ui.media_tokens import XSRF_COOKIE

    return _cookie(XSRF_COOKIE)


# -- the open lesson -----------------------------------------------------------------------------------------------------
def lesson_label(lesson: Lesson, owner_name: str | None = None) -> str:
    import datetime as _dt

    day = _dt.datetime.fromtimestamp(lesson.created_at).strftime("%d %b %Y")
    who = f" · {owner_name}" if owner_name else ""
    return f"{lesson.title} ({day}{who})"


def choose_lesson(db: Store, user: User, where=st.sidebar) -> str | None:
    """A lesson picker (sidebar) over the lessons this user may see; the choice is kept per session and in the URL."""
    lessons = db.lessons_for(user)
    if not lessons:
        return None
    ids = [l.id for l in lessons]
    wanted = st.session_state.get(KEY_LESSON) or st.query_params.get(QUERY_LESSON)
    if wanted not in ids:
        wanted = ids[0]
    owners = {l.owner_id: db.user(l.owner_id).display_name for l in lessons if l.owner_id != user.id}
    by_id = {l.id: l for l in lessons}
    st.session_state[KEY_PICK] = wanted  # a lesson opened elsewhere (Lessons page) shows in the picker

    def _picked() -> None:
        set_lesson(st.session_state[KEY_PICK])

    where.selectbox("Lesson", ids, key=KEY_PICK, on_change=_picked,
                    format_func=lambda i: lesson_label(by_id[i], owners.get(by_id[i].owner_id)))
    set_lesson(wanted)
    return wanted


def set_lesson(lesson_id: str) -> None:
    st.session_state[KEY_LESSON] = lesson_id
    if st.query_params.get(QUERY_LESSON) != lesson_id:
        st.query_params[QUERY_LESSON] = lesson_id


def open_lesson(db: Store, user: User, action: str) -> Lesson:
    """The session's current lesson, checked with ``require_access`` (a refusal is audited and stops the page)."""
    lesson_id = st.session_state.get(KEY_LESSON) or st.query_params.get(QUERY_LESSON)
    if not lesson_id:
        st.info("No lesson yet. A teacher uploads lessons on the Lessons page and shares them with a coach.")
        st.stop()
    try:
        return db.require_access(user, str(lesson_id), action)
    except AccessDenied:
        st.session_state.pop(KEY_LESSON, None)
        st.error("No such lesson, or you may not open it.")
        st.stop()
        raise  # unreachable: st.stop raises
