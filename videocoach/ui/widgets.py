"""Widgets more than one page uses: the bookmark form, the lesson header."""

from __future__ import annotations

import streamlit as st

from videocoach.storage.records import Bookmark, Lesson, User
from videocoach.storage.store import Store
from videocoach.ui import review


def inline_png(png: bytes, *, alt: str = "") -> str:
    """An <img> whose picture is inside the page (a data: URI), not at a Streamlit /media/ URL that any browser
    could fetch without logging in.  For the owner's own page only."""
    import base64
    import html

    data = base64.b64encode(png).decode("ascii")
    return f'<img src="data:image/png;base64,{data}" alt="{html.escape(alt)}" style="max-width:100%">'


def lesson_header(title: str, lesson: Lesson, owner_name: str) -> None:
    st.title(title)
    st.caption(f"{review.md(lesson.title)} · {review.md(owner_name)} · {review.fmt_date(lesson.created_at)} · "
               f"{review.fmt_time(lesson.duration_s)}")


def bookmark_form(
    db: Store, user: User, lesson: Lesson, *, key: str, start_s: float = 0.0, end_s: float | None = None,
    existing: Bookmark | None = None,
) -> Bookmark | None:
    """Add (or, with ``existing``, edit) a bookmark: a moment or a range, a note, tags, trigger and outcome.

    Returns the saved bookmark in the run it was saved, else None.
    """
    b = existing
    start_default = review.fmt_time(b.start_s if b else start_s)
    end_default = review.fmt_time(b.end_s if b else (end_s if end_s is not None else start_s))
    # a refused time keeps what was typed (the note too); a saved bookmark starts the next form afresh (a new key)
    round_key = f"{key}.round"
    with st.form(f"{key}.{st.session_state.get(round_key, 0)}"):
        c1, c2 = st.columns(2)
        start_text = c1.text_input("From (m:ss)", value=start_default)
        end_text = c2.text_input("To (m:ss)", value=end_default, help="The same as From for a single moment.")
        tags = st.multiselect("Tags", list(review.BOOKMARK_TAGS) + [t for t in (b.tags if b else ())
                                                                   if t not in review.BOOKMARK_TAGS],
                              default=list(b.tags) if b else [], accept_new_options=True,
                              placeholder="critical incident, positive feature, question, …")
        note = st.text_area("Note", value=b.note if b else "", height=80,
                            placeholder="What happened, and why it is worth a look")
        c3, c4 = st.columns(2)
        trigger = c3.text_input("Trigger", value=b.trigger if b else "", placeholder="What led to it")
        outcome = c4.text_input("Outcome", value=b.outcome if b else "", placeholder="What followed")
        saved = st.form_submit_button("Save changes" if b else "Add bookmark", type="primary")
    if not saved:
        return None
    try:
        span = review.bookmark_times(start_text, end_text, lesson.duration_s)
    except ValueError as exc:
        st.error(str(exc))  # names the field ("To: '1:99' is not a time ..."); nothing is saved
        return None
    start, end = span.start, span.end
    if b is None:
        result = db.add_bookmark(user, lesson.id, start, end, note=note, tags=tags, trigger=trigger,
                                 outcome=outcome)
    else:
        result = db.update_bookmark(user, b.id, start_s=start, end_s=end, note=note, tags=tags, trigger=trigger,
                                    outcome=outcome)
    st.session_state[round_key] = st.session_state.get(round_key, 0) + 1
    st.toast(f"Bookmark saved at {review.fmt_time(result.start_s)}", icon=":material/bookmark_added:")
    return result
