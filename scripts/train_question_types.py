"""Train the open / closed question-type model shipped as videocoach/data/question_types.json (NCTE only).

    python scripts/train_question_types.py                  # writes videocoach/data/question_types.json
    python scripts/train_question_types.py --out /tmp/t.json

Data: ../shared/data/transcripts/ncte (MIT).  Teacher turns of the 23 training lessons (the question model's split:
the 6 lessons in ``HELD_OUT`` are never read here) are split into sentences at the human punctuation; the questions
are the sentences with "?".  Label: the turn's ``focusing_questions`` column -- a published classifier's prediction
(Alic et al. 2022: a focusing question presses pupils to explain their thinking), silver, not human.  A turn with
one question gives that question its label; a turn scored 0 makes all its questions "not open"; a turn scored 1 with
several questions is left out (which of them focuses is unknown).  Questions the rules call checking or procedural
are left out too: the model decides only open against closed (``question_types.classify_question``).
TalkMoves (CC BY-NC-SA) is never read: it stays evaluation-only.

C and the threshold are chosen by 5-fold cross-validation over the training lessons (folds by lesson), for
out-of-fold macro-F1 against the silver labels.  The text the model sees has no punctuation
(``eval_questions.unpunctuate``), as from an ASR.  scikit-learn is needed only here; the product reads the JSON.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "eval"))
sys.path.insert(0, str(REPO))

from eval_questions import unpunctuate  # noqa: E402
from ncte import DEFAULT_ROOT, split_sentences  # noqa: E402

from videocoach.measures.question_types import TYPES_FORMAT, rule_type, type_features  # noqa: E402

HELD_OUT = ("4", "12", "17", "18", "29", "32")  # as scripts/train_question_model.py
C_GRID = (0.03, 0.1, 0.3, 1.0)
THRESHOLDS = np.round(np.arange(0.10, 0.95, 0.02), 2)
MIN_COUNT = 3
FOLDS = 5
OUT = REPO / "videocoach" / "data" / "question_types.json"


def silver_questions(root: Path = DEFAULT_ROOT, held_out: bool = False) -> list[tuple[str, str, bool]]:
    """(lesson, question text unpunctuated, silver open) for the training lessons (or the held-out ones)."""
    import pandas as pd

    out = []
    for path in sorted(root.glob("*.csv")):
        if (path.stem in HELD_OUT) != held_out:
            continue
        df = pd.read_csv(path)
        for text, speaker, fq in zip(df["text"], df["speaker"], df["focusing_questions"]):
            if str(speaker).strip() != "teacher" or not isinstance(text, str) or fq != fq:
                continue
            qs = [s for s in split_sentences(text) if "?" in s]
            if not qs or (fq == 1 and len(qs) > 1):
                continue
            for q in qs:
                t = unpunctuate(q)
                if re.search(r"[a-z0-9]", t) and rule_type(t)[0] not in ("checking", "procedural"):
                    out.append((path.stem, t, bool(fq == 1)))
    return out


def macro_f1(pred: np.ndarray, gold: np.ndarray) -> float:
    def f1(p, g):
        tp = np.sum(p & g)
        return 2 * tp / (np.sum(p) + np.sum(g)) if np.sum(p) + np.sum(g) else 0.0
    return (f1(pred, gold) + f1(~pred, ~gold)) / 2


def fit(texts, gold, c):
    from sklearn.feature_extraction import DictVectorizer
    from sklearn.linear_model import LogisticRegression

    counts: dict[str, int] = {}
    feats = [type_features(t) for t in texts]
    for f in feats:
        for x in f:
            counts[x] = counts.get(x, 0) + 1
    keep = [{x: 1.0 for x in f if counts[x] >= MIN_COUNT or x == "bias"} for f in feats]
    vec = DictVectorizer()
    x = vec.fit_transform(keep)
    lr = LogisticRegression(C=c, max_iter=5000, fit_intercept=False, class_weight="balanced").fit(x, gold)
    return dict(zip(vec.get_feature_names_out(), lr.coef_[0]))


def predict(weights, texts):
    z = np.array([sum(weights.get(f, 0.0) for f in type_features(t)) for t in texts])
    return 1 / (1 + np.exp(-z))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args()
    data = silver_questions()
    lessons = sorted({d[0] for d in data}, key=lambda s: int(s))
    texts = [d[1] for d in data]
    gold = np.array([d[2] for d in data])
    fold_of = {les: i % FOLDS for i, les in enumerate(lessons)}
    folds = np.array([fold_of[d[0]] for d in data])
    best = None
    cv = {}
    for c in C_GRID:
        oof = np.zeros(len(data))
        for k in range(FOLDS):
            w = fit([t for t, f in zip(texts, folds) if f != k], gold[folds != k], c)
            oof[folds == k] = predict(w, [t for t, f in zip(texts, folds) if f == k])
        scores = {float(th): macro_f1(oof >= th, gold) for th in THRESHOLDS}
        th = max(scores, key=scores.get)
        cv[str(c)] = {"threshold": th, "macro_f1": round(scores[th], 4)}
        print(f"C={c}: best threshold {th} out-of-fold macro-F1 {scores[th]:.3f} (silver)")
        if best is None or scores[th] > best[2]:
            best = (c, th, scores[th])
    c, th, f = best
    weights = fit(texts, gold, c)
    weights = {k: round(float(v), 4) for k, v in sorted(weights.items()) if abs(v) >= 0.005}
    doc = {
        "format": TYPES_FORMAT,
        "threshold": th,
        "weights": weights,
        "info": {
            "script": "scripts/train_question_types.py",
            "trained_on": "NCTE transcripts (MIT), teacher questions (human '?') of the 23 training lessons; label: "
                          "the turn's focusing_questions prediction (silver, Alic et al. 2022); questions the rules "
                          "call checking or procedural left out",
            "training_lessons": lessons,
            "held_out_lessons": list(HELD_OUT),
            "questions": len(data),
            "silver_open": int(gold.sum()),
            "C": c,
            "cv": cv,
            "cv_macro_f1_silver": round(f, 4),
            "evaluation": "eval/eval_question_types.py (hand labels on the held-out lessons; TalkMoves proxy)",
        },
    }
    args.out.write_text(json.dumps(doc, indent=1, sort_keys=True) + "\n")
    print(f"{len(data)} questions ({int(gold.sum())} silver open), C={c}, threshold {th}: {len(weights)} weights "
          f"-> {args.out}")


if __name__ == "__main__":
    main()
