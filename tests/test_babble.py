"""Classroom babble (many voices at once): the detector on real-speech mixtures and the sample lesson, and what the
measures, the stored results and the timeline make of it."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import SAMPLE_MEDIA
from videocoach.core import serialize
from videocoach.core.model import (
    AudioLevels,
    Diarization,
    LessonAnalysis,
    RoleAssignment,
    RoleTurn,
    Span,
    Transcript,
    Turn,
)
from videocoach.measures.activities import activity_timeline, babble_spans
from videocoach.measures.metrics import compute_metrics, talk_stats

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "eval"))


# --- the data model and the stored results ----------------------------------------------------------------------------


def test_levels_stored_before_the_detector_still_load_with_no_babble():
    old = '{"step_s":0.5,"rms_dbfs":[-30.0,-31.0],"speech_prob":[0.1,0.2]}'
    levels = serialize.loads(AudioLevels, old)
    assert levels.babble_prob == () and babble_spans(levels) == []
    again = serialize.loads(AudioLevels, serialize.dumps(AudioLevels(0.5, (-30.0,), (0.1,), (0.8,), 0.7)))
    assert again.babble_prob == (0.8,) and again.babble_threshold == 0.7


def test_a_babble_series_of_the_wrong_length_is_refused():
    with pytest.raises(ValueError):
        AudioLevels(0.5, (-30.0, -30.0), (0.1, 0.1), (0.9,))


def test_babble_spans_join_steps_over_the_threshold_and_stop_at_the_end():
    levels = AudioLevels(0.5, (-30.0,) * 6, (0.0,) * 6, (0.1, 0.8, 0.9, 0.2, 0.95, 0.9), babble_threshold=0.7)
    assert babble_spans(levels) == [(0.5, 1.5), (2.0, 3.0)]
    assert babble_spans(levels, duration_s=2.6) == [(0.5, 1.5), (2.0, 2.6)]


# --- into the measures ------------------------------------------------------------------------------------------------


def _levels(duration: float, babble: tuple[float, float] | None, speech_prob: float = 0.05) -> AudioLevels:
    n = int(duration / 0.5)
    probs = tuple(0.95 if babble and babble[0] <= (i + 0.5) * 0.5 < babble[1] else 0.02 for i in range(n))
    return AudioLevels(0.5, (-30.0,) * n, (speech_prob,) * n, probs, 0.5)


def _analysis(duration, turns, levels):
    return LessonAnalysis(
        duration_s=duration,
        transcript=Transcript((), "en", "test"),
        diarization=Diarization(tuple(Turn(a, b, s) for a, b, s in turns), tuple(Span(a, b) for a, b, _ in turns),
                                "test"),
        roles=RoleAssignment(frozenset({"T"}), 1.0, "manual"),
        levels=levels,
    )


def test_babble_the_vad_cannot_hear_is_group_work_not_independent_work():
    # issue 21: 0:06-0:30 partner talk, Silero hears nothing, then the teacher speaks
    turns = [(0.0, 5.0, "T"), (31.0, 60.0, "T")]
    with_babble = activity_timeline(60.0, [RoleTurn(a, b, s, "teacher") for a, b, s in turns], (),
                                    _levels(60.0, (6.0, 30.0)))
    without = activity_timeline(60.0, [RoleTurn(a, b, s, "teacher") for a, b, s in turns], (), _levels(60.0, None))
    group = [s for s in with_babble if s.label == "group_work"]
    assert group and group[0].rule == "babble"
    assert group[0].start <= 10.0 and group[0].end >= 26.0
    assert not any(s.label == "group_work" for s in without)
    assert any(s.label == "independent_work" and s.start < 20.0 < s.end for s in without)


def test_babble_under_a_teacher_addressing_the_class_stays_whole_class():
    turns = [RoleTurn(0.0, 60.0, "T", "teacher")]
    spans = activity_timeline(60.0, turns, (Span(0.0, 60.0),), _levels(60.0, (0.0, 60.0)))
    assert {s.label for s in spans} == {"exposition"}


def test_talk_time_counts_babble_where_no_turn_is_as_many_pupils_at_once():
    turns = [(0.0, 10.0, "T"), (40.0, 50.0, "P")]
    metrics = compute_metrics(_analysis(60.0, turns, _levels(60.0, (5.0, 45.0))))
    talk = metrics.talk
    # babble 5-45 s, minus the teacher's 5-10 s and the pupil's 40-45 s
    assert talk.many_pupils_s == pytest.approx(30.0)
    assert talk.many_pupils_share == pytest.approx(0.5)
    assert talk.silence_s == pytest.approx(60.0 - 20.0 - 30.0)
    shares = (talk.teacher_share, talk.pupil_share, talk.overlap_share, talk.many_pupils_share, talk.silence_share)
    assert sum(shares) == pytest.approx(1.0)
    assert sum(m.many_pupils_s for m in talk.per_minute) == pytest.approx(30.0)
    # no babble series: the old four-way partition, unchanged
    plain = talk_stats(60.0, [RoleTurn(a, b, s, "teacher" if s == "T" else "pupil") for a, b, s in turns])
    assert plain.many_pupils_s == 0.0 and plain.silence_s == pytest.approx(40.0)


def test_the_timeline_shows_the_many_voices_band_and_no_silence_under_it():
    from videocoach.ui import charts, review

    analysis = _analysis(60.0, [(0.0, 5.0, "T")], _levels(60.0, (10.0, 40.0)))
    rows = review.talk_rows(analysis)
    many = [r for r in rows if r["lane"] == charts.BABBLE_LANE]
    assert [(r["start"], r["end"]) for r in many] == [(10.0, 40.0)]
    silence = [(r["start"], r["end"]) for r in rows if r["lane"] == "Silence"]
    assert silence == [(5.0, 10.0), (40.0, 60.0)]
    chart = charts.timeline(rows, [], [], [], 60.0).to_dict()
    assert charts.BABBLE_LANE in str(chart)


# --- the detector on real speech ----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def vad():
    from videocoach.audio.levels import load_vad

    return load_vad()


@pytest.fixture(scope="module")
def mix():
    import babble_mix

    if not (babble_mix.SPEECH / "ami_debug").is_dir():
        pytest.skip(f"no reference speech at {babble_mix.SPEECH}")
    return babble_mix


def test_detector_tells_babble_from_one_voice_noise_and_music_on_held_out_speakers(mix, vad):
    from videocoach.audio.babble import babble_probs, default_model

    model = default_model()
    speakers = {k: v for k, v in mix.load_speakers().items() if mix.split_of(k) == "test"}
    called: dict[str, float] = {}
    for kind in ("babble", "quiet", "single_near", "single_far", "fan", "chairs", "music"):
        rates = []
        for i in range(8):
            clip = mix.make_clip(kind, speakers, 3_000_000 + 100 * i + len(kind))
            p = babble_probs(clip.audio, vad.frame_probs(clip.audio))[2:-2]
            rates.append(float((p >= model.threshold).mean()))
        called[kind] = float(np.mean(rates))
    assert called["babble"] >= 0.8, called
    for kind in ("quiet", "single_near", "fan", "chairs", "music"):
        assert called[kind] <= 0.1, called
    assert called["single_far"] <= 0.25, called


def test_compute_levels_carries_the_babble_series_and_digital_silence_is_never_babble(vad):
    from videocoach.audio.levels import compute_levels

    levels = compute_levels(np.zeros(16000 * 5, dtype=np.float32), vad=vad)
    assert len(levels.babble_prob) == len(levels.rms_dbfs) == 10
    assert max(levels.babble_prob) == 0.0
    assert compute_levels(np.zeros(16000, dtype=np.float32), vad=vad, babble=False).babble_prob == ()


def test_sample_lesson_group_work_is_heard_as_many_voices_and_the_rest_is_not(vad, tmp_path):
    import json

    from videocoach.audio.levels import compute_levels
    from videocoach.av.media import extract_audio, load_wav

    mp4 = SAMPLE_MEDIA / "lesson.mp4"
    if not mp4.is_file():
        pytest.skip(f"no sample lesson at {mp4}")
    audio = load_wav(extract_audio(mp4, tmp_path / "a.wav"))
    levels = compute_levels(audio, vad=vad)
    script = json.loads((SAMPLE_MEDIA / "lesson_script.json").read_text())
    (babble,) = [b for b in script["background"] if b["kind"] == "babble"]
    spans = babble_spans(levels)
    inside = sum(max(0.0, min(b, babble["end"]) - max(a, babble["start"])) for a, b in spans)
    outside = sum(b - a for a, b in spans) - inside
    assert inside >= 0.5 * (babble["end"] - babble["start"])
    assert outside <= 3.0


# --- the pipeline (the sample lesson analysed once per session by the real pipeline) ------------------------------------


@pytest.mark.slow
def test_pipeline_keeps_a_babble_series_and_refreshes_levels_stored_before_it(analysed_sample, tmp_path):
    import dataclasses
    import shutil

    from conftest import blocked_network
    from videocoach import pipeline
    from videocoach.config import Settings
    from videocoach.storage.store import Store

    src: Settings = analysed_sample["settings"]
    settings = Settings(data_dir=tmp_path / "data", key_file=tmp_path / "keys" / "media.key")
    shutil.copytree(src.data_dir, settings.data_dir, ignore=shutil.ignore_patterns("work", "*.lock", "worker.log"))
    settings.key_file.parent.mkdir(parents=True)
    shutil.copy2(src.key_file, settings.key_file)
    store = Store(settings)
    lesson_id = analysed_sample["lesson_id"]
    levels = serialize.loads(AudioLevels, store.stage(lesson_id, "levels"))
    assert len(levels.babble_prob) == len(levels.rms_dbfs) > 0
    assert pipeline.stale_stages(store, lesson_id) == []
    metrics = pipeline.load_metrics(store, lesson_id)
    scripted = next(a for a in analysed_sample["script"]["activities"] if a["label"] == "group_work")
    assert any(a.label == "group_work" and min(a.end, scripted["end"]) - max(a.start, scripted["start"]) >= 8.0
               for a in metrics.activities)
    # a lesson analysed before the detector: its levels load, are stale, and a re-run redoes levels and metrics only
    store.save_stage(lesson_id, "levels", serialize.dumps(dataclasses.replace(levels, babble_prob=())))
    assert pipeline.stale_stages(store, lesson_id) == ["levels", "metrics"]
    done = []
    with blocked_network():
        pipeline.run(store, lesson_id, progress=lambda stage, frac: done.append(stage))
    assert set(done) == {"levels", "metrics"}
    again = serialize.loads(AudioLevels, store.stage(lesson_id, "levels"))
    assert again.babble_prob == pytest.approx(levels.babble_prob, abs=1e-4)
    assert pipeline.stale_stages(store, lesson_id) == []
    store.close()


def test_the_five_talk_states_partition_the_lesson_whatever_the_babble():
    from hypothesis import given, settings
    from hypothesis import strategies as hs

    spans = hs.lists(hs.tuples(hs.floats(-5, 130, allow_nan=False), hs.floats(0, 40, allow_nan=False)), max_size=12)

    @settings(max_examples=150, deadline=None)
    @given(hs.floats(0, 120, allow_nan=False), spans, spans)
    def check(duration, raw_turns, raw_babble):
        turns = [RoleTurn(abs(a), abs(a) + n, "T" if i % 3 == 0 else f"P{i}", "teacher" if i % 3 == 0 else "pupil")
                 for i, (a, n) in enumerate(raw_turns) if n > 0]
        babble = [(a, a + n) for a, n in raw_babble]
        talk = talk_stats(duration, turns, babble=babble)
        plain = talk_stats(duration, turns)
        d = talk.duration_s
        parts = (talk.teacher_only_s, talk.pupil_only_s, talk.overlap_s, talk.many_pupils_s, talk.silence_s)
        assert all(x >= -1e-9 for x in parts)
        assert sum(parts) == pytest.approx(d, abs=1e-6)
        shares = (talk.teacher_share, talk.pupil_share, talk.overlap_share, talk.many_pupils_share,
                  talk.silence_share)
        assert sum(shares) == pytest.approx(1.0 if d > 0 else 0.0, abs=1e-9)
        # babble only ever takes time from the silence: the talk by turns is what it was
        assert (talk.teacher_s, talk.pupil_s, talk.overlap_s) == (plain.teacher_s, plain.pupil_s, plain.overlap_s)
        assert talk.silence_s + talk.many_pupils_s == pytest.approx(plain.silence_s, abs=1e-6)
        assert sum(m.many_pupils_s for m in talk.per_minute) == pytest.approx(talk.many_pupils_s, abs=1e-6)

    check()


def test_issue_21_partner_talk_between_teacher_speech_is_group_work_and_pupil_talk(mix, vad):
    """The shape of the real lesson in issue 21: the teacher, 24 s of a whole class in partner talk (far, many
    voices, Silero hears little), the teacher again.  The diariser finds only the teacher; the babble detector has to
    carry the rest."""
    from videocoach.audio.levels import compute_levels

    speakers = {k: v for k, v in mix.load_speakers().items() if mix.split_of(k) == "test"}
    rng = np.random.default_rng(21)
    teacher = speakers[sorted(speakers)[0]]
    sr = mix.SR

    def voice(seconds: float) -> np.ndarray:
        return mix._set_level(mix._placed(rng, mix._talker(rng, teacher, int(seconds * sr)), far=False), -20.0)

    crowd = np.concatenate([mix.make_crowd(speakers, 2100 + i).audio for i in range(3)])
    crowd = mix._set_level(crowd, -29.0)
    audio = np.concatenate([voice(6.0), crowd, voice(30.0)])
    audio = audio + mix._floor(rng, audio.size, -55.0)
    duration = audio.size / sr
    levels = compute_levels(audio, vad=vad)
    turns = [RoleTurn(0.0, 6.0, "T", "teacher"), RoleTurn(30.0, duration, "T", "teacher")]
    spans = activity_timeline(duration, turns, (Span(0.0, 6.0), Span(30.0, duration)), levels)
    group = [s for s in spans if s.label == "group_work"]
    assert group and group[0].rule == "babble" and group[0].start <= 10.0 and group[0].end >= 26.0, spans
    talk = talk_stats(duration, turns, babble=babble_spans(levels, duration))
    assert talk.many_pupils_s >= 18.0 and talk.silence_s <= 6.0, talk
