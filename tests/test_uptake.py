"""Uptake: the pure measure (features, exchanges, scores), the decoder's reply states, the trained model against
the experts' ratings on held-out lessons, and the metrics stage's stored scores on the real sample lesson."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from tests.conftest import shared
from videocoach.core.model import Utterance
from videocoach.measures.uptake import (
    exchange_features,
    exchange_key,
    find_exchanges,
    load_uptake_model,
    default_uptake_model,
    repeated_words,
    score_exchanges,
    uptake_stats,
)


def _u(start, end, text, role, speaker):
    return Utterance(start=start, end=end, text=text, speaker=speaker, role=role)


def test_word_overlap_features():
    f = exchange_features("I think it is three fourths because 6 of 8 are shaded",
                          "Three fourths? Why 6 of 8 and not 3 of 4?")
    assert f["content_overlap"] > 0.5 and f["number_overlap"] == 1.0
    assert f["teacher_asks"] == 1.0 and f["ack_only"] == 0.0
    g = exchange_features("I think it is three fourths", "Okay. Good.")
    assert g["content_overlap"] == 0.0 and g["ack_only"] == 1.0
    assert repeated_words("the denominators are different", "Different denominators, yes") == ("denominators",
                                                                                             "different")


def test_packaged_model_ranks_building_on_above_moving_on():
    m = default_uptake_model()
    assert m.state_coef and m.words_only is not None and m.decoder
    pupil = "I added the two fractions and got two sevenths"
    up = m.score(pupil, "You got two sevenths by adding the tops and the bottoms? Why add the bottoms?")
    away = m.score(pupil, "Okay. Let's open the books at page nine.")
    assert up > away
    assert m.taken_up(up, with_state=False) and not m.taken_up(away, with_state=False)


def test_find_exchanges_pairs_a_pupil_turn_with_the_teachers_reply():
    sents = [
        _u(0, 2, "What is half of eight?", "teacher", "T"),
        _u(2.5, 3.5, "Four.", "pupil", "P1"),
        _u(3.6, 4.5, "Because eight split in two.", "pupil", "P1"),
        _u(5.0, 6.0, "Eight split in two, good.", "teacher", "T"),
        _u(6.1, 7.0, "Why two?", "teacher", "T"),
        _u(20.0, 21.0, "Can I go?", "pupil", "P2"),
        _u(30.0, 31.0, "Later.", "teacher", "T"),  # too late to be a reply
    ]
    ex = find_exchanges(sents)
    assert len(ex) == 1
    e = ex[0]
    assert (e.pupil_start, e.pupil_end, e.teacher_start, e.teacher_end) == (2.5, 4.5, 5.0, 7.0)
    assert e.pupil_text == "Four. Because eight split in two."
    assert e.teacher_text == "Eight split in two, good. Why two?"
    inst = score_exchanges(ex)
    assert inst[0].repeated == ("eight", "split", "two")
    stored = score_exchanges(ex, scores={e.key: -5.0})
    assert stored[0].score == -5.0 and not stored[0].taken_up
    st = uptake_stats(stored, 3600.0)
    assert (st.exchanges, st.taken_up, st.share, st.per_hour) == (1, 0, 0.0, 0.0)
    assert uptake_stats((), 0.0).share is None


def test_model_file_is_checked(tmp_path):
    bad = tmp_path / "u.json"
    bad.write_text(json.dumps({"format": "something-else"}))
    with pytest.raises(ValueError):
        load_uptake_model(bad)
    m = default_uptake_model()
    with pytest.raises(ValueError):
        m.score("a b", "c d", np.zeros(3))


def test_held_out_lessons_words_only_agree_with_the_experts():
    """The words-only part alone, on the lessons held out of training (recorded in the model file): Spearman with
    the experts' z-scored uptake of at least 0.5 (the full model's figure: eval/eval_uptake.py)."""
    import pandas as pd
    from scipy.stats import spearmanr

    df = pd.read_csv(shared("transcripts", "uptake", "uptake_data.csv"))
    m = default_uptake_model()
    held = set(m.info["held_out_obs_ids"])
    df = df[df["obs_id"].isin(held) & df["uptake_zscore"].notna()]
    assert len(df) > 250
    scores = [m.score(str(p), str(t)) for p, t in zip(df["student_text"].fillna(""), df["teacher_text"].fillna(""))]
    rho = spearmanr(scores, df["uptake_zscore"])[0]
    assert rho >= 0.5, rho


def test_reply_states_use_the_pupils_words():
    """The real decoder: the reply's state depends on what the pupil said before it, and the full model scores a
    reply that takes the pupil's idea up above one that moves on."""
    from videocoach.audio.question_lm import cached_question_lm
    from videocoach.audio.uptake_lm import uptake_scores

    lm = cached_question_lm()
    h = lm.reply_states(["I think it is a prism", "Can I go to the toilet", ""], ["Why a prism?"] * 2 + [""])
    assert h.shape == (3, lm.width)
    assert not np.isnan(h[:2]).any() and np.isnan(h[2]).all()
    assert np.abs(h[0] - h[1]).max() > 1e-3
    m = default_uptake_model()
    pairs = [("I think it is a prism because it has two triangles", "Two triangles. What else makes it a prism?"),
             ("I think it is a prism because it has two triangles", "Okay. Everybody put your pencils down.")]
    s = uptake_scores(pairs, m)
    assert s[exchange_key(*pairs[0])] > s[exchange_key(*pairs[1])]
    again = uptake_scores(pairs, m, known={exchange_key(*pairs[0]): 9.0})
    assert again[exchange_key(*pairs[0])] == 9.0 and math.isclose(again[exchange_key(*pairs[1])],
                                                                    s[exchange_key(*pairs[1])], rel_tol=1e-4)


# -- on the sample lesson analysed by the real pipeline (one pytest session: group with the other app tests) -------
def test_metrics_stage_stores_uptake_and_the_pages_show_it(analysed_sample, tmp_path, monkeypatch):
    import sys as _sys
    from pathlib import Path as _Path

    _sys.path.insert(0, str(_Path(__file__).resolve().parent))
    from e2e_helpers import app_test, copy_store, goto, login, texts, use_settings
    from videocoach import pipeline
    from videocoach.storage.store import Store

    settings = copy_store(analysed_sample, tmp_path / "store")
    use_settings(monkeypatch, settings)
    lesson_id = analysed_sample["lesson_id"]
    with Store(settings) as db:
        stored = json.loads(db.stage(lesson_id, "uptake"))
        metrics = pipeline.load_metrics(db, lesson_id)
    assert stored["method"] == default_uptake_model().method
    st = metrics.uptake_stats
    assert st is not None and st.exchanges == len(metrics.uptake) >= 3  # the script has pupils answering
    assert {i.exchange.key for i in metrics.uptake} <= set(stored["scores"])
    assert all(i.score == stored["scores"][i.exchange.key] for i in metrics.uptake)
    assert all(i.exchange.pupil_end <= i.exchange.teacher_start + 1.0 for i in metrics.uptake)

    pw = analysed_sample["passwords"]
    at = goto(login(app_test(), "rivera", pw["rivera"]), "prewatch", lesson_id=lesson_id)
    shown = texts(at)
    assert "Uptake: taking up pupils' ideas" in shown
    assert f"in {st.taken_up} of {st.exchanges} replies to pupils" in shown
    plays = [b for b in at.button if b.key and b.key.startswith("pw.uptake.")]
    assert len(plays) == st.taken_up
    if plays:
        first = next(i for i in metrics.uptake if i.taken_up)
        plays[0].click().run()
        assert at.session_state["pw.seek"]["t"] == first.exchange.pupil_start

    at = goto(login(app_test(), "rivera", pw["rivera"]), "progress")
    assert "Pupil ideas taken up" in texts(at)


def test_uptake_scores_of_another_model_are_refreshed_by_a_rerun(analysed_sample, tmp_path):
    """A lesson whose uptake scores are missing or from another model is stale in "metrics" only; a re-run scores
    its exchanges again with the shipped model and the decoder state."""
    import sys as _sys
    from pathlib import Path as _Path

    _sys.path.insert(0, str(_Path(__file__).resolve().parent))
    from e2e_helpers import copy_store
    from tests.conftest import blocked_network
    from videocoach import pipeline
    from videocoach.storage.store import Store

    settings = copy_store(analysed_sample, tmp_path / "store")
    lesson_id = analysed_sample["lesson_id"]
    with Store(settings) as store:
        fresh = json.loads(store.stage(lesson_id, "uptake"))
        assert pipeline.stale_stages(store, lesson_id) == []
        store.save_stage(lesson_id, "uptake", json.dumps({"method": "uptake/older:0", "scores": {}}))
        assert pipeline.stale_stages(store, lesson_id) == ["metrics"]
        done = []
        with blocked_network():
            pipeline.run(store, lesson_id, progress=lambda stage, frac: done.append(stage))
        assert set(done) == {"metrics"}
        again = json.loads(store.stage(lesson_id, "uptake"))
        assert again["method"] == fresh["method"] and pipeline.stale_stages(store, lesson_id) == []
        assert again["scores"] == pytest.approx(fresh["scores"], abs=1e-3)
