"""The classroom-babble detector (videocoach/audio/babble.py) on mixtures of real speech, AMI meetings and the sample
lesson.  Reference data is read from ../shared/data (never copied into the repository).

    python eval/eval_babble.py              # the tables below, with the packaged model
    python eval/eval_babble.py --fit        # refit videocoach/data/babble_model.json on the *fit* speakers' mixtures
    python eval/eval_babble.py --per-kind 30 --fit-per-kind 60

Mixtures: eval/babble_mix.py (its docstring is the recipe).  Fitted on mixtures of the fit speakers (17), measured on
mixtures of the held-out speakers (8, so a held-out babble clip has 4-8 voices) with other seeds.  Per half second;
the two steps at each end of an 8 s clip are left out (their context window is cut).

Also measured: the share of half seconds called babble on the AMI debug clips (real meetings of 1-4 people, where
there is no classroom babble; 3+ voices at once is rare in them) and on the sample lesson's scripted activities.

Last run (packaged model, threshold 0.8; held-out mixtures, 30 clips per kind):

    babble recall 0.942; crowd (16-24 far voices, Silero mean 0.07) 1.000
    false babble: quiet 0.000, single_near 0.000, single_far 0.019, fan 0.000, chairs 0.000, music 0.000
    (pair, not counted: 0.214)
    AMI debug clips: 0.006 of 793 half seconds; 2.5 s of their 153.1 s of silence would read as many pupils
    sample lesson: group work 0.467 of its half seconds (the babble itself is 18 of its 22.5 s), every other
    activity 0.000
    pyannote sample (a two-person phone call): 0 of 60 half seconds

Through the real pipeline on the sample lesson (before = the same analysis with the babble series removed): teacher
65.7 s, pupils 35.8 s, silence 45.7 s either way (the diariser already gave the group-work babble to pupil turns, so
many pupils at once adds 0 s); activity timeline agreeing with the script per second 0.890 before, 0.903 after.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "eval"))

import babble_mix as bm  # noqa: E402

from videocoach.audio import babble as B  # noqa: E402
from videocoach.audio.levels import load_vad  # noqa: E402

MODEL_PATH = REPO / "videocoach" / "data" / B.MODEL_RESOURCE
# Silero's probability is left out on purpose: on the mixtures it is middling for babble, but on the real classroom
# recording of issue 21 it was near zero through 24 s of partner talk; a model leaning on it would miss that.
MODEL_FEATURES = ("band_corr", "speech_band", "flatness", "mod_4hz", "mod_share", "env_range", "flux", "pitch_mean",
                  "pitch_p90", "gap_depth")
MAX_FIT_FALSE = 0.04  # the threshold: the lowest that keeps every negative kind of the *fit* mixtures at or under this


def features(split: str, per_kind: int, seed: int, vad) -> tuple[np.ndarray, np.ndarray]:
    rows, kinds = [], []
    for clip in bm.make_set(split, per_kind, seed):
        table = B.step_features(clip.audio, vad.frame_probs(clip.audio))[2:-2]
        rows.append(table)
        kinds += [clip.kind] * len(table)
    return np.vstack(rows), np.asarray(kinds)


def fit(table: np.ndarray, kinds: np.ndarray, l2: float = 1e-3, iterations: int = 30) -> B.BabbleModel:
    """Class-balanced, L2-regularised logistic regression on z and z**2 (Newton's method); "pair" clips left out."""
    keep = kinds != "pair"
    cols = [B.FEATURES.index(f) for f in MODEL_FEATURES]
    x = table[keep][:, cols]
    y = (kinds[keep] == bm.POSITIVE).astype(float)
    mean, scale = x.mean(0), x.std(0) + 1e-9
    z = (x - mean) / scale
    a = np.column_stack((z, z**2, np.ones(len(y))))
    weight = np.where(y == 1, 0.5 / y.mean(), 0.5 / (1 - y.mean()))
    theta = np.zeros(a.shape[1])
    ridge = l2 * len(y) * np.eye(a.shape[1])
    ridge[-1, -1] = 0.0
    for _ in range(iterations):
        p = 1 / (1 + np.exp(-np.clip(a @ theta, -40, 40)))
        grad = a.T @ (weight * (p - y)) + ridge @ theta
        hess = (a * (weight * p * (1 - p))[:, None]).T @ a + ridge
        theta -= np.linalg.solve(hess, grad)
    n = len(cols)
    model = B.BabbleModel(
        features=MODEL_FEATURES,
        mean=tuple(round(float(v), 6) for v in mean),
        scale=tuple(round(float(v), 6) for v in scale),
        weights=tuple(round(float(v), 6) for v in theta[:n]),
        sq_weights=tuple(round(float(v), 6) for v in theta[n : 2 * n]),
        bias=round(float(theta[-1]), 6),
        threshold=0.5,
        provenance=(
            "fitted by eval/eval_babble.py --fit on eval/babble_mix.py mixtures of the fit speakers' real speech: "
            "AMI debug clips (CC BY 4.0), pyannote sample (MIT), jfk (MIT); synthetic noise, chairs and music"
        ),
    )
    probs = model.probs(table)
    negative = np.isin(kinds, bm.NEGATIVES)
    for threshold in np.arange(0.3, 0.96, 0.05):
        worst = max(float((probs[(kinds == k) & negative] >= threshold).mean()) for k in bm.NEGATIVES)
        if worst <= MAX_FIT_FALSE:
            break
    return dataclasses.replace(model, threshold=round(float(threshold), 2))


def per_kind(model: B.BabbleModel, table: np.ndarray, kinds: np.ndarray) -> dict[str, float]:
    called = model.probs(table) >= model.threshold
    return {k: float(called[kinds == k].mean()) for k in bm.KINDS if (kinds == k).any()}


def ami_false_babble(model: B.BabbleModel, vad) -> dict[str, float]:
    """Half seconds called babble on the AMI debug clips, and what it would do to the talk figures computed from the
    reference turns: teacher and pupil seconds are turn-based and cannot change; "many pupils at once" is babble
    where no reference turn is, taken out of the silence."""
    import soundfile as sf

    from videocoach.core.model import AudioLevels
    from videocoach.measures.activities import babble_spans

    steps = called = 0
    silence = many = 0.0
    turns_by_uri: dict[str, list[tuple[float, float, str]]] = {}
    for rttm in sorted((bm.SPEECH / "ami_debug").glob("*.rttm")):
        turns_by_uri.update(bm._rttm(rttm))
    for wav in sorted((bm.SPEECH / "ami_debug").glob("*.wav")):
        audio, sr = sf.read(str(wav), dtype="float32")
        if audio.size < sr or wav.stem not in turns_by_uri:
            continue
        p = model.probs(B.step_features(audio, vad.frame_probs(audio)))
        steps += p.size
        called += int((p >= model.threshold).sum())
        duration = audio.size / sr
        grid = np.zeros(int(duration * 100) + 1, dtype=bool)  # 10 ms: any reference speech
        for a, b, _ in turns_by_uri[wav.stem]:
            grid[int(a * 100) : int(b * 100)] = True
        levels = AudioLevels(0.5, (-30.0,) * p.size, (0.0,) * p.size, tuple(float(x) for x in p), model.threshold)
        bab = np.zeros_like(grid)
        for a, b in babble_spans(levels, duration):
            bab[int(a * 100) : int(b * 100)] = True
        silence += float((~grid).sum()) / 100
        many += float((bab & ~grid).sum()) / 100
    return {"rate": called / steps if steps else 0.0, "steps": steps, "silence_s": silence, "many_s": many}


def sample_lesson(model: B.BabbleModel, vad) -> dict[str, tuple[float, float]]:
    """Share of half seconds called babble in each scripted activity of sample_media/lesson.mp4."""
    import tempfile

    from videocoach.av.media import extract_audio, load_wav

    script = json.loads((REPO / "sample_media" / "lesson_script.json").read_text())
    with tempfile.TemporaryDirectory() as tmp:
        audio = load_wav(extract_audio(REPO / "sample_media" / "lesson.mp4", Path(tmp) / "a.wav"))
    p = model.probs(B.step_features(audio, vad.frame_probs(audio)))
    centres = (np.arange(p.size) + 0.5) * 0.5
    out: dict[str, list[float]] = {}
    for act in script["activities"]:
        m = (centres >= act["start"]) & (centres < act["end"])
        out.setdefault(act["label"], []).extend((p[m] >= model.threshold).tolist())
    return {k: (float(np.mean(v)), len(v) / 2) for k, v in out.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--fit", action="store_true", help="refit and write videocoach/data/babble_model.json")
    ap.add_argument("--per-kind", type=int, default=30, help="held-out clips per kind (8 s each)")
    ap.add_argument("--fit-per-kind", type=int, default=60, help="fit clips per kind (8 s each)")
    args = ap.parse_args()
    vad = load_vad()
    t0 = time.time()
    if args.fit:
        table, kinds = features("fit", args.fit_per_kind, 0, vad)
        model = fit(table, kinds)
        MODEL_PATH.write_text(json.dumps({
            "features": list(model.features), "mean": list(model.mean), "scale": list(model.scale),
            "weights": list(model.weights), "sq_weights": list(model.sq_weights), "bias": model.bias,
            "threshold": model.threshold, "provenance": model.provenance,
        }, indent=1) + "\n", encoding="utf-8")
        print(f"wrote {MODEL_PATH.relative_to(REPO)}; fit set, per half second called babble:")
        print("  " + "  ".join(f"{k}={v:.3f}" for k, v in per_kind(model, table, kinds).items()))
    else:
        model = B.default_model()
    table, kinds = features("test", args.per_kind, 1, vad)
    rates = per_kind(model, table, kinds)
    print(f"held-out mixtures ({args.per_kind} x 8 s clips per kind), share of half seconds called babble "
          f"(threshold {model.threshold}):")
    for k, v in rates.items():
        role = "recall" if k == bm.POSITIVE else ("not counted" if k == "pair" else "false babble")
        print(f"  {k:12s} {v:.3f}  ({role})")
    speakers = {k: v for k, v in bm.load_speakers().items() if bm.split_of(k) == "test"}
    crowd, silero = [], []
    for i in range(max(4, args.per_kind // 3)):
        clip = bm.make_crowd(speakers, 4_000_000 + i)
        frame_probs = vad.frame_probs(clip.audio)
        crowd.append(float((model.probs(B.step_features(clip.audio, frame_probs))[2:-2] >= model.threshold).mean()))
        silero.append(float(frame_probs.mean()))
    print(f"  {'crowd':12s} {np.mean(crowd):.3f}  (recall; a whole class of held-out voices, 16-24 streams, far; "
          f"Silero's mean speech probability there {np.mean(silero):.2f})")
    negatives = [rates[k] for k in bm.NEGATIVES]
    print(f"  mean false babble over the {len(negatives)} negative kinds: {np.mean(negatives):.3f}; "
          f"worst: {max(negatives):.3f}")
    ami = ami_false_babble(model, vad)
    print(f"AMI debug clips (real meetings, no classroom babble): {ami['rate']:.3f} of {ami['steps']} half seconds "
          f"called babble; over the reference turns, silence {ami['silence_s']:.1f} s of which "
          f"{ami['many_s']:.1f} s would read as many pupils at once (teacher / pupil seconds: unchanged)")
    for label, (share, seconds) in sample_lesson(model, vad).items():
        print(f"sample lesson, {label:16s} ({seconds:5.1f} s): {share:.3f} called babble")
    print(f"({time.time() - t0:.0f} s)")


if __name__ == "__main__":
    main()
