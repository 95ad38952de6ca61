"""Questions asked in the lesson, by the teacher and by pupils: detection, type, response, wait times, engagement.

Whisper often drops the "?" or puts it in the wrong place, and intonation is not in the text, so a question is found
from its words and syntax, one sentence at a time (``detect_question``).  Each rule has a name, and the name of the
rule that fired travels with the question so a coach can see why a line was counted.  The rules, tried in order:

- ``question_mark``  the ASR put a "?" on the sentence (only when ``use_punctuation``; off for the evaluation);
- ``wh_alone``       the sentence is just a wh-word or a short wh-phrase ("why", "what else", "how come", "why not");
- ``wh_start``       a wh-word opens the sentence (after fillers such as "okay so", "and", "um"), unless it opens a
                     statement ("what we are going to do is", "when you finish ...", "which means ...");
- ``aux_inversion``  an auxiliary opens the sentence and a subject follows ("do you", "is it", "can someone",
                     "have you", "did the"); "do"/"don't"/"have" need a pronoun subject ("do the next one" is an order);
- ``anyone``         "anyone/anybody/someone/somebody ...", "any questions/ideas/other ...";
- ``you_verb``       a declarative question that asks for a stance: "you think/agree/want/understand/remember ...";
- ``tag``            a tag at the end: "..., right", "..., okay", "..., isn't it", "..., don't you", "..., or not",
                     "..., huh", "... what" (a declarative ending in "what": "and that gives you what");
- ``wh_mid``         a wh-word, an auxiliary and a subject later in the sentence ("michael what did you get");
- ``aux_mid``        "can/could/would/do/will you|we|anyone ..." after a preface or a name ("jess can you read it").

Types (``classify_question``), each decided by the first matching rule, whose name is kept in ``qtype_rule``:

- ``checking``    checks understanding or attention: "does everyone understand", "(does that) make sense",
                  "any questions", "okay?", "right?", "ready", "got it", "are you with me", "is that clear";
- ``procedural``  about running the lesson, not the content: "can I/we ...", "should I/we", "may I", "what page",
                  "do we have to", "are you done/finished", "who needs", "where do we", "how long";
- ``open``        asks for reasoning, explanation, opinion or prediction: "why", "how come", "how do/did you know",
                  "how did you get/find/work out", "explain", "what do you think/notice/wonder", "what if",
                  "what would happen", "predict", "do you agree", "what else", "another way", "what's the difference";
- ``closed``      everything else: recall, yes/no, a single answer ("what is seven times eight", "is it a solid");
- ``rhetorical``  decided from the response, not the words: a teacher's closed or open question after which the
                  teacher herself speaks again within ``self_answer_s`` with no pupil speech in between, and that next
                  sentence is not itself a question (a re-phrased or stacked question is not rhetorical).

``is_open`` is True for ``open`` only; it is the open/closed view used for reporting.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

QuestionType = Literal["open", "closed", "procedural", "checking", "rhetorical"]
QUESTION_TYPES: tuple[QuestionType, ...] = ("open", "closed", "procedural", "checking", "rhetorical")

# --- word lists (apostrophes removed, lower case: "don't" is "dont", "what's" is "whats") -----------------------------

# words that may precede the real start of a sentence: "okay so um what do you ..."
_FILLERS = frozenset(
    """okay ok kay k so and but now well um uh umm uhm er erm hmm hm mm mhm alright then oh yeah yes no like ah
    good great cool or all right also just actually really wait hey please because cause excellent perfect awesome
    nice sorry fine yep yup nope wow anyway anyways first second next guys""".split()
)
_WH = frozenset("what whats why how hows where wheres when who whos whose whom which whatd howd whered whod whyd".split())
_AUX = frozenset(
    """do does did is are was were can could would will should shall may might must have has had am isnt arent wasnt
    werent dont doesnt didnt cant couldnt wouldnt wont shouldnt havent hasnt hadnt aint""".split()
)
# subjects after an inverted auxiliary
_SUBJECT = frozenset(
    """you we they i he she it that this there these those anyone anybody someone somebody everyone everybody
    everything anything something yall u ya people nobody none any some all both each either neither your my our
    their his her its the a an one two three four five six seven eight nine ten".""".split()
)
_PRONOUN_SUBJECT = frozenset(
    "you we they i he she it that this there anyone anybody someone somebody everyone everybody yall u ya people".split()
)
# "what we/you/I ..." opens a statement ("what we are going to do is ..."); so do "when/where + subject"
_STATEMENT_AFTER_WHAT = frozenset("we you i they he she it youre were theyre im ill youll well".split())
_STATEMENT_AFTER_WHEN = frozenset(
    """you we i they it he she the your youre theyre its were were im everybody everyone somebody someone all
    this that these those there""".split()
)
_WH_ALONE = frozenset(
    {
        "what", "why", "how", "where", "when", "who", "which", "whose", "huh", "really", "anyone", "anybody",
        "somebody", "someone", "what else", "why not", "how come", "how so", "like what", "such as", "and then what",
        "then what", "how many", "how much", "which one", "what now", "who else", "anyone else", "anybody else",
        "somebody else", "someone else", "what about", "is it", "is that", "are you", "any questions", "yes or no",
        "what happened", "what then", "how about", "right", "excuse me", "pardon", "pardon me", "beg your pardon",
        "understand", "questions", "ready", "and then", "nobody", "true or false", "agree", "disagree", "sorry",
    }
)
# back-channels that contain a wh-ish word but are not questions
_NOT_QUESTION = frozenset({"uh huh", "um hum", "mm hmm", "uh hum", "hm mm", "mhm", "mm hm", "all right", "alright"})
_TAG_LAST = frozenset({"right", "okay", "ok", "huh", "what", "agree", "else", "think", "ready", "understand"})
# "right" closes many statements that are not tags: "that's right", "all right", "on the right", "right here"
_NOT_BEFORE_RIGHT = frozenset(
    "the thats is its exactly all were be youre to your my on that theyre was absolutely yes yeah quite".split()
)
_TAG_END2 = frozenset(
    {
        "isnt it", "arent they", "arent you", "dont you", "didnt we", "didnt you", "dont we", "dont they",
        "wasnt it", "doesnt it", "wont it", "wouldnt it", "wouldnt we", "wouldnt they", "would they", "would it",
        "would you", "didnt it", "didnt they", "isnt that", "doesnt that", "wasnt that", "cant we", "cant you",
        "shouldnt we", "or not", "or no", "yes or", "agree or", "you think", "you agree", "is that", "that right",
        "you see", "or what", "gives you", "gives us", "get what",
        "how much", "how many", "which one", "equal to", "or false", "and then", "is what", "be what",
    }
)
_YOU_VERBS = frozenset("think want agree understand remember all mean like wanna disagree get see".split())
_MODAL_START = frozenset("is are was can could would will should shall isnt arent wasnt".split())
# after "is/can/..." these words show a statement with its subject dropped ("is correct", "can't always")
_NOT_SUBJECT_AFTER_AUX = frozenset(
    """correct right wrong true false good fine not also always never just still really so very too going gonna
    be been being done made called""".split()
)
_TAG_SUBJECT = frozenset("i you we they he she it yall ya there".split())
_EXCLAIM = frozenset("neat nice cool interesting weird amazing funny great wonderful fun exciting clever sweet".split())
_WHICH_STATEMENT = frozenset(
    "means meant makes made gives gave enables shows tells helps allows leaves was he she they we you i".split()
)
_WH_END = frozenset("what who where why how which whom".split())  # "and that gives you what"
_PREPOSITIONS = frozenset("in by to for of from at on with about into".split())
_DO_SUBJECT = frozenset(
    "you we they i he she anyone anybody someone somebody everyone everybody yall u ya people any some all".split()
)
_EVERYBODY_ASKS = frozenset(
    "agree agrees understand understands ready get got see know remember done finished with have".split()
)
_ANY_ASKS = frozenset(
    """questions question other ideas idea thoughts comments volunteers more one body guesses predictions of
    takers""".split()
)
_MID_AUX = frozenset("can could would do does did will are have".split())
_MID_SUBJ = frozenset("you we anyone anybody somebody someone everyone everybody yall".split())
_NOT_BEFORE_MID_AUX = _PRONOUN_SUBJECT | frozenset(
    "i if that what how where when who why which than as so because what whether whatever wherever".split()
)

_BRACKETS = re.compile(r"\[[^\]]*\]|\([^)]*\)")
_NON_WORD = re.compile(r"[^a-z0-9]+")


def words_of(text: str) -> list[str]:
    """Lower-case words with apostrophes removed ("What's" -> "whats"), punctuation and [notes] dropped."""
    text = _BRACKETS.sub(" ", text.lower())
    text = text.replace("'", "").replace("\u2019", "").replace("\u2018", "")
    return _NON_WORD.sub(" ", text).split()


@dataclass(frozen=True)
class QuestionCue:
    """The detector's decision on one sentence and the rule that made it ("none" when it is not a question)."""

    is_question: bool
    rule: str


def _strip_fillers(w: list[str]) -> list[str]:
    i = 0
    while i < len(w) - 1 and w[i] in _FILLERS:
        i += 1
    return w[i:]


def detect_question(text: str, use_punctuation: bool = True) -> QuestionCue:
    """Is this one sentence a question?  Works on unpunctuated, lower-case ASR text; see the module docstring."""
    if use_punctuation and "?" in text:
        return QuestionCue(True, "question_mark")
    w = words_of(text)
    if not w or " ".join(w) in _NOT_QUESTION:
        return QuestionCue(False, "none")
    core = _strip_fillers(w)
    first = core[0]
    second = core[1] if len(core) > 1 else None
    third = core[2] if len(core) > 2 else None
    if " ".join(core) in _NOT_QUESTION:
        return QuestionCue(False, "none")
    if (" ".join(core) in _WH_ALONE and core != ["right"]) or " ".join(w) in _WH_ALONE:
        return QuestionCue(True, "wh_alone")
    if first in _PREPOSITIONS and second in _WH:  # "in what way", "by how much"
        return QuestionCue(True, "wh_start")
    if first in _WH and second is not None and not _wh_opens_statement(first, second, third):
        return QuestionCue(True, "wh_start")
    if first in _AUX and second is not None:
        if first in ("do", "dont", "have", "havent"):
            if second in _DO_SUBJECT:  # "do you ...", not "do it again" / "have a seat"
                return QuestionCue(True, "aux_inversion")
        elif first == "were":  # "were you ..." asks; "we're going to ..." (apostrophe gone) tells
            if second in ("you", "they", "there", "those", "these", "all", "any", "we", "yall"):
                return QuestionCue(True, "aux_inversion")
        elif second in _SUBJECT or (first in _MODAL_START and second not in _NOT_SUBJECT_AFTER_AUX):
            return QuestionCue(True, "aux_inversion")
    if first in ("anyone", "anybody") or (
        (first in ("everybody", "everyone") and second in _EVERYBODY_ASKS)
        or (first in ("someone", "somebody") and second in ("else", "want", "wants", "wanna"))
    ):
        return QuestionCue(True, "anyone")
    if first == "any" and second in _ANY_ASKS:
        return QuestionCue(True, "anyone")
    if first in ("you", "youve", "yall") and second in _YOU_VERBS:
        return QuestionCue(True, "you_verb")
    if len(w) >= 2 and _ends_with_tag(w):
        return QuestionCue(True, "tag")
    for j in range(1, len(w) - 2):
        if w[j] in _WH and w[j] not in ("when", "where"):
            # wh-word, up to two more words ("how many blocks"), then an inverted auxiliary and its subject
            for k in range(j + 1, min(j + 4, len(w) - 1)):
                if w[k] in _AUX and w[k + 1] in _SUBJECT and not _wh_opens_statement(w[j], w[k], w[k + 1]):
                    return QuestionCue(True, "wh_mid")
                if w[k] in _AUX or w[k] in _PRONOUN_SUBJECT:
                    break
        if w[j] in _MID_AUX and w[j + 1] in _MID_SUBJ and w[j - 1] not in _NOT_BEFORE_MID_AUX:
            return QuestionCue(True, "aux_mid")
    return QuestionCue(False, "none")


def _wh_opens_statement(first: str, second: str, third: str | None) -> bool:
    """ "what we are going to do is ...", "when you finish ...", "which means ...", "why don't you ..." """
    if first == "what":
        if second in ("a", "an"):  # "what a nice folder"
            return True
        if second in _STATEMENT_AFTER_WHAT:
            # "what were you doing" is a question, "what we're going to do" (apostrophe gone: "were") is not
            return not (second == "were" and third in _PRONOUN_SUBJECT)
        return False
    if first in ("when", "where", "whenever", "wherever"):
        return second in _STATEMENT_AFTER_WHEN
    if first == "which":
        return second in _WHICH_STATEMENT or (
            second == "is" and third in ("why", "what", "how", "where", "when")
        )
    if first in ("why", "whyd") and second in ("dont", "not") and third in ("you", "we", "yall"):
        return True  # a suggestion: "why don't you show us" (mostly written with "." in TalkMoves)
    if first == "how" and second in _EXCLAIM and third is None:
        return True  # "oh, how neat"
    return False


def _ends_with_tag(w: list[str]) -> bool:
    last, before = w[-1], w[-2]
    if " ".join(w[-2:]) in _TAG_END2 or last in _WH_END:
        return not (w[-2:] in (["or", "not"], ["or", "no"]) and "whether" in w)  # "find out whether ... or not"
    if before in _AUX and last in _TAG_SUBJECT:  # "..., didn't I", "..., would they", "..., can you"
        return not (before == "do" and last == "it")  # "I'll do it"
    if last not in _TAG_LAST:
        return False
    core = _strip_fillers(w[:-1])
    if len(core) == 1 and core[0] in _FILLERS:  # "well okay", "yeah right"
        return False
    if last == "huh":
        return before not in ("uh", "um")
    if last == "right":
        return before not in _NOT_BEFORE_RIGHT
    if last in ("okay", "ok"):
        return before not in ("is", "its", "thats", "be", "was", "were", "all", "are", "say", "said")
    if last in ("think", "understand", "agree"):  # "what do you think", not "see what they think"
        return before in ("you", "we", "yall", "guys", "people", "everybody", "everyone", "all") and (
            len(w) < 3 or w[-3] not in ("what", "how", "whatever")
        )
    if last == "ready":
        return len(w) <= 3 and before not in ("youre", "are", "were", "get", "is", "be", "theyre", "when")
    return True
