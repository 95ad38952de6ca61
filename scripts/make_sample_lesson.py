#!/usr/bin/env python3
"""Build the bundled sample lesson: ``sample_media/lesson.mp4`` with its exact ground truth.

A two-minute science lesson voiced by espeak-ng (one teacher, four pupils), mixed with room noise, a quiet
independent-work spell and a noisy group-work spell, over the CC BY 4.0 ``classroom.gif`` clip looped ping-pong.
Every line's start and end come from the synthesised audio itself (trimmed clip lengths plus the gaps inserted),
so ``lesson_script.json`` is exact, not estimated.

    python scripts/make_sample_lesson.py            # writes sample_media/
    python scripts/make_sample_lesson.py --out DIR  # anywhere else

Deterministic: a fixed noise seed, no timestamps, bit-exact muxing.  Re-running with the same espeak-ng, ffmpeg and
x264 gives byte-identical files.  Needs espeak-ng and ffmpeg on PATH, and ../shared/data/faces/clips/classroom.gif
(or ``--gif``).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import soundfile
from scipy.signal import lfilter, resample_poly

REPO = Path(__file__).resolve().parents[1]
DEFAULT_GIF = REPO.parent / "shared" / "data" / "faces" / "clips" / "classroom.gif"

SAMPLE_RATE = 16000  # Hz, the pipeline's rate; the mp4 carries 44.1 kHz AAC made from it
ESPEAK_RATE = 22050  # Hz, what espeak-ng writes
SEED = 20240917
LEAD_IN_S = 1.0  # room noise before the first word
TAIL_S = 1.5  # and after the last
ROOM_NOISE_DBFS = -45.0
GROUP_NOISE_DBFS = -39.0  # chairs and shuffling rise during group work
BABBLE_DBFS = -36.0  # unintelligible talk from other tables during group work
TRIM_THRESHOLD = 10 ** (-50 / 20)  # a clip starts and ends where it first/last exceeds -50 dBFS
VIDEO_SIZE = (1280, 720)
VIDEO_FPS = 25
GIF_FPS = 15
GIF_FRAMES = 45
PINGPONG_FRAMES = 2 * GIF_FRAMES - 2  # 0..44 then 43..1: 88 frames, no frame shown twice at a turn
VIDEO_CRF = 30  # with a light denoise of the gif's dithering: about 2 MB of video for 2.5 minutes
KEYFRAME_EVERY_S = 5


@dataclass(frozen=True)
class Voice:
    role: str
    name: str
    voice: str  # espeak-ng voice+variant
    pitch: int  # espeak-ng -p, 0-99
    speed_wpm: int  # espeak-ng -s
    level_dbfs: float  # RMS of this speaker's speech in the mix (pupils are further from the microphone)


SPEAKERS: dict[str, Voice] = {
    "T": Voice("teacher", "Ms Rivera", "en-gb+f3", 32, 165, -23.0),
    "P1": Voice("pupil", "Amir", "en-us+m3", 80, 180, -27.0),
    "P2": Voice("pupil", "Bella", "en-gb-scotland+f4", 90, 175, -28.0),
    "P3": Voice("pupil", "Chloe", "en-us+f2", 96, 185, -27.5),
    "P4": Voice("pupil", "Dev", "en-gb-x-rp+m7", 84, 172, -29.0),
}
GROUP_LINE_DB = -6.0  # group-work talk is quieter than whole-class answers: pupils talk to their table


@dataclass(frozen=True)
class Q:
    type: str  # closed | open | checking | rhetorical
    by: str  # teacher | pupil
    response: str  # pupil | pupils | self | teacher | none


@dataclass(frozen=True)
class Say:
    speaker: str
    text: str
    gap_after_s: float = 0.7  # silence before the next line starts (a question's wait time)
    question: Q | None = None
    overlap_next_s: float = 0.0  # the next line starts this long after this one STARTS (a chorus): overrides the gap


@dataclass(frozen=True)
class Quiet:
    label: str
    duration_s: float


@dataclass(frozen=True)
class Chatter:
    """Pupils talking over each other at their tables: (offset from the start of the spell, speaker, text)."""

    label: str
    duration_s: float
    lines: tuple[tuple[float, str, str], ...]


@dataclass(frozen=True)
class Block:
    label: str  # the activity this stretch of the lesson is
    events: tuple[Say | Quiet | Chatter, ...] = field(default_factory=tuple)


SCRIPT: tuple[Block, ...] = (
    Block(
        "exposition",
        (
            Say("T", "Good morning, everyone. Yesterday, the ice cube with salt on it melted first.", 0.7),
            Say(
                "T",
                "When a liquid turns into a gas, we call it evaporation. "
                "A careful guess that we can test is called a hypothesis.",
                0.6,
            ),
            Say("T", "Today, explain your thinking and give evidence for your ideas.", 0.9),
        ),
    ),
    Block(
        "discussion",
        (
            Say("T", "Is ice a solid or a liquid?", 1.6, Q("closed", "teacher", "pupil")),
            Say("P1", "Ice is a solid.", 0.6),
            Say("T", "Why do you think the salty ice melted faster?", 3.2, Q("open", "teacher", "pupil")),
            Say("P2", "Because the salt mixes with the ice and makes it turn into water.", 0.7),
            Say("T", "How could we test that?", 2.8, Q("open", "teacher", "pupil")),
            Say("P3", "We could put salt on one cube and not the other, and time them both.", 0.6),
            Say(
                "T",
                "Yes, that gives us evidence. Can anyone predict what happens to a puddle in the sun?",
                4.0,
                Q("open", "teacher", "self"),
            ),
            Say("T", "It slowly disappears, because the water evaporates into the air.", 0.9),
            Say("P4", "Why does salt make it melt faster?", 1.2, Q("open", "pupil", "teacher")),
            Say("T", "Salt lowers the freezing point, so ice melts even when it is cold.", 0.8),
            Say("T", "Does everyone understand?", 1.1, Q("checking", "teacher", "pupils")),
            Say("P1", "Yes.", overlap_next_s=0.25),
            Say("P3", "Yes.", 0.8),
            Say("T", "Now some maths. What is seven times eight?", 2.2,
                Q("closed", "teacher", "pupil")),
            Say("P4", "Fifty six.", 0.6),
            Say("T", "Who knew salt could be so powerful?", 1.0, Q("rhetorical", "teacher", "none")),
            Say("T", "Now work on your own. Write down your hypothesis and one piece of evidence.", 1.3),
            Say("P2", "Can we use a calculator?", 1.0, Q("closed", "pupil", "teacher")),
            Say("T", "Not today. Use your own words.", 0.5),
        ),
    ),
    Block("independent_work", (Quiet("independent_work", 15.0),)),
    Block(
        "group_work",
        (
            Say("T", "Now turn to your group and compare your predictions.", 0.4),
            Chatter(
                "group_work",
                18.0,
                (
                    (0.0, "P1", "My hypothesis is that the salty ice melts first."),
                    (1.1, "P3", "I think we need more evidence, so let us time it again."),
                    (3.4, "P2", "The puddle evaporates because the sun heats the water."),
                    (4.6, "P4", "Salt lowers the freezing point. I read that in a book."),
                    (7.2, "P1", "Write it down, we need it for the table."),
                    (8.0, "P3", "Put the plain ice cube next to the window."),
                    (10.3, "P2", "My prediction is that the salty one wins by five minutes."),
                    (11.5, "P4", "No, the evidence says about ten minutes."),
                    (13.5, "P1", "That is because salt makes the water stay liquid."),
                    (14.6, "P3", "Okay, so our hypothesis is about salt and temperature."),
                    (15.9, "P2", "I will write the hypothesis, you draw the table."),
                ),
            ),
        ),
    ),
    Block(
        "discussion",
        (
            Say("T", "Eyes on me please. Amir, explain your group's hypothesis.", 1.4),
            Say(
                "P1",
                "We predict the salty ice melts first, because salt lowers the freezing point.",
                0.8,
            ),
            Say("P3", "Does evaporation happen faster when it is hot?", 1.0, Q("closed", "pupil", "teacher")),
            Say(
                "T",
                "Yes. Heat gives the water more energy, so it evaporates faster. Great thinking today.",
                0.0,
            ),
        ),
    ),
)

ENROLMENT_TEXT = (
    "Hello, my name is Ms Rivera. I have taught at this school for nine years, and I love electricity."
)


# --- audio ---------------------------------------------------------------------------------------------------------


def synthesise(voice: Voice, text: str, workdir: Path) -> np.ndarray:
    """One line through espeak-ng, resampled to 16 kHz, trimmed to its speech, at the speaker's level."""
    key = hashlib.sha256(f"{voice}|{text}".encode()).hexdigest()[:16]
    wav = workdir / f"{key}.wav"
    argv = ["espeak-ng", "-v", voice.voice, "-p", str(voice.pitch), "-s", str(voice.speed_wpm), "-w", str(wav), text]
    proc = subprocess.run(argv, capture_output=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"espeak-ng failed ({proc.returncode}): {proc.stderr.decode(errors='replace')}")
    samples, sr = soundfile.read(str(wav), dtype="float64")
    if sr != ESPEAK_RATE:
        raise RuntimeError(f"espeak-ng wrote {sr} Hz, expected {ESPEAK_RATE}")
    samples = resample_poly(samples, 320, 441)  # 22050 * 320 / 441 = 16000
    loud = np.flatnonzero(np.abs(samples) > TRIM_THRESHOLD * np.abs(samples).max())
    samples = samples[loud[0] : loud[-1] + 1]
    return scale_to_dbfs(samples, voice.level_dbfs)


def scale_to_dbfs(x: np.ndarray, dbfs: float) -> np.ndarray:
    rms = float(np.sqrt(np.mean(x**2)))
    return x * (10 ** (dbfs / 20) / rms) if rms > 0 else x


def room_noise(n: int, rng: np.random.Generator, dbfs: float) -> np.ndarray:
    """Low-passed (brownish) noise with a faint 50 Hz hum, like a quiet classroom microphone."""
    white = rng.standard_normal(n)
    rumble = lfilter([0.05], [1.0, -0.95], white)  # one-pole low-pass
    hum = 0.15 * np.sin(2 * np.pi * 50.0 * np.arange(n) / SAMPLE_RATE)
    return scale_to_dbfs(rumble + 0.3 * white + hum, dbfs)


def fade(x: np.ndarray, fade_s: float = 0.5) -> np.ndarray:
    n = min(len(x) // 2, int(fade_s * SAMPLE_RATE))
    ramp = np.linspace(0.0, 1.0, n)
    y = x.copy()
    y[:n] *= ramp
    y[len(y) - n :] *= ramp[::-1]
    return y


def babble(n: int, rng: np.random.Generator, clips: list[np.ndarray]) -> np.ndarray:
    """Three streams of reversed pupil speech: talk from other tables, with no intelligible words."""
    out = np.zeros(n)
    for _stream in range(3):
        pos = int(rng.uniform(0.0, 1.0) * SAMPLE_RATE)
        while pos < n:
            clip = clips[int(rng.integers(len(clips)))][::-1]
            end = min(n, pos + len(clip))
            out[pos:end] += clip[: end - pos]
            pos = end + int(rng.uniform(0.2, 0.9) * SAMPLE_RATE)
    return fade(scale_to_dbfs(out, BABBLE_DBFS))


@dataclass
class Placed:
    speaker: str
    start_s: float
    audio: np.ndarray
    text: str
    question: Q | None
    activity: str

    @property
    def end_s(self) -> float:
        return self.start_s + len(self.audio) / SAMPLE_RATE


def build(workdir: Path) -> tuple[np.ndarray, dict]:
    rng = np.random.default_rng(SEED)
    placed: list[Placed] = []
    activities: list[dict] = []
    extra: list[tuple[int, np.ndarray]] = []  # (start sample, audio) for babble and group noise
    background: list[dict] = []
    cursor = round(LEAD_IN_S * SAMPLE_RATE)  # in samples, so every time is an exact sample count

    for block in SCRIPT:
        block_start = cursor
        if activities and activities[-1]["label"] == block.label:
            raise ValueError("two adjacent blocks with the same label")
        for event in block.events:
            if isinstance(event, Say):
                audio = synthesise(SPEAKERS[event.speaker], event.text, workdir)
                placed.append(
                    Placed(event.speaker, cursor / SAMPLE_RATE, audio, event.text, event.question, block.label)
                )
                if event.overlap_next_s > 0:
                    cursor += round(event.overlap_next_s * SAMPLE_RATE)
                else:
                    cursor += len(audio) + round(event.gap_after_s * SAMPLE_RATE)
            elif isinstance(event, Quiet):
                cursor += round(event.duration_s * SAMPLE_RATE)
            elif isinstance(event, Chatter):
                n = round(event.duration_s * SAMPLE_RATE)
                clips = []
                for offset_s, speaker, text in event.lines:
                    voice = SPEAKERS[speaker]
                    audio = synthesise(voice, text, workdir) * 10 ** (GROUP_LINE_DB / 20)
                    start = cursor + round(offset_s * SAMPLE_RATE)
                    placed.append(Placed(speaker, start / SAMPLE_RATE, audio, text, None, block.label))
                    clips.append(audio)
                extra.append((cursor, babble(n, rng, clips)))
                extra.append((cursor, fade(room_noise(n, rng, GROUP_NOISE_DBFS))))
                background.append({"kind": "babble", "start": cursor / SAMPLE_RATE, "end": (cursor + n) / SAMPLE_RATE})
                cursor = max(cursor + n, max(round(p.end_s * SAMPLE_RATE) for p in placed[-len(event.lines) :]))
                cursor += round(0.8 * SAMPLE_RATE)
        activities.append({"label": block.label, "start": block_start / SAMPLE_RATE, "end": cursor / SAMPLE_RATE})

    total = max(cursor, max(round(p.end_s * SAMPLE_RATE) for p in placed)) + round(TAIL_S * SAMPLE_RATE)
    mix = room_noise(total, rng, ROOM_NOISE_DBFS)
    for p in placed:
        i = round(p.start_s * SAMPLE_RATE)
        mix[i : i + len(p.audio)] += p.audio
    for i, audio in extra:
        mix[i : i + len(audio)] += audio
    peak = float(np.abs(mix).max())
    if peak >= 0.99:
        raise RuntimeError(f"the mix clips (peak {peak:.2f}): lower the levels")

    duration_s = total / SAMPLE_RATE
    activities[0]["start"] = 0.0  # the lead-in belongs to the first activity, the tail to the last
    for before, after in zip(activities, activities[1:]):
        before["end"] = after["start"]
    activities[-1]["end"] = duration_s

    lines = []
    for k, p in enumerate(placed):
        question = None
        if p.question is not None:
            after = placed[k + 1] if k + 1 < len(placed) else None
            wait_s = None
            if p.question.response != "none" and after is not None:
                check_responder(p, after)
                wait_s = round(after.start_s - p.end_s, 4)
            question = {"type": p.question.type, "by": p.question.by, "response": p.question.response,
                        "wait_s": wait_s}
        lines.append(
            {
                "speaker": p.speaker,
                "start": round(p.start_s, 4),
                "end": round(p.end_s, 4),
                "text": p.text,
                "question": question,
                "activity": p.activity,
                "overlapping": any(o is not p and o.start_s < p.end_s and p.start_s < o.end_s for o in placed),
            }
        )
    order = sorted(range(len(lines)), key=lambda i: (lines[i]["start"], lines[i]["end"]))
    lines = [lines[i] for i in order]

    script = {
        "title": "Sample lesson: why does salty ice melt faster? (synthetic, year 6 science)",
        "duration_s": round(duration_s, 4),
        "sample_rate": SAMPLE_RATE,
        "speakers": {
            key: {"role": v.role, "voice": v.voice, "name": v.name, "espeak_pitch": v.pitch,
                  "espeak_speed_wpm": v.speed_wpm, "level_dbfs": v.level_dbfs}
            for key, v in SPEAKERS.items()
        },
        "lines": lines,
        "activities": [{**a, "start": round(a["start"], 4), "end": round(a["end"], 4)} for a in activities],
        "teacher_sample": teacher_sample(placed),
        "background": [{**b, "start": round(b["start"], 4), "end": round(b["end"], 4)} for b in background],
        "room_noise_dbfs": ROOM_NOISE_DBFS,
        "notes": (
            "Times are in seconds from the start of the audio, measured from the synthesised clips (trimmed at "
            "-50 dB relative to each clip's peak) and the gaps inserted. question.wait_s is the silence between the "
            "end of the question and the start of the next line (the answer, or the teacher's own answer for "
            "response 'self'); response 'teacher' marks a pupil question the teacher answers. Lines with "
            "overlapping=true are spoken over other lines (group work, a chorus). 'background' spans hold "
            "unintelligible babble (reversed speech) that is not listed as lines."
        ),
    }
    return mix, script


def check_responder(question: Placed, after: Placed) -> None:
    responder = {"pupil": "pupil", "pupils": "pupil", "self": "teacher", "teacher": "teacher"}
    expected = responder[question.question.response]
    if SPEAKERS[after.speaker].role != expected:
        raise ValueError(f"{question.text!r}: next line is by {after.speaker}, expected a {expected}")


def teacher_sample(placed: list[Placed]) -> dict:
    """4-6 s of the teacher alone: the start of the first teacher line that long, clear of everyone else."""
    for p in placed:
        if p.speaker != "T" or p.end_s - p.start_s < 4.0:
            continue
        start, end = p.start_s, min(p.end_s, p.start_s + 6.0)
        if not any(o.speaker != "T" and o.start_s < end and start < o.end_s for o in placed):
            return {"start": round(start, 4), "end": round(end, 4)}
    raise ValueError("no teacher-only stretch of 4 s")


def write_wav(path: Path, samples: np.ndarray) -> None:
    pcm = np.clip(np.round(samples * 32767), -32768, 32767).astype("<i2")
    soundfile.write(str(path), pcm, SAMPLE_RATE, subtype="PCM_16", format="WAV")


# --- video ---------------------------------------------------------------------------------------------------------


def encode(gif: Path, wav: Path, duration_s: float, out_mp4: Path) -> None:
    width, height = VIDEO_SIZE
    graph = (
        f"[0:v]split[fwd][back];[back]reverse,trim=start_frame=1:end_frame={GIF_FRAMES - 1}[rev];"
        f"[fwd][rev]concat=n=2:v=1:a=0,loop=loop=-1:size={PINGPONG_FRAMES}:start=0,"
        f"setpts=N/({GIF_FPS}*TB),hqdn3d=4:3:6:4,fps={VIDEO_FPS},scale={width}:{height}:flags=bicubic,format=yuv420p[v]"
    )
    argv = [
        "ffmpeg", "-hide_banner", "-v", "error", "-nostdin", "-y",
        "-i", str(gif), "-i", str(wav),
        "-filter_complex", graph, "-map", "[v]", "-map", "1:a",
        "-t", f"{duration_s:.4f}",
        "-c:v", "libx264", "-preset", "medium", "-crf", str(VIDEO_CRF), "-g", str(KEYFRAME_EVERY_S * VIDEO_FPS),
        "-pix_fmt", "yuv420p",
        "-c:a", "aac", "-b:a", "64k", "-ar", "44100", "-ac", "1",
        "-map_metadata", "-1", "-fflags", "+bitexact", "-flags:v", "+bitexact", "-flags:a", "+bitexact",
        "-movflags", "+faststart",
        str(out_mp4),
    ]  # fmt: skip
    proc = subprocess.run(argv, capture_output=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"ffmpeg failed ({proc.returncode}): {proc.stderr.decode(errors='replace')[-2000:]}")


# --- main ----------------------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "sample_media")
    parser.add_argument("--gif", type=Path, default=DEFAULT_GIF)
    args = parser.parse_args(argv)
    for tool in ("espeak-ng", "ffmpeg"):
        if shutil.which(tool) is None:
            parser.error(f"{tool} not found on PATH")
    if not args.gif.is_file():
        parser.error(f"{args.gif} not found (classroom.gif from intel-iot-devkit/sample-videos)")
    args.out.mkdir(parents=True, exist_ok=True)

    with tempfile.TemporaryDirectory(prefix="sample-lesson-") as tmp:
        work = Path(tmp)
        mix, script = build(work)
        lesson_wav = work / "lesson.wav"
        write_wav(lesson_wav, mix)
        encode(args.gif, lesson_wav, script["duration_s"], work / "lesson.mp4")
        shutil.move(work / "lesson.mp4", args.out / "lesson.mp4")

        teacher = synthesise(SPEAKERS["T"], ENROLMENT_TEXT, work)
        pad = np.zeros(round(0.3 * SAMPLE_RATE))
        enrol = np.concatenate([pad, teacher, pad])
        enrol += room_noise(len(enrol), np.random.default_rng(SEED + 1), ROOM_NOISE_DBFS)
        write_wav(args.out / "teacher_voice.wav", enrol)
        enrol_s = len(enrol) / SAMPLE_RATE
        if not 5.0 <= enrol_s <= 8.0:
            raise RuntimeError(f"teacher_voice.wav is {enrol_s:.1f} s; it should be 5-8 s")

    script["teacher_voice"] = {"file": "teacher_voice.wav", "text": ENROLMENT_TEXT, "duration_s": round(enrol_s, 4)}
    (args.out / "lesson_script.json").write_text(json.dumps(script, indent=1, ensure_ascii=False) + "\n")

    mp4_mb = (args.out / "lesson.mp4").stat().st_size / 1e6
    n_questions = sum(1 for line in script["lines"] if line["question"])
    print(
        f"{args.out / 'lesson.mp4'}: {script['duration_s']:.1f} s, {mp4_mb:.2f} MB,"
        f" {len(script['lines'])} lines, {n_questions} questions; teacher_voice.wav {enrol_s:.1f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
