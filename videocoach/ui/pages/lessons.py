"""Lessons: upload (teachers), analysis and redaction progress, sharing with a coach, deletion."""

import streamlit as st

from videocoach.privacy import policy
from videocoach.storage.records import AccessDenied, Lesson, User
from videocoach.storage.store import Store
from videocoach.ui import review, session, upload

VIDEO_TYPES = ["mp4", "mov", "m4v", "mkv", "webm", "avi", "mts", "m2ts", "mpg", "mpeg"]
STATUS_LABEL = {
    "uploaded": ":material/hourglass_empty: waiting for analysis",
    "processing": ":material/sync: being analysed",
    "ready": ":green[:material/check_circle:] ready",
    "failed": ":red[:material/error:] failed",
    "blocked": ":orange[:material/privacy_tip:] needs a privacy review",
    "interrupted": ":material/pause_circle: interrupted",
}
POLL_S = 2.0


def upload_section(db: Store, user: User) -> None:
    # Only policies usable as they stand: one that hides no face needs a consent record, given later in
    # pre-watch ("Consent policy"), after the lesson is stored with the strictest default.
    names = [n for n in policy.policy_names() if policy.usable_as_is(n)]
    labels = [(n, f"{n}: {d}" if (d := _policy_description(n)) else n) for n in names]
    with st.expander("Upload a lesson", expanded=not db.lessons_for(user)):
        outcome = upload.upload_form(user, labels, policy.DEFAULT_POLICY, VIDEO_TYPES, key="ls.upload")
    if outcome is None:
        return
    if outcome.get("error"):
        st.error(outcome["error"])
        return
    lesson_id = str(outcome.get("lesson_id", ""))
    if db.can_access(user, lesson_id):
        session.set_lesson(lesson_id)
        st.success(f"Stored “{review.md(outcome.get('title', ''))}”. Analysis runs in the background; this page "
                   "shows its progress.")


def _policy_description(name: str) -> str:
    try:
        return policy.load_policy(name).description.strip().splitlines()[0][:90]
    except (policy.PolicyError, IndexError):
        return ""


def lesson_card(db: Store, user: User, lesson: Lesson) -> None:
    owner = db.user(lesson.owner_id)
    mine = lesson.owner_id == user.id
    with st.container(border=True):
        top = st.columns([5, 2, 2])
        top[0].markdown(f"**{review.md(lesson.title)}**  \n{review.fmt_date(lesson.created_at)} · "
                        f"{review.fmt_time(lesson.duration_s)} · {'yours' if mine else 'shared by ' + review.md(owner.display_name)}"
                        f" · policy {lesson.policy_name}")
        top[1].markdown(STATUS_LABEL.get(lesson.status, lesson.status))
        if top[2].button("Open lesson", icon=":material/play_arrow:", key=f"ls.open.{lesson.id}", type="primary" if lesson.status == "ready" else "secondary"):
            session.set_lesson(lesson.id)
            st.switch_page("videocoach/ui/pages/prewatch.py")
        activity = review.lesson_activity(db, user, lesson.id)
        if activity is not None and activity.active:
            what = "Re-rendering the redacted video" if activity.kind == "rerender" else "Analysing"
            # the stage line gives each running stage with its share done and the time left
            st.progress(min(max(activity.progress, 0.0), 1.0), text=f"{what}: {activity.stage or 'queued'}")
            if activity.kind == "analyse" and review.analysis_ready(db, user, lesson.id):
                st.caption(":green[:material/check:] Statistics and transcript ready; the video follows.")
        if lesson.error and lesson.status in ("failed", "interrupted"):
            st.error(lesson.error)
            if mine and st.button("Try again", key=f"ls.retry.{lesson.id}"):
                review.start_job(db, session.settings(), lesson.id, "analyse")
                st.rerun()
        if mine:
            sharing(db, user, lesson)


def sharing(db: Store, user: User, lesson: Lesson) -> None:
    shared, others = review.shareable_coaches(db, user, lesson.id)
    cols = st.columns([4, 3, 2])
    with cols[0]:
        if shared:
            st.caption("Shared with: " + ", ".join(review.md(c.display_name) for c in shared))
            for coach in shared:
                if st.button(f"Withdraw from {coach.display_name}", key=f"ls.unshare.{lesson.id}.{coach.id}"):
                    db.unshare(user, lesson.id, coach)
                    st.rerun()
        else:
            st.caption("Not shared: only you can see it.")
    with cols[1]:
        if others:
            pick = st.selectbox("Share with coach", others, key=f"ls.coach.{lesson.id}", index=None,
                                format_func=lambda c: c.display_name, placeholder="Share with a coach…",
                                label_visibility="collapsed")
            if pick is not None and st.button("Share", key=f"ls.share.{lesson.id}"):
                db.share(user, lesson.id, pick)
                st.rerun()
    with cols[2]:
        with st.popover("Delete…"):
            st.write("This erases the video, the analysis, bookmarks and the meeting record. It cannot be undone.")
            sure = st.checkbox("Yes, erase this lesson", key=f"ls.sure.{lesson.id}")
            if st.button("Erase for good", key=f"ls.delete.{lesson.id}", disabled=not sure, type="primary"):
                db.delete_lesson(user, lesson.id, "deleted by the teacher in the app")
                st.session_state.pop(session.KEY_LESSON, None)
                st.rerun()


def render() -> None:
    db, user = session.require_user()
    st.title("Lessons")
    if user.role == "teacher":
        upload_section(db, user)
    lessons = db.lessons_for(user)
    busy = any(l.status in ("uploaded", "processing") for l in lessons)

    @st.fragment(run_every=POLL_S if busy else None)
    def lesson_list() -> None:
        current = db.lessons_for(user)
        if not current:
            st.info("No lessons yet." if user.role == "teacher" else
                    "No lesson has been shared with you yet. A teacher shares a lesson from their Lessons page.")
            return
        for lesson in current:
            try:
                lesson_card(db, user, lesson)
            except AccessDenied:  # shared a moment ago and withdrawn since
                continue
        still_busy = any(l.status in ("uploaded", "processing") for l in current)
        if busy and not still_busy:
            st.rerun(scope="app")  # finished: stop polling

    st.subheader("Your lessons" if user.role == "teacher" else "Lessons shared with you")
    lesson_list()


if __name__ == "__main__":
    render()
