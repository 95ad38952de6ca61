"""The question LM's hidden states of many sentences, cached on disk for the eval and the training.

    python eval/lm_cache.py        # fills the cache for all of NCTE and TalkMoves (~191,000 sentences, ~20 min)

The states are those of the product's ``videocoach.audio.question_lm.QuestionLM.hidden`` (keyed by ``lm_text``, so a
sentence that repeats is computed once), kept as float16 in chunk files under
``eval/out/question_lm_hidden/<QuestionLMConfig.method>/`` (``VIDEOCOACH_LM_CACHE`` names another folder); they do
not depend on the probe, so a re-trained probe scores everything again in seconds (``lm_scores``).
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Iterable

import numpy as np

from videocoach.audio.question_lm import QuestionLMConfig, cached_question_lm, lm_text
from videocoach.measures.question_model import LMProbe

CACHE = Path(os.environ.get("VIDEOCOACH_LM_CACHE") or Path(__file__).resolve().parent / "out" / "question_lm_hidden")
_CHUNK = 4096


def _folder(config: QuestionLMConfig, cache: Path) -> Path:
    return cache / config.method.replace(":", "_")


def _load(folder: Path) -> tuple[dict[str, int], list[np.ndarray]]:
    index: dict[str, int] = {}
    parts: list[np.ndarray] = []
    n = 0
    for f in sorted(folder.glob("part-*.npz")):
        with np.load(f, allow_pickle=False) as z:
            texts, h = list(z["texts"]), z["hidden"]
        index.update((str(t), n + i) for i, t in enumerate(texts))
        parts.append(h)
        n += len(texts)
    return index, parts


def lm_hidden(texts: Iterable[str], config: QuestionLMConfig = QuestionLMConfig(), cache: Path = CACHE,
              ) -> dict[str, np.ndarray]:
    """{lm_text(t): hidden state (float32)} for every t with words, computing (and saving chunk by chunk) only
    those not cached yet."""
    folder = _folder(config, cache)
    index, parts = _load(folder)
    wanted = {lm_text(t) for t in texts} - {""}
    todo = sorted(wanted - index.keys())
    if todo:
        lm = cached_question_lm(config)
        folder.mkdir(parents=True, exist_ok=True)
        t0 = time.time()
        start = len(list(folder.glob("part-*.npz")))
        n = sum(len(p) for p in parts)
        for i in range(0, len(todo), _CHUNK):
            part = todo[i: i + _CHUNK]
            h = lm.hidden(part).astype(np.float16)
            tmp = folder / "part.tmp.npz"
            np.savez(tmp, texts=np.array(part, dtype=str), hidden=h)
            os.replace(tmp, folder / f"part-{start + i // _CHUNK:05d}.npz")
            index.update((t, n + j) for j, t in enumerate(part))
            parts.append(h)
            n += len(part)
            done = min(i + _CHUNK, len(todo))
            print(f"  question LM: {done}/{len(todo)} sentences ({time.time() - t0:.0f} s)", file=sys.stderr,
                  flush=True)
    every = np.concatenate(parts) if parts else np.zeros((0, 0), np.float16)
    return {t: every[index[t]].astype(np.float32) for t in wanted}


def probe_scores(hidden: dict[str, np.ndarray], probe: LMProbe) -> dict[str, float]:
    """{text: the probe's log-odds} for states as ``lm_hidden`` returns them."""
    keys = sorted(hidden)
    if not keys:
        return {}
    return dict(zip(keys, (float(v) for v in probe.log_odds(np.stack([hidden[k] for k in keys])))))


def lm_scores(texts: Iterable[str], probe: LMProbe, config: QuestionLMConfig = QuestionLMConfig(),
              cache: Path = CACHE) -> dict[str, float]:
    """{lm_text(t): the probe's log-odds} for every t with words (the states from the cache)."""
    return probe_scores(lm_hidden(texts, config, cache), probe)


def main() -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from text_norm import unpunctuate
    from ncte import load_ncte
    from talkmoves import load_talkmoves

    texts = [unpunctuate(s.text) for s in load_ncte()] + [unpunctuate(r.text) for r in load_talkmoves()]
    t0 = time.time()
    hidden = lm_hidden(texts)
    print(f"{len(hidden)} distinct sentences cached in {_folder(QuestionLMConfig(), CACHE)} ({time.time() - t0:.0f} s)")


if __name__ == "__main__":
    main()
