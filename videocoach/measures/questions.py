"""Questions asked in the lesson, by the teacher and by pupils: detection, type, response, wait times, engagement.

Whisper often drops the "?" or puts it in the wrong place, and intonation is not in the text, so a question is found
from its words and syntax and from the turn-taking around it (``split_sentences`` cuts ASR segments into sentences
first, :mod:`~videocoach.measures.sentences`).  The word rules live in :mod:`~videocoach.measures.question_cues`,
the question types in :mod:`~videocoach.measures.question_types`; this module puts them on the lesson's timeline
(responses, wait times, who engages).  Two layers:

- word rules over one sentence (``detect_question``), listed below;
- a small trained model (``question_model``: logistic regression over the rule that fired, the first and last words,
  word n-grams, the length, and who spoke before and who speaks next, from the diarisation turns) that makes the
  decision in the pipeline (``detect_questions`` / ``detect_question_in_context``; ``find_questions`` uses it unless
  ``QuestionSettings.use_question_model`` is off).  A teacher sentence followed by a pupil's speech is a question
  far more often than one followed by more of her own talk, which is how it finds "okay?", "Michael?" and "you got
  twelve?" that no rule can.  It was trained on NCTE transcripts only (MIT); where NCTE holds almost no examples of
  a context (a pupil followed by another pupil), the rules decide alone;
- Whisper's own decoder asked as a language model how likely a "?" is after the sentence's words (``question_lm``,
  computed by the pipeline's metrics stage and passed in as ``lm_scores``), which the model weighs in with a
  per-role combination also fitted on NCTE (``QuestionModel.decide``).  It knows how questions are worded beyond
  our lists; on TalkMoves it adds about one point of F1.

Each rule has a name, and the name of the rule that fired travels with the question so a coach can see why a line
was counted ("model" when only the model found it).  The rules, tried in order:

- ``question_mark``  the ASR put a "?" on the sentence (only when ``use_punctuation``; off for the evaluation);
- ``wh_alone``       the sentence is only a wh-word or a short prompt ("why", "what else", "how come", "anybody else",
                     "excuse me", "true or false", "right");
- ``wh_start``       a wh-word opens the sentence (after fillers such as "okay so", "and", "um"; or after a
                     preposition: "in what way", "by how much"), unless it opens a statement ("what we are going to
                     do is", "when you finish", "which means", "why don't you show us", "oh, how neat");
- ``aux_inversion``  an auxiliary opens the sentence and a subject follows ("do you", "is it", "can someone", "did
                     the", "does evaporation"); "do"/"don't"/"have" need a pronoun subject ("do the next one", "have a
                     seat" are orders), "were" too ("we're going to", its apostrophe lost, tells);
- ``anyone``         "anyone / anybody ...", "someone else", "everybody agree / ready / understand", "any questions";
- ``you_verb``       a declarative question asking for a stance: "you think / agree / want / understand / see ...";
- ``tag``            a tag or a question word at the end: "..., right", "..., okay", "..., isn't it", "..., didn't I",
                     "..., or not", "..., huh", "and that gives you what", "plus how much", "x is equal to";
- ``wh_mid``         later in the sentence a wh-word (and up to two words), an auxiliary and a subject ("michael what
                     did you get", "if i buy two how much money am i spending");
- ``aux_mid``        "can / could / would / do / will you | we | anyone ..." after a preface or a name ("jess can you
                     read it").

The word lists were tuned on TalkMoves Subset 1 only (a pattern is kept when most of the Subset 1 teacher sentences
it matches carry a "?"); the model and its thresholds were fitted on 23 NCTE lessons only.  ``eval/eval_questions.py``
reports both layers on TalkMoves (never used for the model), 6 held-out NCTE lessons and the type proxy.

Types (``classify_question``): checking and procedural by the first matching rule below; open or closed by a trained
model that reads the words and the rules' verdict (``question_types``; issue 18); the rule's name, or "model_open" /
"model_closed" where the model overrode it, is kept in ``qtype_rule``.  The rules:

- ``checking``    checks understanding or attention: "does everyone understand", "(does that) make sense",
                  "any questions", "okay?", "right?", "ready", "got it", "are you with me", "is that clear";
- ``open``        asks for reasoning, explanation, opinion, prediction or a response to someone's idea: "why",
                  "how come", "how do you know", "how does that work", "how could we test", "explain", "justify",
                  "what do you think / notice", "what if", "what would happen", "predict", "do you agree",
                  "how many of you ...", "anything to add", "same answer", "another way", "how are they related";
- ``procedural``  about running the lesson, not the content: "can I / we ...", "should I / we", "may I", "what page",
                  "are you done / finished", "who wants to read", "can you pass / read / come ...", "how long";
- ``closed``      everything else: recall, yes/no, a single answer, describing a procedure ("what is seven times
                  eight", "is it a solid"); the model calls "how did you get that" open (it asks for a method;
                  TalkMoves codes it "press for accuracy");
- ``rhetorical``  decided from the response, not the words: a teacher's closed or open question after which the
                  teacher herself goes on, with no pupil speech in between, after a pause shorter than
                  ``rhetorical_max_wait_s`` (2 s: no real wait for an answer), and her next sentence is not itself a
                  question (a re-phrased or stacked question is not rhetorical).  A question the teacher answers
                  herself after a longer wait keeps its type, with response "self".

Responses: "pupil" / "pupils" (one / several distinct pupil voices answer first, within ``response_wait_max_s``),
"self" (the asker speaks again first, within ``self_answer_s``), "teacher" (a pupil's question taken up by the
teacher), "none" (nobody within those limits, or the lesson ends).

``is_open`` is True for ``open`` only; it is the open/closed view used for reporting.
"""

from __future__ import annotations

import bisect
import itertools
import math
import statistics
from dataclasses import dataclass, replace
from typing import Iterable, Literal, Mapping, Sequence

from videocoach.core.model import Role, RoleTurn, Utterance
from videocoach.measures.question_cues import (
    QuestionCue,
    detect_question,
    detect_question_in_context,
    sentence_features,
    words_of,
)
from videocoach.measures.question_model import (
    Next,
    Previous,
    QuestionModel,
    SentenceContext,
    default_question_model,
    lm_text,
)
from videocoach.measures.question_types import (
    QUESTION_TYPES,
    QuestionType,
    classify_question,
)
from videocoach.measures.sentences import split_sentences

# "teacher" only for a pupil's question that the teacher took up; "self": the asker spoke again first
Response = Literal["pupil", "pupils", "self", "teacher", "none"]
RESPONSES: tuple[Response, ...] = ("pupil", "pupils", "self", "teacher", "none")


@dataclass(frozen=True)
class QuestionSettings:
    """Thresholds of the question measures, in seconds."""

    pause_split_s: float = 1.0  # a pause this long between two words ends a sentence (ASR text often has no ".")
    response_wait_max_s: float = 10.0  # a reply that starts later than this is not counted as the answer
    self_answer_s: float = 5.0  # the asker speaking again within this, before anyone else, is "self"
    rhetorical_max_wait_s: float = 2.0  # a self-answered question with a shorter pause is rhetorical
    answer_window_max_s: float = 30.0  # the longest pupil answer window (when the teacher does not speak again)
    min_responder_s: float = 0.3  # a pupil needs this much speech in the answer window to count as a responder
    min_reply_s: float = 0.2  # speech of another person must go on this long past the question's end to count
    # ... and, when the ASR found no words in it, this long (short word-less turns are mostly diarisation slips)
    min_untranscribed_reply_s: float = 1.0
    continue_min_s: float = 1.0  # the asker's diarisation turn must run this long past the question to count
    # decide "is it a question" with the trained model (words + rules + who speaks next); False: the rules alone
    use_question_model: bool = True


@dataclass(frozen=True)
class Question:
    """One question, with how it was responded to.

    ``wait_time_1_s``: question end -> next speech by anyone (None when nobody speaks again).
    ``wait_time_2_s``: end of the pupil answer -> the teacher's next speech (teacher questions with a pupil answer
    only; None otherwise or when the teacher does not speak within ``answer_window_max_s``).
    ``responders``: distinct pupil speakers in the answer window (the asker excluded); ``answer_s``: seconds of
    pupil speech in it.  ``responder_speakers`` names them (diarisation labels).  The answer window runs from the
    first pupil's speech to the teacher's next speech (for a pupil's question: the teacher's or the asker's),
    at most ``answer_window_max_s``.
    """

    start: float
    end: float
    text: str
    speaker: str | None
    role: Role | None
    qtype: QuestionType
    qtype_rule: str
    is_open: bool
    detect_rule: str
    response: Response
    wait_time_1_s: float | None
    wait_time_2_s: float | None
    responders: int
    answer_s: float
    responder_speakers: tuple[str, ...] = ()
    answer_end_s: float | None = None  # end of the pupil answer (the last pupil speech in the window)

    @property
    def duration(self) -> float:
        return self.end - self.start


@dataclass(frozen=True)
class _Piece:
    start: float
    end: float
    speaker: str
    role: Role | None
    sentence: int  # index into the sentence list, -1 for a diarisation turn
    worded: bool = True  # a sentence, or a turn that overlaps a sentence of the same speaker


def detect_questions(
    sentences: Sequence[Utterance],
    turns: Sequence[RoleTurn] = (),
    settings: QuestionSettings = QuestionSettings(),
    model: QuestionModel | None = None,
    lm_scores: Mapping[str, float] | None = None,
) -> tuple[QuestionCue, ...]:
    """Which sentences are questions, one cue per sentence in the order given.

    ``sentences``: attributed sentences (``split_sentences`` with turns); ``turns``: the diarisation turns with
    roles, which tell who speaks next (``sentence_contexts``).  ``model``: ``None`` for the packaged question model;
    with ``settings.use_question_model`` off, the rules alone decide (``detect_question``).  ``lm_scores``: as in
    ``find_questions``.
    """
    order = sorted(range(len(sentences)), key=lambda k: (sentences[k].start, sentences[k].end))
    ordered = [sentences[k] for k in order]
    end = max([s.end for s in ordered] + [t.end for t in turns] + [0.0])
    timeline = _build_timeline(ordered, turns, end)
    cues = _detect_in_timeline(ordered, timeline, settings, model, lm_scores)
    out: list[QuestionCue] = [QuestionCue(False, "none")] * len(sentences)
    for k, cue in zip(order, cues):
        out[k] = cue
    return tuple(out)


def sentence_contexts(
    sentences: Sequence[Utterance], turns: Sequence[RoleTurn] = (), settings: QuestionSettings = QuestionSettings()
) -> tuple[SentenceContext, ...]:
    """Who speaks before and after each sentence (in the order given), from the sentences and the turns.

    Next: the first speech by someone else that begins during or after the sentence and runs on past its end (the
    same rule as the question's response; short word-less turns excluded), unless the speaker's own next sentence
    starts first ("same"); "end" when nobody speaks again.  Previous: the latest-ending speech by someone else that
    began before the sentence, unless the speaker's own previous sentence ended later ("same"); "start" when none.
    A sentence without a speaker gets an unknown context.
    """
    order = sorted(range(len(sentences)), key=lambda k: (sentences[k].start, sentences[k].end))
    ordered = [sentences[k] for k in order]
    end = max([s.end for s in ordered] + [t.end for t in turns] + [0.0])
    contexts = _contexts(ordered, _build_timeline(ordered, turns, end), settings)
    out: list[SentenceContext] = [SentenceContext()] * len(sentences)
    for k, ctx in zip(order, contexts):
        out[k] = ctx
    return tuple(out)


def _build_timeline(sentences: Sequence[Utterance], turns: Sequence[RoleTurn], duration_s: float) -> _Timeline:
    """Sentences (time-ordered, already clamped) and turns clamped to [0, duration_s], with "worded" marked."""
    pieces = [
        _Piece(s.start, s.end, s.speaker, s.role, i) for i, s in enumerate(sentences) if s.speaker is not None
    ]
    said = _Timeline(pieces)  # the sentences alone, to tell turns with words from turns without
    for t in turns:
        start, end = min(max(t.start, 0.0), duration_s), min(max(t.end, 0.0), duration_s)
        if end > start:
            worded = any(p.speaker == t.speaker for p in said.overlapping(start, end))
            pieces.append(_Piece(start, end, t.speaker, t.role, -1, worded))
    return _Timeline(pieces)


def _detect_in_timeline(
    sentences: Sequence[Utterance], timeline: _Timeline, st: QuestionSettings, model: QuestionModel | None,
    lm_scores: Mapping[str, float] | None = None,
) -> list[QuestionCue]:
    if not st.use_question_model:
        return [detect_question(s.text) for s in sentences]
    model = model if model is not None else default_question_model()
    contexts = _contexts(sentences, timeline, st)
    scores = lm_scores or {}
    return [detect_question_in_context(s.text, c, model, lm_score=scores.get(lm_text(s.text)))
            for s, c in zip(sentences, contexts)]


def _contexts(sentences: Sequence[Utterance], timeline: _Timeline, st: QuestionSettings) -> list[SentenceContext]:
    """``sentence_contexts`` over time-ordered sentences and their timeline."""
    eps = 1e-9
    prev_same: list[int | None] = [None] * len(sentences)
    next_same: list[int | None] = [None] * len(sentences)
    last: dict[str, int] = {}
    for i, s in enumerate(sentences):
        if s.speaker is not None:
            if s.speaker in last:
                prev_same[i] = last[s.speaker]
                next_same[last[s.speaker]] = i
            last[s.speaker] = i
    # each speaker's sentences by start, to find the words of a reply that is a diarisation turn
    by_speaker: dict[str, list[int]] = {}
    for i, s in enumerate(sentences):
        if s.speaker is not None:
            by_speaker.setdefault(s.speaker, []).append(i)
    speaker_starts = {sp: [sentences[i].start for i in idx] for sp, idx in by_speaker.items()}

    def counts(p: _Piece, after: float) -> bool:  # long enough to be a reply, as in ``_question``
        return p.worded or p.end - max(p.start, after) >= st.min_untranscribed_reply_s

    out = []
    for i, s in enumerate(sentences):
        if s.speaker is None:
            out.append(SentenceContext())
            continue
        # next
        other: _Piece | None = None
        other_t = math.inf
        for p in timeline.starting_from(s.start - eps):
            if p.start > other_t:
                break
            if p.speaker == s.speaker or p.end <= s.end + st.min_reply_s or not counts(p, s.end):
                continue
            t = max(p.start, s.end)
            if t < other_t or (t == other_t and other is not None and other.role == "teacher" and p.role == "pupil"):
                other, other_t = p, t
        j = next_same[i]
        nxt: Next
        next_words: tuple[str, ...] = ()
        if other is not None and (j is None or other_t < sentences[j].start):
            nxt = other.role or "pupil"
            if other.sentence >= 0:
                next_words = tuple(words_of(sentences[other.sentence].text))
            else:  # a turn: the words of that speaker's first sentence inside it
                starts = speaker_starts.get(other.speaker, [])
                k = bisect.bisect_left(starts, other.start - eps)
                if k < len(starts) and starts[k] < other.end:
                    next_words = tuple(words_of(sentences[by_speaker[other.speaker][k]].text))
        elif j is not None:
            nxt = "same"
        else:
            nxt = "end"
        # previous
        j = prev_same[i]
        own_end = sentences[j].end if j is not None else -math.inf
        before: _Piece | None = None
        k = bisect.bisect_left(timeline.starts, s.start) - 1
        while k >= 0 and timeline.reach[k] > max(own_end, before.end if before is not None else -math.inf):
            p = timeline.pieces[k]
            if p.speaker != s.speaker and counts(p, p.start) and (before is None or p.end > before.end):
                before = p
            k -= 1
        prev: Previous
        if before is not None and before.end > own_end:
            prev = before.role or "pupil"
        elif j is not None:
            prev = "same"
        else:
            prev = "start"
        out.append(SentenceContext(role=s.role, previous=prev, next=nxt, next_words=next_words))
    return out


def find_questions(
    utterances: Sequence[Utterance],
    turns: Sequence[RoleTurn],
    duration_s: float,
    settings: QuestionSettings = QuestionSettings(),
    presplit: bool = False,
    model: QuestionModel | None = None,
    lm_scores: Mapping[str, float] | None = None,
) -> tuple[Question, ...]:
    """Every question in the lesson (teacher's and pupils'), in time order, with type, response and wait times.

    ``utterances`` are transcript segments (``split_sentences`` cuts them into sentences and attributes each one by
    ``turns``; pass ``presplit=True`` when they are already its output); ``turns`` the diarisation turns with roles.
    Times are clamped to [0, duration_s].  ``model``: the question model (``None``: the packaged one, see
    ``detect_questions``).  ``lm_scores``: the question-LM score per sentence, keyed by ``question_model.lm_text``
    (``question_lm.question_lm_scores``); sentences without one are decided by the model alone.
    """
    duration_s = max(0.0, float(duration_s))
    split = tuple(utterances) if presplit else split_sentences(utterances, turns, settings.pause_split_s)
    sentences = [s for s in (_clamp_utterance(u, duration_s) for u in split) if s is not None]
    sentences.sort(key=lambda s: (s.start, s.end))
    timeline = _build_timeline(sentences, turns, duration_s)
    cues = _detect_in_timeline(sentences, timeline, settings, model, lm_scores)
    out = []
    for i, (sentence, cue) in enumerate(zip(sentences, cues)):
        if cue.is_question:
            out.append(_question(i, sentence, cue, cues, timeline, duration_s, settings))
    return tuple(out)


class _Timeline:
    """Speech pieces (sentences and turns) sorted by start, with the running latest end for overlap look-ups."""

    def __init__(self, pieces: Sequence[_Piece]) -> None:
        self.pieces = sorted(pieces, key=lambda p: (p.start, p.end))
        self.starts = [p.start for p in self.pieces]
        self.reach = list(itertools.accumulate((p.end for p in self.pieces), max))

    def starting_from(self, t: float) -> list[_Piece]:
        """Pieces that start at or after ``t``, in start order."""
        return self.pieces[bisect.bisect_left(self.starts, t):]

    def overlapping(self, a: float, b: float) -> list[_Piece]:
        """Pieces with start < b and end > a."""
        lo, hi = bisect.bisect_right(self.reach, a), bisect.bisect_left(self.starts, b)
        return [p for p in self.pieces[lo:hi] if p.end > a]


def _clamp_utterance(u: Utterance, duration_s: float) -> Utterance | None:
    """The utterance cut to the lesson, or None when it lies wholly outside it."""
    start, end = min(max(u.start, 0.0), duration_s), min(max(u.end, 0.0), duration_s)
    if u.start > duration_s or (u.end > u.start and end <= start):
        return None
    return u if (start, end) == (u.start, u.end) else replace(u, start=start, end=end)


def _question(
    i: int,
    q: Utterance,
    cue: QuestionCue,
    cues: list[QuestionCue],
    timeline: _Timeline,
    duration_s: float,
    st: QuestionSettings,
) -> Question:
    qtype, qtype_rule = classify_question(q.text)
    asker = q.speaker
    eps = 1e-9
    # the asker's own next speech: a later sentence or turn, or a turn that runs on well past the question
    asker_next: float | None = None
    asker_next_sentence: int | None = None
    asker_sentence_after: float | None = None
    if asker is not None:
        for p in timeline.starting_from(q.end - eps):
            if p.speaker != asker or p.sentence == i:
                continue
            if asker_next is None:
                asker_next, asker_next_sentence = p.start, (p.sentence if p.sentence >= 0 else None)
            if p.sentence >= 0:
                asker_sentence_after = p.start
                break
        for p in timeline.overlapping(q.end, q.end):
            if (
                p.speaker == asker
                and p.sentence < 0
                and p.start < q.end
                and p.end - q.end >= st.continue_min_s
                and not (asker_sentence_after is not None and asker_sentence_after < p.end)
                and (asker_next is None or q.end < asker_next)
            ):
                asker_next, asker_next_sentence = q.end, None
    # someone else's next speech, which must begin during or after the question and run on past its end
    other: _Piece | None = None
    other_t = math.inf
    for p in timeline.starting_from(q.start - eps):
        if p.start > other_t:
            break
        if p.speaker == asker or p.end <= q.end + st.min_reply_s:
            continue
        if not p.worded and p.end - max(p.start, q.end) < st.min_untranscribed_reply_s:
            continue  # a short turn with no words: most often the diariser cutting off the asker's last syllable
        t = max(p.start, q.end)
        if t < other_t or (t == other_t and other is not None and other.role == "teacher" and p.role == "pupil"):
            other, other_t = p, t
    nexts = [t for t in (asker_next, other_t if other is not None else None) if t is not None]
    wait_1 = max(0.0, min(nexts) - q.end) if nexts else None

    response: Response = "none"
    wait_2: float | None = None
    responders: tuple[str, ...] = ()
    answer_s = 0.0
    answer_end: float | None = None
    others_first = other is not None and (asker_next is None or other_t <= asker_next)
    if others_first and other is not None and other_t - q.end <= st.response_wait_max_s and (
        q.role != "teacher" or other.role == "pupil"
    ):
        if q.role != "teacher" and other.role == "teacher":
            response = "teacher"
        else:
            # the answer window: from the first pupil's speech to the teacher's (or the asking pupil's) next speech
            resume = next(
                (
                    p.start
                    for p in timeline.starting_from(other_t - eps)
                    if p.sentence != i and (p.role == "teacher" or (q.role != "teacher" and p.speaker == asker))
                ),
                None,
            )
            window_end = min(other_t + st.answer_window_max_s, duration_s)
            if resume is not None:
                window_end = min(window_end, resume)
            per_speaker: dict[str, list[tuple[float, float]]] = {}
            with_words: set[str] = set()
            for p in timeline.overlapping(other_t, window_end):
                if p.role != "pupil" or p.speaker == asker:
                    continue
                a, b = max(p.start, other_t), min(p.end, window_end)
                if b > a:
                    per_speaker.setdefault(p.speaker, []).append((a, b))
                    if p.worded:
                        with_words.add(p.speaker)
            spoken = {sp: _union(spans) for sp, spans in per_speaker.items()}
            seconds = {sp: sum(b - a for a, b in spans) for sp, spans in spoken.items()}
            responders = tuple(
                sorted(
                    sp
                    for sp, secs in seconds.items()
                    if secs >= st.min_responder_s and (sp in with_words or secs >= st.min_untranscribed_reply_s)
                )
            )
            if other.speaker not in responders:  # the first speaker always counts
                responders = tuple(sorted(set(responders) | {other.speaker}))
            all_spans = _union([span for spans in spoken.values() for span in spans])
            answer_s = sum(b - a for a, b in all_spans)
            response = "pupils" if len(responders) >= 2 else "pupil"
            answer_end = max((b for _, b in all_spans), default=other_t)
            if q.role == "teacher" and resume is not None and resume <= other_t + st.answer_window_max_s:
                wait_2 = max(0.0, resume - answer_end)
    elif asker_next is not None and asker_next - q.end <= st.self_answer_s and not (
        other is not None and other_t < asker_next
    ):
        response = "self"
    elif other is not None and other.role == "teacher" and q.role == "teacher" and other_t - q.end <= st.self_answer_s:
        response = "self"  # another teacher voice (a second diarisation cluster of the teacher, or a co-teacher)

    if (
        q.role == "teacher"
        and response == "self"
        and qtype in ("open", "closed")
        and wait_1 is not None
        and wait_1 < st.rhetorical_max_wait_s
        and not (asker_next_sentence is not None and cues[asker_next_sentence].is_question)
    ):
        qtype, qtype_rule = "rhetorical", "rhetorical_self_answered"
    return Question(
        start=float(q.start),
        end=float(q.end),
        text=q.text,
        speaker=q.speaker,
        role=q.role,
        qtype=qtype,
        qtype_rule=qtype_rule,
        is_open=qtype == "open",
        detect_rule=cue.rule,
        response=response,
        wait_time_1_s=None if wait_1 is None else float(wait_1),
        wait_time_2_s=None if wait_2 is None else float(wait_2),
        responders=len(responders),
        answer_s=float(answer_s),
        responder_speakers=responders,
        answer_end_s=None if answer_end is None else float(answer_end),
    )


def _union(spans: Iterable[tuple[float, float]]) -> list[tuple[float, float]]:
    out: list[tuple[float, float]] = []
    for a, b in sorted(spans):
        if out and a <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out


@dataclass(frozen=True)
class TypeCounts:
    open: int = 0
    closed: int = 0
    procedural: int = 0
    checking: int = 0
    rhetorical: int = 0

    @property
    def total(self) -> int:
        return self.open + self.closed + self.procedural + self.checking + self.rhetorical


@dataclass(frozen=True)
class ResponseCounts:
    pupil: int = 0
    pupils: int = 0
    self: int = 0
    teacher: int = 0
    none: int = 0


@dataclass(frozen=True)
class QuestionStats:
    """Summary of the question record.  Wait times and shares are over the teacher's questions."""

    total: int
    teacher_questions: int
    pupil_questions: int
    teacher_by_type: TypeCounts
    pupil_by_type: TypeCounts
    teacher_by_response: ResponseCounts
    pupil_by_response: ResponseCounts
    open_questions: int  # teacher questions with is_open
    open_share: float  # open / teacher questions (0 when none)
    answered_share: float  # teacher questions answered by one or more pupils / teacher questions
    mean_wait_time_1_s: float | None
    median_wait_time_1_s: float | None
    mean_wait_time_2_s: float | None
    median_wait_time_2_s: float | None
    distinct_pupils_engaged: int  # distinct pupil speakers who answered a teacher question
    pupil_responses: int  # pupil answers to teacher questions, one per responder per question
    teacher_questions_per_min: float  # 0 for a lesson under a second


def question_stats(questions: Sequence[Question], duration_s: float = 0.0) -> QuestionStats:
    teacher = [q for q in questions if q.role == "teacher"]
    pupil = [q for q in questions if q.role == "pupil"]
    w1 = [q.wait_time_1_s for q in teacher if q.wait_time_1_s is not None]
    w2 = [q.wait_time_2_s for q in teacher if q.wait_time_2_s is not None]
    answered = [q for q in teacher if q.response in ("pupil", "pupils")]
    engaged = {sp for q in answered for sp in q.responder_speakers}
    n_open = sum(q.is_open for q in teacher)
    return QuestionStats(
        total=len(questions),
        teacher_questions=len(teacher),
        pupil_questions=len(pupil),
        teacher_by_type=_type_counts(teacher),
        pupil_by_type=_type_counts(pupil),
        teacher_by_response=_response_counts(teacher),
        pupil_by_response=_response_counts(pupil),
        open_questions=n_open,
        open_share=n_open / len(teacher) if teacher else 0.0,
        answered_share=len(answered) / len(teacher) if teacher else 0.0,
        mean_wait_time_1_s=statistics.fmean(w1) if w1 else None,
        median_wait_time_1_s=float(statistics.median(w1)) if w1 else None,
        mean_wait_time_2_s=statistics.fmean(w2) if w2 else None,
        median_wait_time_2_s=float(statistics.median(w2)) if w2 else None,
        distinct_pupils_engaged=len(engaged),
        pupil_responses=sum(q.responders for q in answered),
        # a rate over less than a second of lesson means nothing (and could overflow)
        teacher_questions_per_min=len(teacher) * 60.0 / duration_s if duration_s >= 1.0 else 0.0,
    )


def _type_counts(questions: Sequence[Question]) -> TypeCounts:
    counts = {t: 0 for t in QUESTION_TYPES}
    for q in questions:
        counts[q.qtype] += 1
    return TypeCounts(**counts)


def _response_counts(questions: Sequence[Question]) -> ResponseCounts:
    counts = {r: 0 for r in RESPONSES}
    for q in questions:
        counts[q.response] += 1
    return ResponseCounts(**counts)


__all__ = [
    "QUESTION_TYPES",
    "RESPONSES",
    "Question",
    "QuestionCue",
    "QuestionSettings",
    "QuestionStats",
    "QuestionType",
    "Response",
    "ResponseCounts",
    "TypeCounts",
    "classify_question",
    "detect_question",
    "detect_question_in_context",
    "detect_questions",
    "find_questions",
    "question_stats",
    "sentence_contexts",
    "sentence_features",
    "split_sentences",
    "words_of",
]
