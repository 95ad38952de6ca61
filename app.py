"""videocoach's Streamlit app: `streamlit run app.py` (or `videocoach app`, which also starts the worker).  It listens
on 127.0.0.1 only (``.streamlit/config.toml``); a school network reaches it through a TLS reverse proxy (README).

This one file plays two parts:

* run as the Streamlit script (``__name__ == "__main__"``, as Streamlit and AppTest execute it), it logs the user
  in and wires the pages with ``st.navigation`` -- the pages live in ``videocoach/ui/pages/``;
* imported as a module (``streamlit run`` finds the ``st.App`` below and serves it with uvicorn), it adds the
  login-checked media route ``/vc-media/<token>`` (redacted video, HTTP range requests) to Streamlit's own server.
"""

import streamlit as st

PAGES_DIR = "videocoach/ui/pages"
PAGE_NAMES = ("lessons", "prewatch", "bookmarks", "meeting", "progress", "account")


def main() -> None:
    from videocoach.ui import session

    st.set_page_config(page_title="videocoach", layout="wide")
    db = session.store()
    user = session.current_user(db)
    if user is None:
        # every page's address shows the login form, so a deep link (…/prewatch?lesson=…) survives the login
        login = [st.Page(f"{PAGES_DIR}/login.py", title="Log in", url_path="login", default=True)]
        login += [st.Page(f"{PAGES_DIR}/login.py", title="Log in", url_path=name) for name in PAGE_NAMES]
        st.navigation(login, position="hidden").run()
        return

    # No page icons: Streamlit makes the page icon the favicon and fetches material/emoji favicons from a CDN,
    # and nothing may leave the school network.
    def page(name: str, title: str) -> st.Page:
        return st.Page(f"{PAGES_DIR}/{name}.py", title=title, url_path=name)

    review = [page("prewatch", "Pre-watch"), page("bookmarks", "Bookmarks"), page("meeting", "Meeting")]
    if user.role == "admin":
        pages = {"Administration": [page("account", "Accounts")]}
    else:
        pages = {
            "Lessons": [page("lessons", "Lessons")],
            "Review": review,
            "Over time": [page("progress", "My progress" if user.role == "teacher" else "Progress")],
            "You": [page("account", "Account")],
        }
    nav = st.navigation(pages)
    session.hand_over_cookie()
    with st.sidebar:
        st.caption(f"Logged in as **{user.display_name}** ({user.role})")
        if user.role != "admin":
            session.choose_lesson(db, user)
        if st.button("Log out", key="vc.logout"):
            session.logout()
            st.rerun()
    nav.run()


if __name__ == "__main__":
    main()
else:
    from videocoach.ui.mediaserver import media_app

    routes, lifespan = media_app()  # the lifespan writes the counted refusals at shutdown
    app = st.App("app.py", routes=routes, lifespan=lifespan)
