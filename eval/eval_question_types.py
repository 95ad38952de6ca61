"""Open versus closed questions: the trained type model against the phrase rules, on questions nobody trained on.

    python eval/eval_question_types.py             # prints the tables, writes eval/out/question_types_eval.json
    python eval/eval_question_types.py --model /tmp/t.json

Two test sets, neither used for training or for choosing anything:

- **NCTE held-out lessons, hand-labelled** (``eval/labels/ncte_question_types.tsv``, 200 teacher questions drawn at
  random from the 6 lessons the models never see, labelled by the guide ``eval/question_types_guide.md``: open,
  closed, checking, procedural, not a question).  Open versus closed is scored on the questions labelled open or
  closed; a question the rules call checking or procedural counts as "not open" (as in the TalkMoves proxy).  The
  four-type confusion matrix is printed too.
- **TalkMoves proxy** (CC BY-NC-SA, evaluation only): teacher (Speaker T) sentences with "?", open = Teacher Tag 9
  "Press for Reasoning" or 3 "Getting Students to Relate", closed = Tag 8 "Press for Accuracy" (as
  ``eval_questions.py``; today's rules: 0.788 overall).

The text is unpunctuated first (``eval_questions.unpunctuate``), as from an ASR without "?".  "rules" is the phrase
list alone (``question_types.rule_type``), "model" what ships (``classify_question``).
"""

from __future__ import annotations

import argparse
import collections
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

from eval_questions import macro_open_closed, unpunctuate  # noqa: E402

from videocoach.measures.question_types import (  # noqa: E402
    classify_question,
    load_question_type_model,
    rule_type,
)

LABELS = HERE / "labels" / "ncte_question_types.tsv"
OUT = HERE / "out" / "question_types_eval.json"
TYPES = ("open", "closed", "checking", "procedural")


def load_labels(path: Path = LABELS) -> list[tuple[str, str, str]]:
    """(lesson, label, text) rows of the hand-labelled file."""
    rows = []
    lines = path.read_text(encoding="utf-8").splitlines()
    for line in lines[1:]:
        lesson, _turn, label, text = line.split("\t", 3)
        rows.append((lesson, label, text))
    return rows


def confusion(pairs: list[tuple[str, str]], labels: tuple[str, ...]) -> dict[str, dict[str, int]]:
    """{gold: {predicted: n}}."""
    out = {g: {p: 0 for p in labels} for g in labels}
    for p, g in pairs:
        if g in out and p in out[g]:
            out[g][p] += 1
    return out


def print_confusion(m: dict[str, dict[str, int]]) -> None:
    labels = list(m)
    print("    " + f"{'gold / predicted':18s}" + "".join(f"{p:>11s}" for p in labels))
    for g in labels:
        print(f"    {g:18s}" + "".join(f"{m[g][p]:11d}" for p in labels))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", type=Path, default=None, help="a question-type model JSON (default: the packaged one)")
    ap.add_argument("--no-talkmoves", action="store_true")
    args = ap.parse_args()
    model = load_question_type_model(args.model)
    results: dict = {"model": dict(model.info)}

    def both(text: str) -> tuple[str, str, str]:
        t = unpunctuate(text)
        r = rule_type(t)[0]
        m, why = classify_question(t, model)
        return r, m, why

    rows = load_labels()
    held = set(model.info.get("held_out_lessons", ()))
    if {r[0] for r in rows} - held:
        raise SystemExit("the labels file holds lessons the model was trained on")
    print(f"NCTE held-out lessons, hand labels ({len(rows)} teacher questions; "
          f"{dict(collections.Counter(r[1] for r in rows))})")
    oc = [(r, both(r[2])) for r in rows if r[1] in ("open", "closed")]
    res = {}
    for name, k in (("rules", 0), ("model", 1)):
        m = macro_open_closed([(p[k] == "open", r[1] == "open") for r, p in oc])
        res[name] = m
        print(f"  {name:6s} open vs closed: macro-F1 {m['macro_f1']:.3f}  F1 open {m['open']['f1']:.3f} "
              f"(P {m['open']['precision']:.3f} R {m['open']['recall']:.3f})  F1 closed {m['closed']['f1']:.3f}  "
              f"(open {m['support_open']}, closed {m['support_closed']})")
    typed = [(r, both(r[2])) for r in rows if r[1] in TYPES]
    for name, k in (("rules", 0), ("model", 1)):
        cm = confusion([(p[k], r[1]) for r, p in typed], TYPES)
        res[f"confusion_{name}"] = cm
        print(f"  confusion, {name} (four types, {len(typed)} questions):")
        print_confusion(cm)
    misses = [{"gold": r[1], "predicted": p[1], "reason": p[2], "text": r[2]} for r, p in oc
              if (p[1] == "open") != (r[1] == "open")]
    res["misses"] = misses
    print(f"  misses of the model (open vs closed), {len(misses)}:")
    for m in misses:
        print(f"    gold {m['gold']:6s} -> {m['predicted']:10s} ({m['reason']}): {m['text']}")
    results["ncte_hand_labels"] = res

    if not args.no_talkmoves:
        from talkmoves import load_talkmoves

        tm = [r for r in load_talkmoves() if r.role == "teacher" and r.speaker == "T" and "?" in r.text
              and r.teacher_tag in (3, 8, 9)]
        print(f"\nTalkMoves proxy (teacher '?' sentences; open = tags 9, 3; closed = tag 8), {len(tm)} sentences")
        res = {}
        for subset in ("Subset 1", "Subset 2", "overall"):
            sel = [r for r in tm if subset == "overall" or r.subset == subset]
            preds = [both(r.text) for r in sel]
            for name, k in (("rules", 0), ("model", 1)):
                m = macro_open_closed([(p[k] == "open", r.teacher_tag in (3, 9)) for r, p in zip(sel, preds)])
                res[f"{subset}: {name}"] = m
                print(f"  {subset:9s} {name:6s} macro-F1 {m['macro_f1']:.3f}  F1 open {m['open']['f1']:.3f} "
                      f"(P {m['open']['precision']:.3f} R {m['open']['recall']:.3f})  F1 closed "
                      f"{m['closed']['f1']:.3f}  (open {m['support_open']}, closed {m['support_closed']})")
            if subset == "overall":
                for name, k in (("rules", 0), ("model", 1)):
                    cm = confusion([(p[k] if p[k] == "open" else "closed", "open" if r.teacher_tag in (3, 9)
                                     else "closed") for r, p in zip(sel, preds)], ("open", "closed"))
                    res[f"confusion_{name}"] = cm
                    print(f"  confusion, {name} (open / not open):")
                    print_confusion(cm)
                wrong = [(r, p) for r, p in zip(sel, preds) if (p[1] == "open") != (r.teacher_tag in (3, 9))]
                res["misses_sample"] = [{"tag": r.teacher_tag, "predicted": p[1], "reason": p[2], "text": r.text}
                                        for r, p in wrong[::max(1, len(wrong) // 25)]]
                print(f"  {len(wrong)} misses; every {max(1, len(wrong) // 25)}th:")
                for m in res["misses_sample"]:
                    print(f"    tag {m['tag']} -> {m['predicted']:10s} ({m['reason']}): {m['text']}")
        results["talkmoves_proxy"] = res
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
