"""Log in: user name and password (argon2), or the school's identity provider when ``[auth]`` is configured."""

import streamlit as st

from videocoach.storage import auth
from videocoach.ui import session


def render() -> None:
    st.title("videocoach")
    st.caption("Lesson videos for coaching: seen only by the teacher and the coach they share them with.")
    db = session.store()
    with st.form("login", clear_on_submit=False):
        username = st.text_input("User name", key="login.user", autocomplete="username")
        password = st.text_input("Password", type="password", key="login.password",
                                 autocomplete="current-password")
        submitted = st.form_submit_button("Log in", type="primary")
    if submitted:
        if session.login(db, username, password) is not None:
            st.rerun()
        wait = auth.locked_for(db, username, session.client_address())
        if wait > 0:
            st.error(f"Too many failed tries. Wait {wait:.0f} seconds, then try again.")
        else:
            st.error("User name or password is wrong.")
    if session.oidc_configured():
        st.divider()
        unknown = session.oidc_unknown_email()
        if unknown:
            st.error(f"There is no videocoach account for {unknown}. Ask your administrator to create one.")
            st.button("Log out of the school account", on_click=st.logout)
        else:
            st.button("Log in with the school account", on_click=st.login)
    if not db.users():
        st.info("No accounts yet. Create the first one on the server: `videocoach user add NAME --role teacher`.")


if __name__ == "__main__":
    render()
