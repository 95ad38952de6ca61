"""How long compute_metrics takes on a synthetic one-hour lesson (word timings, 4 000+ diarisation turns).

    python bench/bench_metrics.py [--minutes 60]
    python bench/bench_metrics.py --minutes 50 --with-models   # + what the metrics stage runs before the measures

``--with-models`` also times the model part of the metrics stage: Whisper's decoder over every sentence (the question
LM) and over every pupil -> teacher exchange (uptake, ``QuestionLM.reply_states``), each counted without the
de-duplication the stage does (the synthetic lesson repeats a few phrases), after the ~4 s model load.

The lesson is random but realistic in shape: teacher talk with questions, pupil answers, a group-work spell with
overlapping pupils, a quiet spell, a levels series every 0.5 s.  Prints seconds per stage of compute_metrics.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from videocoach.core.model import (  # noqa: E402
    AudioLevels,
    Diarization,
    LessonAnalysis,
    RoleAssignment,
    Span,
    Transcript,
    Turn,
    Utterance,
    Word,
)

TEACHER = ["okay so today we look at fractions", "what is three quarters of twelve", "why do you think that works",
           "does everyone understand", "write down your answer and explain your reasoning", "good thinking"]
PUPIL = ["nine", "because you divide by four then times three", "can we use a calculator", "i think its nine"]


def synthetic_lesson(minutes: float, seed: int = 0) -> LessonAnalysis:
    rng = random.Random(seed)
    duration = minutes * 60.0
    turns, utts = [], []
    t = 0.0

    def say(speaker: str, text: str, start: float) -> float:
        words, w_t = [], start
        for i, w in enumerate(text.split()):
            words.append(Word(w_t, w_t + 0.3, (" " if i else "") + w))
            w_t += 0.35
        end = w_t
        turns.append(Turn(start, end, speaker))
        utts.append(Utterance(start, end, text, tuple(words)))
        return end

    while t < duration - 10:
        phase = (t / duration) * 10
        if 6 <= phase < 7:  # group work: pupils over each other
            for p in range(4):
                say(f"P{p + 1}", rng.choice(PUPIL), t + rng.uniform(0, 2))
            t += 3.0
        elif 7 <= phase < 7.5:  # quiet work
            t += 5.0
        else:
            t = say("T", rng.choice(TEACHER), t) + rng.uniform(0.3, 3.0)
            if rng.random() < 0.5:
                t = say(f"P{rng.randint(1, 25)}", rng.choice(PUPIL), t) + rng.uniform(0.3, 2.0)
    step = 0.5
    n = int(duration / step)
    levels = AudioLevels(step, tuple(-40.0 + rng.uniform(-5, 5) for _ in range(n)),
                         tuple(rng.uniform(0, 1) for _ in range(n)))
    turns = [tr for tr in turns if tr.end <= duration]
    utts = [u for u in utts if u.end <= duration]
    return LessonAnalysis(duration, Transcript(tuple(utts), "en", "synthetic"),
                          Diarization(tuple(turns), tuple(Span(tr.start, tr.end) for tr in turns), "synthetic"),
                          RoleAssignment(frozenset({"T"}), 1.0, "manual"), levels)


def script_lesson(path: Path) -> LessonAnalysis:
    """The bundled sample lesson as its script says it is (``sample_media/lesson_script.json``: every line's speaker,
    times and words; words spread evenly over the line), so the measures and the models see its real sentences."""
    import json

    d = json.loads(path.read_text(encoding="utf-8"))
    duration = float(d["duration_s"])
    turns, utts = [], []
    for line in d["lines"]:
        start, end, words = float(line["start"]), float(line["end"]), line["text"].split()
        step = (end - start) / max(1, len(words))
        utts.append(Utterance(start, end, line["text"], tuple(
            Word(start + i * step, start + (i + 1) * step, (" " if i else "") + w) for i, w in enumerate(words))))
        turns.append(Turn(start, end, line["speaker"]))
    teachers = frozenset(k for k, v in d["speakers"].items() if v["role"] == "teacher")
    n = int(duration / 0.5)
    levels = AudioLevels(0.5, tuple(-40.0 for _ in range(n)), tuple(0.5 for _ in range(n)))
    return LessonAnalysis(duration, Transcript(tuple(utts), "en", "script"),
                          Diarization(tuple(turns), tuple(Span(t.start, t.end) for t in turns), "script"),
                          RoleAssignment(teachers, 1.0, "manual"), levels)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--minutes", type=float, default=60.0)
    ap.add_argument("--with-models", action="store_true")
    ap.add_argument("--sample", type=Path, default=None, metavar="SCRIPT_JSON",
                    help="time the sample lesson from its script (sample_media/lesson_script.json) instead, and "
                         "project the time to --minutes")
    ap.add_argument("--threads", type=int, default=None, help="torch threads for the decoder (default: the product's)")
    args = ap.parse_args()
    lesson = script_lesson(args.sample) if args.sample else synthetic_lesson(args.minutes)
    scale = args.minutes * 60.0 / lesson.duration_s
    print(f"{'sample' if args.sample else 'synthetic'} lesson: {lesson.duration_s / 60:.1f} min, {len(lesson.diarization.turns)} turns, "
          f"{len(lesson.transcript.utterances)} segments, "
          f"{sum(len(u.words) for u in lesson.transcript.utterances)} words")
    from videocoach.measures.metrics import compute_metrics

    stamps = []
    t0, c0 = time.perf_counter(), time.process_time()
    m = compute_metrics(lesson, progress=lambda stage, f: stamps.append((f, time.perf_counter())))
    total, total_cpu = time.perf_counter() - t0, time.process_time() - c0
    prev = t0
    names = {0.2: "talk", 0.5: "questions", 0.7: "activities", 0.85: "language", 1.0: "moments + summary"}
    for f, ts in stamps[1:]:
        print(f"  {names.get(f, f)!s:20s} {ts - prev:6.2f} s")
        prev = ts
    print(f"compute_metrics total {total:.2f} s ({total_cpu:.2f} s CPU); {len(m.questions)} questions, "
          f"{len(m.activities)} activity spans")
    if args.with_models:
        from videocoach.audio.question_lm import QuestionLMConfig, cached_question_lm
        from videocoach.measures.sentences import split_sentences

        config = QuestionLMConfig() if args.threads is None else QuestionLMConfig(threads=args.threads)
        t0, c0 = time.perf_counter(), time.process_time()
        lm = cached_question_lm(config)
        load, load_cpu = time.perf_counter() - t0, time.process_time() - c0
        texts = [u.text for u in split_sentences(lesson.transcript.utterances, pause_split_s=1.0)]
        t0, c0 = time.perf_counter(), time.process_time()
        lm.hidden(texts)
        q_s, q_cpu = time.perf_counter() - t0, time.process_time() - c0
        ex = [i.exchange for i in m.uptake]
        t0, c0 = time.perf_counter(), time.process_time()
        lm.reply_states([e.pupil_text for e in ex], [e.teacher_text for e in ex])
        u_s, u_cpu = time.perf_counter() - t0, time.process_time() - c0
        print(f"  decoder threads {config.threads}; model load {load:.2f} s ({load_cpu:.2f} s CPU); question LM over "
              f"{len(texts)} sentences {q_s:.2f} s ({q_cpu:.2f} s CPU); uptake over {len(ex)} exchanges {u_s:.2f} s "
              f"({u_cpu:.2f} s CPU)")
        print(f"metrics stage (models + measures, load excluded) {q_s + u_s + total:.2f} s, "
              f"{q_cpu + u_cpu + total_cpu:.2f} s CPU")
        if args.sample:
            print(f"projected to {args.minutes:.0f} min (x{scale:.1f}, by duration): {(q_s + u_s + total) * scale:.1f} s, "
                  f"{(q_cpu + u_cpu + total_cpu) * scale:.1f} s CPU")


if __name__ == "__main__":
    main()
