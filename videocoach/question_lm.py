"""How likely is a "?" at the end of a sentence?  Whisper's own text decoder, asked as a language model.

Whisper learned punctuation from hundreds of thousands of hours of transcripts, so its decoder is a language model
that knows how questions are worded well beyond our word rules: given a sentence's words with the punctuation taken
off, the log-probability it gives "?" as the next token, against "." and end-of-text, is a question score
(``QuestionLM.scores``).  The question model (``question_model``) weighs it in with its own log-odds
(``QuestionModel.decide``, ``LMCombination``).

How it is asked: the decoder needs an encoder output to attend to; it gets that of one second of silence (computed
once), so the score comes from the words alone -- the same text-only setting in which it is measured (TalkMoves has
no audio).  One second, not Whisper's thirty: cross-attention over 1,500 frames made it 11x slower for an F1 0.006
higher on TalkMoves Subset 1 (0.813 against 0.807 alone, 2,000 teacher sentences); a single frame broke it (0.52).
The text is the sentence lower-cased by the ASR or not, with every mark but apostrophes removed, its first letter
and "i" capitalised, cut to its last ``max_tokens`` tokens (the end is what matters).

Weights: the packaged Whisper base (``transcribe.openai_checkpoint``: the CT2 weights converted once into an
openai-whisper checkpoint in the cache; no hub).  Cost on 2 cores: about 7 ms a sentence, batched, and ~4 s to
load; the metrics stage of the 50-minute bench (``bench/bench_pipeline.py``) took 5.5 s with it against 0.5 s
without, peak RSS 0.73 GB.  Measured gain (``eval/eval_questions.py``): TalkMoves teacher-question F1 0.812 -> 0.821.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np

from videocoach.question_model import lm_text
from videocoach.threads import torch_threads
from videocoach.transcribe import ModelName


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

        from videocoach.transcribe import openai_checkpoint

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
        self._targets = [q, dot, self._tok.eot]  # "?" first
        self._max_tokens = min(config.max_tokens, self._model.dims.n_text_ctx - len(self._prefix) - 1)

    def scores(self, texts: Sequence[str]) -> list[float]:
        """For each sentence, log P("?") - log(P("?") + P(".") + P(end)) after its last word (a log-probability <= 0).

        Empty sentences (no words once the marks are off) score ``nan``.
        """
        import torch

        tokens = []
        for text in texts:
            words = lm_text(text)
            tokens.append(self._tok.encode(" " + words)[-self._max_tokens:] if words else [])
        out = [float("nan")] * len(tokens)
        order = sorted((i for i, t in enumerate(tokens) if t), key=lambda i: len(tokens[i]))
        dec = self._model.decoder
        heads = dec.token_embedding.weight[self._targets]
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
                h = dec.ln(x)[torch.arange(len(seqs)), last]  # the hidden state after each sentence's last token
                logits = (h @ heads.T).float()
                lp = logits[:, 0] - torch.logsumexp(logits, dim=-1)
                for j, i in enumerate(idx):
                    out[i] = float(lp[j])
        return out


@functools.lru_cache(maxsize=1)
def cached_question_lm(config: QuestionLMConfig = QuestionLMConfig()) -> QuestionLM:
    return QuestionLM(config)


def question_lm_scores(
    texts: Sequence[str], config: QuestionLMConfig = QuestionLMConfig(), known: Mapping[str, float] | None = None
) -> dict[str, float]:
    """``{lm_text(sentence): score}`` for the distinct non-empty sentences among ``texts``; those in ``known`` (a
    previous run's output) are not scored again, and the model is loaded only if something is left to score."""
    known = known or {}
    distinct = sorted({lm_text(t) for t in texts} - {""})
    todo = [t for t in distinct if t not in known]
    fresh = dict(zip(todo, cached_question_lm(config).scores(todo))) if todo else {}
    return {t: float(fresh[t]) if t in fresh else float(known[t]) for t in distinct}


__all__ = ["QuestionLM", "QuestionLMConfig", "cached_question_lm", "lm_text", "question_lm_scores"]
