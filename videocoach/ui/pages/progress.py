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
    if rows.uptake:
        st.markdown("**Pupil ideas taken up** (share of your replies to pupils)")
        st.caption(review.UPTAKE_EXPLANATION)
        st.altair_chart(charts.trend_values(rows.uptake, "share", fmt=".0%"), width="stretch")
    st.dataframe(list(rows.table), hide_index=True, width="stretch")
    st.caption("**answered**: the teacher's questions a pupil answered before she went on. **pupils engaged**: the "
               "pupil voices that answered, out of the voices the analysis told apart (pupils who sound alike count "
               "as one, so this is a floor, not a head count). **wait 1**: the mean pause after a teacher's question.")
    movement(db, user, teacher)  # issue 19


def movement(db, user, teacher) -> None:
    """Figure 9, movement, compared across lessons: time at the front and among pupils, zones, pupils visited."""
    from videocoach import people_steps

    lessons = sorted((x for x in db.lessons_for(user) if x.owner_id == teacher.id), key=lambda x: x.created_at)
    table = []
    for lesson in lessons:
        use = people_steps.room_use(db, user, lesson.id)
        if use is None:
            continue
        seen = use.front_s + use.among_s
        table.append({"lesson": lesson.title, "at the front (s)": round(use.front_s),
                      "among pupils (s)": round(use.among_s),
                      "among pupils (share)": f"{use.among_s / seen:.0%}" if seen else "",
                      "zones visited": len(use.zones), "pupils came close to": f"{use.pupils_visited} of {use.pupils}"})
    if table:
        st.markdown("**Movement around the room** (from the teacher's face, or body where the face is turned away: "
                    "lessons where the teacher is shown)")
        st.dataframe(table, hide_index=True, width="stretch")


if __name__ == "__main__":
    render()
