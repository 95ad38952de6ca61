"""Pre-watch: the redacted video with the synced transcript and question list, the talk/activity timeline, the
statistics panel, bookmarks, and the corrections a reviewer may need (who is the teacher, whose face stays visible)."""

import time

import streamlit as st

from videocoach.privacy import policy
from videocoach.storage.records import Lesson, User
from videocoach.storage.store import Store
from videocoach.ui import charts, player, review, session, widgets
from videocoach.ui.pages import people_panel

POLL_S = 2.0


def _seek(t: float, overlay: dict | None = None) -> None:
    """Ask the player to jump to ``t`` on the next run (applied once: the nonce changes)."""
    nonce = st.session_state.get("pw.seek_nonce", 0) + 1
    st.session_state["pw.seek_nonce"] = nonce
    st.session_state["pw.seek"] = {"t": float(t), "nonce": nonce, "play": overlay is None}
    st.session_state["pw.overlay"] = overlay


def waiting(db: Store, user: User, lesson: Lesson) -> None:
    """The analysis has not finished: show its progress and poll until it has."""

    @st.fragment(run_every=POLL_S)
    def progress() -> None:
        activity = review.lesson_activity(db, user, lesson.id)
        if review.analysis_ready(db, user, lesson.id):
            st.rerun(scope="app")
        current = db.lesson(lesson.id)
        if current.status in ("failed", "interrupted"):
            st.error(current.error or "The analysis stopped.")
        elif activity is not None:
            st.progress(min(max(activity.progress, 0.0), 1.0),
                        text=f"Analysing: {activity.stage or 'queued'} ({activity.progress:.0%})")
        else:
            st.info("Waiting for the analysis to start.")

    st.info("The lesson is being analysed. The transcript, statistics and the redacted video appear here when "
            "they are ready.")
    progress()


def video_progress(db: Store, user: User, lesson: Lesson) -> None:
    """The video may not play yet (redaction running, re-rendering after a mark): poll until it may."""
    activity = review.lesson_activity(db, user, lesson.id)
    if activity is None or not activity.active:
        return

    @st.fragment(run_every=POLL_S)
    def poll() -> None:
        current = review.lesson_activity(db, user, lesson.id)
        if current is None or not current.active:
            st.rerun(scope="app")
        what = "Re-rendering the redacted video" if current.kind == "rerender" else "Preparing the video"
        st.progress(min(max(current.progress, 0.0), 1.0), text=f"{what}: {current.stage or 'queued'} "
                                                                f"({current.progress:.0%})")

    poll()


def privacy_review(db: Store, user: User, lesson: Lesson) -> None:
    """The redaction audit found faces: the owner looks at the frames and clears them (or fixes the redaction)."""
    findings = review.audit_findings(db, user, lesson.id)
    st.warning(f"The redaction check found {len(findings)} place(s) where a face may be visible. The video does not "
               "play until the teacher who owns the lesson has looked at them.")
    if lesson.owner_id != user.id:
        return
    with st.expander("Review the findings", expanded=True):
        cols = st.columns(4)
        for i, f in enumerate(findings[:24]):
            with cols[i % 4]:
                if f.crop_png:  # inlined (data: URI) in the owner's page: never a /media/ URL anyone could fetch
                    st.html(widgets.inline_png(f.crop_png, alt=f"finding at {review.fmt_time(f.t_s)}"))
                st.caption(f"{review.fmt_time(f.t_s)} · score {f.score:.2f}")
        st.markdown("If a finding is a pupil's face, choose a stricter consent policy (or mark zones) and render "
                    "again. If every finding is the teacher, a consented pupil or not a face, clear them.")
        sure = st.checkbox("I have looked at every finding: none shows a pupil without consent", key="pw.audit_sure")
        if st.button("Clear for playback", disabled=not sure, key="pw.audit_clear", type="primary"):
            review.clear_audit(db, user, lesson.id)
            st.rerun()


def corrections(db: Store, user: User, lesson: Lesson, analysis) -> None:
    with st.expander("Who is the teacher? (correct the voices)"):
        rows = review.speaker_rows(analysis)
        if lesson.settings.get("roles_note"):
            st.warning(lesson.settings["roles_note"])
        st.caption(f"Found {len(rows)} voice(s); the teacher was chosen by “{analysis.roles.method}” "
                   f"(confidence {analysis.roles.confidence:.2f}). Pick every voice that is the teacher; the "
                   "statistics are computed again.")
        for r in rows:
            c1, c2 = st.columns([5, 1])
            c1.markdown(f"**{review.md(r.speaker)}** · {r.role} · talks {review.fmt_time(r.talk_s)} in {r.turns} turns · "
                        f"first at {review.fmt_time(r.first_s)}  \n“{review.md(r.sample)}”")
            if c2.button("Listen", icon=":material/hearing:", key=f"pw.hear.{r.speaker}"):
                _seek(r.first_s)
                st.rerun()
        current = sorted(analysis.roles.teacher_speakers)
        chosen = st.multiselect("Teacher voice(s)", [r.speaker for r in rows], default=current, key="pw.teacher")
        if st.button("Save and recompute", key="pw.teacher.save", disabled=sorted(chosen) == current or not chosen):
            review.correct_teacher(db, user, lesson.id, chosen)
            st.toast("Teacher voice saved; statistics recomputed.", icon=":material/check:")
            st.rerun()

    people_panel.room_panel(db, user, lesson)  # issue 19: movement (positions only, anyone with access)
    if lesson.owner_id != user.id:
        return  # only the owner changes what others see: a coach gets no marking or policy controls at all
    people_panel.people_panel(db, user, lesson)  # issue 19: people, not fragments (owner only)
    with st.expander("Whose face stays visible?"):
        face_marks(db, user, lesson)
        consent_policy(db, user, lesson)


def face_marks(db: Store, user: User, lesson: Lesson) -> None:
    """The owner's marks: each track hidden, the teacher, or a consented pupil (naming its consent record)."""
    tracks = review.face_tracks(db, user, lesson.id)
    if not tracks:
        st.caption("No faces were detected, or face detection has not finished yet.")
        return
    st.caption("Every face is hidden unless it is marked here as the teacher or a pupil with filming "
               "consent. “Show” jumps the video to the face and outlines where it is (the picture stays "
               "redacted). Changing a mark renders the video again; it does not play until that is done. "
               "A consented pupil's face is still checked by the redaction audit, so you see it before anyone else.")
    labels = {"": "hidden", "teacher": "teacher (visible)", "consented": "consented pupil (visible)"}
    for t in tracks:
        c1, c2, c3 = st.columns([3, 1, 2])
        c1.markdown(f"**Face {t.number}** · on screen {review.fmt_time(t.start_s)}–{review.fmt_time(t.end_s)}"
                    f" · {t.detections} sightings")
        if c2.button("Show", key=f"pw.face.show.{t.track_id}"):
            _seek(t.at_s, {"t": t.at_s, "box": list(t.box), "label": f"Face {t.number}"})
            st.rerun()
        new = c3.selectbox("Mark", list(labels), index=list(labels).index(t.label), key=f"pw.face.{t.track_id}",
                           format_func=labels.get, label_visibility="collapsed")
        if new == t.label:
            continue
        record = None
        if new == "consented":
            record = st.text_input(f"Consent record for face {t.number}", key=f"pw.face.record.{t.track_id}",
                                   help="Which signed form shows this pupil agreed to be filmed (class, year, who "
                                        "holds it). Kept with the mark and in the audit log.").strip() or None
            if record is None:
                st.caption("Name the consent record to make this pupil visible.")
                continue
        try:
            review.mark_face(db, session.settings(), user, lesson.id, t.track_id, new or None, consent_record=record)
        except ValueError as exc:
            st.error(str(exc))
        else:
            st.rerun()
    marks = db.face_mark_details(user, lesson.id)
    if marks:
        numbers = {t.track_id: t.number for t in tracks}
        st.markdown("**Current marks** (who made them, when, what they show)")
        st.dataframe([{"face": numbers.get(m.track_id, f"track {m.track_id}"), "shows": labels[m.label],
                       "marked by": m.marked_by_name, "when": time.strftime("%d %b %Y %H:%M", time.localtime(m.created_at)),
                       "consent record": m.consent_record or ""} for m in marks], hide_index=True, width="stretch")


def consent_policy(db: Store, user: User, lesson: Lesson) -> None:
    names = list(policy.policy_names())
    current = lesson.policy_name if lesson.policy_name in names else names[0]
    pick = st.selectbox("Consent policy", names, index=names.index(current), key="pw.policy")
    record = None
    if pick != current and policy.needs_consent_record(pick):
        record = st.text_input(
            "Consent record", key="pw.policy.record",
            help="This policy hides no face. Name the record that shows every pupil filmed consented "
                 "(class, school year, who holds the forms). It is kept in the lesson's audit log.",
        ).strip() or None
    if pick != current and st.button("Render again with this policy", key="pw.policy.go"):
        try:
            review.change_policy(db, session.settings(), user, lesson.id, pick, consent_record=record)
        except policy.PolicyError as exc:
            st.error(str(exc))
        else:
            st.rerun()


def statistics(view: review.StatsView) -> None:
    per_row = 4  # eight figures in one row cut their labels off on a laptop; two rows of four do not
    for first in range(0, len(view.cards), per_row):
        cols = st.columns(per_row)
        for col, (label, value, why) in zip(cols, view.cards[first:first + per_row]):
            col.metric(label, value)
            col.caption(why)  # what was counted, and how sure it is: shown, not hidden in a tooltip
    c1, c2 = st.columns(2)
    with c1:
        st.markdown("**Talk per minute**")
        if view.minutes:
            st.altair_chart(charts.minutes(view.minutes), width="stretch")
        if view.activity_minutes:
            st.markdown("**Time per activity**: " + ", ".join(f"{label} {review.fmt_time(seconds)}"
                                                               for label, seconds in view.activity_minutes))
    with c2:
        st.markdown("**Questions by type**")
        if view.question_types:
            st.altair_chart(charts.question_types(view.question_types), width="stretch")
        else:
            st.caption("No questions found.")
        for what, value in view.language:
            st.markdown(f"**{what}:** {review.md(value)}")


def uptake_section(view: review.UptakeView) -> None:
    """Uptake: the replies in which the teacher took up what a pupil said, each with a replay button."""
    st.markdown("**Uptake: taking up pupils' ideas**")
    st.caption(view.summary)
    for i, item in enumerate(view.items):
        c1, c2 = st.columns([6, 1])
        said = f" (repeats: {review.md(item['repeated'])})" if item["repeated"] else ""
        c1.markdown(f"{review.fmt_time(item['start'])} · Pupil: “{review.md(item['pupil'][:120])}” → "
                    f"Teacher: “{review.md(item['teacher'][:160])}”{said}")
        if c2.button("Play", icon=":material/play_arrow:", key=f"pw.uptake.{i}"):
            _seek(item["start"])
            st.rerun()


def _drop_pending_bookmark() -> None:
    st.session_state.pop("pw.new_bookmark", None)


@st.dialog("New bookmark", width="medium", on_dismiss=_drop_pending_bookmark)
def new_bookmark_dialog(db: Store, user: User, lesson: Lesson, pending: dict) -> None:
    """The bookmark form where the eye is (a dialog over the player), not below the transcript.  A moment gets a
    stretch around it (10 s before, 20 s after), shown in From and To and editable."""
    start, end = float(pending["start"]), float(pending["end"])
    if end - start < 0.5:
        span = review.moment_span(start, lesson.duration_s)
        st.caption(f"Marked at {review.fmt_time(start)}. The bookmark covers {review.fmt_time(span.start)}–"
                   f"{review.fmt_time(span.end)} (10 s before, 20 s after): change From and To as you like.")
        start, end = span.start, span.end
    if widgets.bookmark_form(db, user, lesson, key="pw.bookmark", start_s=start, end_s=end) is not None:
        _drop_pending_bookmark()
        st.rerun()
    if st.button("Cancel", key="pw.bookmark.cancel"):
        _drop_pending_bookmark()
        st.rerun()


def render() -> None:
    db, user = session.require_user()
    lesson = session.open_lesson(db, user, "prewatch.view")
    widgets.lesson_header("Pre-watch", lesson, db.user(lesson.owner_id).display_name)
    analysis = review.load_analysis(db, user, lesson.id)
    if analysis is None:
        waiting(db, user, lesson)
        return
    metrics = review.load_metrics(db, user, lesson.id)
    view = review.stats_view(metrics, analysis)
    if lesson.status == "blocked" and not lesson.settings.get("audit_cleared_at"):
        privacy_review(db, user, lesson)

    src, why_not = player.media_url(db, user, lesson, purpose="view")
    if src is None:
        video_progress(db, user, lesson)
    elif lesson.owner_id == user.id and review.teacher_face_unmarked(db, user, lesson.id):
        consented = sum(1 for m in db.face_mark_details(user, lesson.id) if m.label == "consented")
        hidden = (f"Every face but the {consented} consented pupil(s) you marked is hidden" if consented
                  else "Every face is hidden")
        st.info(f"{hidden}, yours too. To see yourself teaching, mark your face in **Whose face stays "
                "visible?** below (“Show” finds each face); the video is then rendered again.",
                icon=":material/face:")
    events = player.player(key="pw.player", src=src, message=why_not, mode="prewatch",
                           cues=review.transcript_cues(analysis), questions=view.questions,
                           seek=st.session_state.get("pw.seek"), overlay=st.session_state.get("pw.overlay"))
    if events.bookmark:
        st.session_state["pw.new_bookmark"] = events.bookmark
    if st.session_state.get("pw.new_bookmark"):
        new_bookmark_dialog(db, user, lesson, st.session_state["pw.new_bookmark"])

    bookmarks = db.bookmarks(user, lesson.id)
    talk_rows = review.talk_rows(analysis)
    chart = charts.timeline(
        talk_rows, view.activities,
        [{"start": q["t"], "label": q["text"][:80], "who": "Teacher" if q["role"] == "teacher" else "Pupils"}
         for q in view.questions],
        [{"start": b.start_s, "end": b.end_s, "label": (b.note or ", ".join(b.tags))[:80]} for b in bookmarks],
        analysis.duration_s,
    )
    st.markdown("**Timeline** — click a bar to jump there")
    if any(r["lane"] == charts.BABBLE_LANE for r in talk_rows):
        st.caption(charts.BABBLE_NOTE)
    picked = st.altair_chart(chart, width="stretch", on_select="rerun", selection_mode=charts.PICK, key="pw.timeline")
    points = (picked or {}).get("selection", {}).get(charts.PICK) or []
    if points and points[0].get("start") is not None and st.session_state.get("pw.picked") != points[0]["start"]:
        st.session_state["pw.picked"] = points[0]["start"]
        _seek(float(points[0]["start"]))
        st.rerun()

    statistics(view)
    if view.moments:
        st.markdown("**Moments worth a look** (moments, not verdicts)")
        for i, m in enumerate(view.moments):
            c1, c2 = st.columns([6, 1])
            c1.markdown(f"{review.fmt_time(m['start'])} · *{review.md(m['kind'])}* · {review.md(m['text'])}")
            if c2.button("Play", icon=":material/play_arrow:", key=f"pw.moment.{i}"):
                _seek(m["start"])
                st.rerun()
    uptake_section(review.uptake_view(metrics))
    with st.expander("All questions as a table"):
        st.dataframe(list(view.question_table), hide_index=True, width="stretch")
    corrections(db, user, lesson, analysis)


if __name__ == "__main__":
    render()
