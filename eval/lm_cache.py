"""Question-LM scores of many sentences, cached on disk (eval/out/question_lm_scores.pkl) for the eval and training.

The scores are those of the product's ``videocoach.question_lm.QuestionLM`` (keyed by ``lm_text``, so a sentence
that repeats is scored once); the cache is kept per ``QuestionLMConfig.method`` and holds nothing but
{text: score}; ``VIDEOCOACH_LM_CACHE`` names another file.  All of TalkMoves and NCTE (~191,000 distinct sentences) take about 25 min on 2 cores the first time.
"""

from __future__ import annotations

import os
import pickle
import sys
import time
from pathlib import Path
from typing import Iterable

from videocoach.question_lm import QuestionLMConfig, cached_question_lm, lm_text

CACHE = Path(os.environ.get("VIDEOCOACH_LM_CACHE") or Path(__file__).resolve().parent / "out" / "question_lm_scores.pkl")
_CHUNK = 4096


def lm_scores(texts: Iterable[str], config: QuestionLMConfig = QuestionLMConfig(), cache: Path = CACHE,
              ) -> dict[str, float]:
    """{lm_text(t): score} for every t, computing (and saving, chunk by chunk) only those not cached yet."""
    store: dict = {}
    if cache.exists():
        with open(cache, "rb") as fh:
            store = pickle.load(fh)
    known = store.setdefault(config.method, {})
    wanted = {lm_text(t) for t in texts} - {""}
    todo = sorted(wanted - known.keys())
    if todo:
        lm = cached_question_lm(config)
        t0 = time.time()
        for i in range(0, len(todo), _CHUNK):
            part = todo[i: i + _CHUNK]
            known.update(zip(part, lm.scores(part)))
            cache.parent.mkdir(parents=True, exist_ok=True)
            tmp = cache.with_suffix(".tmp")
            with open(tmp, "wb") as fh:
                pickle.dump(store, fh)
            os.replace(tmp, cache)
            done = min(i + _CHUNK, len(todo))
            print(f"  question LM: {done}/{len(todo)} sentences scored ({time.time() - t0:.0f} s)", file=sys.stderr,
                  flush=True)
    return {t: known[t] for t in wanted}
