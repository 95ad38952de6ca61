"""The figures every surface shows (``measures.figures``), on hand-made turns: the talk partition in whole percents
that add up to 100, and one turn count whose per-voice parts add up to the summary's."""

from __future__ import annotations

import pytest

from videocoach.core.model import RoleTurn
from videocoach.measures.figures import talk_percents, turns_by_speaker, whole_percents
from videocoach.measures.metrics import talk_stats


def test_whole_percents_add_up_to_100():
    # 44.6 + 24.4 + 0.6 + 30.4: plain rounding gives 45 + 24 + 1 + 30 = 100 here, but 33.4 x 3 would give 99
    assert sum(whole_percents((44.6, 24.4, 0.6, 30.4))) == 100
    assert whole_percents((1, 1, 1)) == (34, 33, 33)
    assert whole_percents((0.0, 0.0)) == (0, 0)
    assert whole_percents((2.0, 0.0)) == (100, 0)


def test_talk_percents_are_the_partition_with_both():
    turns = [RoleTurn(0.0, 45.0, "T", "teacher"), RoleTurn(44.0, 69.0, "P1", "pupil")]
    talk = talk_stats(100.0, turns)
    pct = talk_percents(talk)
    assert (pct.teacher_only, pct.pupils_only, pct.both, pct.silence) == (44, 24, 1, 31)
    assert pct.sentence() == "teacher only 44 %, pupils only 24 %, both 1 %, silence 31 %"


def test_talk_percents_name_many_pupils_at_once_where_there_is_some():
    from dataclasses import replace

    turns = [RoleTurn(0.0, 45.0, "T", "teacher"), RoleTurn(44.0, 69.0, "P1", "pupil")]
    talk = replace(talk_stats(100.0, turns), many_pupils_s=20.0, silence_s=11.0)
    pct = talk_percents(talk)
    assert (pct.teacher_only, pct.pupils_only, pct.both, pct.many_pupils, pct.silence) == (44, 24, 1, 20, 11)
    assert pct.sentence() == "teacher only 44 %, pupils only 24 %, both 1 %, many pupils at once 20 %, silence 11 %"


def test_turns_by_speaker_add_up_to_the_summary():
    turns = [RoleTurn(0.0, 2.0, "T", "teacher"), RoleTurn(2.5, 4.0, "T", "teacher"),  # one turn: gap < 1 s
             RoleTurn(5.0, 6.0, "P1", "pupil"), RoleTurn(6.5, 7.0, "T", "teacher"), RoleTurn(9.0, 10.0, "T2", "teacher"),
             RoleTurn(10.2, 11.0, "P2", "pupil"), RoleTurn(12.0, 30.0, "P2", "pupil")]
    talk = talk_stats(20.0, turns)
    per_voice = turns_by_speaker(turns, 20.0)
    assert per_voice == {"T": 2, "P1": 1, "T2": 1, "P2": 2}
    assert per_voice["T"] + per_voice["T2"] == talk.teacher_turns
    assert per_voice["P1"] + per_voice["P2"] == talk.pupil_turns
    # a turn wholly after the end of the lesson is not counted, as in the summary
    assert turns_by_speaker([*turns, RoleTurn(40.0, 41.0, "P3", "pupil")], 20.0).get("P3") is None


@pytest.mark.parametrize("rule", ["closed_default", "rhetorical_self_answered", "open_why", "check_tag_only"])
def test_reason_codes_read_as_phrases(rule):
    from videocoach.ui import wording

    phrase = wording.reason_phrase(rule)
    assert "_" not in phrase and phrase != rule


def test_every_type_rule_has_a_phrase():
    from videocoach.measures.question_types import _TYPE_RULES
    from videocoach.ui.wording import REASON_PHRASES

    rules = {name for name, _, _ in _TYPE_RULES} | {"closed_default", "rhetorical_self_answered"}
    assert rules <= set(REASON_PHRASES)


def test_audit_rows_read_as_sentences():
    import datetime as dt

    from videocoach.storage.records import AuditEntry
    from videocoach.ui.wording import activity_sentence

    at = dt.datetime(2026, 12, 6, 14, 2).timestamp()
    title = {"abc": "Sample lesson"}.get
    view = AuditEntry(1, at, 2, "media.view", "abc", "kind=redacted", True)
    clip = AuditEntry(2, at, 2, "media.clip", "abc", "bookmark=1 at=0:20–1:20 started_in_ms=80", True)
    assert activity_sentence(view, "Mr Okafor", title) == "Mr Okafor opened the lesson video of “Sample lesson” on 6 Dec 14:02"
    assert activity_sentence(clip, "Mr Okafor", title).startswith("Mr Okafor played the clip 0:20–1:20 in the meeting")
    odd = AuditEntry(3, at, 2, "some.new_action", None, "", True)
    assert "." not in activity_sentence(odd, "You").split(" on ")[0] and "_" not in activity_sentence(odd, "You")
