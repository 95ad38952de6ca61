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

Our own labels: 400 questions of the training lessons labelled by the guide (``eval/question_types_guide.md``,
``eval/labels/ncte_training_question_types.tsv``; 300 drawn at random, 100 among those the silver label or the rules
call open, so that open ones are not too rare).  They join the silver ones with weight ``LABEL_WEIGHT`` (open = 1,
closed, checking, procedural, not a question = 0).

C, the weight of our labels and the threshold are chosen by 5-fold cross-validation over the training lessons (folds
by lesson), for the mean of two out-of-fold macro-F1 (open against closed): on our labels drawn at random (few,
but by the guide) and on the silver labels (many, but another classifier's notion of "focusing").  The text the model sees has no punctuation
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
OWN_LABELS = REPO / "eval" / "labels" / "ncte_training_question_types.tsv"
HELD_OUT_LABELS = REPO / "eval" / "labels" / "ncte_question_types.tsv"
C_GRID = (0.03, 0.1, 0.3, 1.0)
WEIGHT_GRID = (0.0, 3.0, 10.0)
THRESHOLDS = np.round(np.arange(0.06, 0.95, 0.02), 2)
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


def own_labels(path: Path = OWN_LABELS, held_out: bool = False) -> list[tuple[str, str, str, bool]]:
    """(lesson, text unpunctuated, label, drawn at random) of our labels on the training lessons (or, with
    ``held_out``, on the held-out ones)."""
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines()[1:]:
        lesson, drawn, label, text = line.split("\t", 3)
        if (lesson in HELD_OUT) != held_out:
            raise ValueError(f"{path}: lesson {lesson} is on the wrong side of the split")
        rows.append((lesson, unpunctuate(text), label, drawn == "random"))
    return rows


def macro_f1(pred: np.ndarray, gold: np.ndarray) -> float:
    def f1(p, g):
        tp = np.sum(p & g)
        return 2 * tp / (np.sum(p) + np.sum(g)) if np.sum(p) + np.sum(g) else 0.0
    return (f1(pred, gold) + f1(~pred, ~gold)) / 2


def fit(texts, gold, c, weights=None):
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
    lr = LogisticRegression(C=c, max_iter=5000, fit_intercept=False, class_weight=None)
    lr.fit(x, gold, sample_weight=weights)
    return dict(zip(vec.get_feature_names_out(), lr.coef_[0]))


def predict(weights, texts):
    z = np.array([sum(weights.get(f, 0.0) for f in type_features(t)) for t in texts])
    return 1 / (1 + np.exp(-z))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args()
    data = silver_questions()
    own = own_labels()
    lessons = sorted({d[0] for d in data} | {o[0] for o in own}, key=lambda s: int(s))
    fold_of = {les: i % FOLDS for i, les in enumerate(lessons)}
    texts = [d[1] for d in data] + [o[1] for o in own]
    gold = np.array([d[2] for d in data] + [o[2] == "open" for o in own])
    is_own = np.array([False] * len(data) + [True] * len(own))
    folds = np.array([fold_of[d[0]] for d in data] + [fold_of[o[0]] for o in own])
    # scored: our labels drawn at random (the enriched ones would favour "open"), open or closed
    scored = is_own & np.array([False] * len(data) + [o[2] in ("open", "closed") and o[3] for o in own])
    best = None
    cv = {}
    for c in C_GRID:
        for lw in WEIGHT_GRID:
            sw = np.where(is_own, lw, 1.0)
            oof = np.zeros(len(texts))
            for k in range(FOLDS):
                tr = (folds != k) & (sw > 0)
                w = fit([t for t, m in zip(texts, tr) if m], gold[tr], c, sw[tr])
                oof[folds == k] = predict(w, [t for t, f in zip(texts, folds) if f == k])
            # the criterion: the mean of the macro-F1 on our labels (few, but by the guide) and on the silver ones
            # (many, but another classifier's idea of "focusing")
            own_f1 = {float(th): macro_f1(oof[scored] >= th, gold[scored]) for th in THRESHOLDS}
            silver_f1 = {float(th): macro_f1(oof[~is_own] >= th, gold[~is_own]) for th in THRESHOLDS}
            scores = {th: (own_f1[th] + silver_f1[th]) / 2 for th in own_f1}
            th = max(scores, key=scores.get)
            silver = silver_f1[th]
            cv[f"C={c} label_weight={lw}"] = {"threshold": th, "macro_f1_own_labels": round(own_f1[th], 4),
                                              "macro_f1_silver": round(silver, 4)}
            print(f"C={c} own-label weight {lw}: threshold {th}, out-of-fold macro-F1 {own_f1[th]:.3f} on our labels, "
                  f"{silver:.3f} on the silver ones")
            if best is None or scores[th] > best[3]:
                best = (c, lw, th, scores[th])
    c, lw, th, f = best
    sw = np.where(is_own, lw, 1.0)
    keep = sw > 0
    weights = fit([t for t, m in zip(texts, keep) if m], gold[keep], c, sw[keep])
    weights = {k: round(float(v), 4) for k, v in sorted(weights.items()) if abs(v) >= 0.005}
    doc = {
        "format": TYPES_FORMAT,
        "threshold": th,
        "weights": weights,
        "info": {
            "script": "scripts/train_question_types.py",
            "trained_on": "NCTE transcripts (MIT), teacher questions (human '?') of the 23 training lessons; labels: "
                          "the turn's focusing_questions prediction (silver, Alic et al. 2022; questions the rules "
                          "call checking or procedural left out) and our own labels "
                          "(eval/labels/ncte_training_question_types.tsv, eval/question_types_guide.md)",
            "training_lessons": lessons,
            "held_out_lessons": list(HELD_OUT),
            "silver_questions": len(data),
            "silver_open": int(gold[~is_own].sum()),
            "own_labels": len(own),
            "own_open": int(gold[is_own].sum()),
            "C": c,
            "own_label_weight": lw,
            "cv": cv,
            "cv_criterion": round(f, 4),
            "cv_macro_f1_own_labels": cv[f"C={c} label_weight={lw}"]["macro_f1_own_labels"],
            "cv_macro_f1_silver": cv[f"C={c} label_weight={lw}"]["macro_f1_silver"],
            "evaluation": "eval/eval_question_types.py (hand labels on the held-out lessons; TalkMoves proxy)",
        },
    }
    # reported, never used to choose: the hand labels of the held-out lessons (eval/eval_question_types.py)
    held = [r for r in own_labels(HELD_OUT_LABELS, held_out=True) if r[2] in ("open", "closed")]
    pred = predict(weights, [r[1] for r in held]) >= th
    rules = np.array([rule_type(r[1])[0] in ("checking", "procedural") for r in held])
    gold_h = np.array([r[2] == "open" for r in held])
    doc["info"]["held_out_hand_labels"] = {"questions": len(held), "open": int(gold_h.sum()),
                                           "macro_f1": round(macro_f1(pred & ~rules, gold_h), 4)}
    args.out.write_text(json.dumps(doc, indent=1, sort_keys=True) + "\n")
    print(f"held-out hand labels: macro-F1 {doc['info']['held_out_hand_labels']['macro_f1']:.3f}")
    print(f"C={c}, own-label weight {lw}, threshold {th}: {len(weights)} weights -> {args.out}")


if __name__ == "__main__":
    main()
