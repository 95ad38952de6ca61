"""Train the question LM's probe and how the question model weighs it (videocoach/data/question_lm.json), NCTE only.

    python scripts/train_question_lm.py                 # writes videocoach/data/question_lm.json
    python scripts/train_question_lm.py --out /tmp/qlm.json

Two fits, both on the question model's data and split: the 23 NCTE training lessons (MIT), never the 6 held out,
never TalkMoves.  The question model itself (``scripts/train_question_model.py``) is left as it is.

1. The probe (``LMProbe``): a logistic regression from Whisper's decoder hidden state after a sentence's last word
   (``videocoach.audio.question_lm.QuestionLM.hidden``, 512 numbers) to "the sentence ends in ?", over every sentence of
   both roles, on standardised states (the scaling is folded into the shipped weights); C from ``PROBE_C`` by
   the out-of-fold log-loss.
2. Per role, a logistic regression over two numbers -- the question model's log-odds and the probe's -- and its
   threshold (``LMCombination``).  Both inputs are out-of-fold (5 folds by lesson, the same folds: each sentence
   scored by a model and a probe that never saw its lesson), as the product sees them on a new lesson; the
   thresholds are chosen on out-of-fold predictions of the combination too, maximising F1.  Sentences in contexts
   where the rules decide (``QuestionModel.covers``) are left out of this step: the combination is not used there.

The hidden states come from ``eval/lm_cache.py`` (computed once, ~2 min for NCTE).
"""

from __future__ import annotations

import argparse
import collections
import json
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "eval"))
sys.path.insert(0, str(REPO / "scripts"))
sys.path.insert(0, str(REPO))

from text_norm import unpunctuate  # noqa: E402
from lm_cache import lm_hidden  # noqa: E402
from ncte import load_ncte  # noqa: E402
from train_question_model import FOLDS, HELD_OUT, THRESHOLDS, _f1, _fit, _matrix, lesson_features  # noqa: E402

from videocoach.audio.question_lm import QuestionLMConfig, lm_text  # noqa: E402
from videocoach.measures.question_model import LM_FORMAT, LMProbe, contexts_from_rows, load_question_model  # noqa: E402
from videocoach.measures.question_cues import words_of  # noqa: E402

OUT = REPO / "videocoach" / "data" / "question_lm.json"
PROBE_C = (0.003, 0.01, 0.03)


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args()
    t0 = time.time()
    base = load_question_model(REPO / "videocoach" / "data" / "question_model.json")  # without the LM
    info = base.info
    c, min_count, bag_scale = float(info["C"]), int(info["min_count"]), float(info["bag_scale"])
    config = QuestionLMConfig()
    by_lesson: dict[str, list] = collections.defaultdict(list)
    for s in load_ncte():
        by_lesson[s.lesson].append(s)
    train = [k for k in sorted(by_lesson, key=lambda k: int(k) if k.isdigit() else 0) if k not in HELD_OUT]
    if sorted(train) != sorted(info["training_lessons"]):
        raise SystemExit("the NCTE training lessons differ from those the shipped question model names")
    data = {k: lesson_features(by_lesson[k]) for k in train}
    hidden = lm_hidden([unpunctuate(s.text) for k in train for s in by_lesson[k]], config)
    covered = {}
    for k in train:
        rows = by_lesson[k]
        ctxs = contexts_from_rows([s.speaker for s in rows], [s.role for s in rows],
                                  [words_of(unpunctuate(s.text)) for s in rows])
        covered[k] = [base.covers(ctx) for ctx in ctxs]

    # out-of-fold log-odds of the question model, lesson by lesson
    folds = [train[i::FOLDS] for i in range(FOLDS)]
    z, keys, gold, role, fold_of, keep = [], [], [], [], [], []
    for f, fold in enumerate(folds):
        fit_keys = [k for k in train if k not in fold]
        feats = [x for k in fit_keys for x in data[k][0]]
        golds = [g for k in fit_keys for g in data[k][1]]
        vocab, model = _fit(feats, golds, c=c, min_count=min_count, bag_scale=bag_scale)
        for k in fold:
            p = model.predict_proba(_matrix(data[k][0], vocab, bag_scale))[:, 1]
            z += list(_logit(p))
            keys += [lm_text(unpunctuate(s.text)) for s in by_lesson[k]]
            gold += data[k][1]
            role += data[k][2]
            fold_of += [f] * len(p)
            keep += covered[k]
    z, gold = np.array(z), np.array(gold, dtype=bool)
    role, fold_of = np.array(role), np.array(fold_of)
    has = np.array([k in hidden for k in keys])
    width = len(next(iter(hidden.values())))  # the decoder's state size (512 for base)
    h = np.stack([hidden.get(k, np.zeros(width, np.float32)) for k in keys]).astype(np.float64)

    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import log_loss
    from sklearn.preprocessing import StandardScaler

    def fit_probe(rows: np.ndarray, c_probe: float) -> LMProbe:
        scaler = StandardScaler().fit(h[rows])
        m = LogisticRegression(C=c_probe, max_iter=5000).fit(scaler.transform(h[rows]), gold[rows])
        w = m.coef_[0] / scaler.scale_
        return LMProbe(tuple(float(x) for x in w), float(m.intercept_[0] - w @ scaler.mean_))

    losses, oofs = {}, {}
    for c_probe in PROBE_C:
        oof = np.full(len(gold), np.nan)
        for f in range(FOLDS):
            probe = fit_probe(has & (fold_of != f), c_probe)
            oof[has & (fold_of == f)] = probe.log_odds(h[has & (fold_of == f)])
        losses[c_probe] = float(log_loss(gold[has], 1 / (1 + np.exp(-oof[has]))))
        oofs[c_probe] = oof
        print(f"probe C={c_probe}: out-of-fold log-loss {losses[c_probe]:.4f}", flush=True)
    c_probe = min(losses, key=losses.get)
    score = oofs[c_probe]
    keep = np.array(keep) & has

    out: dict = {}
    for r in ("teacher", "pupil"):
        sel = keep & (role == r)
        x = np.c_[z, score][sel]
        g, fo = gold[sel], fold_of[sel]
        oof = np.zeros(len(g))
        for f in range(FOLDS):
            m = LogisticRegression(C=1.0).fit(x[fo != f], g[fo != f])
            oof[fo == f] = m.predict_proba(x[fo == f])[:, 1]
        f1s = [_f1(oof >= th, g) for th in THRESHOLDS]
        th = float(THRESHOLDS[int(np.argmax(f1s))])
        base_f1 = max(_f1(1 / (1 + np.exp(-x[:, 0])) >= t, g) for t in THRESHOLDS)
        probe_f1 = max(_f1(1 / (1 + np.exp(-x[:, 1])) >= t, g) for t in THRESHOLDS)
        m = LogisticRegression(C=1.0).fit(x, g)
        out[r] = {"model_logit": round(float(m.coef_[0][0]), 4), "lm": round(float(m.coef_[0][1]), 4),
                  "bias": round(float(m.intercept_[0]), 4), "threshold": th,
                  "cv_f1": round(max(f1s), 4), "cv_f1_model_alone": round(base_f1, 4),
                  "cv_f1_probe_alone": round(probe_f1, 4), "sentences": int(sel.sum())}
        print(f"{r}: cross-validated F1 {base_f1:.3f} (model alone, best threshold), {probe_f1:.3f} (probe alone) "
              f"-> {max(f1s):.3f} combined (threshold {th}); weights {out[r]}", flush=True)
    probe = fit_probe(has, c_probe)
    doc = {
        "format": LM_FORMAT,
        "decoder": config.method,
        "probe": {"coef": [float(f"{w:.6g}") for w in probe.coef], "bias": float(f"{probe.bias:.6g}")},
        "roles": {r: {k: out[r][k] for k in ("model_logit", "lm", "bias", "threshold")} for r in out},
        "info": {
            "what": "probe: logistic regression from the Whisper decoder's hidden state after the last word to '?'; "
                    "roles: per role, logistic regression over (question-model log-odds, probe log-odds); "
                    "videocoach/measures/question_model.py LMProbe, QuestionModel.decide",
            "trained_on": "NCTE transcripts, the question model's 23 training lessons, out-of-fold inputs",
            "probe": {"C": c_probe, "cv_log_loss": {str(k): round(v, 4) for k, v in losses.items()},
                      "sentences": int(has.sum())},
            "cv": {r: {k: out[r][k] for k in ("cv_f1", "cv_f1_model_alone", "cv_f1_probe_alone", "sentences")}
                   for r in out},
            "script": "scripts/train_question_lm.py",
        },
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(doc, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    print(f"-> {args.out} ({time.time() - t0:.0f} s)")


if __name__ == "__main__":
    main()
