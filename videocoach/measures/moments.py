"""Positive moments worth a look: "moments, not verdicts".

Figure 9: "If the coachee apparently lacks confidence in their practice use the video explicitly to identify positive
features of teaching and learning."  This module lists a few short stretches where something that research links
to good classroom talk happened, each with a neutral one-line description and a time to jump to.  It never scores
the lesson.  Kinds, each with the rule that finds it:

- ``several_pupils_answer``  an open question answered by ``min_responders`` or more pupils;
- ``long_answer_after_wait`` a teacher question, ``long_wait_s`` or more of wait time (Rowe's 3 s), then a pupil
                             answer of ``long_answer_s`` or more;
- ``wait_time``              a teacher question answered by a pupil after ``long_wait_s`` or more of wait time;
- ``pupil_question``         a pupil asked a question (proactive questioning);
- ``pupil_uses_term``        a pupil used a subject term the teacher introduced (mirroring);
- ``pupil_reasoning``        a pupil sentence of ``reasoning_min_words`` or more with reasoning words
                             ("because", "so that", "evidence", "predict", ...);
- ``discussion``             a whole-class discussion spell of ``discussion_min_s`` or more.

At most ``max_per_kind`` of a kind and ``max_moments`` in all are kept, by the order of the kinds above (mirrored
terms the teacher used most first; otherwise in time order), then returned in time order.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Sequence

from videocoach.measures.activities import ActivitySpan
from videocoach.measures.language import MirroredTerm
from videocoach.core.model import RoleTurn, Utterance
from videocoach.measures.questions import Question
from videocoach.measures.sentences import split_sentences
from videocoach.measures.question_cues import words_of

MomentKind = Literal[
    "several_pupils_answer",
    "long_answer_after_wait",
    "wait_time",
    "pupil_question",
    "pupil_uses_term",
    "pupil_reasoning",
    "discussion",
]
MOMENT_KINDS: tuple[MomentKind, ...] = (
    "several_pupils_answer",
    "long_answer_after_wait",
    "wait_time",
    "pupil_question",
    "pupil_uses_term",
    "pupil_reasoning",
    "discussion",
)
_REASONING = frozenset(
    "because since therefore evidence predict prediction hypothesis reason means explain think proves compare".split()
)


@dataclass(frozen=True)
class MomentSettings:
    min_responders: int = 2
    long_wait_s: float = 3.0
    long_answer_s: float = 5.0
    reasoning_min_words: int = 6
    discussion_min_s: float = 60.0
    max_moments: int = 12
    max_per_kind: int = 3  # so that one kind (a burst of mirrored terms, say) cannot fill the list
    lead_in_s: float = 2.0  # a moment starts this long before the event, so playback has context


@dataclass(frozen=True)
class Moment:
    start: float
    end: float
    kind: MomentKind
    description: str


def find_moments(
    duration_s: float,
    questions: Sequence[Question] = (),
    mirrored: Sequence[MirroredTerm] = (),
    activities: Sequence[ActivitySpan] = (),
    utterances: Sequence[Utterance] = (),
    turns: Sequence[RoleTurn] = (),
    settings: MomentSettings = MomentSettings(),
    presplit: bool = False,
) -> tuple[Moment, ...]:
    """The positive moments, in time order (``presplit``: ``utterances`` are ``split_sentences`` output already)."""
    st = settings
    duration_s = max(0.0, float(duration_s))
    found: list[Moment] = []

    def add(start: float, end: float, kind: MomentKind, description: str) -> None:
        start = min(max(0.0, start - st.lead_in_s), duration_s)
        end = min(max(start, end), duration_s)
        found.append(Moment(start, end, kind, description))

    for q in questions:
        if q.role != "teacher" or q.response not in ("pupil", "pupils"):
            continue
        end = q.answer_end_s if q.answer_end_s is not None else q.end
        wait = q.wait_time_1_s or 0.0
        if q.is_open and q.responders >= st.min_responders:
            add(q.start, end, "several_pupils_answer",
                f"{q.responders} pupils answered an open question at {_clock(q.start)}: \u201c{_short(q.text)}\u201d")
        elif wait >= st.long_wait_s and q.answer_s >= st.long_answer_s:
            add(q.start, end, "long_answer_after_wait",
                f"After {wait:.1f} s of wait time a pupil answered for {q.answer_s:.0f} s: "
                f"\u201c{_short(q.text)}\u201d")
        elif wait >= st.long_wait_s:
            add(q.start, end, "wait_time",
                f"{wait:.1f} s of wait time before a pupil answered: \u201c{_short(q.text)}\u201d")
    for q in questions:
        if q.role == "pupil":
            add(q.start, q.end, "pupil_question", f"A pupil asked at {_clock(q.start)}: \u201c{_short(q.text)}\u201d")
    for m in sorted(mirrored, key=lambda m: (-m.teacher_uses, m.pupil_first_s)):  # the teacher's key words first
        add(m.pupil_first_s, m.pupil_first_s + 3.0, "pupil_uses_term",
            f"A pupil used \u201c{m.term}\u201d, which the teacher introduced at {_clock(m.teacher_first_s)}")
    if utterances:
        for s in (tuple(utterances) if presplit else split_sentences(utterances, turns)):
            words = words_of(s.text)
            if s.role == "pupil" and len(words) >= st.reasoning_min_words and _REASONING.intersection(words):
                add(s.start, s.end, "pupil_reasoning", f"A pupil gave a reason: \u201c{_short(s.text)}\u201d")
    for a in activities:
        if a.label == "discussion" and a.duration >= st.discussion_min_s:
            add(a.start + st.lead_in_s, a.end, "discussion",
                f"{_clock(a.duration)} of whole-class discussion from {_clock(a.start)}")

    rank = {k: i for i, k in enumerate(MOMENT_KINDS)}
    per_kind: dict[str, int] = {}
    kept = []
    for m in sorted(found, key=lambda m: rank[m.kind]):  # stable: within a kind, the order found
        if per_kind.get(m.kind, 0) < st.max_per_kind and len(kept) < st.max_moments:
            per_kind[m.kind] = per_kind.get(m.kind, 0) + 1
            kept.append(m)
    return tuple(sorted(kept, key=lambda m: (m.start, rank[m.kind])))


def _clock(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    return f"{seconds // 60}:{seconds % 60:02d}"


def _short(text: str, limit: int = 90) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "\u2026"


__all__ = ["MOMENT_KINDS", "Moment", "MomentKind", "MomentSettings", "find_moments"]
