"""Whisper's decoder read as a question language model (real packaged weights and the shipped probe), and how the
question model weighs its score."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys

import numpy as np
import pytest

from conftest import REPO, shared
from videocoach.audio import question_lm
from videocoach.audio.question_lm import QuestionLMConfig, cached_question_lm, question_lm_scores
from videocoach.measures.question_model import (
    LM_FORMAT,
    LMCombination,
    LMProbe,
    QuestionModel,
    SentenceContext,
    default_question_model,
    load_lm_combination,
    lm_text,
)
from videocoach.measures.question_cues import detect_question_in_context

LM_JSON = REPO / "videocoach" / "data" / "question_lm.json"


@pytest.fixture(scope="module")
def lm():
    return cached_question_lm(QuestionLMConfig())


@pytest.fixture(scope="module")
def probe():
    return default_question_model().lm_probe


def test_lm_text_drops_marks_but_apostrophes_and_capitalises():
    assert lm_text("what's the answer?") == "What's the answer"
    assert lm_text("  i think, so... i do!  ") == "I think so I do"
    assert lm_text("?!.") == ""


QUESTIONS = ["what is the answer", "does everyone agree", "can you tell me why", "how did you get that",
             "is it a solid or a liquid"]
STATEMENTS = ["the answer is twelve", "open your books to page four", "we are going to do an experiment today",
              "I put the ice in the cup", "that is a liquid"]


def test_questions_score_higher_than_statements(lm, probe):
    q, s = lm.mark_scores(QUESTIONS), lm.mark_scores(STATEMENTS)
    assert all(x <= 0 for x in q + s)  # Whisper's own "?": log-probabilities
    assert min(q) > max(s), (q, s)
    q, s = lm.scores(QUESTIONS, probe), lm.scores(STATEMENTS, probe)  # the shipped probe's log-odds
    assert min(q) > 0 > max(s), (q, s)


def test_the_probe_reads_the_hidden_state(lm, probe):
    h = lm.hidden(QUESTIONS + [""])
    assert h.shape == (len(QUESTIONS) + 1, 512) and lm.width == len(probe.coef) == 512
    assert np.isnan(h[-1]).all() and np.isfinite(h[:-1]).all()
    got = lm.scores(QUESTIONS + [""], probe)
    want = h[:-1].astype(np.float64) @ np.asarray(probe.coef) + probe.bias
    assert got[:-1] == pytest.approx(list(want), abs=1e-6) and math.isnan(got[-1])


def test_the_score_ignores_punctuation_and_batching(lm, probe):
    alone = lm.scores(["what is the answer"], probe)[0]
    marked = lm.scores(["What is the answer?"], probe)[0]
    assert marked == pytest.approx(alone, abs=1e-3)  # the "?" is taken off: the words alone decide
    long = "so " * 200 + "what is the answer"
    batch = lm.scores(["okay", long, "what is the answer", ""], probe)
    assert batch[2] == pytest.approx(alone, abs=1e-2)  # padding after a shorter sentence changes nothing
    assert math.isfinite(batch[1]) and math.isnan(batch[3])  # a long sentence is cut to its end; an empty one: nan


def test_scores_are_keyed_by_lm_text_and_known_ones_are_not_scored_again(lm, probe, monkeypatch):
    scores = question_lm_scores(["What is the answer?", "what is the answer", "", "Okay."], probe)
    assert set(scores) == {"What is the answer", "Okay"}

    def no_model(*args, **kwargs):
        raise AssertionError("everything was known: the model must not be loaded")

    monkeypatch.setattr(question_lm, "cached_question_lm", no_model)
    assert question_lm_scores(["what is the answer?", "okay"], probe, known=scores) == scores


def test_probe_arithmetic_and_fingerprint():
    probe = LMProbe(coef=(1.0, -2.0), bias=0.5)
    got = probe.log_odds(np.array([[1.0, 1.0], [np.nan, np.nan], [0.0, 0.0]]))
    assert got[0] == pytest.approx(-0.5) and math.isnan(got[1]) and got[2] == pytest.approx(0.5)
    with pytest.raises(ValueError):
        probe.log_odds(np.zeros((1, 3)))  # a state of another width (another decoder)
    assert probe.digest == LMProbe(coef=(1.0, -2.0), bias=0.5).digest
    assert probe.digest != LMProbe(coef=(1.0, -2.0), bias=0.6).digest  # stored scores of another probe are not reused


def test_config_is_checked():
    with pytest.raises(ValueError):
        QuestionLMConfig(encoder_frames=1)
    with pytest.raises(ValueError):
        QuestionLMConfig(batch=0)
    assert QuestionLMConfig().method == "whisper-base-decoder:50f"


def _toy_model() -> QuestionModel:
    combo = {"teacher": LMCombination(model_logit=1.0, lm=2.0, bias=4.0, threshold=0.5),
             "pupil": LMCombination(model_logit=1.0, lm=1.0, bias=0.0, threshold=0.9)}
    return QuestionModel(weights={}, bias=0.0, thresholds={"teacher": 0.4, "pupil": 0.4, "unknown": 0.4}, lm=combo,
                         lm_probe=LMProbe(coef=(1.0,), bias=0.0), lm_decoder="toy")


def test_decide_uses_the_roles_combination_where_a_score_is_given():
    model = _toy_model()
    assert model.decide([], "teacher") == (0.5, 0.4)  # no score: the model alone, its own threshold
    assert model.decide([], "teacher", float("nan")) == (0.5, 0.4)
    p, th = model.decide([], "teacher", -1.0)  # sigmoid(0 + 2 * -1 + 4) = sigmoid(2)
    assert p == pytest.approx(1 / (1 + math.exp(-2))) and th == 0.5
    assert model.decide([], None, -1.0) == (p, th)  # an unknown role uses the teacher's combination
    p, th = model.decide([], "pupil", -1.0)
    assert p == pytest.approx(1 / (1 + math.exp(1))) and th == 0.9


def test_the_score_can_turn_a_decision():
    model = _toy_model()
    ctx = SentenceContext(role="teacher", previous="same", next="pupil")
    assert detect_question_in_context("the answer is twelve", ctx, model, use_punctuation=False).is_question
    assert not detect_question_in_context("the answer is twelve", ctx, model, use_punctuation=False,
                                          lm_score=-3.0).is_question
    assert detect_question_in_context("the answer is twelve", ctx, model, use_punctuation=False,
                                      lm_score=-1.0).is_question
    # an ASR "?" still counts first
    assert detect_question_in_context("the answer is twelve?", ctx, model, lm_score=-9.0).rule == "question_mark"


def test_the_shipped_combination_is_read_with_the_model(tmp_path):
    model = default_question_model()
    data = json.loads(LM_JSON.read_text())
    assert data["format"] == LM_FORMAT and model.lm_decoder == data["decoder"] == QuestionLMConfig().method
    assert model.lm_method == f"{QuestionLMConfig().method}+probe:{model.lm_probe.digest}"
    assert len(model.lm_probe.coef) == 512 and model.lm_probe.coef == tuple(data["probe"]["coef"])
    assert set(model.lm) == {"teacher", "pupil"}
    for combo in model.lm.values():
        assert combo.model_logit > 0 and combo.lm > 0 and 0 < combo.threshold < 1  # both raise P(question)
    bad = tmp_path / "lm.json"
    for old in (dict(data, format="something/9"), dict(data, format="videocoach-question-lm/1")):
        bad.write_text(json.dumps(old))  # /1 held weights for Whisper's "?" logit, not for the probe
        with pytest.raises(ValueError):
            load_lm_combination(bad)


@pytest.mark.slow
def test_the_training_script_reproduces_the_shipped_combination(tmp_path):
    """From scratch: the decoder states of the 23 NCTE training lessons (~2 min), then both fits.  torch's float
    sums may differ in the last bits between machines, so the probe's log-odds are compared on real sentences to
    0.05, the combination's weights to 0.01 and thresholds to one grid step."""
    shared("transcripts", "ncte", "4.csv")
    out = tmp_path / "question_lm.json"
    env = dict(os.environ, VIDEOCOACH_LM_CACHE=str(tmp_path / "hidden"))
    subprocess.run([sys.executable, str(REPO / "scripts" / "train_question_lm.py"), "--out", str(out)],
                   check=True, capture_output=True, timeout=1200, env=env)
    got, shipped = json.loads(out.read_text()), json.loads(LM_JSON.read_text())
    assert got["decoder"] == shipped["decoder"] and set(got["roles"]) == set(shipped["roles"])
    assert got["info"]["probe"]["C"] == shipped["info"]["probe"]["C"]
    h = cached_question_lm(QuestionLMConfig()).hidden(QUESTIONS + STATEMENTS)
    new, old = (LMProbe(tuple(d["probe"]["coef"]), d["probe"]["bias"]).log_odds(h) for d in (got, shipped))
    assert np.abs(new - old).max() < 0.05, (new, old)
    for role, combo in shipped["roles"].items():
        for key in ("model_logit", "lm", "bias"):
            assert got["roles"][role][key] == pytest.approx(combo[key], abs=0.01), (role, key)
        assert got["roles"][role]["threshold"] == pytest.approx(combo["threshold"], abs=0.011), role
