"""Do NCTE's ``student_reasoning`` silver labels help find pupils' reasoning?  A measured check on TalkMoves.

    python eval/eval_pupil_reasoning.py      # ~1 min; writes eval/out/pupil_reasoning.json

Issue 18: the silver labels (a published classifier's predictions, shipped with NCTE) may be used only if a check on
TalkMoves' human pupil tags shows they help.  The check: a logistic regression over a pupil turn's words (uni- and
bigrams, numbers as "#", length), trained on NCTE pupil turns with ``student_reasoning`` as the label (the 23
training lessons of the question model), scored on every TalkMoves pupil sentence against Student Tag 5 "Providing
evidence or reasoning" and against tags 4 + 5 ("Making a claim" or evidence).  Baselines that need no silver label:
the word "because" (or "cause", "so", "since"), and the sentence's length in words.  Figures: ROC AUC (threshold
free) and the best F1 over thresholds (optimistic for every scorer alike).  TalkMoves is evaluation only here.
Nothing from this check ships.

Result (run of issue 18): the model from the silver labels does not beat the sentence's length (evidence: AUC 0.726
against 0.884; claim or evidence: 0.649 against 0.670), so the silver labels are not used in the product.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

from eval_questions import unpunctuate  # noqa: E402
from ncte import DEFAULT_ROOT  # noqa: E402
from talkmoves import load_talkmoves  # noqa: E402

HELD_OUT = ("4", "12", "17", "18", "29", "32")
OUT = HERE / "out" / "pupil_reasoning.json"
_REASON = re.compile(r"\b(because|cause|cuz|since|so)\b")


def feats(text: str) -> str:
    w = ["#" if re.fullmatch(r"\d+", x) else x for x in unpunctuate(text).split()]
    return " ".join(w + [f"LEN{min(len(w), 20)}"])


def best_f1(score: np.ndarray, gold: np.ndarray) -> float:
    best = 0.0
    for th in np.unique(np.quantile(score, np.linspace(0.01, 0.99, 99))):
        p = score >= th
        tp = np.sum(p & gold)
        if p.sum() + gold.sum():
            best = max(best, 2 * tp / (p.sum() + gold.sum()))
    return float(best)


def main() -> None:
    import pandas as pd
    from sklearn.feature_extraction.text import CountVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score

    texts, labels = [], []
    for path in sorted(DEFAULT_ROOT.glob("*.csv")):
        if path.stem in HELD_OUT:
            continue
        df = pd.read_csv(path)
        for text, speaker, r in zip(df["text"], df["speaker"], df["student_reasoning"]):
            if isinstance(text, str) and str(speaker).strip() != "teacher" and r == r:
                texts.append(feats(text))
                labels.append(bool(r == 1))
    vec = CountVectorizer(ngram_range=(1, 2), min_df=2, token_pattern=r"\S+", binary=True)
    model = LogisticRegression(C=0.3, max_iter=3000).fit(vec.fit_transform(texts), labels)
    rows = [r for r in load_talkmoves() if r.role == "pupil" and r.student_tag is not None]
    silver = model.decision_function(vec.transform([feats(r.text) for r in rows]))
    because = np.array([1.0 if _REASON.search(unpunctuate(r.text)) else 0.0 for r in rows])
    length = np.array([len(unpunctuate(r.text).split()) for r in rows], dtype=float)
    res = {"ncte_training_turns": len(texts), "ncte_silver_positive": int(sum(labels)), "talkmoves_pupil_rows": len(rows)}
    for name, gold in (("evidence (tag 5)", np.array([r.student_tag == 5 for r in rows])),
                       ("claim or evidence (tags 4, 5)", np.array([r.student_tag in (4, 5) for r in rows]))):
        res[name] = {"positives": int(gold.sum())}
        for scorer, s in (("trained on NCTE student_reasoning", silver), ("'because'/'so'/'since' word", because),
                          ("length in words", length)):
            res[name][scorer] = {"auc": float(roc_auc_score(gold, s)), "best_f1": best_f1(s, gold)}
    print(f"NCTE pupil turns with a student_reasoning label: {res['ncte_training_turns']} "
          f"({res['ncte_silver_positive']} positive); TalkMoves pupil sentences with a tag: {len(rows)}")
    for name in ("evidence (tag 5)", "claim or evidence (tags 4, 5)"):
        print(f"  {name} ({res[name]['positives']} positive):")
        for scorer, m in res[name].items():
            if isinstance(m, dict):
                print(f"    {scorer:38s} AUC {m['auc']:.3f}  best F1 {m['best_f1']:.3f}")
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(res, indent=1))


if __name__ == "__main__":
    main()
