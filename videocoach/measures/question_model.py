"""Is a sentence a question?  A small logistic regression over its words, the rule detector's verdict and the turn-taking
around it, for ASR text that has lost its "?".

Why a trained model on top of the rules: a teacher sentence after which a pupil speaks is a question far more often
than one the teacher follows with more of her own talk (about 59 % against 19 % in TalkMoves), and many questions show
it only there ("okay?", "Michael?", "you got twelve?").  The rules (``question_cues.detect_question``) see one sentence;
this model weighs the rule that fired, the first and last words, the word uni- and bigrams and the sentence length
together with who spoke before and who speaks next.

The weights come from ``scripts/train_question_model.py``, trained only on the NCTE transcripts (MIT licence; 23 of
its 29 lessons, the other 6 held out for evaluation) and shipped as ``videocoach/data/question_model.json``.  Running
it is a sum of weights looked up by feature name -- no scikit-learn, no randomness -- so a lesson of a thousand
sentences takes milliseconds.

Protocol (``eval/eval_questions.py``): C and the per-role thresholds are chosen by 5-fold cross-validation over the 23
training lessons (folds by lesson); the feature set on those folds and on TalkMoves Subset 1.  TalkMoves is never
trained on (CC BY-NC-SA cannot ship in an MIT product); Subset 2 is the clean test set.  Measured there (teacher rows,
Speaker T): F1 0.822 against 0.790 for the rules alone.  The same features trained ON TalkMoves reach only 0.846
(5-fold by lesson, ``--talkmoves-cv``; 0.859 with the question-LM probe also trained there): many teacher "?" mark
intonation the words cannot show ("okay?", "Andrew?"), so a text-only detector stays well below 0.9 there.

Features are strings (``question_features``); those of format /1 are also repeated with the speaker's role as a
prefix ("T|" or "P|") so that teachers and pupils get their own weights where the data supports it.  Context:

- ``next``: who speaks after the sentence -- "same" (the speaker's own next sentence comes first), "teacher" /
  "pupil" (someone else, by role), "end" (nobody); with the other speaker's first word and length;
- ``previous``: who spoke last before it -- "same", "teacher", "pupil" or "start".

``None`` for either means unknown (no turn-taking given): its features are simply absent.

The question-LM score (``question_lm``: ``LMProbe``, a linear read-out of Whisper's decoder state after the sentence's
words) is weighed in afterwards, per role, by ``LMCombination`` (both from ``videocoach/data/question_lm.json``,
``scripts/train_question_lm.py``: the probe, then a logistic regression over this model's out-of-fold log-odds and
the probe's, on the same 23 NCTE lessons); ``QuestionModel.decide`` uses it where a score is
given and the model alone where not (a lesson analysed before the LM existed, or a sentence with no words).

Format /2 adds word trigrams, the last three words, the next speaker's first four words and the rule / length / first
and last word paired with ``next`` (``_shared_features``, without the role prefix); files of format /1 are refused.
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
import re
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Literal, Mapping, Sequence

import numpy as np

from videocoach.core.model import Role

Next = Literal["same", "teacher", "pupil", "end"]
Previous = Literal["same", "teacher", "pupil", "start"]

FORMAT = "videocoach-question-model/2"  # /2: trigrams, next-speaker words, features paired with ``next``
LM_FORMAT = "videocoach-question-lm/2"  # the probe of Whisper's decoder and how its score combines (question_lm.json)
_MAX_LEN = 10  # sentence lengths above this share one feature
_MAX_NEXT_LEN = 6
_NEXT_WORDS = 4  # the next speaker's first words that are features


@dataclass(frozen=True)
class SentenceContext:
    """The turn-taking around one sentence (see the module docstring); ``None`` fields are unknown."""

    role: Role | None = None
    previous: Previous | None = None
    next: Next | None = None
    next_words: tuple[str, ...] = ()  # the other speaker's words when ``next`` is "teacher" or "pupil"


_MARKS = re.compile(r"[^\w\s']|_")
_I = re.compile(r"\bi\b")


def lm_text(text: str) -> str:
    """A sentence as the question LM is asked about it (and its key in the scores): no punctuation but apostrophes,
    first letter and "i" capitalised."""
    text = " ".join(_MARKS.sub(" ", text).split())
    text = _I.sub("I", text)
    return text[:1].upper() + text[1:]


def _sigmoid(z: float) -> float:
    # the logistic function, written so that neither branch overflows
    return 1.0 / (1.0 + math.exp(-z)) if z >= 0 else math.exp(z) / (1.0 + math.exp(z))


@dataclass(frozen=True)
class LMProbe:
    """A linear read-out of the Whisper decoder's hidden state after a sentence's last word
    (``question_lm.QuestionLM.hidden``): log-odds = coef . hidden + bias.

    Fitted by ``scripts/train_question_lm.py`` (logistic regression on standardised states, the scaling folded
    into ``coef``) on the NCTE training lessons' "?" -- what the decoder knows about the sentence beyond its
    ``"?"`` logit.
    """

    coef: tuple[float, ...]
    bias: float

    def log_odds(self, hidden: np.ndarray) -> np.ndarray:
        """One log-odds per row of ``hidden`` (``nan`` rows stay ``nan``)."""
        h = np.asarray(hidden, dtype=np.float64)
        if h.ndim != 2 or h.shape[1] != len(self.coef):
            raise ValueError(f"hidden states of width {len(self.coef)} expected, got shape {h.shape}")
        return h @ np.asarray(self.coef) + self.bias

    @property
    def digest(self) -> str:
        """A short fingerprint of the weights: scores stored with another probe are not reused."""
        data = json.dumps([list(self.coef), self.bias]).encode()
        return hashlib.sha256(data).hexdigest()[:12]


@dataclass(frozen=True)
class LMCombination:
    """For one role: P(question) = sigmoid(model_logit * model log-odds + lm * LM score + bias), and its threshold.

    Fitted by ``scripts/train_question_lm.py`` on the NCTE training lessons (out-of-fold log-odds); the LM score is
    ``question_lm.QuestionLM.scores`` for the sentence.
    """

    model_logit: float
    lm: float
    bias: float
    threshold: float

    def probability(self, log_odds: float, lm_score: float) -> float:
        return _sigmoid(self.model_logit * log_odds + self.lm * lm_score + self.bias)


@dataclass(frozen=True)
class QuestionModel:
    """A linear model over string features; ``thresholds`` per role (``None`` key: speaker unknown)."""

    weights: Mapping[str, float]
    bias: float
    thresholds: Mapping[str, float]
    # "role>next" pairs the training data hardly holds (e.g. "pupil>pupil": NCTE has almost no pupil-to-pupil talk):
    # there the model would extrapolate, so the rules decide
    rules_decide: frozenset[str] = frozenset()
    info: Mapping[str, object] = field(default_factory=dict)
    # per role ("teacher", "pupil"; an unknown role uses the teacher's), with the question-LM score; {} = none shipped
    lm: Mapping[str, LMCombination] = field(default_factory=dict)
    lm_probe: LMProbe | None = None  # reads the score out of the decoder's hidden state
    lm_decoder: str | None = None  # the ``QuestionLMConfig.method`` whose hidden states the probe was fitted on

    @property
    def lm_method(self) -> str | None:
        """What the LM scores this model expects are: the decoder and the probe (scores stored under another
        method are not used)."""
        if self.lm_probe is None or self.lm_decoder is None:
            return None
        return f"{self.lm_decoder}+probe:{self.lm_probe.digest}"

    def score(self, features: Sequence[str]) -> float:
        """The log-odds that the sentence is a question."""
        w = self.weights
        return self.bias + sum(w.get(f, 0.0) for f in features)

    def decide(self, features: Sequence[str], role: Role | None, lm_score: float | None = None) -> tuple[float, float]:
        """(probability, threshold) for one sentence: with its LM score where one is given and a combination was
        shipped for the role, else the model alone."""
        z = self.score(features)
        combo = self.lm.get(role or "teacher") if lm_score is not None and math.isfinite(lm_score) else None
        if combo is None:
            return _sigmoid(z), self.threshold(role)
        return combo.probability(z, lm_score), combo.threshold

    def threshold(self, role: Role | None) -> float:
        return float(self.thresholds.get(role or "unknown", self.thresholds["unknown"]))

    def covers(self, context: SentenceContext) -> bool:
        """False where the training data hardly held this context (the rules decide there)."""
        return f"{context.role}>{context.next}" not in self.rules_decide


def question_features(words: Sequence[str], core: Sequence[str], rule: str, context: SentenceContext) -> list[str]:
    """The features of one sentence.

    ``words``: its normalised words (``question_cues.words_of``); ``core``: the same without leading fillers;
    ``rule``: the name of the detector rule that fired, or "none" (detected without punctuation).

    The features of format /1 are repeated with the role prefix; those added in /2 (``_shared_features``) are not:
    with a role prefix they split too little data in two (measured on the NCTE cross-validation folds).
    """
    f = ["RULE_" + rule, f"LEN{min(len(words), _MAX_LEN)}"]
    if words:
        f += [f"B{j}_{x}" for j, x in enumerate(core[:3])]
        f += [f"RB{j}_{x}" for j, x in enumerate(words[:2])]
        f += [f"E{j}_{x}" for j, x in enumerate(reversed(words[-3:]))]
        if len(core) >= 2:
            f.append(f"B01_{core[0]}_{core[1]}")
        if len(words) >= 2:
            f.append(f"E10_{words[-2]}_{words[-1]}")
        f += ["U_" + x for x in sorted(set(words))]
        f += [f"BI_{a}_{b}" for a, b in sorted(set(zip(words, words[1:])))]
    else:
        f.append("EMPTY")
    if context.next is not None:
        f.append("NEXT_" + context.next)
        if context.next in ("teacher", "pupil"):
            f.append(f"NOLEN{min(len(context.next_words), _MAX_NEXT_LEN)}")
            if context.next_words:
                f.append("NOB0_" + context.next_words[0])
    if context.previous is not None:
        f.append("PREV_" + context.previous)
    if context.role is not None:
        prefix = "T|" if context.role == "teacher" else "P|"
        f += [prefix + x for x in f]
    return f + _shared_features(words, core, rule, context)


def _shared_features(words: Sequence[str], core: Sequence[str], rule: str, context: SentenceContext) -> list[str]:
    """Word trigrams and the last three words; the next speaker's first words; and, because the same words ask or
    tell depending on who speaks next ("okay" then a pupil's answer, or more of the teacher's talk), the rule, the
    length and the first and last word paired with ``next``."""
    f = []
    if len(words) >= 3:
        f.append(f"E210_{words[-3]}_{words[-2]}_{words[-1]}")
        f += [f"TRI_{a}_{b}_{c}" for a, b, c in sorted(set(zip(words, words[1:], words[2:])))]
    if context.next is not None:
        paired = ["RULE_" + rule, f"LEN{min(len(words), _MAX_LEN)}"]
        if words:
            paired += [f"E0_{words[-1]}", f"B0_{core[0]}"]
        f += [f"N{context.next}|{x}" for x in paired]
        nw = context.next_words
        if context.next in ("teacher", "pupil") and nw:
            f.append("NOB1_" + (nw[1] if len(nw) > 1 else ""))
            f += ["NOU_" + x for x in sorted(set(nw[:_NEXT_WORDS]))]  # an answer's "yes", "no", a number
    return f


def contexts_from_rows(speakers: Sequence[str], roles: Sequence[Role], words: Sequence[Sequence[str]]) -> list[SentenceContext]:
    """Contexts for a transcript given as rows in speaking order (one sentence a row, as TalkMoves and NCTE are).

    The next / previous row decides: the same speaker label and role is "same", anyone else is their role.
    """
    out = []
    n = len(speakers)
    for i in range(n):
        if i + 1 >= n:
            nxt: Next = "end"
            next_words: tuple[str, ...] = ()
        elif speakers[i + 1] == speakers[i] and roles[i + 1] == roles[i]:
            nxt, next_words = "same", ()
        else:
            nxt, next_words = roles[i + 1], tuple(words[i + 1])
        if i == 0:
            prev: Previous = "start"
        elif speakers[i - 1] == speakers[i] and roles[i - 1] == roles[i]:
            prev = "same"
        else:
            prev = roles[i - 1]
        out.append(SentenceContext(role=roles[i], previous=prev, next=nxt, next_words=next_words))
    return out


def _read(path: Path | str | None, name: str) -> str | None:
    if path is None:
        packaged = resources.files("videocoach.data").joinpath(name)
        return packaged.read_text(encoding="utf-8") if packaged.is_file() else None
    return Path(path).read_text(encoding="utf-8")


def load_lm_combination(path: Path | str | None = None) -> dict:
    """Read ``question_lm.json`` (by default the packaged one; none packaged: ``{}``) as ``QuestionModel`` fields:
    ``lm``, ``lm_probe``, ``lm_decoder``."""
    text = _read(path, "question_lm.json")
    if text is None:
        return {}
    data = json.loads(text)
    if data.get("format") != LM_FORMAT:
        raise ValueError(f"not a {LM_FORMAT} file: format {data.get('format')!r}")
    roles = {str(r): LMCombination(float(v["model_logit"]), float(v["lm"]), float(v["bias"]), float(v["threshold"]))
             for r, v in data["roles"].items()}
    probe = LMProbe(tuple(float(x) for x in data["probe"]["coef"]), float(data["probe"]["bias"]))
    return {"lm": roles, "lm_probe": probe, "lm_decoder": str(data["decoder"])}


def load_question_model(path: Path | str | None = None, lm_path: Path | str | None = None) -> QuestionModel:
    """Read a model JSON (by default the one shipped in the package) and its LM combination (likewise; a model
    read from ``path`` gets one only from ``lm_path``).  Raises ValueError on a wrong format."""
    text = _read(path, "question_model.json")
    if text is None:
        raise ValueError("the packaged question model is missing")
    data = json.loads(text)
    if data.get("format") != FORMAT:
        raise ValueError(f"not a {FORMAT} file: format {data.get('format')!r}")
    thresholds = {str(k): float(v) for k, v in data["thresholds"].items()}
    if "unknown" not in thresholds:
        raise ValueError("the model has no threshold for an unknown role")
    return QuestionModel(
        weights={str(k): float(v) for k, v in data["weights"].items()},
        bias=float(data["bias"]),
        thresholds=thresholds,
        rules_decide=frozenset(str(x) for x in data.get("rules_decide", ())),
        info=data.get("info", {}),
        **_lm_fields(path, lm_path),
    )


def _lm_fields(path: Path | str | None, lm_path: Path | str | None) -> dict:
    if path is not None and lm_path is None:
        return {}
    return load_lm_combination(lm_path)


@functools.lru_cache(maxsize=1)
def default_question_model() -> QuestionModel:
    """The packaged model, read once per process (it is immutable)."""
    return load_question_model()


__all__ = [
    "FORMAT",
    "LMCombination",
    "LMProbe",
    "LM_FORMAT",
    "Next",
    "Previous",
    "QuestionModel",
    "SentenceContext",
    "contexts_from_rows",
    "default_question_model",
    "load_lm_combination",
    "load_question_model",
    "lm_text",
    "question_features",
]
