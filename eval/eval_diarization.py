"""Diarisation and role accuracy on the reference data in ../shared/data (never copied into the repository).

    python eval/eval_diarization.py                      # DER table + teacher/pupil/silence seconds
    python eval/eval_diarization.py --set hop_s=0.4      # try a DiarizeConfig change
    python eval/eval_diarization.py --skip-roles

DER is pyannote.metrics' DiarizationErrorRate(collar=0.25, skip_overlap=False) inside each clip's .uem.
The "ovl" columns are seconds of overlapped speech (two or more speakers at once) with no collar: in the
reference, in the output, and in both; DER's collar hides most of what overlap output at speaker changes does, so
these say whether the output overlap (from segmentation-3.0, DiarizeConfig.overlap_threshold) is real.
The AMI debug clips are split as their .lst files say: development (dev*), train (trn*), test (tst*).  Settings
were tuned on dev + train only; the test rows are the held-out check.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import time
from pathlib import Path

import numpy as np
import soundfile as sf

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from pyannote.core import Annotation, Segment, Timeline  # noqa: E402
from pyannote.metrics.diarization import DiarizationErrorRate  # noqa: E402

from videocoach.audio.diarize import DiarizeConfig, load_diarizer  # noqa: E402
from videocoach.core.model import Diarization, Span  # noqa: E402
from videocoach.audio.roles import assign_roles, enrol_teacher, teacher_sample_from_span  # noqa: E402

DATA = Path(os.environ.get("VIDEOCOACH_SHARED_DATA", REPO.parent / "shared" / "data"))
SPEECH = DATA / "speech"
AMI = SPEECH / "ami_debug"
SAMPLE = SPEECH / "pyannote_sample"
SPLITS = {"dev": "development", "trn": "train", "tst": "test"}


def read_rttm(path: Path) -> dict[str, Annotation]:
    out: dict[str, Annotation] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        parts = line.split()
        if len(parts) < 8 or parts[0] != "SPEAKER":
            continue
        uri, start, dur, who = parts[1], float(parts[3]), float(parts[4]), parts[7]
        out.setdefault(uri, Annotation(uri=uri))[Segment(start, start + dur)] = who
    return out


def read_uem(path: Path) -> dict[str, Timeline]:
    out: dict[str, Timeline] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        parts = line.split()
        if len(parts) >= 4:
            out.setdefault(parts[0], Timeline(uri=parts[0])).add(Segment(float(parts[2]), float(parts[3])))
    return out


def to_annotation(diarization: Diarization, uri: str) -> Annotation:
    ann = Annotation(uri=uri)
    for i, t in enumerate(diarization.turns):
        ann[Segment(t.start, t.end), i] = t.speaker
    return ann


def load_audio(path: Path) -> np.ndarray:
    audio, sr = sf.read(str(path), dtype="float32", always_2d=True)
    if sr != 16000:
        raise ValueError(f"{path}: expected 16 kHz, got {sr}")
    return audio.mean(axis=1)


def ami_clips() -> list[tuple[str, str]]:
    """(clip, split) for every AMI debug clip that has audio (the .lst files also name one without a .wav)."""
    clips = []
    for prefix, split in SPLITS.items():
        for wav in sorted(AMI.glob(f"{prefix}*.wav")):
            clips.append((wav.stem, split))
    return clips


def der_table(config: DiarizeConfig, verbose: bool = True) -> dict[str, float]:
    diarizer = load_diarizer(config)
    rows = []
    refs: dict[str, Annotation] = {}
    uems: dict[str, Timeline] = {}
    for split in SPLITS.values():
        refs.update(read_rttm(AMI / f"debug.{split}.rttm"))
        uems.update(read_uem(AMI / f"debug.{split}.uem"))
    refs.update(read_rttm(SAMPLE / "sample.rttm"))
    uems["sample"] = Timeline([Segment(0, 30.0)], uri="sample")
    items = [("sample", "sample", SAMPLE / "sample.wav")] + [(c, s, AMI / f"{c}.wav") for c, s in ami_clips()]
    for uri, split, wav in items:
        audio = load_audio(wav)
        t0 = time.perf_counter()
        diar = diarizer.diarize(audio)
        wall = time.perf_counter() - t0
        metric = DiarizationErrorRate(collar=0.25, skip_overlap=False)
        ref = refs.get(uri, Annotation(uri=uri))
        detail = metric(ref, to_annotation(diar, uri), uem=uems[uri], detailed=True)
        total = max(detail["total"], 1e-9)
        ov_ref, ov_hyp, ov_hit = overlap_seconds(ref, to_annotation(diar, uri), uems[uri])
        rows.append(
            dict(
                uri=uri,
                split=split,
                der=detail["diarization error rate"],
                miss=detail["missed detection"] / total,
                fa=detail["false alarm"] / total,
                conf=detail["confusion"] / total,
                ref_s=detail["total"],
                found=len(diar.speakers),
                true=len(ref.labels()),
                xrt=(audio.size / 16000) / max(wall, 1e-9),
                ov_ref=ov_ref,
                ov_hyp=ov_hyp,
                ov_hit=ov_hit,
            )
        )
    if verbose:
        print(f"{'clip':8} {'split':11} {'DER':>6} {'miss':>6} {'FA':>6} {'conf':>6} {'ref s':>6} "
              f"{'spk':>7} {'x RT':>6} {'ovl ref':>7} {'ovl hyp':>7} {'ovl hit':>7}")
        for r in rows:
            print(f"{r['uri']:8} {r['split']:11} {r['der']:6.3f} {r['miss']:6.3f} {r['fa']:6.3f} {r['conf']:6.3f} "
                  f"{r['ref_s']:6.1f} {r['found']:>3}/{r['true']:<3} {r['xrt']:6.1f} {r['ov_ref']:7.2f} "
                  f"{r['ov_hyp']:7.2f} {r['ov_hit']:7.2f}")
    ami = [r for r in rows if r["split"] != "sample"]
    summary = {
        "sample": rows[0]["der"],
        "ami_mean_all13": float(np.mean([r["der"] for r in ami])),
        "ami_mean_dev_trn": float(np.mean([r["der"] for r in ami if r["split"] != "test"])),
        "ami_mean_tst": float(np.mean([r["der"] for r in ami if r["split"] == "test"])),
        "speaker_count_right": sum(r["found"] == r["true"] for r in ami),
        "xrt_median": float(np.median([r["xrt"] for r in rows])),
        "ami_overlap_ref_s": float(sum(r["ov_ref"] for r in ami)),
        "ami_overlap_hyp_s": float(sum(r["ov_hyp"] for r in ami)),
        "ami_overlap_hit_s": float(sum(r["ov_hit"] for r in ami)),
    }
    if verbose:
        print(f"pyannote_sample DER {summary['sample']:.3f} | AMI mean DER over {len(ami)} clips "
              f"{summary['ami_mean_all13']:.3f} (dev+trn {summary['ami_mean_dev_trn']:.3f}, "
              f"tst {summary['ami_mean_tst']:.3f}) | speaker count right {summary['speaker_count_right']}/{len(ami)}"
              f" | median x real time {summary['xrt_median']:.1f}")
        ref_s, hyp_s, hit_s = (summary[f"ami_overlap_{k}_s"] for k in ("ref", "hyp", "hit"))
        print(f"AMI overlapped speech (no collar): reference {ref_s:.1f} s, output {hyp_s:.1f} s, both {hit_s:.1f} s"
              f" (precision {hit_s / max(hyp_s, 1e-9):.2f}, recall {hit_s / max(ref_s, 1e-9):.2f})")
    return summary


def overlap_seconds(ref: Annotation, hyp: Annotation, uem: Timeline) -> tuple[float, float, float]:
    """Seconds of overlapped speech (two or more speakers at once) inside ``uem``, on a 10 ms grid, no collar:
    in the reference, in the output, and in both (whoever the speakers are)."""
    end = max([s.end for s in uem] + [0.0])
    t = (np.arange(int(round(end * 100))) + 0.5) / 100
    inside = np.zeros(t.size, dtype=bool)
    for seg in uem:
        inside |= (t >= seg.start) & (t < seg.end)

    def multi(ann: Annotation) -> np.ndarray:
        count = np.zeros(t.size)
        for label in ann.labels():
            for seg in ann.label_timeline(label).support():
                count += (t >= seg.start) & (t < seg.end)
        return (count >= 2) & inside

    r, h = multi(ref), multi(hyp)
    return float(r.sum()) / 100, float(h.sum()) / 100, float((r & h).sum()) / 100


def _union_s(spans: list[tuple[float, float]]) -> float:
    total, cur_s, cur_e = 0.0, None, None
    for s, e in sorted(spans):
        if cur_e is None or s > cur_e:
            if cur_e is not None:
                total += cur_e - cur_s
            cur_s, cur_e = s, e
        else:
            cur_e = max(cur_e, e)
    if cur_e is not None:
        total += cur_e - cur_s
    return total


def role_seconds(config: DiarizeConfig, verbose: bool = True) -> dict[str, tuple[float, float]]:
    """Teacher / pupil / silence seconds on pyannote_sample; the first speaker in sample.rttm is the teacher.

    teacher_s = time where the teacher speaks; pupil_s = time where any pupil speaks (overlap counts for both);
    silence_s = time where nobody speaks.  All over the whole 30 s file.
    """
    ref = read_rttm(SAMPLE / "sample.rttm")["sample"]
    rows = sorted(ref.itertracks(yield_label=True), key=lambda r: r[0].start)
    teacher_label = rows[0][2]
    audio = load_audio(SAMPLE / "sample.wav")
    duration = audio.size / 16000
    teacher_ref = [(s.start, s.end) for s, _, lab in rows if lab == teacher_label]
    pupil_ref = [(s.start, s.end) for s, _, lab in rows if lab != teacher_label]
    ref_t, ref_p = _union_s(teacher_ref), _union_s(pupil_ref)
    ref_sil = duration - _union_s(teacher_ref + pupil_ref)

    # enrolment: the teacher's first 4 s of speech that no other speaker overlaps
    solo = Timeline([Segment(s, e) for s, e in teacher_ref]).support()
    other = Timeline([Segment(s, e) for s, e in pupil_ref]).support()
    solo = solo.extrude(other)
    sample_spans: list[Span] = []
    need = 4.0
    for seg in solo:
        take = min(seg.duration, need)
        sample_spans.append(Span(seg.start, seg.start + take))
        need -= take
        if need <= 1e-6:
            break

    diarizer = load_diarizer(config)
    result = diarizer.run(audio)
    sample_audio = np.concatenate([teacher_sample_from_span(audio, sp) for sp in sample_spans])
    teacher = enrol_teacher(diarizer, sample_audio)
    out = {}
    for label, voice in (("enrolment", teacher), ("auto", None)):
        roles = assign_roles(result.diarization, result.windows.spans, result.windows.embeddings, voice)
        hyp_t = [(t.start, t.end) for t in result.diarization.turns if t.speaker in roles.teacher_speakers]
        hyp_p = [(t.start, t.end) for t in result.diarization.turns if t.speaker not in roles.teacher_speakers]
        got = (_union_s(hyp_t), _union_s(hyp_p), duration - _union_s(hyp_t + hyp_p))
        out[label] = got
        if verbose:
            source = ("; enrolled from " + ", ".join(f"{s.start:.2f}-{s.end:.2f}" for s in sample_spans) + " s"
                      if voice is not None else "")
            print(f"\nroles by {label} (method {roles.method}, confidence {roles.confidence:.2f}, "
                  f"teacher = {sorted(roles.teacher_speakers)}){source}")
            print(f"{'':10} {'reference':>9} {'found':>7} {'error':>7}")
            for name, r, g in zip(("teacher_s", "pupil_s", "silence_s"), (ref_t, ref_p, ref_sil), got):
                print(f"{name:10} {r:9.2f} {g:7.2f} {100 * (g - r) / r:+6.1f}%")
    return out


def role_accuracy(config: DiarizeConfig, verbose: bool = True) -> dict[str, float]:
    """Teacher/pupil frame accuracy by enrolment vs the automatic guess, on every clip where the most talkative
    reference speaker (taken as "the teacher") has 4 s of solo speech to enrol from.

    Accuracy is over 10 ms frames where exactly one reference speaker talks: right when the hypothesis has that
    role there (no hypothesis speech counts as wrong).
    """
    refs: dict[str, Annotation] = {}
    for split in SPLITS.values():
        refs.update(read_rttm(AMI / f"debug.{split}.rttm"))
    refs.update(read_rttm(SAMPLE / "sample.rttm"))
    items = [("sample", SAMPLE / "sample.wav")] + [(c, AMI / f"{c}.wav") for c, _ in ami_clips()]
    diarizer = load_diarizer(config)
    rows = []
    for uri, wav in items:
        ref = refs.get(uri)
        if ref is None or len(ref.labels()) < 2:
            continue
        teacher = max(ref.labels(), key=ref.label_duration)
        others = Timeline([s for s, _, lab in ref.itertracks(yield_label=True) if lab != teacher]).support()
        solo = ref.label_timeline(teacher).support().extrude(others)
        spans, need = [], 4.0
        for seg in solo:
            if seg.duration < 0.5:
                continue
            take = min(seg.duration, need)
            spans.append(Span(seg.start, seg.start + take))
            need -= take
            if need <= 1e-6:
                break
        if need > 1e-6:
            continue
        audio = load_audio(wav)
        result = diarizer.run(audio)
        voice = enrol_teacher(diarizer, np.concatenate([teacher_sample_from_span(audio, sp) for sp in spans]))
        n = audio.size // 160
        t = (np.arange(n) + 0.5) * 0.01
        count = np.zeros(n)
        is_teacher = np.zeros(n, dtype=bool)
        for seg, _, lab in ref.itertracks(yield_label=True):
            inside = (t >= seg.start) & (t < seg.end)
            count += inside
            if lab == teacher:
                is_teacher |= inside
        scored = count == 1
        acc = {}
        for name, v in (("enrolment", voice), ("auto", None)):
            roles = assign_roles(result.diarization, result.windows.spans, result.windows.embeddings, v)
            hyp = np.zeros(n, dtype=np.int8)  # 0 nobody, 1 teacher, 2 pupil
            for turn in result.diarization.turns:
                sel = (t >= turn.start) & (t < turn.end)
                hyp[sel] = 1 if turn.speaker in roles.teacher_speakers else 2
            right = np.where(is_teacher, hyp == 1, hyp == 2)
            acc[name] = float(right[scored].mean()) if scored.any() else float("nan")
        rows.append((uri, acc["enrolment"], acc["auto"], int(scored.sum()) / 100))
    if verbose:
        print("\nteacher = most talkative reference speaker, enrolled from 4 s of their solo speech")
        print(f"{'clip':8} {'enrolment':>9} {'auto':>6} {'scored s':>8}")
        for uri, e, a, sec in rows:
            print(f"{uri:8} {e:9.3f} {a:6.3f} {sec:8.1f}")
        print(f"{'mean':8} {np.mean([r[1] for r in rows]):9.3f} {np.mean([r[2] for r in rows]):6.3f}")
    return {"enrolment": float(np.mean([r[1] for r in rows])), "auto": float(np.mean([r[2] for r in rows]))}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE", help="DiarizeConfig override")
    parser.add_argument("--skip-roles", action="store_true")
    parser.add_argument("--skip-der", action="store_true")
    parser.add_argument("--embedding", default="campplus", choices=["campplus", "resemblyzer"],
                        help="resemblyzer: the fallback, with DiarizeConfig.resemblyzer() settings")
    args = parser.parse_args(argv)
    if not SPEECH.is_dir():
        print(f"reference data not found at {SPEECH} (set VIDEOCOACH_SHARED_DATA)", file=sys.stderr)
        return 2
    import torch

    torch.set_num_threads(1)
    overrides = {}
    fields = {f.name: f for f in dataclasses.fields(DiarizeConfig)}
    for item in args.set:
        name, _, value = item.partition("=")
        if name not in fields:
            parser.error(f"unknown DiarizeConfig field {name!r}")
        default = getattr(DiarizeConfig(), name)
        if value == "None" or (name == "num_speakers" and value.lower() == "none"):
            overrides[name] = None
        elif isinstance(default, bool):
            overrides[name] = value.lower() in ("1", "true", "yes")
        elif isinstance(default, int) or name == "num_speakers":
            overrides[name] = int(value)
        elif isinstance(default, float):
            overrides[name] = float(value)
        else:
            overrides[name] = value
    if args.embedding == "resemblyzer":
        config = DiarizeConfig.resemblyzer(**overrides)
    else:
        config = DiarizeConfig(**overrides)
    print(f"config: {config}")
    if not args.skip_der:
        der_table(config)
    if not args.skip_roles:
        role_seconds(config)
        role_accuracy(config)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
