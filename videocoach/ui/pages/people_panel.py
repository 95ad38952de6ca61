"""Pre-watch panels for people and the room: who is on screen (owner only: thumbnails inlined in the owner's page,
never at a /media/ URL), the teacher's face print (answer "Is this you?" with yes or "No, not me", enrol from a
photo, withdraw), and where the teacher went (a heat map over a blurred still of the redacted video, front vs among
pupils, zones)."""

from __future__ import annotations

import streamlit as st

from videocoach import people_steps
from videocoach.storage.records import Lesson, User
from videocoach.storage.store import Store
from videocoach.ui import review, session, widgets, wording

PHOTO_MAX_MB = 20  # a photo of one face (Streamlit's own cap for lesson videos is gigabytes)


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
            st.caption(wording.PEOPLE_NOT_YET)
            return
        st.caption(wording.people_caption(len(result.people), result.fragments, people_steps.MIN_LISTED_S))
        teacher, declined = set(result.teacher_track_ids), people_steps.declined_people(db, user, lesson.id)
        number = {p.id: i for i, p in enumerate(result.people, start=1)}  # "Person 2", never an internal id
        if result.suggested_teacher is not None and result.suggested_teacher in number:
            _is_this_you(db, user, lesson, result.suggested_teacher, number[result.suggested_teacher],
                         result.suggested_by)
        for p in result.people:
            c1, c2, c3 = st.columns([1, 4, 2])
            png = people_steps.person_thumbnail(db, user, lesson.id, p.id)
            if png:
                c1.html(widgets.inline_png(png, alt=f"person {number[p.id]}"))
            shown = bool(teacher & set(p.track_ids))
            state = ("not_me" if p.id in declined else "shown" if shown else
                     result.suggested_by if result.suggested_teacher == p.id else "hidden")
            c2.markdown(f"**Person {number[p.id]}** · on screen {wording.duration(p.on_screen_s)} · seen "
                        f"{review.fmt_time(p.first_s)}–{review.fmt_time(p.last_s)} · {wording.PERSON_STATE[state]}")
            if state == "not_me":
                if c3.button("Undo “not me”", key=f"pw.people.undo.{p.id}",
                             help="This person may be asked about again."):
                    _answer(db, people_steps.undo_not_me, user, lesson, p.id)
            elif shown:
                if c3.button("Not me", key=f"pw.people.notme.{p.id}",
                             help="Hides this person: the video is made again without them."):
                    _answer(db, people_steps.not_me, user, lesson, p.id)
            elif p.identified and c3.button("This is me", key=f"pw.people.me.{p.id}"):
                _answer(db, people_steps.confirm_teacher, user, lesson, p.id)
        st.markdown("**Your face print** — lets your later lessons show you without marking")
        if db.teacher_face(user.id) is not None:
            if st.button("Forget my face", key="pw.people.forget",
                         help="Deletes your face print; lessons that showed you through it are made again "
                              "with your face hidden."):
                db.withdraw_teacher_face(user)
                _restart_worker(db)
                st.rerun()
        else:
            photo = st.file_uploader("Or enrol from a photo of you alone, face to the camera", type=["jpg", "jpeg", "png"],
                                     key="pw.people.photo", max_upload_size=PHOTO_MAX_MB)
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


def _answer(db: Store, step, user: User, lesson: Lesson, person_id: int) -> None:
    """One of the owner's answers about a person (``people_steps``: this is me, not me, undo); a video to make
    again goes to the worker ("this is me" always makes this lesson's again)."""
    try:
        again = step(db, user, lesson.id, person_id)
    except ValueError as exc:
        st.error(str(exc))
        return
    if again or step is people_steps.confirm_teacher:
        _restart_worker(db)
    st.rerun()


def _is_this_you(db: Store, user: User, lesson: Lesson, person_id: int, number: int, by: str | None) -> None:
    """The question about the suggested person: one who looks like the owner's face print, but not closely enough to
    be shown without asking (often a photo taken in other light), or -- with no face print -- the person on screen
    longest.  Hidden until the owner says it is them; "No, not me" hides them for good in this lesson and asks about
    the next candidate, if any."""
    png = people_steps.person_thumbnail(db, user, lesson.id, person_id)
    c1, c2 = st.columns([1, 5])
    if png:
        c1.html(widgets.inline_png(png, alt=f"person {number}, who may be you"))
    c2.markdown(f"**Is this you?** Person {number} {wording.SUGGESTED_BECAUSE[by or 'presence']} They stay hidden "
                "until you say it is you.")
    yes, no, _ = c2.columns([2, 2, 3])
    if yes.button("Yes, this is me", key="pw.people.print.yes",
                  help="Shows you in this lesson, and keeps this lesson's views of your face in your face print so "
                       "that later lessons find you without asking."):
        _answer(db, people_steps.confirm_teacher, user, lesson, person_id)
    if no.button("No, not me", key="pw.people.print.no",
                 help="This person stays hidden and is not asked about again in this lesson."):
        _answer(db, people_steps.not_me, user, lesson, person_id)


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
