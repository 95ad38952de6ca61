"""Is a sentence a question?  Whisper's own text decoder, read by a probe trained on classroom transcripts.

Whisper learned punctuation from hundreds of thousands of hours of transcripts, so its decoder is a language model
that knows how questions are worded well beyond our word rules.  Given a sentence's words with the punctuation taken
off, its hidden state after the last word (``QuestionLM.hidden``: 512 numbers, what the next-token logits are read
from) holds what it expects next.  Two ways to read it:

- Whisper's own answer (``QuestionLM.mark_scores``): log P("?") against "." and end-of-text.  Weighed in with the
  question model it took TalkMoves teacher-question F1 from 0.812 to 0.821 (the previous release).
- A probe (``question_model.LMProbe``, ``QuestionLM.scores``): a logistic regression over the whole state, trained
  on the NCTE training lessons' "?" (``scripts/train_question_lm.py``).  Alone, at the best threshold, on TalkMoves
  teacher (Speaker T) sentences: Subset 1 F1 0.793 and Subset 2 0.833, against 0.784 / 0.821 for the "?" logit and
  0.782 / 0.822 for the question model.  Weighed in with the question model (``QuestionModel.decide``,
  ``LMCombination``) it is what ships: overall 0.836 (``eval/eval_questions.py``).

How it is asked: the decoder needs an encoder output to attend to; it gets that of one second of silence (computed
once), so the state comes from the words alone -- the same text-only setting in which it is measured (TalkMoves has
no audio). One second, not Whisper's thirty: cross-attention over 1,500 frames made it 11x slower for an F1 0.006
higher on TalkMoves Subset 1 (0.813 against 0.807 for the "?" logit alone, 2,000 teacher sentences); a single frame
broke it (0.52). Prompting the decoder with the previous sentence's words (Whisper's ``<|startofprev|>``) gave the
probe nothing (Subset 1, combined: 0.803 against 0.801) and was left out; so did adding the fourth block's state or
the mean state over the sentence's words to the probe's input (NCTE cross-validated F1 0.863-0.864 against 0.865),
a probe trained on teacher sentences only (Subset 1 0.802 against 0.801), letting the combination weigh the probe
differently when someone else speaks next (0.798), and a second reader over all-MiniLM-L6-v2 sentence embeddings
(alone 0.63; weighed in beside the probe it got a weight of about 0).
The text is the sentence lower-cased by the ASR or not, with every mark but apostrophes removed, its first letter
and "i" capitalised, cut to its last ``max_tokens`` tokens (the end is what matters).

Weights: the packaged Whisper base (``transcribe.openai_checkpoint``: the CT2 weights converted once into an
openai-whisper checkpoint in the cache; no hub); the probe ships in ``videocoach/data/question_lm.json``.  Cost on 2
cores: about 6 ms a sentence, batched, and ~4 s to load.

A ceiling: trained ON TalkMoves itself (``eval_questions.py --talkmoves-cv``, 5 folds by lesson, thresholds and the
combination chosen on the test folds), the question model's features with this probe reach F1 0.859; the shipped
detector, which never saw TalkMoves, gets 0.836.  What is left is intonation the words do not carry.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np

from videocoach.measures.question_model import LMProbe, lm_text
from videocoach.core.threads import torch_threads
from videocoach.audio.transcribe import ModelName


@dataclass(frozen=True)
class QuestionLMConfig:
    """Which decoder and how much silence it attends to; hashable (it keys the loaded-model cache)."""

    model: ModelName = "base"
    encoder_frames: int = 50  # Whisper encoder frames are 20 ms: one second of silence
    max_tokens: int = 60
    batch: int = 64
    threads: int = 2

    def __post_init__(self) -> None:
        if not 2 <= self.encoder_frames <= 1500:
            raise ValueError("encoder_frames must be within 2..1500")
        if self.max_tokens < 1 or self.batch < 1 or self.threads < 1:
            raise ValueError("max_tokens, batch and threads must be positive")

    @property
    def method(self) -> str:
        return f"whisper-{self.model}-decoder:{self.encoder_frames}f"


class QuestionLM:
    """Whisper's decoder loaded once; ``scores`` many sentences in batches."""

    def __init__(self, config: QuestionLMConfig = QuestionLMConfig()) -> None:
        import torch
        import whisper

        from videocoach.audio.transcribe import openai_checkpoint

        self.config = config
        with torch_threads(config.threads):
            self._model = whisper.load_model(str(openai_checkpoint(config.model)), device="cpu").eval()
            self._tok = whisper.tokenizer.get_tokenizer(
                self._model.is_multilingual, language="en", task="transcribe", num_languages=self._model.num_languages
            )
            mel = whisper.log_mel_spectrogram(np.zeros(whisper.audio.N_SAMPLES, dtype=np.float32),
                                              self._model.dims.n_mels)
            with torch.no_grad():
                self._silence = self._model.encoder(mel[None])[:, : config.encoder_frames].contiguous()
        self._prefix = list(self._tok.sot_sequence_including_notimestamps)
        q, = self._tok.encode("?")
        dot, = self._tok.encode(".")
        targets = [q, dot, self._tok.eot]  # "?" first
        self._heads = self._model.decoder.token_embedding.weight[targets].detach().float().numpy()
        self._max_tokens = min(config.max_tokens, self._model.dims.n_text_ctx - len(self._prefix) - 1)

    @property
    def width(self) -> int:
        """The length of a hidden state (512 for base)."""
        return int(self._model.dims.n_text_state)

    def hidden(self, texts: Sequence[str]) -> np.ndarray:
        """The decoder's hidden state after each sentence's last word (its final layer norm applied: what the
        next-token logits are read from), a float32 array of ``len(texts)`` rows; a sentence with no words once
        the marks are off gets a row of ``nan``."""
        import torch

        tokens = []
        for text in texts:
            words = lm_text(text)
            tokens.append(self._tok.encode(" " + words)[-self._max_tokens:] if words else [])
        out = np.full((len(tokens), self.width), np.nan, dtype=np.float32)
        order = sorted((i for i, t in enumerate(tokens) if t), key=lambda i: len(tokens[i]))
        dec = self._model.decoder
        with torch_threads(self.config.threads), torch.no_grad():
            for b in range(0, len(order), self.config.batch):
                idx = order[b: b + self.config.batch]
                seqs = [self._prefix + tokens[i] for i in idx]
                width = max(len(s) for s in seqs)
                ids = torch.full((len(seqs), width), self._tok.eot, dtype=torch.long)
                for j, s in enumerate(seqs):
                    ids[j, : len(s)] = torch.tensor(s)
                last = torch.tensor([len(s) - 1 for s in seqs])
                x = dec.token_embedding(ids) + dec.positional_embedding[:width]
                xa = self._silence.expand(len(seqs), -1, -1)
                for block in dec.blocks:
                    x = block(x, xa, mask=dec.mask)
                out[idx] = dec.ln(x)[torch.arange(len(seqs)), last].float().numpy()
        return out

    def reply_states(self, previous: Sequence[str], replies: Sequence[str]) -> np.ndarray:
        """The decoder's hidden states over each reply's words, averaged, with the words of ``previous`` (what was
        said just before, by someone else) given as Whisper's previous-text prompt (``<|startofprev|>``): a
        float32 array of ``len(replies)`` rows, ``nan`` where the reply has no words.  Used by
        :mod:`videocoach.audio.uptake_lm` to read how a teacher's reply relates to what a pupil said."""
        import torch

        if len(previous) != len(replies):
            raise ValueError("one previous text per reply")
        half = max(1, self._max_tokens // 2)
        seqs: list[list[int]] = []
        starts: list[int] = []
        for prev, reply in zip(previous, replies):
            r = lm_text(reply)
            if not r:
                seqs.append([])
                starts.append(0)
                continue
            p = lm_text(prev)
            ptok = self._tok.encode(" " + p)[-half:] if p else []
            rtok = self._tok.encode(" " + r)[:half]
            head = ([self._tok.sot_prev] + ptok if ptok else []) + self._prefix
            seqs.append(head + rtok)
            starts.append(len(head))
        out = np.full((len(seqs), self.width), np.nan, dtype=np.float32)
        order = sorted((i for i, s in enumerate(seqs) if s), key=lambda i: len(seqs[i]))
        dec = self._model.decoder
        with torch_threads(self.config.threads), torch.no_grad():
            for b in range(0, len(order), self.config.batch):
                idx = order[b: b + self.config.batch]
                width = max(len(seqs[i]) for i in idx)
                ids = torch.full((len(idx), width), self._tok.eot, dtype=torch.long)
                for j, i in enumerate(idx):
                    ids[j, : len(seqs[i])] = torch.tensor(seqs[i])
                x = dec.token_embedding(ids) + dec.positional_embedding[:width]
                xa = self._silence.expand(len(idx), -1, -1)
                for block in dec.blocks:
                    x = block(x, xa, mask=dec.mask)
                h = dec.ln(x).float().numpy()
                for j, i in enumerate(idx):
                    out[i] = h[j, starts[i]: len(seqs[i])].mean(axis=0)
        return out

    def mark_scores(self, texts: Sequence[str]) -> list[float]:
        """Whisper's own answer, for comparison: log P("?") - log(P("?") + P(".") + P(end)) after the last word
        (``nan`` for a sentence with no words)."""
        h = self.hidden(texts)
        logits = h @ self._heads.T
        top = logits.max(axis=1, keepdims=True)
        lse = top[:, 0] + np.log(np.exp(logits - top).sum(axis=1))
        return [float(v) for v in logits[:, 0] - lse]

    def scores(self, texts: Sequence[str], probe: LMProbe) -> list[float]:
        """The probe's log-odds that each sentence is a question (``nan`` for a sentence with no words)."""
        return [float(v) for v in probe.log_odds(self.hidden(texts))]


@functools.lru_cache(maxsize=1)
def cached_question_lm(config: QuestionLMConfig = QuestionLMConfig()) -> QuestionLM:
    return QuestionLM(config)


def question_lm_scores(
    texts: Sequence[str], probe: LMProbe, config: QuestionLMConfig = QuestionLMConfig(),
    known: Mapping[str, float] | None = None,
) -> dict[str, float]:
    """``{lm_text(sentence): score}`` (the probe's log-odds) for the distinct non-empty sentences among ``texts``;
    those in ``known`` (a previous run's output with the same probe) are not scored again, and the model is loaded
    only if something is left to score."""
    known = known or {}
    distinct = sorted({lm_text(t) for t in texts} - {""})
    todo = [t for t in distinct if t not in known]
    fresh = dict(zip(todo, cached_question_lm(config).scores(todo, probe))) if todo else {}
    return {t: float(fresh[t]) if t in fresh else float(known[t]) for t in distinct}


__all__ = ["LMProbe", "QuestionLM", "QuestionLMConfig", "cached_question_lm", "lm_text", "question_lm_scores"]
