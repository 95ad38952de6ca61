"""Train how the question model weighs Whisper's "?" score (videocoach/data/question_lm.json), from NCTE only.

    python scripts/train_question_lm.py                 # writes videocoach/data/question_lm.json
    python scripts/train_question_lm.py --out /tmp/qlm.json

The question model (``scripts/train_question_model.py``) is left as it is; this fits, per role, a logistic regression
over two numbers -- the model's log-odds and the question-LM score (``videocoach.question_lm``) -- and its threshold.
Same data and split as the question model: the 23 NCTE training lessons (MIT), never the 6 held out, never TalkMoves.
The model's log-odds are out-of-fold (5 folds by lesson, the shipped C, min_count and bag_scale: each sentence scored
by a model that never saw its lesson), as the product sees them on a new lesson.  The thresholds are chosen on
out-of-fold predictions of the combination too (the same folds), maximising F1.  Sentences in contexts where the
rules decide (``QuestionModel.covers``) are left out: the combination is not used there.

The LM scores come from ``eval/lm_cache.py`` (computed once, ~3 min for NCTE).
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

from eval_questions import unpunctuate  # noqa: E402
from lm_cache import lm_scores  # noqa: E402
from ncte import load_ncte  # noqa: E402
from train_question_model import FOLDS, HELD_OUT, THRESHOLDS, _f1, _fit, _matrix, lesson_features  # noqa: E402

from videocoach.question_lm import QuestionLMConfig, lm_text  # noqa: E402
from videocoach.question_model import LM_FORMAT, contexts_from_rows, load_question_model  # noqa: E402
from videocoach.questions import words_of  # noqa: E402

OUT = REPO / "videocoach" / "data" / "question_lm.json"


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args()
    t0 = time.time()
    base = load_question_model()
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
    lm = lm_scores([unpunctuate(s.text) for k in train for s in by_lesson[k]], config)
    covered = {}
    for k in train:
        rows = by_lesson[k]
        ctxs = contexts_from_rows([s.speaker for s in rows], [s.role for s in rows],
                                  [words_of(unpunctuate(s.text)) for s in rows])
        covered[k] = [base.covers(ctx) for ctx in ctxs]

    # out-of-fold log-odds of the question model, lesson by lesson
    folds = [train[i::FOLDS] for i in range(FOLDS)]
    z, score, gold, role, fold_of, keep = [], [], [], [], [], []
    for f, fold in enumerate(folds):
        fit_keys = [k for k in train if k not in fold]
        feats = [x for k in fit_keys for x in data[k][0]]
        golds = [g for k in fit_keys for g in data[k][1]]
        vocab, model = _fit(feats, golds, c=c, min_count=min_count, bag_scale=bag_scale)
        for k in fold:
            p = model.predict_proba(_matrix(data[k][0], vocab, bag_scale))[:, 1]
            z += list(_logit(p))
            score += [lm.get(lm_text(unpunctuate(s.text)), float("nan")) for s in by_lesson[k]]
            gold += data[k][1]
            role += data[k][2]
            fold_of += [f] * len(p)
            keep += covered[k]
    z, score, gold = np.array(z), np.array(score), np.array(gold, dtype=bool)
    role, fold_of = np.array(role), np.array(fold_of)
    keep = np.array(keep) & np.isfinite(score)

    from sklearn.linear_model import LogisticRegression

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
        m = LogisticRegression(C=1.0).fit(x, g)
        out[r] = {"model_logit": round(float(m.coef_[0][0]), 4), "lm": round(float(m.coef_[0][1]), 4),
                  "bias": round(float(m.intercept_[0]), 4), "threshold": th,
                  "cv_f1": round(max(f1s), 4), "cv_f1_model_alone": round(base_f1, 4), "sentences": int(sel.sum())}
        print(f"{r}: cross-validated F1 {base_f1:.3f} (model alone, best threshold) -> {max(f1s):.3f} with the LM "
              f"(threshold {th}); weights {out[r]}", flush=True)
    doc = {
        "format": LM_FORMAT,
        "method": config.method,
        "roles": {r: {k: out[r][k] for k in ("model_logit", "lm", "bias", "threshold")} for r in out},
        "info": {
            "what": "per role, logistic regression over (question-model log-odds, question-LM score); "
                    "videocoach/question_model.py QuestionModel.decide",
            "trained_on": "NCTE transcripts, the question model's 23 training lessons, out-of-fold log-odds",
            "cv": {r: {k: out[r][k] for k in ("cv_f1", "cv_f1_model_alone", "sentences")} for r in out},
            "script": "scripts/train_question_lm.py",
        },
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(doc, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    print(f"-> {args.out} ({time.time() - t0:.0f} s)")


if __name__ == "__main__":
    main()
