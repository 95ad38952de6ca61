"""Do the two open/closed targets of issue 18 agree?  The TalkMoves proxy's labels against our guide's, on the same
sentences.

    python eval/eval_proxy_vs_guide.py          # prints the tables, writes eval/out/proxy_vs_guide.json

Issue 18 asks for open-versus-closed macro-F1 >= 0.85 on held-out NCTE lessons labelled by our guide
(``eval/question_types_guide.md``: open = asks for reasoning, explanation or a method in the pupil's own words, as
the issue defines it) AND >= 0.788 on the TalkMoves proxy (open = Teacher Tags 9 "Press for Reasoning" and 3
"Getting Students to Relate", closed = Tag 8 "Press for Accuracy").  TalkMoves codes many method questions ("How
did you get 8/20?", "What did you do?") as pressing for accuracy.  To measure how far the two label sources
disagree, 220 proxy sentences (90 of the 3,466 tagged open, 130 of the 16,609 tagged 8: seed 25, stratified) were
labelled by the guide, blind to their tags (``eval/labels/talkmoves_proxy_guide_labels.tsv``: lesson and row
only; the text stays in ../shared/data, CC BY-NC-SA, evaluation only; 27 calls the labeller found close are marked
``borderline``, and the score is printed again with every one of them decided in the proxy's favour).  Counts are
weighted back to the proxy's shares (open 3,466 / 90, closed 16,609 / 130 per sentence drawn).

Printed:
- the guide's label per TalkMoves tag, and the guide's labels scored as a classifier on the proxy;
- the best guide-side macro-F1 (open vs closed, as the held-out set is scored) that any classifier could reach on
  these sentences while keeping the proxy at >= 0.788, if it were right with probability 1 - e on every sentence
  where the two sources agree and sorted the sentences where they disagree as well as possible;
- the shipped model and the phrase rules on the same sentences, against both label sources.

2026-12-07: of the tag-8 sentences the guide calls 30 % open (39 of 130: "How did you get 8/20?"-like method
questions, "What did you notice?"), of the tagged-open 77 % (the rest checking, closed, procedural).  The guide's
labels on the proxy: 0.640 (95 % bootstrap 0.574-0.703); with all 27 borderline calls as the proxy has them
(14 changed) 0.707.  Best reachable by the guide with the proxy >= 0.788: 0.880 / 0.844 / 0.811 / 0.773 / 0.740 /
0.701 when wrong on 0 / 2 / 4 / 6 / 8 / 10 % of the 160 sentences where both agree; the rules are wrong on 9 % of
them (proxy 0.781, guide 0.744 here), the shipped model on 12 % (0.704, 0.762).  Both targets together need a
classifier wrong on under 2 % of the uncontested sentences that also sorts the method questions as TalkMoves does.
"""

from __future__ import annotations

import json
import random
import sys
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

from eval_questions import unpunctuate  # noqa: E402
from talkmoves import load_talkmoves  # noqa: E402

from videocoach.measures.question_types import classify_question, load_question_type_model, rule_type  # noqa: E402

LABELS = HERE / "labels" / "talkmoves_proxy_guide_labels.tsv"
OUT = HERE / "out" / "proxy_vs_guide.json"
PROXY_TARGET = 0.788
POPULATION = {True: 3466, False: 16609}  # proxy sentences tagged open / closed


def macro_f1(tp: float, fp: float, fn: float, tn: float) -> float:
    f_open = 2 * tp / (2 * tp + fp + fn) if tp else 0.0
    f_closed = 2 * tn / (2 * tn + fn + fp) if tn else 0.0
    return (f_open + f_closed) / 2


def weighted_f1(items: list[tuple[float, bool, float]]) -> float:
    """``(probability predicted open, gold open, weight)`` -> expected macro-F1 of open vs not open."""
    tp = sum(w * p for p, g, w in items if g)
    fn = sum(w * (1 - p) for p, g, w in items if g)
    fp = sum(w * p for p, g, w in items if not g)
    tn = sum(w * (1 - p) for p, g, w in items if not g)
    return macro_f1(tp, fp, fn, tn)


def load() -> list[tuple[str, bool, str, bool]]:
    """(text, proxy open, guide label, borderline) for each labelled sentence."""
    rows = {(r.lesson, r.index): r for r in load_talkmoves()}
    out = []
    for line in LABELS.read_text(encoding="utf-8").splitlines()[1:]:
        lesson, index, label, borderline = line.split("\t")
        r = rows[(lesson, int(index))]
        if r.teacher_tag not in (3, 8, 9):
            raise SystemExit(f"{lesson} row {index} is not a proxy sentence")
        out.append((r.text, r.teacher_tag in (3, 9), label, borderline == "yes"))
    return out


def best_reachable(items: list[tuple[str, bool, str, bool]], weights: dict[bool, float], error: float) -> dict:
    """The highest guide macro-F1 with the proxy >= PROXY_TARGET, for a classifier wrong with probability ``error``
    where the guide and the proxy agree, and free (0 or 1) on each sentence where they disagree."""
    agree = [i for i, (_t, p, g) in enumerate(items) if p == (g == "open")]
    a = [i for i, (_t, p, g) in enumerate(items) if not p and g == "open"]  # proxy closed, guide open
    b = [i for i, (_t, p, g) in enumerate(items) if p and g != "open"]  # proxy open, guide not open
    best: dict = {}
    for k in range(len(a) + 1):
        for m in range(len(b) + 1):
            prob = {i: (1 - error) if items[i][2] == "open" else error for i in agree}
            prob.update({i: float(n < k) for n, i in enumerate(a)})
            prob.update({i: float(n < m) for n, i in enumerate(b)})
            proxy = weighted_f1([(prob[i], items[i][1], weights[items[i][1]]) for i in range(len(items))])
            guide = weighted_f1([(prob[i], items[i][2] == "open", weights[items[i][1]]) for i in range(len(items))
                                 if items[i][2] in ("open", "closed")])
            if proxy >= PROXY_TARGET and guide > best.get("guide", -1.0):
                best = {"guide": round(guide, 3), "proxy": round(proxy, 3), "guide_open_called_open": k,
                        "of": len(a), "proxy_open_called_open": m, "of_b": len(b)}
    return best


def main() -> None:
    loaded = load()
    items = [(t, p, g) for t, p, g, _b in loaded]
    drawn = Counter(p for _t, p, _g in items)
    weights = {k: POPULATION[k] / drawn[k] for k in drawn}
    print(f"{len(items)} proxy sentences labelled by the guide ({drawn[True]} tagged open, {drawn[False]} tagged 8)")
    by_tag = Counter(("open" if p else "closed (tag 8)", g) for _t, p, g in items)
    for proxy in ("open", "closed (tag 8)"):
        n = sum(v for (p, _g), v in by_tag.items() if p == proxy)
        print(f"  proxy {proxy:15s}: " + ", ".join(f"guide {g} {v} ({v / n:.0%})" for (p, g), v in
                                                   sorted(by_tag.items()) if p == proxy))
    guide_as_pred = [(float(g == "open"), p, weights[p]) for _t, p, g in items]
    f = weighted_f1(guide_as_pred)
    rng = random.Random(0)
    boot = sorted(weighted_f1([guide_as_pred[rng.randrange(len(items))] for _ in items]) for _ in range(1000))
    print(f"\nthe guide's labels scored on the proxy (weighted to its shares): macro-F1 {f:.3f} "
          f"(95 % bootstrap {boot[25]:.3f}-{boot[974]:.3f}); the proxy target is {PROXY_TARGET}")

    favour = [(float(p if b else g == "open"), p, weights[p]) for _t, p, g, b in loaded]
    flipped = sum(b and p != (g == "open") for _t, p, g, b in loaded)
    f_favour = weighted_f1(favour)
    print(f"  with all {sum(b for *_r, b in loaded)} borderline calls decided as the proxy has them ({flipped} "
          f"changed): {f_favour:.3f}")
    print(f"\nbest guide-side macro-F1 any classifier reaches on these sentences with the proxy >= {PROXY_TARGET}:")
    reach = {}
    for e in (0.0, 0.02, 0.04, 0.06, 0.08, 0.10):
        r = best_reachable(items, weights, e)
        reach[str(e)] = r
        print(f"  wrong on {e:4.0%} of the sentences where both agree: guide {r['guide']:.3f} (proxy "
              f"{r['proxy']:.3f}; of the {r['of']} the guide calls open and the proxy closed, "
              f"{r['guide_open_called_open']} called open)")

    model = load_question_type_model()
    shipped = {}
    for name, fn in (("rules", lambda t: rule_type(t)[0]), ("model", lambda t: classify_question(t, model)[0])):
        pred = [float(fn(unpunctuate(t)) == "open") for t, _p, _g in items]
        on_proxy = weighted_f1([(q, p, weights[p]) for q, (_t, p, _g) in zip(pred, items)])
        on_guide = weighted_f1([(q, g == "open", weights[p]) for q, (_t, p, g) in zip(pred, items)
                                if g in ("open", "closed")])
        agree = [(q, g == "open") for q, (_t, p, g) in zip(pred, items) if p == (g == "open")]
        wrong = sum((q == 1.0) != g for q, g in agree) / len(agree)
        shipped[name] = {"proxy": round(on_proxy, 3), "guide": round(on_guide, 3), "wrong_where_both_agree":
                         round(wrong, 3)}
        print(f"  {name:5s} on these sentences: proxy {on_proxy:.3f}, guide {on_guide:.3f}; wrong on {wrong:.0%} of "
              f"the {len(agree)} sentences where both agree")
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps({"sentences": len(items), "guide_on_proxy": round(f, 3),
                               "guide_on_proxy_ci95": [round(boot[25], 3), round(boot[974], 3)],
                               "guide_on_proxy_borderline_as_proxy": round(f_favour, 3),
                               "best_reachable": reach, "shipped": shipped,
                               "by_tag": {f"{p} / {g}": v for (p, g), v in by_tag.items()}}, indent=1))


if __name__ == "__main__":
    main()
