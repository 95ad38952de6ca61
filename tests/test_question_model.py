"""The question model's features (format /2) and its file: pure functions, no data needed."""

from __future__ import annotations

import json

import pytest

from videocoach.measures.question_model import (
    FORMAT,
    SentenceContext,
    default_question_model,
    load_question_model,
    question_features,
)
from videocoach.measures.question_cues import detect_question_in_context, sentence_features

ANSWERED = SentenceContext(role="teacher", previous="same", next="pupil", next_words=("yes", "it", "is", "twelve", "x"))


def test_trigrams_and_the_last_three_words():
    f = question_features(["so", "you", "got", "twelve"], ["you", "got", "twelve"], "none", SentenceContext())
    assert {"TRI_so_you_got", "TRI_you_got_twelve", "E210_you_got_twelve"} <= set(f)
    assert not any(x.startswith("TRI_") for x in question_features(["okay", "so"], ["so"], "none", SentenceContext()))


def test_the_next_speakers_first_words_count():
    f = set(question_features(["okay"], ["okay"], "none", ANSWERED))
    assert {"NOB0_yes", "NOB1_it", "NOU_yes", "NOU_twelve", "NOU_is"} <= f
    assert "NOU_x" not in f  # only the first four words of the answer
    # no next-speaker words when the speaker goes on or nobody is known to speak next
    for ctx in (SentenceContext(role="teacher", next="same"), SentenceContext()):
        assert not any(x.startswith(("NOB", "NOU_")) for x in question_features(["okay"], ["okay"], "none", ctx))


def test_the_rule_and_the_edges_are_paired_with_who_speaks_next():
    f = set(question_features(["okay"], ["okay"], "none", ANSWERED))
    assert {"Npupil|RULE_none", "Npupil|LEN1", "Npupil|E0_okay", "Npupil|B0_okay"} <= f
    went_on = set(question_features(["okay"], ["okay"], "none", SentenceContext(role="teacher", next="same")))
    assert "Nsame|E0_okay" in went_on and not any(x.startswith("Npupil|") for x in went_on)


def test_only_the_format_1_features_carry_the_role_prefix():
    f = question_features(["is", "it", "ten"], ["is", "it", "ten"], "aux_inversion", ANSWERED)
    assert "T|RULE_aux_inversion" in f and "T|U_ten" in f
    assert "TRI_is_it_ten" in f and "NOU_yes" in f and "Npupil|RULE_aux_inversion" in f
    assert not any(x.startswith(("T|TRI_", "T|E210_", "T|Npupil|", "T|NOU_", "T|NOB1_")) for x in f)
    assert question_features([], [], "none", SentenceContext()) == ["RULE_none", "LEN0", "EMPTY"]


def test_features_are_deterministic():
    a = sentence_features("okay so what do you think about that", ANSWERED)
    assert a == sentence_features("okay so what do you think about that", ANSWERED)
    assert len(a) == len(set(a))


def test_a_model_file_of_the_previous_format_is_refused(tmp_path):
    """Format /1 files were trained on other features: their weights would be summed over the wrong names."""
    old = tmp_path / "old.json"
    old.write_text(json.dumps({"format": "videocoach-question-model/1", "weights": {}, "bias": 0,
                               "thresholds": {"unknown": 0.5}}))
    with pytest.raises(ValueError, match="format"):
        load_question_model(old)
    assert FORMAT.endswith("/2")


def test_the_answer_makes_a_short_fragment_a_question():
    model = default_question_model()
    answered = detect_question_in_context("the new model", ANSWERED, model, use_punctuation=False)
    went_on = detect_question_in_context("the new model", SentenceContext(role="teacher", previous="same", next="same"),
                                         model, use_punctuation=False)
    assert answered.probability > went_on.probability
