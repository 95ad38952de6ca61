"""Bookmarks: the moments coach and coachee marked -- add, edit, delete, export."""

import streamlit as st

from videocoach.ui import player, review, session, widgets


def render() -> None:
    db, user = session.require_user()
    lesson = session.open_lesson(db, user, "bookmark.list")
    widgets.lesson_header("Bookmarks", lesson, db.user(lesson.owner_id).display_name)
    bookmarks = db.bookmarks(user, lesson.id)

    with st.expander("Add a bookmark", expanded=not bookmarks):
        st.caption("Tip: on the Pre-watch page, “Bookmark this moment” under the video fills in the time for you.")
        if widgets.bookmark_form(db, user, lesson, key="bm.add") is not None:
            st.rerun()

    if not bookmarks:
        st.info("No bookmarks yet.")
        return
    all_tags = sorted({t for b in bookmarks for t in b.tags})
    c1, c2, c3 = st.columns([4, 1, 1])
    wanted = c1.multiselect("Show only", all_tags, key="bm.filter", placeholder="all tags")
    # through the login-checked, browser- and login-bound export route: never a file in Streamlit's /media/
    c2.link_button("⬇ CSV", player.export_url(db, user, lesson, "csv"))
    c3.link_button("⬇ JSON", player.export_url(db, user, lesson, "json"))
    shown = [b for b in bookmarks if not wanted or set(wanted) & set(b.tags)]
    # every bookmark plays from here: the video above, each bookmark's "Play" jumps to it
    left, right = st.columns([3, 2], gap="medium")
    with right:
        src, why_not = player.media_url(db, user, lesson, purpose="view")
        player.player(key="bm.player", src=src, message=why_not, mode="plain", seek=st.session_state.get("bm.seek"))
    with left:
        for b in shown:
            bookmark_card(db, user, lesson, b)


def _play(b) -> None:
    nonce = st.session_state.get("bm.seek_nonce", 0) + 1
    st.session_state["bm.seek_nonce"] = nonce
    st.session_state["bm.seek"] = {"t": float(b.start_s), "nonce": nonce, "play": True}


def bookmark_card(db, user, lesson, b) -> None:
    """One bookmark: its span, tags and author, Play, the note in full (wrapped), trigger and outcome, and an
    editor folded away."""
    span = review.fmt_time(b.start_s) + (f"–{review.fmt_time(b.end_s)}" if b.end_s > b.start_s else "")
    with st.container(border=True):
        st.markdown(f"**{span}** · {review.md(', '.join(b.tags) or 'no tags')} · added by {review.md(b.author_name)}")
        if st.button("Play", icon=":material/play_arrow:", key=f"bm.play.{b.id}"):  # a label, even on a tablet
            _play(b)
            st.rerun()
        if b.note:
            st.markdown(review.md(b.note))  # in full: a long note wraps
        if b.trigger or b.outcome:
            st.markdown(f"**Trigger:** {review.md(b.trigger or '–')}  \n**Outcome:** {review.md(b.outcome or '–')}")
        with st.expander("Edit or delete"):
            if widgets.bookmark_form(db, user, lesson, key=f"bm.edit.{b.id}", existing=b) is not None:
                st.rerun()
            sure = st.checkbox("Delete this bookmark", key=f"bm.sure.{b.id}")
            if st.button("Delete", key=f"bm.delete.{b.id}", disabled=not sure):
                db.delete_bookmark(user, b.id)
                st.rerun()

if __name__ == "__main__":
    render()
