"""Thinking language, subject terminology and mirroring: golden values on hand-built utterances."""

from __future__ import annotations

import dataclasses
import json

import pytest

from videocoach.measures.language import COMMON_WORDS, THINKING_WORDS, LanguageSettings, language_stats
from videocoach.core.model import RoleTurn, Utterance, Word


def U(start, end, text, role="teacher", speaker=None):
    return Utterance(start, end, text, (), speaker or ("T" if role == "teacher" else "P1"), role)


def test_thinking_words_by_role():
    stats = language_stats([
        U(0, 5, "Explain your thinking. Why did it melt? Because of the salt, I think."),
        U(6, 8, "because it was hot and I predict it melts", "pupil"),
        U(9, 10, "Okay.", None),  # no role: not counted
    ])
    assert {(t.term, t.count) for t in stats.thinking_teacher} == {
        ("explain", 1), ("thinking", 1), ("why", 1), ("because", 1), ("think", 1)}
    assert [(t.term, t.count) for t in stats.thinking_pupil] == [("because", 1), ("predict", 1)]
    assert (stats.teacher_words, stats.pupil_words) == (13, 9)
    assert stats.thinking_teacher_total == 5 and stats.thinking_pupil_total == 2
    assert stats.thinking_teacher_per_100_words == pytest.approx(500 / 13)


def test_subject_terms_and_mirroring_with_first_times():
    stats = language_stats([
        U(0, 4, "When a liquid turns into a gas we call it evaporation."),
        U(5, 8, "A careful guess we can test is a hypothesis. Write your hypothesis."),
        U(10, 12, "The puddle evaporates in the sun.", "pupil"),
        U(13, 15, "My hypotheses are about temperature.", "pupil", "P2"),
        U(16, 18, "Crystallisation is for next week."),  # used once by the teacher, never by pupils
    ])
    terms = {t.term: t for t in stats.subject_terms}
    assert terms["evaporation"].teacher_count == 1 and terms["evaporation"].pupil_count == 1
    assert terms["hypothesis"].teacher_count == 2 and terms["hypothesis"].teacher_first_s == 5.0
    assert "crystallisation" not in terms  # one teacher use and no pupil use: not listed
    assert "turns" not in terms and "careful" not in terms  # everyday words
    mirrored = [(m.term, m.teacher_first_s, m.pupil_first_s, m.pupil_uses) for m in stats.mirrored]
    assert mirrored == [("evaporation", 0.0, 10.0, 1), ("hypothesis", 5.0, 13.0, 1)]


def test_a_term_pupils_used_first_is_not_mirrored():
    stats = language_stats([U(0, 2, "Is it condensation?", "pupil"), U(3, 5, "Yes, condensation. Condensation.")])
    assert [t.term for t in stats.subject_terms] == ["condensation"]
    assert stats.mirrored == ()


def test_word_times_decide_first_use_and_names_are_not_terms():
    words = (Word(0.0, 0.5, " Amelia,"), Word(0.6, 1.0, " what"), Word(1.1, 1.5, " is"),
             Word(7.0, 7.8, " photosynthesis?"))
    stats = language_stats([
        Utterance(0.0, 8.0, "Amelia, what is photosynthesis?", words, "T", "teacher"),
        U(9, 12, "Photosynthesis is how plants make food, Amelia said.", "pupil"),
        U(13, 15, "Thank you Amelia. And Amelia, photosynthesis needs light."),
    ])
    terms = {t.term: t for t in stats.subject_terms}
    assert "amelia" not in terms  # capitalised mid-sentence: a name
    assert terms["photosynthesis"].teacher_first_s == 7.0
    assert [m.term for m in stats.mirrored] == ["photosynthesis"]


def test_sentences_are_attributed_by_turns():
    u = Utterance(0.0, 6.0, "What is evaporation? Water turning into vapour.", (), "T", "teacher")
    turns = [RoleTurn(0.0, 3.0, "T", "teacher"), RoleTurn(3.0, 6.0, "P1", "pupil")]
    stats = language_stats([u], turns)
    assert stats.pupil_words == 4 and stats.teacher_words == 3


def test_empty_and_settings():
    stats = language_stats([])
    assert stats.subject_terms == () and stats.thinking_teacher_per_100_words == 0.0
    json.dumps(dataclasses.asdict(stats))
    many = language_stats([U(0, 1, "evaporation")], settings=LanguageSettings(min_teacher_uses=1))
    assert [t.term for t in many.subject_terms] == ["evaporation"]


def test_lexicons_are_lower_case_words():
    assert {"explain", "because", "predict", "evidence", "hypothesis", "justify"} <= THINKING_WORDS
    assert all(w.isalpha() and w == w.lower() for w in THINKING_WORDS | COMMON_WORDS)
    assert {"the", "because", "people", "okay"} <= COMMON_WORDS
    assert COMMON_WORDS.isdisjoint({"evaporation", "photosynthesis", "denominator", "hypothesis"})
