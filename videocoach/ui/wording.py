"""Plain words for what the analysis decided: why a question got its type, what followed it, what each figure
counts (one line each), and the audit log's actions as sentences.  No Streamlit here; the pages and
:mod:`videocoach.ui.review` use these so that no internal code (``closed_default``, ``media.view``) reaches a user.
"""

from __future__ import annotations

import datetime as _dt
import math
from typing import Callable

from videocoach.measures.figures import LessonFigures
from videocoach.storage.records import AuditEntry

# -- why a question has its type (``Question.qtype_rule``) --------------------------------------------------------------
REASON_PHRASES: dict[str, str] = {
    "check_tag_only": "a one-word check such as “okay?” or “right?”",
    "model_open": "worded like questions that ask for reasoning (the trained model)",
    "model_closed": "worded like questions with one expected answer (the trained model)",
    "check_tail_tag": "a statement with a tag asking for agreement (“…, right?”)",
    "check_sense": "asks whether it makes sense",
    "check_understand": "asks whether pupils understand or follow",
    "check_with_me": "checks pupils are with the teacher",
    "check_questions": "asks for any questions",
    "check_ready": "asks whether pupils are ready",
    "check_see_hear": "asks whether pupils can see or hear",
    "open_agree": "asks whether pupils agree, or what they believe",
    "open_add_on": "invites pupils to add to or comment on an idea",
    "open_same_idea": "asks pupils to relate to someone's idea",
    "open_why": "asks why",
    "open_explain": "asks pupils to explain or justify",
    "open_think": "asks what pupils think or notice",
    "open_know": "asks how pupils know",
    "open_predict": "asks for a prediction",
    "open_compare": "asks pupils to compare or connect",
    "open_other_way": "asks for another way or other ideas",
    "open_how_works": "asks how something works",
    "open_how_investigate": "asks how to test or find out",
    "open_tell_more": "asks pupils to say more",
    "proc_permission": "asks permission to do something",
    "proc_should": "asks what should be done",
    "proc_page": "about the page or task number",
    "proc_where": "asks where to put or find something",
    "proc_done": "about finishing or time",
    "proc_who_wants": "asks who wants to do a task",
    "proc_can_you_do": "asks someone to do a task",
    "proc_what_doing": "asks what to do",
    "closed_default": "expects one short answer (no reasoning asked for)",
    "rhetorical_self_answered": "no answer before the teacher went on",
}

RESPONSE_PHRASES: dict[str, str] = {
    "pupil": "a pupil answered",
    "pupils": "several pupils answered",
    "self": "the asker went on",
    "teacher": "the teacher answered",
    "none": "no answer",
}


def reason_phrase(rule: str) -> str:
    """A short phrase for a type rule; an unknown rule reads as its words, never as a code."""
    return REASON_PHRASES.get(rule) or str(rule).replace("_", " ")


def response_phrase(response: str) -> str:
    return RESPONSE_PHRASES.get(response) or str(response).replace("_", " ")


# -- times ------------------------------------------------------------------------------------------------------------
def mmss(seconds: float | None) -> str:
    """m:ss (h:mm:ss from an hour); "–" for None."""
    if seconds is None:
        return "–"
    total = int(math.floor(max(0.0, float(seconds)) + 0.5))  # half up, like the player's Math.round
    h, rest = divmod(total, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


# -- the figures, with what each one counted ----------------------------------------------------------------------------
def voices_note(fig: LessonFigures) -> str:
    """How sure the pupil figures are: they rest on the voices the diariser could tell apart."""
    n = fig.pupil_voices
    if n == 0:
        return "no pupil voice told apart"
    few = " (few: pupils who spoke alike count as one)" if n <= 3 else ""
    return f"{n} pupil voice{'s' if n != 1 else ''} told apart{few}"


def figure_cards(fig: LessonFigures) -> tuple[tuple[str, str, str], ...]:
    """(label, value, one-line explanation: what was counted and how sure it is) for each headline figure."""
    d = mmss(fig.duration_s)
    t = fig.talk
    wait = "–" if fig.mean_wait_1_s is None else f"{fig.mean_wait_1_s:.1f} s"
    return (
        ("Teacher only", f"{t.teacher_only} %", f"share of the {d} when only the teacher spoke; "
                                                f"{fig.teacher_turns} speaking turns"),
        ("Pupils only", f"{t.pupils_only} %", f"share when pupils spoke and the teacher did not; "
                                              f"{fig.pupil_turns} speaking turns; {voices_note(fig)}"),
        ("Both at once", f"{t.both} %", "share when the teacher and a pupil spoke over each other"),
        ("Silence", f"{t.silence} %", "share when nobody spoke; the four shares add up to 100 %"),
        ("Questions", str(fig.questions), f"{fig.teacher_questions} by the teacher, {fig.pupil_questions} by "
                                          "pupils; found from the words and the pauses, so a few may be missed"),
        ("Answered", "–" if fig.answered_percent is None else f"{fig.answered_percent} %",
         f"{fig.answered} of the teacher's {fig.teacher_questions} questions got a pupil's answer"),
        ("Wait time", wait, "mean pause after a teacher's question before anyone spoke (wait time 1)"),
        ("Longest teacher talk", mmss(fig.longest_teacher_talk_s), "the longest stretch of teacher talk with no "
                                                                    "pupil speaking"),
    )


def engaged_phrase(fig: LessonFigures) -> str:
    """ "1 of 2 pupil voices told apart" -- never a bare count that reads as a head count of the class."""
    return f"{fig.pupils_engaged} of {fig.pupil_voices} pupil voice{'s' if fig.pupil_voices != 1 else ''} told apart"


# -- the people panel (pre-watch) ------------------------------------------------------------------------------------------
PEOPLE_NOT_YET = "People are listed once face detection has finished."
PERSON_STATE: dict[str, str] = {
    "shown": "shown: this is you",
    "print": "hidden · looks a little like your face print (asked above)",
    "presence": "hidden · perhaps you (asked above)",
    "not_me": "hidden · you said this is not you",
    "hidden": "hidden",
}
SUGGESTED_BECAUSE: dict[str, str] = {
    "print": "looks like your face print, but not closely enough to show them without asking.",
    "presence": "may be you: of the people you have not ruled out, they were on screen most (counting time "
                "moving about and while the teacher spoke).",
}


def duration(seconds: float) -> str:
    """ "45 s", "2 min 5 s" """
    s = max(0, round(seconds))
    return f"{s} s" if s < 60 else f"{s // 60} min {s % 60} s" if s % 60 else f"{s // 60} min"


def people_caption(listed: int, glimpses: int, min_s: float) -> str:
    people = "1 person" if listed == 1 else f"{listed} people"
    brief = "1 brief or unclear glimpse" if glimpses == 1 else f"{glimpses} brief or unclear glimpses"
    return (f"{people} seen clearly for {min_s:.0f} s or more (and {brief}, always hidden). Pupils' faces stay "
            "hidden in the video; these pictures are shown only to you.")


# -- the audit log as sentences -------------------------------------------------------------------------------------------
_ACTIONS: dict[str, str] = {
    "media.view": "opened the lesson video",
    "media.meeting": "opened the video in the meeting",
    "media.clip": "played a clip in the meeting",
    "media.export": "downloaded the bookmarks",
    "bookmark.add": "added a bookmark",
    "bookmark.edit": "changed a bookmark",
    "bookmark.delete": "deleted a bookmark",
    "bookmark.export": "exported the bookmarks",
    "bookmark.replay_note": "noted a replay",
    "meeting.save": "saved the meeting record",
    "roles.correct": "corrected who the teacher is",
    "faces.mark": "marked whose face stays visible",
    "face.enrol": "kept their face print",
    "face.withdraw": "deleted their face print",
    "people.view": "looked at the people in a lesson",
    "people.thumbnail": "looked at a picture of a person in a lesson",
    "people.confirm": "said which person in a lesson is them",
    "people.not_me": "said a person in a lesson is not them",
    "people.not_me_undo": "took back a “not me” about a person in a lesson",
    "room.view": "looked at the movement around the room",
    "audit.clear": "cleared the redaction check for playback",
    "lesson.upload": "uploaded a lesson",
    "lesson.create": "added a lesson",
    "lesson.share": "shared a lesson",
    "lesson.unshare": "withdrew a share",
    "lesson.policy": "chose a consent policy",
    "lesson.erase": "erased a lesson",
    "export": "exported a lesson's analysis",
    "export_my_data": "downloaded all their data",
    "login": "logged in",
    "login.cookie": "came back to a login",
    "user.password": "changed the password",
    "user.create": "created an account",
    "user.create_by_admin": "created an account",
}


def fmt_day(ts: float) -> str:
    """ "6 Dec 14:02" """
    when = _dt.datetime.fromtimestamp(ts)
    return f"{when.day} {when:%b %H:%M}"


def activity_sentence(entry: AuditEntry, who: str, lesson_title: Callable[[str], str] | None = None) -> str:
    """One audit row as a sentence: "Mr Okafor opened the lesson video of “Sample lesson” on 6 Dec 14:02"."""
    what = _ACTIONS.get(entry.action) or entry.action.replace(".", " ").replace("_", " ")
    if not entry.allowed:
        what = f"{'were' if who == 'You' else 'was'} refused: {what}"
    if entry.action == "media.clip":
        clip = dict(p.split("=", 1) for p in entry.detail.split() if "=" in p).get("at")
        if clip:
            what = f"played the clip {clip} in the meeting"
    title = lesson_title(entry.lesson_id) if (lesson_title and entry.lesson_id) else ""
    where = f" of “{title}”" if title and entry.action.startswith("media.") else (f" (“{title}”)" if title else "")
    return f"{who} {what}{where} on {fmt_day(entry.at)}"


__all__ = ["PEOPLE_NOT_YET", "PERSON_STATE", "REASON_PHRASES", "RESPONSE_PHRASES", "SUGGESTED_BECAUSE",
           "activity_sentence", "duration", "engaged_phrase", "figure_cards", "fmt_day", "mmss", "people_caption",
           "reason_phrase", "response_phrase", "voices_note"]
