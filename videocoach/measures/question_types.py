"""What kind of question it is (open, closed, procedural, checking; rhetorical needs the timeline and is decided in
:mod:`videocoach.measures.questions`), from its wording.  Pure.
"""

from __future__ import annotations

import re
from typing import Literal
from videocoach.measures.question_cues import _strip_fillers, words_of


QuestionType = Literal["open", "closed", "procedural", "checking", "rhetorical"]
QUESTION_TYPES: tuple[QuestionType, ...] = ("open", "closed", "procedural", "checking", "rhetorical")
# --- question types ---------------------------------------------------------------------------------------------------
# Ordered (rule name, type, pattern over the normalised words joined by single spaces, fillers at the start removed).
# The first pattern that matches decides; a question that matches none is "closed".
_TYPE_RULES: tuple[tuple[str, QuestionType, re.Pattern[str]], ...] = tuple(
    (name, qtype, re.compile(pattern))
    for name, qtype, pattern in (
        # checking: understanding, attention, agreement-with-me tags
        ("check_tag_only", "checking", r"^(okay|ok|right|all right|alright|yes|yeah|understand|understood|got it|"
         r"ready|clear|good|with me|make sense|makes sense|you know|see|yes or no|no)$"),
        ("check_sense", "checking", r"\b(make|makes) sense\b"),
        ("check_understand", "checking",
         r"^(do|does|did|dont|doesnt) (you|everyone|everybody|anyone|anybody|we|yall)( all| guys)? (understand|get it|"
         r"get that|follow|see that|remember)\b"),
        ("check_with_me", "checking", r"\b(with me|following me|following|clear|got it|good to go|on track)$"),
        ("check_questions", "checking", r"\bany (questions|question)\b|\b(questions|question) about\b"),
        ("check_ready", "checking", r"^(are )?(you|everyone|everybody|we|yall)( all| guys)? (ready|okay|ok|good)\b"),
        ("check_see_hear", "checking", r"^(can|could) (everyone|everybody|you all|yall|you guys|you) (see|hear)\b"),
        # opinion and relating to others' ideas -> open (TalkMoves "getting students to relate")
        ("open_agree", "open", r"\b(agree|agrees|agreeing|disagree|disagrees|convinced|buy that|believe|feel about)\b"),
        ("open_add_on", "open",
         r"\b(add to|add on|add anything|anything to add|something to add|build on|comment on|comments|rebuttal|"
         r"rebut|respond to|the rest of you|anyone else think|anybody else think|how many of you)\b"),
        ("open_same_idea", "open",
         r"\b(same (answer|model|thing|way|idea|result|results|method|strategy)|(his|her|their|s) (idea|thinking|"
         r"strategy|method|answer|question))\b|\bis that what (you|he|she|they) (think|thought|said|mean|meant|had)\b"
         r"|\bdo you think$"),
        # reasoning, explanation, prediction -> open
        ("open_why", "open", r"\b(why|whyd|how come|what makes you|whats the reason|what is the reason)\b"),
        ("open_explain", "open", r"\b(explain|justify|prove|convince|reasoning|reason|evidence|persuade)\b"),
        ("open_think", "open",
         r"\b(what|how) (do|did|would|does) (you|we|they|yall|he|she) (think|notice|wonder|mean|feel|figure)\b"
         r"|\bwhat (do|did) (you all|you guys|yall|the rest of you) (think|notice|wonder)\b"
         r"|\bwhat are you thinking\b|\bwhats your thinking\b"),
        ("open_know", "open", r"\bhow (do|did|would|could|can) (you|we|they|he|she|yall) (know|tell|be sure|decide)\b"),
        ("open_predict", "open",
         r"\b(predict|prediction|predictions|hypothesis|what if|what would happen|what will happen|"
         r"what could happen|what might happen)\b"),
        ("open_compare", "open",
         r"\b(similar|in common|compare|related|relationship|connect|connection)\b"),
        ("open_other_way", "open",
         r"\b(another way|other way|different way|other ways|different ways|another strategy|other strategies|"
         r"other ideas|else notice|other thoughts|else think)\b"),
        ("open_how_works", "open", r"^how (does|do|would|could|can) (that|this|it|they|these|those) (work|help)\b"),
        ("open_how_investigate", "open",
         r"\bhow (could|would|might|can|should) (we|you|i|they|yall)( all| guys)? (test|find out|prove|check|show|"
         r"investigate|measure|design|improve|make sure|be sure|explain|justify|convince)\b"),
        ("open_tell_more", "open", r"\b(tell (me|us) more|say more|talk about|tell (me|us) about|describe)\b"),
        # running the lesson
        ("proc_permission", "procedural",
         r"^(can|could|may|should|shall) (i|we) (go|use|have|start|get|sit|leave|borrow|take|put|move|work|share|"
         r"turn|open|close|keep|stop|write|erase|do|finish|begin|switch|try|come|pick|choose|see)\b"),
        ("proc_should", "procedural", r"^(should|shall|do|does|did) (i|we) (have to|need to|get to|want to|still)\b"
         r"|^(should|shall) (i|we)\b"),
        ("proc_page", "procedural", r"\b(what|which) (page|problem number|number are we|question are we)\b"),
        ("proc_where", "procedural", r"^where (do|should|can|did) (i|we) (put|go|write|start|find|sit|look)\b"),
        ("proc_done", "procedural", r"\b(done|finished|finish|ready to move on|time)\b$|^(who|whos) (done|finished)\b"
         r"|\bhow (long|much time)\b"),
        ("proc_who_wants", "procedural",
         r"^(who|whod|who would) (wants|want|would like|would|needs|need|has|is going) to (read|go|come|share|start|"
         r"pass|hand|help|write|be)\b|^(who|who else) (needs|has) (a|an|the|another)\b"),
        ("proc_can_you_do", "procedural",
         r"^(can|could|would|will) (you|someone|somebody|anyone|anybody|everybody|everyone|yall)( all| guys)? "
         r"(please )?(read|pass|hand|turn|open|close|put|come|go|sit|take|hold|move|stand|raise|clean|write|erase|"
         r"grab|get|bring|look|listen|help|start|stop|speak|repeat|say that again|say it again)\b"),
        ("proc_what_doing", "procedural",
         r"\bwhat (are|were) (we|you) (supposed|doing)\b|\bwhat (do|should) (we|i) do\b"),
    )
)


def classify_question(text: str) -> tuple[QuestionType, str]:
    """The type of a question from its words, and the name of the rule that decided (see the module docstring).

    Never returns "rhetorical": that is decided from the response (``find_questions``).
    """
    w = words_of(text)
    core = " ".join(_strip_fillers(w)) if w else ""
    for name, qtype, pattern in _TYPE_RULES:
        if pattern.search(core):
            return qtype, name
    return "closed", "closed_default"
