"""Pre-watch panels for people and the room: who is on screen (owner only: thumbnails inlined in the owner's page,
never at a /media/ URL), the teacher's face print (confirm the suggestion, enrol from a photo, withdraw), and where
the teacher went (a heat map over a blurred still of the redacted video, front vs among pupils, zones)."""

from __future__ import annotations

import streamlit as st

from videocoach import people_steps
from videocoach.storage.records import Lesson, User
from videocoach.storage.store import Store
from videocoach.ui import review, session, widgets


def _restart_worker(db: Store) -> None:
    """Hand the re-renders just queued to the task queue, and make sure a worker runs."""
    import os

    from videocoach import tasks

    for job_id in db.queued_job_ids():  # a job already handed over is taken once (start_job is atomic)
        tasks.submit(session.settings(), job_id)
    if os.environ.get("VIDEOCOACH_WORKER", "auto").strip().lower() != "external":
        from videocoach import worker

        worker.ensure_worker(session.settings())


def people_panel(db: Store, user: User, lesson: Lesson) -> None:
    """The owner's list of people (not face fragments), with the teacher suggestion and the face print controls."""
    from videocoach.privacy.identity import PhotoRefused

    result = people_steps.load_people(db, user, lesson.id)
    with st.expander("People in this lesson", expanded=result is not None and not result.teacher_track_ids):
        if result is None:
            st.caption("People are listed once face detection has finished.")
            return
        st.caption(f"{len(result.people)} people seen clearly for {people_steps.MIN_LISTED_S:.0f} s or more "
                   f"(and {result.fragments} brief or unclear glimpses, always hidden). Pupils' faces stay hidden "
                   "in the video; these pictures are shown only to you.")
        teacher = set(result.teacher_track_ids)
        if result.suggested_by == "print" and result.suggested_teacher is not None:
            _is_this_you(db, user, lesson, result.suggested_teacher)
        for p in result.people:
            c1, c2, c3 = st.columns([1, 4, 2])
            png = people_steps.person_thumbnail(db, user, lesson.id, p.id)
            if png:
                c1.html(widgets.inline_png(png, alt=f"person {p.id}"))
            shown = bool(teacher & set(p.track_ids))
            what = ("you (shown: your face print matches)" if shown else
                    "hidden · looks a little like your face print: is this you?"
                    if result.suggested_teacher == p.id and result.suggested_by == "print" else
                    "suggested: is this you?" if result.suggested_teacher == p.id else "hidden")
            c2.markdown(f"On screen {p.on_screen_s:.0f} s · {review.fmt_time(p.first_s)}–{review.fmt_time(p.last_s)}"
                        f" · {what}")
            if not shown and p.identified and c3.button("This is me", key=f"pw.people.me.{p.id}"):
                try:
                    people_steps.confirm_teacher(db, user, lesson.id, p.id)
                except ValueError as exc:
                    st.error(str(exc))
                else:
                    _restart_worker(db)
                    st.rerun()
        st.markdown("**Your face print** — lets your later lessons show you without marking")
        if db.teacher_face(user.id) is not None:
            if st.button("Forget my face", key="pw.people.forget",
                         help="Deletes your face print; lessons that showed you through it are rendered again "
                              "with your face hidden."):
                db.withdraw_teacher_face(user)
                _restart_worker(db)
                st.rerun()
        else:
            photo = st.file_uploader("Or enrol from a photo of you alone, face to the camera", type=["jpg", "jpeg", "png"],
                                     key="pw.people.photo")
            if photo is not None and st.button("Use this photo", key="pw.people.photo.use"):
                try:
                    redone = people_steps.enrol_from_photo(db, user, photo.getvalue())
                except PhotoRefused as exc:
                    st.error(f"Photo not used: {exc}. Nothing was kept.")
                else:
                    if redone:
                        _restart_worker(db)
                    again = f" {len(redone)} of your lessons show you now: their videos are being made again." \
                        if redone else ""
                    st.success("Your face print is kept: your next lessons show you without marking." + again +
                               " Where someone only looks like your photo, the lesson asks you first: \"Is this you?\"")


def _is_this_you(db: Store, user: User, lesson: Lesson, person_id: int) -> None:
    """A person who looks like the owner's face print, but not closely enough to be shown without asking (often a
    photo taken in other light): hidden until the owner says it is them."""
    png = people_steps.person_thumbnail(db, user, lesson.id, person_id)
    c1, c2 = st.columns([1, 5])
    if png:
        c1.html(widgets.inline_png(png, alt="the person who looks like your face print"))
    c2.markdown("**Is this you?** This person looks like your face print, but not closely enough to show them "
                "without asking. They stay hidden until you say it is you.")
    if c2.button("Yes, this is me", key="pw.people.print.yes",
                 help="Shows you in this lesson, and adds this lesson's views of your face to your face print so "
                      "that later lessons find you without asking."):
        try:
            people_steps.confirm_teacher(db, user, lesson.id, person_id)
        except ValueError as exc:
            st.error(str(exc))
        else:
            _restart_worker(db)
            st.rerun()


def room_panel(db: Store, user: User, lesson: Lesson) -> None:
    """Figure 9, movement: the teacher's heat map, time at the front and among pupils, zones visited."""
    use = people_steps.room_use(db, user, lesson.id)
    if use is None:
        return
    with st.expander("Movement around the room"):
        still = people_steps.heat_still(db, user, lesson.id, use)
        if still:
            st.html(widgets.inline_png(still, alt="where the teacher was: heat map over a blurred still"))
        st.markdown(f"At the front **{use.front_s:.0f} s** · among the pupils **{use.among_s:.0f} s** · "
                    f"face not seen {use.lost_s:.0f} s (followed by body {use.body_s:.0f} s) · "
                    f"came close to **{use.pupils_visited} of {use.pupils}** pupils")
        st.dataframe([{"zone": z.zone, "seconds": round(z.seconds), "visits": z.visits,
                       "first at": review.fmt_time(z.first_s)} for z in use.zones], hide_index=True)
        if use.pupils_per_zone:
            st.caption("Pupils per zone: " + ", ".join(f"{z} {n}" for z, n in use.pupils_per_zone))
