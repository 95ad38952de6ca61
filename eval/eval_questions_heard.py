"""Questions heard, not only read: how often does Whisper's own "?" on speech mark a question?

    python eval/eval_questions_heard.py      # ~1-3 min on 2 cores; writes eval/out/questions_heard.json

In the product the ASR's "?" counts first (``detect_question``: a "?" in the sentence is a question).  The text-only
figures (``eval_questions.py``, ``eval_question_types.py``) strip punctuation; this one measures the "?" itself, with
the product's transcriber (``transcribe.transcribe``, the shipped config) on audio whose questions are known:

- the sample lesson (``sample_media/lesson.mp4``, 146 s, 38 lines, 10 of them questions in
  ``lesson_script.json``).  Its voices are espeak-ng, not people: intonation is synthetic, so this is a check of
  the mechanics more than of classroom speech;
- the real two-person phone call ``../shared/data/speech/pyannote_sample`` (30 s; gold: the human transcript's "?"
  per line of ``sample.stm``, 3 questions).  No other real audio in the shared data has a transcript.

Each gold line is matched to the ASR sentences (``sentences.split_sentences``) that overlap it in time by more than
half of the sentence; a line counts as predicted a question when one of its sentences carries "?".
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(HERE))

from eval_questions import prf  # noqa: E402

from videocoach.audio.transcribe import AsrConfig, decode_audio, transcribe  # noqa: E402
from videocoach.measures.sentences import split_sentences  # noqa: E402

SHARED = REPO.parent / "shared" / "data"
OUT = HERE / "out" / "questions_heard.json"


def line_predictions(lines: list[tuple[float, float, bool, str]], sentences) -> list[dict]:
    out = []
    for start, end, gold, text in lines:
        mine = [s for s in sentences if min(end, s.end) - max(start, s.start) > 0.5 * max(s.end - s.start, 1e-3)]
        out.append({"start": start, "gold": gold, "predicted": any("?" in s.text for s in mine),
                    "text": text, "asr": " ".join(s.text for s in mine)})
    return out


def main() -> None:
    t0 = time.time()
    config = AsrConfig()
    results = {"asr": config.engine_id}
    script = json.loads((REPO / "sample_media" / "lesson_script.json").read_text())
    audio = decode_audio(REPO / "sample_media" / "lesson.mp4")
    sents = split_sentences(transcribe(audio, config).utterances)
    lines = [(ln["start"], ln["end"], ln["question"] is not None, ln["text"]) for ln in script["lines"]]
    results["sample_lesson"] = line_predictions(lines, sents)
    stm = (SHARED / "speech" / "pyannote_sample" / "sample.stm").read_text().splitlines()
    gold = []
    for row in stm:
        parts = row.split(maxsplit=5)
        if len(parts) == 6:
            gold.append((float(parts[3]), float(parts[4]), "?" in parts[5], parts[5]))
    audio = decode_audio(SHARED / "speech" / "pyannote_sample" / "sample.wav")
    results["pyannote_sample"] = line_predictions(gold, split_sentences(transcribe(audio, config).utterances))
    for name in ("sample_lesson", "pyannote_sample"):
        rows = results[name]
        m = prf([(r["predicted"], r["gold"]) for r in rows])
        results[f"{name}_prf"] = m
        print(f"{name:16s} Whisper '?' as a question: P {m['precision']:.3f} R {m['recall']:.3f} F1 {m['f1']:.3f} "
              f"({m['gold']} questions, {m['predicted']} lines with '?', {m['n']} lines)")
        for r in rows:
            if r["predicted"] != r["gold"]:
                print(f"    {'missed' if r['gold'] else 'extra '} {r['start']:7.1f}s  gold: {r['text']!r}  "
                      f"ASR: {r['asr']!r}")
    print(f"({time.time() - t0:.0f} s)")
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
