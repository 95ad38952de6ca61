"""Is a sentence a question, from its words: the word rules (``detect_question``) and the trained model's decision in
context (``detect_question_in_context``).  Pure; the rules are listed in :mod:`videocoach.measures.questions`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from videocoach.measures.question_model import (
    QuestionModel,
    SentenceContext,
    default_question_model,
    question_features,
)


# words that may precede the real start of a sentence: "okay so um what do you ..."
_FILLERS = frozenset(
    """okay ok kay k so and but now well um uh umm uhm er erm hmm hm mm mhm alright then oh yeah yes no like ah
    good great cool or all right also just actually really wait hey please because cause excellent perfect awesome
    nice sorry fine yep yup nope wow anyway anyways guys""".split()
)


_WH = frozenset(
    "what whats why how hows where wheres when who whos whose whom which whatd howd whered whod whyd".split()
)


_AUX = frozenset(
    """do does did is are was were can could would will should shall may might must have has had am isnt arent wasnt
    werent dont doesnt didnt cant couldnt wouldnt wont shouldnt havent hasnt hadnt aint""".split()
)


# subjects after an inverted auxiliary
_SUBJECT = frozenset(
    """you we they i he she it that this there these those anyone anybody someone somebody everyone everybody
    everything anything something yall u ya people nobody none any some all both each either neither your my our
    their his her its the a an one two three four five six seven eight nine ten""".split()
)


_PRONOUN_SUBJECT = frozenset(
    """you we they i he she it that this there anyone anybody someone somebody everyone everybody yall u ya
    people""".split()
)


# "what we/you/I ..." opens a statement ("what we are going to do is ..."); so do "when/where + subject"
_STATEMENT_AFTER_WHAT = frozenset("we you i they he she it youre were theyre im ill youll well".split())
_STATEMENT_AFTER_WHEN = frozenset(
    """you we i they it he she the your youre theyre its were im everybody everyone somebody someone all
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
_MODAL_START = frozenset("is are was can could would will should shall isnt arent wasnt does did doesnt didnt".split())
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


_NOT_BEFORE_WH_END = frozenset(
    """know knew thats see wonder idea understand remember sure matter tell forgot forget care guess no
    explain decide figure find and or but""".split()
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
    "i if that what how where when who why which than as so because whether whatever wherever".split()
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
    probability: float | None = None  # the trained model's, when it was asked (see ``detect_question_in_context``)


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


def detect_question_in_context(
    text: str,
    context: SentenceContext = SentenceContext(),
    model: QuestionModel | None = None,
    use_punctuation: bool = True,
    lm_score: float | None = None,
) -> QuestionCue:
    """Is this sentence a question, given who speaks around it?  The trained model decides (``question_model``).

    ``lm_score``: the question-LM score for the sentence (``question_lm``), which the model weighs in where given.

    The rules still run: the one that fired is a feature of the model, and its name is kept as the reason when the
    model agrees; a question that only the model finds (mostly from the context: "okay?" followed by a pupil's
    answer) has the rule "model".  A "?" from the ASR counts first, as in ``detect_question``.  Where the model's
    training data hardly held the context (``QuestionModel.covers``: a pupil followed by another pupil), the rules
    decide alone.
    """
    model = model if model is not None else default_question_model()
    cue = detect_question(text, use_punctuation=False)
    p, threshold = model.decide(_features(text, cue.rule, context), context.role, lm_score)
    if use_punctuation and "?" in text:
        return QuestionCue(True, "question_mark", p)
    if not model.covers(context):
        return replace(cue, probability=p)
    if p >= threshold:
        return QuestionCue(True, cue.rule if cue.is_question else "model", p)
    return QuestionCue(False, "none", p)


def sentence_features(text: str, context: SentenceContext = SentenceContext()) -> list[str]:
    """The question model's features of one sentence (words, the rule that fires without punctuation, context)."""
    return _features(text, detect_question(text, use_punctuation=False).rule, context)


def _features(text: str, rule: str, context: SentenceContext) -> list[str]:
    w = words_of(text)
    return question_features(w, _strip_fillers(w) if w else [], rule, context)


def _wh_opens_statement(first: str, second: str, third: str | None) -> bool:
    """ "what we are going to do is ...", "when you finish ...", "which means ...", "why don't you ..." """
    if first == "what":
        if second in ("a", "an"):  # "what a nice folder"
            return True
        if second in _STATEMENT_AFTER_WHAT:
            # "what were you doing" is a question, "what we're going to do" (apostrophe gone: "were") is not
            return not (second == "were" and third in _PRONOUN_SUBJECT)
        return False
    if first in ("when", "whenever"):  # "when did ..." asks, "when you finish ..." / "when time stopped" tells
        return second not in _AUX
    if first in ("where", "wherever"):
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
    if " ".join(w[-2:]) in _TAG_END2:
        return not (w[-2:] in (["or", "not"], ["or", "no"]) and "whether" in w)  # "find out whether ... or not"
    if last in _WH_END:  # "and that gives you what", not "I know why" / "that's why"
        return before not in _NOT_BEFORE_WH_END
    if before in _AUX and before not in ("have", "has", "had") and last in _TAG_SUBJECT:
        return not (before == "do" and last == "it")  # "..., didn't I", "..., can you"; not "I'll do it"
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
