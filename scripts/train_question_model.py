"""Train the question model shipped as videocoach/data/question_model.json, from the NCTE transcripts only.

    python scripts/train_question_model.py                 # writes videocoach/data/question_model.json
    python scripts/train_question_model.py --out /tmp/q.json

Data: ../shared/data/transcripts/ncte (29 real maths lessons, MIT licence).  TalkMoves (CC BY-NC-SA) is never read
here: nothing trained on it may ship.  Each NCTE turn is split into sentences at the human punctuation
(``eval/ncte.py``); the gold for "is a question" is the sentence's own "?".  The text the model sees has all
punctuation removed (``eval/eval_questions.unpunctuate``), as from an ASR that dropped it; the context is the next
and previous row (``question_model.contexts_from_rows``).

Split by lesson file: ``HELD_OUT`` (6 lessons, drawn once with ``random.Random(0)``) are never used here; the model
is fitted on the other 23.  The regularisation C and the per-role thresholds are chosen by 5-fold cross-validation
over those 23 lessons (folds by lesson), maximising F1 on out-of-fold predictions.  scikit-learn is needed only
here; the product reads the JSON.  The output is deterministic (lbfgs, sorted keys).

The feature set (``question_model.question_features``, format /2: + word trigrams, the last three words, the next
speaker's first words, the rule / length / first and last word paired with who speaks next) was chosen on these
cross-validation folds and on TalkMoves Subset 1, whose words are never read here; Subset 2 stayed a test set.
Training on TalkMoves as well was measured (``eval/eval_questions.py --talkmoves-cv``) but cannot ship: its licence
is non-commercial share-alike, and this product is MIT.
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
sys.path.insert(0, str(REPO))

from text_norm import unpunctuate  # noqa: E402
from ncte import DEFAULT_ROOT, load_ncte  # noqa: E402

from videocoach.measures.question_model import FORMAT, contexts_from_rows  # noqa: E402
from videocoach.measures.question_cues import sentence_features, words_of  # noqa: E402

HELD_OUT = ("4", "12", "17", "18", "29", "32")  # random.Random(0).sample(the 29 lesson names, 6)
MIN_COUNT = 10  # a feature seen in fewer training sentences gets no weight (keeps the JSON ~200 KiB)
C_GRID = (0.03, 0.1, 0.3, 1.0)
THRESHOLDS = np.round(np.arange(0.20, 0.71, 0.01), 2)
FOLDS = 5
BAG_SCALE = 1.0
MIN_SUPPORT = 200  # a role>next context with fewer training sentences is left to the rules
MIN_WEIGHT = 0.02  # smaller weights are left out of the JSON (the rest rounded to 4 decimals)
OUT = REPO / "videocoach" / "data" / "question_model.json"


def lesson_features(sentences) -> tuple[list[list[str]], list[bool], list[str]]:
    """Features, gold and role of every sentence of one lesson (rows in speaking order)."""
    texts = [unpunctuate(s.text) for s in sentences]
    words = [words_of(t) for t in texts]
    speakers = [s.speaker for s in sentences]
    roles = [s.role for s in sentences]
    feats = [sentence_features(t, ctx) for t, ctx in zip(texts, contexts_from_rows(speakers, roles, words))]
    return feats, ["?" in s.text for s in sentences], roles


def _is_bag(feature: str) -> bool:
    """A word or bigram from anywhere in the sentence (not tied to a position): the noisiest features."""
    name = feature.split("|", 1)[-1]
    return name.startswith(("U_", "BI_"))


def _matrix(feats: list[list[str]], vocab: dict[str, int], bag_scale: float):
    from scipy.sparse import csr_matrix

    rows, cols, vals = [], [], []
    for i, f in enumerate(feats):
        for x in sorted(set(f)):
            if x in vocab:
                rows.append(i)
                cols.append(vocab[x])
                vals.append(bag_scale if _is_bag(x) else 1.0)
    return csr_matrix((vals, (rows, cols)), shape=(len(feats), len(vocab)))


def _vocab(feats: list[list[str]], min_count: int) -> dict[str, int]:
    counts = collections.Counter(x for f in feats for x in set(f))
    return {x: i for i, x in enumerate(sorted(k for k, n in counts.items() if n >= min_count))}


def _fit(feats, gold, c: float, min_count: int, bag_scale: float):
    from sklearn.linear_model import LogisticRegression

    vocab = _vocab(feats, min_count)
    model = LogisticRegression(C=c, max_iter=5000).fit(_matrix(feats, vocab, bag_scale), np.array(gold))
    return vocab, model


def _f1(pred: np.ndarray, gold: np.ndarray) -> float:
    tp = float((pred & gold).sum())
    return 2 * tp / max(float(pred.sum() + gold.sum()), 1.0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument("--min-count", type=int, default=MIN_COUNT, help="features in fewer training sentences are dropped")
    ap.add_argument("--min-weight", type=float, default=MIN_WEIGHT, help="smaller weights are left out of the JSON")
    ap.add_argument("--c", type=float, default=None, help="skip the search over C_GRID and use this C (the thresholds "
                    "are still cross-validated); with the shipped model's C it reproduces the shipped file, faster")
    ap.add_argument("--bag-scale", type=float, default=BAG_SCALE, help="value of the U_/BI_ features (< 1: more shrinkage)")
    args = ap.parse_args()
    t0 = time.time()
    by_lesson: dict[str, list] = collections.defaultdict(list)
    for s in load_ncte():
        by_lesson[s.lesson].append(s)
    lessons = sorted(by_lesson, key=lambda k: int(k) if k.isdigit() else 0)
    missing = [k for k in HELD_OUT if k not in by_lesson]
    if missing or len(lessons) != 29:
        raise SystemExit(f"expected the 29 NCTE lessons under {DEFAULT_ROOT}; missing {missing}, found {len(lessons)}")
    train = [k for k in lessons if k not in HELD_OUT]
    data = {k: lesson_features(by_lesson[k]) for k in train}

    def gather(keys):
        f, g, r = [], [], []
        for k in keys:
            f += data[k][0]
            g += data[k][1]
            r += data[k][2]
        return f, np.array(g), np.array(r)

    # cross-validation over the training lessons: C, then the thresholds per role
    folds = [train[i::FOLDS] for i in range(FOLDS)]
    best: tuple[float, float, dict] | None = None
    for c in C_GRID if args.c is None else (args.c,):
        oof_p, oof_g, oof_r = [], [], []
        for fold in folds:
            fit_keys = [k for k in train if k not in fold]
            vocab, model = _fit(*gather(fit_keys)[:2], c=c, min_count=args.min_count, bag_scale=args.bag_scale)
            f, g, r = gather(fold)
            oof_p.append(model.predict_proba(_matrix(f, vocab, args.bag_scale))[:, 1])
            oof_g.append(g)
            oof_r.append(r)
        p, g, r = np.concatenate(oof_p), np.concatenate(oof_g), np.concatenate(oof_r)
        chosen, scores = {}, {}
        for role in ("teacher", "pupil"):
            sel = r == role
            f1s = [_f1(p[sel] >= th, g[sel]) for th in THRESHOLDS]
            chosen[role] = float(THRESHOLDS[int(np.argmax(f1s))])
            scores[role] = max(f1s)
        print(f"C={c}: cross-validated F1 teacher {scores['teacher']:.3f} (threshold {chosen['teacher']}), "
              f"pupil {scores['pupil']:.3f} (threshold {chosen['pupil']})", flush=True)
        if best is None or scores["teacher"] > best[1]:
            best = (c, scores["teacher"], {"thresholds": chosen, "cv_f1": scores})
    assert best is not None
    c, _, cv = best
    feats, gold, _ = gather(train)
    vocab, model = _fit(feats, gold, c=c, min_count=args.min_count, bag_scale=args.bag_scale)
    # a feature's value is 1 (or bag_scale): store weight * value, so that the product adds weights of 1-valued features
    weights = {x: round(float(model.coef_[0][i]) * (args.bag_scale if _is_bag(x) else 1.0), 4) for x, i in vocab.items()}
    weights = {x: w for x, w in sorted(weights.items()) if abs(w) >= args.min_weight}
    thresholds = dict(cv["thresholds"], unknown=cv["thresholds"]["teacher"])
    # contexts the training lessons hardly hold: the rules decide there (see QuestionModel.covers)
    support = collections.Counter()
    for k in train:
        rows = by_lesson[k]
        texts = [words_of(unpunctuate(s.text)) for s in rows]
        for ctx in contexts_from_rows([s.speaker for s in rows], [s.role for s in rows], texts):
            support[f"{ctx.role}>{ctx.next}"] += 1
    rules_decide = sorted(f"{r}>{n}" for r in ("teacher", "pupil") for n in ("same", "teacher", "pupil", "end")
                          if support[f"{r}>{n}"] < MIN_SUPPORT)
    doc = {
        "format": FORMAT,
        "bias": round(float(model.intercept_[0]), 4),
        "thresholds": thresholds,
        "rules_decide": rules_decide,
        "info": {
            "what": "logistic regression: is an unpunctuated sentence a question (videocoach/measures/question_model.py)",
            "trained_on": "NCTE transcripts (stanfordnlp/edu-convokit data/ncte, MIT licence), 23 of 29 lessons",
            "training_lessons": train,
            "held_out_lessons": list(HELD_OUT),
            "sentences": len(feats),
            "C": c,
            "min_count": args.min_count,
            "bag_scale": args.bag_scale,
            "cv_f1": {k: round(v, 4) for k, v in cv["cv_f1"].items()},
            "context_support": dict(sorted(support.items())),
            "script": "scripts/train_question_model.py",
        },
        "weights": weights,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(doc, indent=0, sort_keys=True, ensure_ascii=True) + "\n", encoding="utf-8")
    print(f"C={c}, thresholds {thresholds}, rules decide {rules_decide}; {len(weights)} weights, {args.out.stat().st_size / 1024:.0f} KiB "
          f"-> {args.out} ({time.time() - t0:.0f} s)")


if __name__ == "__main__":
    main()
