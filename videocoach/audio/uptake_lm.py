"""Uptake scores of pupil -> teacher exchanges, with Whisper's decoder reading the teacher's reply after the pupil's
words (``QuestionLM.reply_states``: the mean decoder state over the reply's words, the pupil's words given as the
previous text).  The measure itself, its word-overlap features and the exchanges are pure
(:mod:`videocoach.measures.uptake`); this module only runs the model.

Cost: one decoder pass per exchange (a 50-minute lesson has a few hundred), batched; the model is the one the
question LM already loaded.
"""

from __future__ import annotations

from typing import Mapping, Sequence

from videocoach.audio.question_lm import QuestionLMConfig, cached_question_lm
from videocoach.measures.uptake import UptakeModel, exchange_key


def uptake_scores(
    pairs: Sequence[tuple[str, str]], model: UptakeModel, config: QuestionLMConfig = QuestionLMConfig(),
    known: Mapping[str, float] | None = None,
) -> dict[str, float]:
    """``{exchange_key(pupil, teacher): score}`` for the distinct (pupil text, teacher text) pairs; those in ``known``
    (a previous run's, same model) are not scored again, and the decoder is loaded only if something is left.
    A model that reads no decoder state is scored from the words alone."""
    if model.decoder is not None and model.decoder != config.method:
        raise ValueError(f"the uptake model was fitted on {model.decoder}, not {config.method}")
    known = known or {}
    distinct = sorted({(p, t) for p, t in pairs})
    todo = [(p, t) for p, t in distinct if exchange_key(p, t) not in known]
    out = {exchange_key(p, t): float(known[exchange_key(p, t)]) for p, t in distinct if exchange_key(p, t) in known}
    if todo:
        if model.state_coef:
            states = cached_question_lm(config).reply_states([p for p, _ in todo], [t for _, t in todo])
        else:
            states = [None] * len(todo)
        for (p, t), h in zip(todo, states):
            out[exchange_key(p, t)] = model.score(p, t, h)
    return out
