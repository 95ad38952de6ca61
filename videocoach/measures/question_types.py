"""What kind of question it is (open, closed, procedural, checking; rhetorical needs the timeline and is decided in
:mod:`videocoach.measures.questions`), from its wording.  Pure.

Two steps (``classify_question``):

1. The word rules below (``rule_type``) decide "checking" and "procedural": there is no labelled data to train
   those, and their phrasings are few ("does that make sense", "are you done").
2. Open or closed is decided by a trained logistic regression (``QuestionTypeModel``, shipped as
   ``videocoach/data/question_types.json``) whose features are the question's words (uni- and bigrams, first and
   last words, length) and the rules' own verdict (which open rule fired, if any).  The rules are a feature, not the
   decision: a question that asks for reasoning without a cue word ("where did the 55000 come from") can be open,
   and a cue word alone ("do you still agree with your calculation") need not make it so.

Training (``scripts/train_question_types.py``): NCTE teacher questions from the 23 training lessons, with the
"focusing question" predictions that ship with NCTE as silver labels (a published classifier, MIT; a focusing
question asks pupils to explain their thinking -- Figure 9's open).  Evaluated on 200 teacher questions of the 6
held-out NCTE lessons labelled by hand (``eval/question_types_guide.md``, ``eval/labels/ncte_question_types.tsv``)
and on the TalkMoves proxy (evaluation only, nothing trained on it ships): ``eval/eval_question_types.py``.

Tried and not shipped (``eval/eval_question_type_states.py``): Whisper's decoder state after the question (the one
the question LM already computes) as 512 more features.  It lifts our held-out labels to 0.80-0.85 only by calling
more method questions ("how did you solve it") open, which the TalkMoves proxy codes "press for accuracy": the proxy
falls to 0.66-0.72, and no setting meets both targets at any threshold.  The same holds for a sentence encoder
(``eval/eval_question_type_embed.py``): all-MiniLM-L6-v2 embeddings 0.800 / 0.720 for the setting the criterion
picks; multilingual-e5-small 0.851 / 0.696 (held-out met, the proxy lower than today's); and for 160 more of our
labels on the training lessons (0.795 / 0.710).

The reason returned with the type names the rule that fired where the model agrees with it ("open_why",
"closed_default", "check_sense" ...), and "model_open" / "model_closed" where the model overrode the rules.
"""

from __future__ import annotations

import re
import functools
import json
import math
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Literal, Mapping, Sequence

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
        # last: a statement with a tag asks for agreement, not an answer ("so percents is per 100 right")
        ("check_tail_tag", "checking",
         r"\b(right|okay|ok|correct|remember|you see|you know|(is|was|does|do|did|would|will|can|has|have)(nt|n t) "
         r"(it|you|they|we|he|she|that|there))$"),
    )
)


def rule_type(text: str) -> tuple[QuestionType, str]:
    """The type the word rules give and the rule's name (the first pattern that matches; "closed_default" when none
    does).  ``classify_question`` uses it for checking and procedural, and as a feature for open / closed."""
    w = words_of(text)
    core = " ".join(_strip_fillers(w)) if w else ""
    for name, qtype, pattern in _TYPE_RULES:
        if pattern.search(core):
            return qtype, name
    return "closed", "closed_default"


TYPES_FORMAT = "videocoach-question-types/1"
_MAX_LEN = 12


_NUMBER_WORDS = frozenset(
    """zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen seventeen
    eighteen nineteen twenty thirty forty fifty sixty seventy eighty ninety hundred thousand million half halves third
    thirds fourth fourths fifth fifths sixth sixths eighth eighths tenth tenths""".split()
)
_WH_WORDS = frozenset("what whats why how where when who which whatd howd whered whyd".split())


def _norm(word: str) -> str:
    """A number, written in digits or words, is "#": "where did the 55000 come from" reads as any number would."""
    return "#" if word.isdigit() or word in _NUMBER_WORDS or word[:-2].isdigit() else word


def type_features(text: str, rule: str | None = None) -> list[str]:
    """The features of the open / closed model: the rule's verdict, word uni- and bigrams (numbers as "#"), the first
    two and the last two words, the length, and the first question word paired with each later word ("how ... get",
    "where ... from": what it asks about, whatever lies between)."""
    core = [_norm(x) for x in _strip_fillers(words_of(text))] or [""]
    rule = rule if rule is not None else rule_type(text)[1]
    feats = ["bias", f"rule={rule}", f"rtype={rule.split('_')[0]}", f"len={min(len(core), _MAX_LEN)}",
             f"f1={core[0]}", f"f2={' '.join(core[:2])}", f"l1={core[-1]}", f"l2={' '.join(core[-2:])}"]
    feats += [f"w={x}" for x in dict.fromkeys(core)]
    feats += [f"b={a} {b}" for a, b in dict.fromkeys(zip(core, core[1:]))]
    wh = next((i for i, x in enumerate(core) if x in _WH_WORDS), None)
    if wh is not None:
        feats += [f"wh={core[wh]}"] + [f"whx={core[wh]}|{x}" for x in dict.fromkeys(core[wh + 1:])]
    return feats


@dataclass(frozen=True)
class QuestionTypeModel:
    """log-odds(open) = sum of the weights of the question's features (``type_features``); open at ``threshold``."""

    weights: Mapping[str, float]
    threshold: float  # on the probability
    info: Mapping[str, object]

    def probability_open(self, text: str, rule: str | None = None) -> float:
        z = sum(self.weights.get(f, 0.0) for f in type_features(text, rule))
        return 1.0 / (1.0 + math.exp(-z)) if z >= 0 else math.exp(z) / (1.0 + math.exp(z))


def load_question_type_model(path: Path | str | None = None) -> QuestionTypeModel:
    text = Path(path).read_text() if path is not None else (
        resources.files("videocoach.data").joinpath("question_types.json").read_text()
    )
    data = json.loads(text)
    if data.get("format") != TYPES_FORMAT:
        raise ValueError(f"not a question-type model of format {TYPES_FORMAT}: {data.get('format')!r}")
    return QuestionTypeModel(weights={str(k): float(v) for k, v in data["weights"].items()},
                             threshold=float(data["threshold"]), info=data.get("info", {}))


@functools.lru_cache(maxsize=1)
def default_question_type_model() -> QuestionTypeModel:
    return load_question_type_model()


def classify_question(text: str, model: QuestionTypeModel | None = None) -> tuple[QuestionType, str]:
    """The type of a question from its words, and the reason (see the module docstring): the rules for checking and
    procedural, the trained model for open or closed (``model``: default the packaged one).

    Never returns "rhetorical": that is decided from the response (``find_questions``).
    """
    qtype, rule = rule_type(text)
    if qtype in ("checking", "procedural", "open"):  # an open cue ("why", "predict", "explain") stands
        return qtype, rule
    model = model or default_question_type_model()
    is_open = model.probability_open(text, rule) >= model.threshold
    if is_open:
        return "open", (rule if qtype == "open" else "model_open")
    return "closed", (rule if qtype == "closed" else "model_closed")


def classify_questions(texts: Sequence[str], model: QuestionTypeModel | None = None) -> list[tuple[QuestionType, str]]:
    model = model or default_question_type_model()
    return [classify_question(t, model) for t in texts]
