"""Accounts, remembered logins, failed-login counts and sharing: who may come in, and whom a teacher shares a lesson
with.  Part of :class:`~videocoach.storage.store.Store`.
"""

from __future__ import annotations

import secrets
import time
from typing import Sequence

from videocoach.storage.records import (
    DAY_S,
    NotFound,
    User,
    UserRole,
    session_hash,
    user_from_row,
)


class PeopleMixin:
    """Part of :class:`Store`."""

    # -- users ----------------------------------------------------------------------------------------------------------
    def add_user(self, username: str, role: UserRole, password_hash: str | None, display_name: str = "") -> User:
        username = username.strip().lower()
        if not username or len(username) > 64 or not all(c.isalnum() or c in "._-@" for c in username):
            raise ValueError("a user name is 1-64 letters, digits or . _ - @")
        with self.transaction() as db:
            cur = db.execute(
                "INSERT INTO users(username, display_name, role, password_hash, created_at) VALUES (?,?,?,?,?)"
                " RETURNING id",
                (username, display_name or username, role, password_hash, time.time()),
            )
            user = User(int(cur.fetchone()[0]), username, display_name or username, role)
        self.audit(user.id, "user.create", None, f"role={role}")
        return user

    def user(self, user_id: int) -> User:
        row = self._db.execute("SELECT * FROM users WHERE id=?", (user_id,)).fetchone()
        if row is None:
            raise NotFound(f"no user {user_id}")
        return user_from_row(row)

    def user_by_name(self, username: str) -> User | None:
        row = self._db.execute("SELECT * FROM users WHERE username=?", (username.strip().lower(),)).fetchone()
        return user_from_row(row) if row else None

    def password_hash(self, user_id: int) -> str | None:
        row = self._db.execute("SELECT password_hash FROM users WHERE id=?", (user_id,)).fetchone()
        return row["password_hash"] if row else None

    def set_password_hash(self, user_id: int, password_hash: str) -> None:
        with self.transaction() as db:
            db.execute("UPDATE users SET password_hash=? WHERE id=?", (password_hash, user_id))
            db.execute("DELETE FROM login_sessions WHERE user_id=?", (user_id,))  # a new password logs out everywhere
        self.audit(user_id, "user.password", None, "")

    # -- remembered logins (a browser that reloads the page stays logged in) ----------------------------------------
    def create_login_session(self, user: User, ttl_s: float, browser: str | None = None) -> str:
        """A random session id for a browser cookie; only its hash is stored.  ``browser``: what binds it to one
        browser (a hash of Streamlit's XSRF secret), checked again when it is resumed."""
        raw = secrets.token_urlsafe(32)
        now = time.time()
        with self.transaction() as db:
            db.execute("DELETE FROM login_sessions WHERE expires_at <= ?", (now,))
            db.execute("INSERT INTO login_sessions(id_hash, user_id, browser, created_at, expires_at) VALUES (?,?,?,?,?)",
                       (session_hash(raw), user.id, browser, now, now + ttl_s))
        return raw

    def resume_login_session(self, raw: str | None, browser: str | None = None) -> User | None:
        """The user of a live session id presented by the same browser, else None."""
        if not raw or len(raw) > 128:
            return None
        row = self._db.execute("SELECT user_id, browser, expires_at FROM login_sessions WHERE id_hash=?",
                               (session_hash(raw),)).fetchone()
        if row is None or row["expires_at"] <= time.time():
            return None
        if row["browser"] is not None and row["browser"] != browser:
            return None
        try:
            return self.user(int(row["user_id"]))
        except NotFound:
            return None

    def end_login_session(self, raw: str | None) -> None:
        if raw:
            with self.transaction() as db:
                db.execute("DELETE FROM login_sessions WHERE id_hash=?", (session_hash(raw),))

    @staticmethod
    def login_session_tag(raw: str | None) -> str | None:
        """What a media / export link carries to end with the login: a hash of the session id (not the id)."""
        return session_hash(raw)[:32] if raw else None

    def login_session_live(self, tag: str | None) -> bool:
        """Whether the login session a link was made for still exists (not logged out, not expired)."""
        if not tag or len(tag) != 32:
            return False
        row = self._db.execute("SELECT 1 FROM login_sessions WHERE substr(id_hash, 1, 32)=? AND expires_at > ?",
                               (tag, time.time())).fetchone()
        return row is not None

    def create_login_grant(self, raw: str, ttl_s: float = 60.0) -> str:
        """A one-time id for the page's cookie grant: the session id itself never goes into the page.  The
        session id is kept sealed until the grant is used (once) or expires."""
        grant = secrets.token_urlsafe(24)
        now = time.time()
        with self.transaction() as db:
            db.execute("DELETE FROM login_grants WHERE expires_at <= ?", (now,))
            db.execute("INSERT INTO login_grants(id_hash, session_sealed, expires_at) VALUES (?,?,?)",
                       (session_hash(grant), self._seal("login_grants", "session", (session_hash(grant),), raw),
                        now + ttl_s))
        return grant

    def consume_login_grant(self, grant: str | None) -> str | None:
        """The session id behind a live one-time grant, which is used up; None for an unknown, used or old one."""
        if not grant or len(grant) > 128:
            return None
        key = session_hash(grant)
        with self.transaction() as db:
            row = db.execute("SELECT session_sealed, expires_at FROM login_grants WHERE id_hash=?", (key,)).fetchone()
            db.execute("DELETE FROM login_grants WHERE id_hash=?", (key,))
        if row is None or row["expires_at"] <= time.time():
            return None
        return self._open("login_grants", "session", (key,), row["session_sealed"])

    # -- failed logins (back-off per account and per address) --------------------------------------------------------
    def record_login_failure(self, scopes: Sequence[str], now: float | None = None, max_rows: int | None = None) -> None:
        """One failure per scope at ``now``; with ``max_rows``, a scope that already has that many rows gets its
        latest one moved to ``now`` instead (the wait restarts, the table stays bounded under a flood)."""
        now = time.time() if now is None else now
        with self.transaction() as db:
            db.execute("DELETE FROM login_failures WHERE at <= ?", (now - DAY_S,))
            for scope in (s[:200] for s in scopes):
                count = db.execute("SELECT COUNT(*) FROM login_failures WHERE scope=?", (scope,)).fetchone()[0]
                if max_rows is not None and count >= max_rows:
                    db.execute("UPDATE login_failures SET at=? WHERE scope=? AND at=(SELECT MAX(at) FROM"
                               " login_failures WHERE scope=?)", (now, scope, scope))
                else:
                    db.execute("INSERT INTO login_failures(scope, at) VALUES (?,?)", (scope, now))

    def login_failures(self, scope: str, since: float) -> tuple[int, float | None]:
        """(failures of ``scope`` since ``since``, the time of the last one)."""
        row = self._db.execute("SELECT COUNT(*) AS n, MAX(at) AS last FROM login_failures WHERE scope=? AND at > ?",
                               (scope[:200], since)).fetchone()
        return int(row["n"]), (float(row["last"]) if row["last"] is not None else None)

    def clear_login_failures(self, scope: str) -> None:
        with self.transaction() as db:
            db.execute("DELETE FROM login_failures WHERE scope=?", (scope[:200],))

    def users(self, role: UserRole | None = None) -> list[User]:
        if role:
            rows = self._db.execute("SELECT * FROM users WHERE role=? ORDER BY username", (role,)).fetchall()
        else:
            rows = self._db.execute("SELECT * FROM users ORDER BY username").fetchall()
        return [user_from_row(r) for r in rows]

    def shared_with(self, lesson_id: str) -> list[User]:
        rows = self._db.execute(
            "SELECT u.* FROM users u JOIN shares s ON s.coach_id=u.id WHERE s.lesson_id=? ORDER BY u.username",
            (lesson_id,),
        ).fetchall()
        return [user_from_row(r) for r in rows]

    def share(self, owner: User, lesson_id: str, coach: User) -> None:
        self.require_access(owner, lesson_id, "lesson.share", owner_only=True)
        if coach.role != "coach":
            raise ValueError(f"{coach.username} is not a coach")
        with self.transaction() as db:
            db.execute("INSERT INTO shares(lesson_id, coach_id, created_at) VALUES (?,?,?) ON CONFLICT DO NOTHING",
                       (lesson_id, coach.id, time.time()))
        self.audit(owner.id, "lesson.share", lesson_id, f"coach={coach.username}")

    def unshare(self, owner: User, lesson_id: str, coach: User) -> None:
        self.require_access(owner, lesson_id, "lesson.unshare", owner_only=True)
        with self.transaction() as db:
            db.execute("DELETE FROM shares WHERE lesson_id=? AND coach_id=?", (lesson_id, coach.id))
        self.audit(owner.id, "lesson.unshare", lesson_id, f"coach={coach.username}")
