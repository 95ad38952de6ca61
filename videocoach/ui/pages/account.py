"""Account: change one's password; for an admin, the list of accounts and a form to create one."""

import streamlit as st

from videocoach.storage import auth
from videocoach.storage.records import NotFound
from videocoach.ui import review, session, wording


def password_form(db, user) -> None:
    st.subheader("Change password")
    with st.form("ac.password", clear_on_submit=True):
        current = st.text_input("Current password", type="password", autocomplete="current-password")
        new = st.text_input("New password", type="password", autocomplete="new-password")
        again = st.text_input("New password again", type="password", autocomplete="new-password")
        submitted = st.form_submit_button("Change password")
    if not submitted:
        return
    if new != again:
        st.error("The two new passwords differ.")
    elif auth.authenticate(db, user.username, current) is None:
        st.error("The current password is wrong.")
    else:
        try:
            db.set_password_hash(user.id, auth.hash_password(new))
        except auth.AuthError as exc:
            st.error(str(exc))
        else:
            st.success("Password changed.")


def admin(db, user) -> None:
    st.subheader("Accounts")
    st.dataframe([{"user name": u.username, "name": u.display_name, "role": u.role} for u in db.users()],
                 hide_index=True, width="stretch")
    with st.form("ac.create", clear_on_submit=True):
        st.markdown("**New account**")
        c1, c2, c3 = st.columns(3)
        username = c1.text_input("User name (or school e-mail)")
        display = c2.text_input("Name shown to others")
        role = c3.selectbox("Role", ["teacher", "coach", "admin"])
        password = st.text_input("First password (at least 8 characters; ask them to change it)", type="password")
        if st.form_submit_button("Create account"):
            try:
                made = auth.create_user(db, username, role, password, display)
            except (auth.AuthError, ValueError) as exc:
                st.error(str(exc))
            else:
                db.audit(user.id, "user.create_by_admin", None, f"user={made.username} role={made.role}")
                st.success(f"Created {made.role} account {review.md(made.username)}.")


def render() -> None:
    db, user = session.require_user()
    st.title("Account")
    st.markdown(f"**{review.md(user.display_name)}** · user name {review.md(user.username)} · {user.role}")
    if user.role == "teacher":
        days = session.settings().retention_days_after_meeting
        st.caption(f"Your lesson videos are yours: only the coaches you share a lesson with can see it, and a lesson "
                   f"is erased {days} days after its meeting date. You can withdraw a share or erase a lesson on "
                   "the Lessons page at any time.")
        who_watched(db, user)  # first: what the teacher most wants to know here
    password_form(db, user)
    if user.role == "admin":
        admin(db, user)
    recent = [e for e in db.audit_entries(limit=200) if e.actor_id == user.id][:10]
    if recent:
        with st.expander("Your recent activity"):
            for e in recent:
                st.markdown("- " + review.md(wording.activity_sentence(e, "You", _titles(db))))


def _titles(db):
    """lesson id -> its title, for sentences (an erased lesson reads as "a lesson")."""
    cache: dict[str, str] = {}

    def title(lesson_id: str) -> str:
        if lesson_id not in cache:
            try:
                cache[lesson_id] = db.lesson(lesson_id).title
            except NotFound:
                cache[lesson_id] = "a lesson since erased"
        return cache[lesson_id]

    return title


def who_watched(db, user) -> None:
    """The teacher sees who else opened her lesson videos, and when (from the audit log)."""
    st.subheader("Who watched your lessons")
    views = db.views_of_lessons_owned_by(user.id, limit=50)
    if not views:
        st.caption("Nobody else has opened your lesson videos yet.")
        return
    names: dict[int, str] = {}
    for e in views:
        if e.actor_id not in names:
            try:
                names[e.actor_id] = db.user(e.actor_id).display_name
            except NotFound:
                names[e.actor_id] = "an account since removed"
    lines = [wording.activity_sentence(e, names[e.actor_id], _titles(db)) for e in views[:20]]
    st.markdown("\n".join("- " + review.md(line) for line in lines))


if __name__ == "__main__":
    render()
