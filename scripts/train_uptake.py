"""Train the uptake model shipped as videocoach/data/uptake.json.

    python scripts/train_uptake.py                 # writes videocoach/data/uptake.json (~4 min the first time)
    python scripts/train_uptake.py --out /tmp/u.json

Data: ../shared/data/transcripts/uptake/uptake_data.csv (Demszky et al. 2021, MIT): 1,757 real pupil -> teacher
exchanges from NCTE maths lessons, each rated by three maths-instruction experts for how much the teacher builds on
what the pupil said.  Target: ``uptake_zscore`` (the paper's; 1,552 exchanges have one).  "High" for the F1 is the
experts' majority label 2 (``uptake_majority``).

Split by lesson (``obs_id``): the lessons are shuffled once with ``numpy.random.RandomState(0)`` and the first fifth
(``held_out``, listed in the JSON) is never used to fit or choose anything; it gives the reported figures
(``eval/eval_uptake.py`` recomputes them from the JSON).  On the other four fifths, 5 folds by lesson choose the
ridge penalties and the threshold.

Two ridge regressions, then a third that weighs their out-of-fold predictions (all linear, so the shipped model is
one set of weights, the standardisation folded in):

- on the word-overlap features (``uptake.exchange_features``) -- also shipped alone as ``words_only``;
- on Whisper's decoder states over the teacher's reply read after the pupil's words
  (``QuestionLM.reply_states``), cached in eval/out/uptake_states/.

scikit-learn and scipy are needed only here and in the eval; the product reads the JSON.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from videocoach.audio.question_lm import QuestionLMConfig  # noqa: E402
from videocoach.measures.uptake import FORMAT, exchange_features  # noqa: E402

DATA = REPO.parent / "shared" / "data" / "transcripts" / "uptake" / "uptake_data.csv"
CACHE = REPO / "eval" / "out" / "uptake_states"
OUT = REPO / "videocoach" / "data" / "uptake.json"
FOLDS = 5
LEX_ALPHAS = (1.0, 10.0, 100.0)
STATE_ALPHAS = (300.0, 1000.0, 3000.0, 10000.0)
FEATURES = tuple(exchange_features("a", "b"))


def load_exchanges(path: Path = DATA):
    import pandas as pd

    df = pd.read_csv(path)
    df["student_text"] = df["student_text"].fillna("").astype(str)
    df["teacher_text"] = df["teacher_text"].fillna("").astype(str)
    return df


def split(obs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(held-out mask, fold per row: -1 for held out)."""
    lessons = np.array(sorted(set(obs.tolist())))
    np.random.RandomState(0).shuffle(lessons)
    held = set(lessons[: len(lessons) // 5].tolist())
    train_lessons = [x for x in lessons.tolist() if x not in held]
    fold_of = {x: i % FOLDS for i, x in enumerate(train_lessons)}
    test = np.array([o in held for o in obs])
    fold = np.array([-1 if o in held else fold_of[o] for o in obs])
    return test, fold


def reply_states(df, config: QuestionLMConfig = QuestionLMConfig(), cache: Path = CACHE) -> np.ndarray:
    from videocoach.audio.question_lm import cached_question_lm

    f = cache / (config.method.replace(":", "_") + ".npz")
    key = np.array([f"{p}\u2192{t}" for p, t in zip(df.student_text, df.teacher_text)])
    if f.is_file():
        with np.load(f, allow_pickle=False) as z:
            if z["key"].shape == key.shape and (z["key"] == key).all():
                return z["states"].astype(np.float64)
    states = cached_question_lm(config).reply_states(list(df.student_text), list(df.teacher_text))
    cache.mkdir(parents=True, exist_ok=True)
    np.savez(f, key=key, states=states)
    return states.astype(np.float64)


def lexical_matrix(df) -> np.ndarray:
    return np.array([[exchange_features(p, t)[k] for k in FEATURES] for p, t in zip(df.student_text, df.teacher_text)])


class Linear:
    """Ridge on standardised inputs, exposed as weights on the raw inputs."""

    def __init__(self, x: np.ndarray, y: np.ndarray, alpha: float) -> None:
        from sklearn.linear_model import Ridge

        self.mean = x.mean(axis=0)
        self.scale = x.std(axis=0)
        self.scale[self.scale == 0] = 1.0
        r = Ridge(alpha=alpha).fit((x - self.mean) / self.scale, y)
        self.coef = r.coef_ / self.scale
        self.bias = float(r.intercept_ - self.mean @ self.coef)

    def predict(self, x: np.ndarray) -> np.ndarray:
        return x @ self.coef + self.bias


def out_of_fold(x, y, ok, fold, alpha) -> np.ndarray:
    p = np.full(len(y), np.nan)
    for k in range(FOLDS):
        a = ok & (fold >= 0) & (fold != k)
        b = fold == k
        p[b] = Linear(x[a], y[a], alpha).predict(x[b])
    return p


def spearman(a, b) -> float:
    from scipy.stats import spearmanr

    return float(spearmanr(a, b)[0])


def best_threshold(score: np.ndarray, high: np.ndarray) -> tuple[float, float]:
    best = (0.0, -1.0)
    for th in np.quantile(score, np.linspace(0.2, 0.8, 121)):
        pred = score >= th
        tp = np.sum(pred & high)
        f1 = 2 * tp / (pred.sum() + high.sum())
        if f1 > best[1]:
            best = (float(th), float(f1))
    return best


def f1_at(score, high, th) -> float:
    pred = score >= th
    return float(2 * np.sum(pred & high) / (pred.sum() + high.sum()))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args()
    config = QuestionLMConfig()
    df = load_exchanges()
    y = df["uptake_zscore"].to_numpy(dtype=float)
    ok = ~np.isnan(y)
    high = (df["uptake_majority"] == 2).to_numpy()
    rated = df["uptake_majority"].notna().to_numpy()
    test, fold = split(df["obs_id"].to_numpy())
    train = ok & ~test
    lex = lexical_matrix(df)
    states = reply_states(df, config)
    good = ~np.isnan(states).any(axis=1)
    states = np.where(good[:, None], states, 0.0)

    cv = {}
    lex_alpha = max(LEX_ALPHAS, key=lambda a: spearman(out_of_fold(lex, y, ok, fold, a)[train], y[train]))
    p_lex = out_of_fold(lex, y, ok, fold, lex_alpha)
    cv["words_only_rho"] = spearman(p_lex[train], y[train])
    st_alpha = max(STATE_ALPHAS, key=lambda a: spearman(out_of_fold(states, y, ok & good, fold, a)[train & good],
                                                        y[train & good]))
    p_st = out_of_fold(states, y, ok & good, fold, st_alpha)
    cv["state_only_rho"] = spearman(p_st[train & good], y[train & good])
    both = train & good
    mix = Linear(np.c_[p_lex, p_st][both], y[both], 1.0)
    p_mix = np.where(good, np.c_[p_lex, np.nan_to_num(p_st)] @ mix.coef + mix.bias, p_lex)
    cv["combined_rho"] = spearman(p_mix[train], y[train])
    th, cv_f1 = best_threshold(p_mix[train & rated], high[train & rated])
    th_w, cv_f1_w = best_threshold(p_lex[train & rated], high[train & rated])
    cv.update(combined_f1_high=cv_f1, words_only_f1_high=cv_f1_w)

    # final fits on all training lessons
    fit_rows = ok & ~test
    m_lex = Linear(lex[fit_rows], y[fit_rows], lex_alpha)
    m_st = Linear(states[fit_rows & good], y[fit_rows & good], st_alpha)
    w_lex, w_st = mix.coef
    lexical = {k: float(w_lex * c) for k, c in zip(FEATURES, m_lex.coef)}
    state_coef = w_st * m_st.coef
    bias = float(w_lex * m_lex.bias + w_st * m_st.bias + mix.bias)

    s_full = lex @ np.array([lexical[k] for k in FEATURES]) + states @ state_coef + bias
    s_words = m_lex.predict(lex)
    s_full = np.where(good, s_full, s_words)
    te = test & ok
    ter = test & rated
    held = {
        "exchanges_rated": int(te.sum()),
        "lessons": int(len(set(df["obs_id"][test]))),
        "spearman": spearman(s_full[te], y[te]),
        "spearman_words_only": spearman(s_words[te], y[te]),
        "spearman_content_overlap_alone": spearman(lex[te, FEATURES.index("content_overlap")], y[te]),
        "f1_high": f1_at(s_full[ter], high[ter], th),
        "f1_high_words_only": f1_at(s_words[ter], high[ter], th_w),
        "high_share": float(high[ter].mean()),
    }
    r4 = lambda v: round(float(v), 4)  # noqa: E731
    doc = {
        "format": FORMAT,
        "decoder": config.method,
        "lexical": {k: r4(v) for k, v in lexical.items()},
        "state_coef": [round(float(v), 6) for v in state_coef],
        "bias": r4(bias),
        "threshold": r4(th),
        "words_only": {"lexical": {k: r4(v) for k, v in zip(FEATURES, m_lex.coef)}, "bias": r4(m_lex.bias),
                       "threshold": r4(th_w)},
        "info": {
            "script": "scripts/train_uptake.py",
            "data": "../shared/data/transcripts/uptake/uptake_data.csv (Demszky et al. 2021, "
                    "ddemszky/conversational-uptake @67fb30c, MIT): 1,757 NCTE pupil->teacher exchanges rated by "
                    "3 maths-instruction experts",
            "target": "uptake_zscore; high = uptake_majority == 2",
            "split": "by obs_id: lessons shuffled with RandomState(0), first fifth held out (never fitted on); "
                     "5 folds by lesson over the rest choose the penalties and the threshold",
            "held_out_obs_ids": sorted(int(v) for v in set(df["obs_id"][test])),
            "training_exchanges": int(fit_rows.sum()),
            "alpha_words": lex_alpha, "alpha_state": st_alpha, "mix": [r4(w_lex), r4(w_st), r4(mix.bias)],
            "cv": {k: r4(v) for k, v in cv.items()},
            "held_out": {k: (r4(v) if isinstance(v, float) else v) for k, v in held.items()},
            "reference": "Demszky et al. 2021 (ACL), BERT fine-tuned on this data: Spearman about 0.54 with "
                         "uptake_zscore; their lexical-overlap and JSD baselines lower",
        },
    }
    args.out.write_text(json.dumps(doc, indent=1, sort_keys=True) + "\n")
    print(json.dumps(doc["info"]["cv"], indent=1))
    print(json.dumps(doc["info"]["held_out"], indent=1))
    print(f"-> {args.out}")


if __name__ == "__main__":
    main()
