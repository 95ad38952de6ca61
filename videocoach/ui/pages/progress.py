"""My progress (self-observation): a teacher's talk share, questions by type, wait time and pupil questions across
their lessons.  A coach sees the same for each teacher who shared lessons with them (only those lessons)."""

import streamlit as st

from videocoach.ui import charts, review, session, wording


def render() -> None:
    db, user = session.require_user()
    teachers = review.teachers_visible_to(db, user)
    st.title("My progress" if user.role == "teacher" else "Progress")
    if not teachers:
        st.info("No lessons have been shared with you yet.")
        return
    teacher = teachers[0]
    if len(teachers) > 1 or user.role != "teacher":
        teacher = st.selectbox("Teacher", teachers, format_func=lambda t: t.display_name, key="pg.teacher")
    rows = review.progress_rows(db, user, teacher)
    if not rows.table:
        st.info("No analysed lessons yet. Upload one on the Lessons page.")
        return
    st.caption(f"{len(rows.table)} analysed lesson(s), oldest first. Figures come from the automatic analysis; "
               "they are prompts for reflection, not grades.")
    if rows.figures:
        latest, fig = rows.table[-1], rows.figures[-1]
        st.markdown(f"**Latest lesson** ({review.md(latest['lesson'])}): {fig.talk.sentence()}; "
                    f"{fig.teacher_questions} teacher questions, {latest['answered']} answered; "
                    f"pupils who answered: {wording.engaged_phrase(fig)}")
    c1, c2 = st.columns(2)
    with c1:
        st.markdown("**Who talks: share of the lesson**")
        st.caption("Teacher only, pupils only, both at once and silence: the four add up to 100 %, as on Pre-watch.")
        st.altair_chart(charts.trend_shares(rows.shares), width="stretch")
        st.markdown("**Wait time** (seconds)")
        if rows.waits:
            st.altair_chart(charts.trend_values(rows.waits, "seconds"), width="stretch")
    with c2:
        st.markdown("**Teacher questions by type**")
        if rows.qtypes:
            st.altair_chart(charts.trend_questions(rows.qtypes), width="stretch")
        else:
            st.caption("No teacher questions found.")
        st.markdown("**Pupil questions** (proactive questioning)")
        st.altair_chart(charts.trend_values(rows.pupil_questions, "questions", fmt="d"), width="stretch")
    st.dataframe(list(rows.table), hide_index=True, width="stretch")
    st.caption("**answered**: the teacher's questions a pupil answered before she went on. **pupils engaged**: the "
               "pupil voices that answered, out of the voices the analysis told apart (pupils who sound alike count "
               "as one, so this is a floor, not a head count). **wait 1**: the mean pause after a teacher's question.")


if __name__ == "__main__":
    render()
