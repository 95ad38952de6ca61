"""Uptake: does the teacher take up what a pupil just said -- repeat it, build on it, ask about it?  Pure.

Figure 9 asks how receptive people are of each other's contributions.  Research on teacher uptake (Demszky et al.
2021, "Measuring Conversational Uptake", ACL) links it to pupils' learning; it is what a coach means by "did you hear
what she offered there?".

An *exchange* is a pupil's turn followed by the teacher's reply (``find_exchanges``: the teacher starts speaking
within ``UptakeSettings.exchange_gap_s`` of the pupil's last sentence).  Each exchange gets a score from a ridge
regression (``UptakeModel``) trained on 1,757 real pupil->teacher exchanges from NCTE maths lessons rated by three
maths-instruction experts each (``scripts/train_uptake.py``; MIT data, split by lesson).  Its inputs:

- word overlap (``exchange_features``): the share of the pupil's content words and numbers the teacher repeats, the
  pupil's word pairs she repeats, whether her reply opens with them, both lengths, whether her reply asks something
  and whether it is a bare acknowledgement ("okay", "good");
- Whisper's decoder state after the teacher's reply read with the pupil's words as the previous text
  (``videocoach.audio.uptake_lm``, 512 numbers; computed by the pipeline, passed in here as ``state``).

An exchange is "taken up" when its score reaches the model's threshold (chosen on the training lessons for F1 on
the experts' "high" majority label).  Figures are in ``videocoach/data/uptake.json`` (``info``) and
``eval/eval_uptake.py``.
"""

from __future__ import annotations

import functools
import json
import math
import re
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from videocoach.core.model import Utterance

FORMAT = "videocoach-uptake/1"

_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
_STOP = frozenset(
    """a an the and or but so if then than that this these those it its it's is are was were be been being am do does
    did done have has had i you he she we they me him her us them my your his our their mine yours what which who whom
    whose when where why how to of in on at by for with from up down out about into over as just not no yes yeah okay
    ok um uh oh well all right alright like can could would will should shall may might must there here now too very
    also um hmm mm mhm gonna wanna got get go going let's lets i'm you're we're they're that's what's don't can't
    said say know think one""".split()
)
_ACK = frozenset(
    """okay ok yeah yes good great right alright all excellent nice perfect thank thanks you uh um mhm mm hmm huh
    sure cool awesome correct wow oh no""".split()
)
_QUESTION_OPENERS = frozenset("what why how where when who which whats hows is are do does did can could would".split())


def words(text: str) -> list[str]:
    """Lower-cased words (digits kept, apostrophes inside words kept)."""
    return _WORD.findall(text.lower().replace("\u2019", "'"))


def _content(ws: Sequence[str]) -> set[str]:
    return {w for w in ws if w not in _STOP and (len(w) > 2 or w.isdigit())}


def exchange_features(pupil_text: str, teacher_text: str) -> dict[str, float]:
    """The word-overlap features of one exchange (names are the model's lexical weights' keys)."""
    p, t = words(pupil_text), words(teacher_text)
    pc, tc = _content(p), set(t)
    pn = {w for w in p if w.isdigit()}
    pairs_p = set(zip(p, p[1:]))
    pairs_t = set(zip(t, t[1:]))
    head = set(t[:12])
    ack_only = bool(t) and all(w in _ACK for w in t)
    return {
        "content_overlap": len(pc & tc) / len(pc) if pc else 0.0,
        "content_repeated": math.log1p(len(pc & tc)),
        "word_overlap": len(set(p) & tc) / len(set(p)) if p else 0.0,
        "number_overlap": len(pn & tc) / len(pn) if pn else 0.0,
        "pair_overlap": len(pairs_p & pairs_t) / len(pairs_p) if pairs_p else 0.0,
        "head_overlap": len(pc & head) / len(pc) if pc else 0.0,
        "no_content": 0.0 if pc else 1.0,
        "pupil_len": math.log1p(len(p)),
        "teacher_len": math.log1p(len(t)),
        "teacher_asks": 1.0 if ("?" in teacher_text or (t and t[0] in _QUESTION_OPENERS)) else 0.0,
        "ack_only": 1.0 if ack_only else 0.0,
    }


@dataclass(frozen=True)
class UptakeModel:
    """score = sum(lexical[name] * feature) + state_coef . state + bias, on the scale of the experts' z-scored
    rating; an exchange is "taken up" at ``threshold``.

    ``state_coef`` is empty when the model reads no decoder state.  ``words_only`` is the model fitted on the word
    features alone: ``score`` falls back on it when no state is given (a sentence with no words, or the measures
    run without the model).
    """

    lexical: Mapping[str, float]
    state_coef: tuple[float, ...]
    bias: float
    threshold: float
    decoder: str | None = None  # the decoder (``QuestionLMConfig.method``) the state weights were fitted on
    words_only: "UptakeModel | None" = None
    info: Mapping[str, object] = field(default_factory=dict)

    def _for(self, state: np.ndarray | None) -> "UptakeModel":
        if self.state_coef and (state is None or np.isnan(np.asarray(state, dtype=np.float64)).any()):
            if self.words_only is None:
                raise ValueError("this uptake model needs a decoder state")
            return self.words_only
        return self

    def score(self, pupil_text: str, teacher_text: str, state: np.ndarray | None = None) -> float:
        m = self._for(state)
        feats = exchange_features(pupil_text, teacher_text)
        s = m.bias + sum(m.lexical.get(k, 0.0) * v for k, v in feats.items())
        if m.state_coef:
            h = np.asarray(state, dtype=np.float64)
            if h.shape != (len(m.state_coef),):
                raise ValueError(f"a decoder state of width {len(m.state_coef)} expected, got {h.shape}")
            s += float(h @ np.asarray(m.state_coef))
        return float(s)

    def taken_up(self, score: float, with_state: bool = True) -> bool:
        m = self if with_state or self.words_only is None else self.words_only
        return score >= m.threshold

    @property
    def method(self) -> str:
        """Names the model (stored scores from another model are not reused)."""
        return f"uptake/{self.decoder or 'words'}:{self.digest}"

    @property
    def digest(self) -> str:
        import hashlib

        data = json.dumps([sorted(self.lexical.items()), list(self.state_coef), self.bias]).encode()
        return hashlib.sha256(data).hexdigest()[:12]


def _model_from(data: Mapping) -> UptakeModel:
    return UptakeModel(
        lexical={str(k): float(v) for k, v in data["lexical"].items()},
        state_coef=tuple(float(v) for v in data.get("state_coef", ())),
        bias=float(data["bias"]),
        threshold=float(data["threshold"]),
        decoder=data.get("decoder"),
        words_only=_model_from(data["words_only"]) if data.get("words_only") else None,
        info=data.get("info", {}),
    )


def load_uptake_model(path: Path | str | None = None) -> UptakeModel:
    text = Path(path).read_text() if path is not None else (
        resources.files("videocoach.data").joinpath("uptake.json").read_text()
    )
    data = json.loads(text)
    if data.get("format") != FORMAT:
        raise ValueError(f"not an uptake model of format {FORMAT}: {data.get('format')!r}")
    return _model_from(data)


@functools.lru_cache(maxsize=1)
def default_uptake_model() -> UptakeModel:
    return load_uptake_model()


# -- exchanges in a lesson --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class UptakeSettings:
    exchange_gap_s: float = 3.0  # the teacher replies within this long after the pupil's last sentence
    max_reply_sentences: int = 3  # the teacher's reply: her first sentences, up to the next pupil sentence
    min_pupil_words: int = 1


@dataclass(frozen=True)
class Exchange:
    """A pupil's turn and the teacher's reply to it (times in seconds)."""

    pupil_start: float
    pupil_end: float
    teacher_start: float
    teacher_end: float
    pupil_speaker: str
    pupil_text: str
    teacher_text: str

    @property
    def key(self) -> str:
        """What the decoder-state scores are stored under (the two texts as the model reads them)."""
        return exchange_key(self.pupil_text, self.teacher_text)


def exchange_key(pupil_text: str, teacher_text: str) -> str:
    return " ".join(pupil_text.split()) + " \u2192 " + " ".join(teacher_text.split())


@dataclass(frozen=True)
class UptakeInstance:
    exchange: Exchange
    score: float
    taken_up: bool
    repeated: tuple[str, ...]  # the pupil's content words the teacher repeats, in the pupil's order

    @property
    def start(self) -> float:
        return self.exchange.pupil_start

    @property
    def end(self) -> float:
        return self.exchange.teacher_end


@dataclass(frozen=True)
class UptakeStats:
    exchanges: int  # pupil -> teacher exchanges scored
    taken_up: int
    share: float | None  # taken_up / exchanges (None when there are none)
    per_hour: float  # taken-up instances per hour of lesson


def find_exchanges(
    sentences: Sequence[Utterance], settings: UptakeSettings = UptakeSettings()
) -> tuple[Exchange, ...]:
    """Pupil -> teacher exchanges from the attributed sentences (``split_sentences(..., turns)``) in time order.

    A pupil's consecutive sentences (one pupil speaker, nobody else in between) form her turn; the teacher's reply is
    her next sentences, up to ``max_reply_sentences`` or the next pupil sentence, when the first starts within
    ``exchange_gap_s`` of the pupil's last.
    """
    seq = sorted((s for s in sentences if s.text.strip()), key=lambda s: (s.start, s.end))
    out: list[Exchange] = []
    i = 0
    while i < len(seq):
        s = seq[i]
        if s.role != "pupil":
            i += 1
            continue
        j = i
        while j + 1 < len(seq) and seq[j + 1].role == "pupil" and seq[j + 1].speaker == s.speaker:
            j += 1
        pupil = seq[i: j + 1]
        k = j + 1
        reply: list[Utterance] = []
        while k < len(seq) and seq[k].role == "teacher" and len(reply) < settings.max_reply_sentences:
            reply.append(seq[k])
            k += 1
        if reply and reply[0].start - pupil[-1].end <= settings.exchange_gap_s:
            pupil_text = " ".join(p.text.strip() for p in pupil)
            if len(words(pupil_text)) >= settings.min_pupil_words:
                out.append(Exchange(
                    pupil_start=pupil[0].start, pupil_end=pupil[-1].end, teacher_start=reply[0].start,
                    teacher_end=reply[-1].end, pupil_speaker=s.speaker or "", pupil_text=pupil_text,
                    teacher_text=" ".join(r.text.strip() for r in reply),
                ))
        i = j + 1
    return tuple(out)


def repeated_words(pupil_text: str, teacher_text: str) -> tuple[str, ...]:
    t = set(words(teacher_text))
    seen: list[str] = []
    for w in words(pupil_text):
        if w in t and w in _content([w]) and w not in seen:
            seen.append(w)
    return tuple(seen)


def score_exchanges(
    exchanges: Sequence[Exchange], model: UptakeModel | None = None, scores: Mapping[str, float] | None = None,
) -> tuple[UptakeInstance, ...]:
    """Each exchange with its score: the score the pipeline stored for its key (computed with the decoder state,
    ``videocoach.audio.uptake_lm``), or else the model's words-only part."""
    model = model or default_uptake_model()
    scores = scores or {}
    out = []
    for e in exchanges:
        s = scores.get(e.key)
        stored = s is not None and not math.isnan(s)
        value = float(s) if stored else model.score(e.pupil_text, e.teacher_text)
        out.append(UptakeInstance(exchange=e, score=value, taken_up=model.taken_up(value, with_state=stored),
                                  repeated=repeated_words(e.pupil_text, e.teacher_text)))
    return tuple(out)


def uptake_stats(instances: Sequence[UptakeInstance], duration_s: float) -> UptakeStats:
    n = len(instances)
    up = sum(1 for i in instances if i.taken_up)
    return UptakeStats(exchanges=n, taken_up=up, share=up / n if n else None,
                       per_hour=up * 3600.0 / duration_s if duration_s > 0 else 0.0)
