"""Meeting mode: replay short bookmarked clips with a note per replay, beside the coaching-conversation record
(follow-up from last cycle, successes, challenges, agreed focus, action steps with dates, next meeting)."""

import datetime as dt
import textwrap

import streamlit as st

from videocoach.storage.records import MeetingRecord
from videocoach.ui import player, review, session, widgets


def playlist(db, user, lesson) -> None:
    bookmarks = db.bookmarks(user, lesson.id)
    player_box = st.container()  # the player and its clip list first (on a laptop's first screen), the settings below
    c1, c2, c3 = st.columns([1, 1, 2])
    lead_in = c1.slider("Lead-in (s)", 0, 60, int(review.DEFAULT_LEAD_IN_S), key="mt.lead_in",
                        help="How long before the bookmark each clip starts")
    lead_out = c2.slider("Lead-out (s)", 0, 60, int(review.DEFAULT_LEAD_OUT_S), key="mt.lead_out",
                         help="How long after the bookmark each clip ends")
    tags = sorted({t for b in bookmarks for t in b.tags})
    wanted = c3.multiselect("Clips tagged", tags, key="mt.tags", placeholder="all bookmarks",
                            default=["agreed coaching focus"] if "agreed coaching focus" in tags else None)
    chosen = [b for b in bookmarks if not wanted or set(wanted) & set(b.tags)]
    clips = []
    windows = {b.id: review.clip_window(b.start_s, b.end_s, lead_in, lead_out, lesson.duration_s) for b in bookmarks}
    for b in chosen:
        window = windows[b.id]
        # Figure 9 asks for the trigger and the outcome: both travel with the clip
        clips.append({"id": b.id, "start": window.start, "end": window.end, "title": textwrap.shorten((b.note or "").split("\n")[0], 80, placeholder=" …"),
                      "tags": list(b.tags), "note": clip_context(b), "author": b.author_name})
    src, why_not = player.media_url(db, user, lesson, purpose="meeting")
    with player_box:
        events = player.player(key="mt.player", src=src, message=why_not, mode="meeting", clips=clips)
    if events.clip_played:
        clip_id = int(events.clip_played.get("id", 0))
        if clip_id in {b.id for b in bookmarks}:
            window = windows[clip_id]
            db.audit(user.id, "media.clip", lesson.id,
                     f"bookmark={clip_id} at={clip_label(window)} "
                     f"started_in_ms={int(events.clip_played.get('latency_ms') or 0)}")
            st.session_state["mt.note_for"] = clip_id
            st.session_state["mt.latency_ms"] = events.clip_played.get("latency_ms")
    if not bookmarks:
        return
    by_id = {b.id: b for b in bookmarks}
    if st.session_state.get("mt.note_for") not in by_id:
        st.session_state["mt.note_for"] = bookmarks[0].id
    # the same label as the clip list: the span that plays, lead-in and lead-out included
    note_for = st.selectbox("Notes on clip", list(by_id), key="mt.note_for",
                            format_func=lambda i: f"{clip_label(windows[i])} · "
                                                  f"{', '.join(by_id[i].tags) or 'no tags'} · {by_id[i].note[:50]}")
    picked = by_id[note_for]
    with st.container(border=True):
        st.markdown(f"**Clip {clip_label(windows[note_for])}** (bookmark {clip_label(picked)})  \n"
                    + review.md(picked.note or "no note"))
        st.markdown(f"**Trigger:** {review.md(picked.trigger or '–')}  \n**Outcome:** {review.md(picked.outcome or '–')}")
    if st.session_state.get("mt.latency_ms") is not None:
        st.caption(f"Last clip started {st.session_state['mt.latency_ms']} ms after the click.")
    for n in db.replay_notes(user, note_for):
        st.markdown(f"- **{review.md(n.author_name)}** ({review.fmt_date(n.created_at)}): {review.md(n.note)}")
    quick = st.pills("Replay from another perspective", review.REPLAY_PERSPECTIVES, key=f"mt.quick.{note_for}")
    with st.form(f"mt.note.{note_for}", clear_on_submit=True):
        text = st.text_input("Note on this replay", value=quick or "",
                             placeholder="e.g. Looked at it from the pupils' side: …")
        if st.form_submit_button("Add note") and text.strip():
            db.add_replay_note(user, note_for, text.strip())
            st.rerun()


def clip_label(span) -> str:
    """ "0:32–1:02": a clip's (or a bookmark's) span, written the same everywhere on the page."""
    start, end = (span.start, span.end) if hasattr(span, "start") else (span.start_s, span.end_s)
    return review.fmt_time(start) + (f"–{review.fmt_time(end)}" if end - start >= 0.5 else "")


def clip_context(b) -> str:
    """The trigger and the outcome of a bookmark, one line, for the clip list."""
    parts = [f"Trigger: {b.trigger}" if b.trigger else "", f"Outcome: {b.outcome}" if b.outcome else ""]
    return " · ".join(p for p in parts if p)


def meeting_record(db, user, lesson) -> None:
    st.subheader("Coaching conversation")
    previous = review.previous_cycle(db, user, lesson)
    record = db.meeting_record(user, lesson.id) or MeetingRecord(lesson_id=lesson.id)
    if previous is not None:
        prev_lesson, prev = previous
        with st.expander(f"Follow-up from last cycle: {review.md(prev_lesson.title)}", expanded=True):
            st.markdown(f"**Agreed focus:** {review.md(prev.focus or '–')}")
            for step, due in prev.action_steps:
                st.markdown(f"- {review.md(step)}" + (f" (by {review.md(due)})" if due else ""))
            if prev.next_meeting:
                st.caption(f"Planned meeting: {review.md(prev.next_meeting)}")
    follow_default = record.follow_up
    if not follow_default and previous is not None:
        _, prev = previous
        follow_default = "".join(f"- {s}: \n" for s, _ in prev.action_steps)
    with st.form("mt.record"):
        follow_up = st.text_area("Follow-up from previous conversations and next steps", value=follow_default,
                                 height=90, help="Progress on last cycle's action steps")
        successes = st.text_area("Successes, their impact, and how to build on them", value=record.successes, height=90)
        challenges = st.text_area("Challenges, their impact, steps already taken", value=record.challenges, height=90)
        focus = st.text_input("Agreed focus", value=record.focus)
        steps = st.data_editor(
            [{"step": s, "due": _date_or_none(d)} for s, d in record.action_steps] or [{"step": "", "due": None}],
            num_rows="dynamic", key="mt.steps", width="stretch",
            column_config={"step": st.column_config.TextColumn("Action step", width="medium"),
                           "due": st.column_config.DateColumn("Due")},
        )
        next_meeting = st.date_input("Next meeting", value=_date_or_none(record.next_meeting), format="YYYY-MM-DD")
        saved = st.form_submit_button("Save record", type="primary")
    if saved:
        try:
            action_steps = review.parse_action_steps(steps)
        except ValueError as exc:
            st.error(f"An action step has a bad date: {exc}")
            return
        db.save_meeting_record(user, MeetingRecord(
            lesson_id=lesson.id, follow_up=follow_up, successes=successes, challenges=challenges, focus=focus,
            action_steps=action_steps, next_meeting=next_meeting.isoformat() if next_meeting else ""))
        st.toast("Meeting record saved", icon=":material/check:")
        st.rerun()
    if record.updated_at:
        st.caption(f"Last saved {review.fmt_date(record.updated_at)} by {review.md(db.user(record.updated_by).display_name)}"
                   if record.updated_by else f"Last saved {review.fmt_date(record.updated_at)}")
    held = st.date_input("This meeting took place on", value=_date_or_none(lesson.meeting_at), key="mt.held",
                         format="YYYY-MM-DD", help="Starts the countdown after which the video is erased.")
    if held and st.button("Save meeting date", key="mt.held.save"):
        when = dt.datetime.combine(held, dt.time(12)).timestamp()
        db.set_meeting_date(user, lesson.id, when)
        st.rerun()
    if lesson.expires_at:
        st.caption(f"The video and everything derived from it will be erased on {review.fmt_date(lesson.expires_at)}.")


def _date_or_none(value) -> dt.date | None:
    if value in (None, ""):
        return None
    if isinstance(value, (int, float)):
        return dt.date.fromtimestamp(value)
    try:
        return dt.date.fromisoformat(str(value)[:10])
    except ValueError:
        return None


def render() -> None:
    db, user = session.require_user()
    lesson = session.open_lesson(db, user, "meeting.view")
    widgets.lesson_header("Meeting", lesson, db.user(lesson.owner_id).display_name)
    left, right = st.columns([3, 2], gap="large")
    with left:
        playlist(db, user, lesson)
    with right:
        meeting_record(db, user, lesson)


if __name__ == "__main__":
    render()
