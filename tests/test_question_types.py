"""Question types: the trained open / closed model with the rules as features, on the issue's examples, the model
file's provenance, and our hand labels of held-out NCTE lessons."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from videocoach.measures.question_types import (
    classify_question,
    default_question_type_model,
    load_question_type_model,
    rule_type,
    type_features,
)

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("text", [
    "How did you get that?",  # reasoning asked for without a cue word (issue 18)
    "where did you get the 10 from",
    "Why do you think the salty ice melted faster?",
    "what do you notice about these two",
])
def test_reasoning_questions_are_open(text):
    # still missed (reported): the issue's "Where did the 55000 come from?" and "What are you calculating to get from
    # 23 books to 68?" (closed, p 0.24 against the threshold 0.36) and "Do you still agree with your calculation?"
    # (open through the "agree" rule)
    assert classify_question(text)[0] == "open"


@pytest.mark.parametrize("text", ["What is seven times eight?", "Is ice a solid or a liquid?", "What's one fifth?",
                                  "So one quart equals how many percent?"])
def test_fact_questions_are_closed(text):
    assert classify_question(text)[0] == "closed"


def test_rules_still_decide_checking_and_procedural():
    assert classify_question("does that make sense") == ("checking", "check_sense")
    assert classify_question("are you done") == ("procedural", "proc_done")
    assert classify_question("so percents is per 100 right") == ("checking", "check_tail_tag")


def test_reason_names_the_rule_or_the_model():
    assert rule_type("How did you get that?") == ("closed", "closed_default")
    assert classify_question("How did you get that?") == ("open", "model_open")
    assert classify_question("Why?") == ("open", "open_why")


def test_features_read_numbers_alike():
    assert "b=the #" in type_features("where did the 55000 come from")
    assert "whx=where|from" in type_features("where did the 55000 come from")
    assert type_features("what is 7 times 8") == type_features("what is seven times eight")


def test_model_file_provenance_and_format(tmp_path):
    m = default_question_type_model()
    assert m.info["held_out_lessons"] and not set(m.info["held_out_lessons"]) & set(m.info["training_lessons"])
    assert "NCTE" in m.info["trained_on"] and "TalkMoves" not in m.info["trained_on"]
    assert 0 < m.threshold < 1
    bad = tmp_path / "t.json"
    bad.write_text(json.dumps({"format": "nope"}))
    with pytest.raises(ValueError):
        load_question_type_model(bad)


def test_held_out_hand_labels_open_versus_closed():
    """Our labels of 200 teacher questions from the 6 held-out NCTE lessons (eval/question_types_guide.md): the model
    is better than the phrase rules on open versus closed (measured: 0.804 against 0.667; eval_question_types.py)."""
    sys.path.insert(0, str(REPO / "eval"))
    from eval_question_types import load_labels
    from eval_questions import macro_open_closed, unpunctuate

    rows = [r for r in load_labels() if r[1] in ("open", "closed")]
    assert {r[0] for r in rows} <= set(default_question_type_model().info["held_out_lessons"])
    gold = [r[1] == "open" for r in rows]
    model = macro_open_closed([(classify_question(unpunctuate(r[2]))[0] == "open", g) for r, g in zip(rows, gold)])
    rules = macro_open_closed([(rule_type(unpunctuate(r[2]))[0] == "open", g) for r, g in zip(rows, gold)])
    assert model["macro_f1"] >= 0.75 and model["macro_f1"] > rules["macro_f1"] + 0.05
