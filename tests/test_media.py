"""The media stage on real files: the sample lesson, and hostile or broken inputs made with real ffmpeg.

Every bad input must raise one clear MediaError and leave nothing behind (no output WAV, no temp file).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile

from conftest import SAMPLE_MEDIA
from videocoach.av import media
from videocoach.av.ffmpeg import ffmpeg_binary
from videocoach.av.media import MediaError, MediaLimits

LESSON = SAMPLE_MEDIA / "lesson.mp4"
SCRIPT = SAMPLE_MEDIA / "lesson_script.json"


def _ffmpeg(out: Path, *args: str) -> Path:
    """Test media from ffmpeg's lavfi sources (fine here: the lavfi ban is for user input)."""
    subprocess.run([ffmpeg_binary(), "-v", "error", "-nostdin", "-y", *args, str(out)], check=True, timeout=120)
    return out


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("clips")
    av = ["-f", "lavfi", "-i", "testsrc=size=160x120:rate=25:duration=3",
          "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100:duration=3"]  # fmt: skip
    x264 = ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-g", "25"]
    return {
        "av": _ffmpeg(d / "av.mp4", *av, *x264, "-c:a", "aac", "-shortest", "-movflags", "+faststart"),
        "video_only": _ffmpeg(d / "video_only.mp4", *av[:4], *x264),
        "audio_only": _ffmpeg(d / "audio_only.m4a", *av[4:], "-c:a", "aac"),
        "silent": _ffmpeg(
            d / "silent.mkv", *av[:4], "-f", "lavfi", "-i", "anullsrc=r=48000:cl=stereo", *x264,
            "-c:a", "libopus", "-shortest",
        ),  # fmt: skip
        "short_audio": _ffmpeg(
            d / "short_audio.mp4", *av[:4], "-f", "lavfi", "-i", "sine=frequency=440:duration=1.5", *x264,
            "-c:a", "aac",
        ),  # fmt: skip
        "long_mkv": _ffmpeg(
            d / "long.mkv", "-f", "lavfi", "-i", "testsrc=size=160x120:rate=25:duration=10",
            "-f", "lavfi", "-i", "sine=frequency=440:duration=10", *x264, "-c:a", "libopus",
        ),  # fmt: skip
        "huge": _ffmpeg(
            d / "huge.mp4", "-f", "lavfi", "-i", "color=c=gray:size=4000x4000:rate=1", "-frames:v", "1",
            "-c:v", "libx264", "-preset", "ultrafast",
        ),  # fmt: skip
    }


def _leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


def _assert_refused(path: Path, tmp_path: Path, *fragments: str, info=None) -> MediaError:
    """probe (or extract_audio with a given info) refuses with a message naming the file; nothing is written."""
    out_dir = tmp_path / "out"
    out_dir.mkdir(exist_ok=True)
    before = _leftovers(out_dir)
    with pytest.raises(MediaError) as caught:
        media.extract_audio(path, out_dir / "audio.wav", info)
    message = str(caught.value)
    assert message.startswith(f"{path.name}: "), message
    for fragment in fragments:
        assert fragment in message, message
    assert "Traceback" not in message and " @ 0x" not in message and str(path.parent) not in message, message
    assert _leftovers(out_dir) == before, "a failed extraction left files behind"
    return caught.value


# --- the sample lesson ------------------------------------------------------------------------------------------------


def test_probe_sample_lesson():
    script = json.loads(SCRIPT.read_text())
    info = media.probe(LESSON)
    assert abs(info.duration_s - script["duration_s"]) < 0.1
    assert info.container == "mov"
    assert info.has_audio and info.has_video
    assert (info.audio_codec, info.video_codec) == ("aac", "h264")
    assert (info.width, info.height, round(info.fps)) == (1280, 720, 25)
    assert info.size_bytes == LESSON.stat().st_size


def test_extract_sample_lesson(tmp_path):
    script = json.loads(SCRIPT.read_text())
    fractions: list[float] = []
    out = media.extract_audio(LESSON, tmp_path / "lesson.wav", progress=lambda stage, f: fractions.append(f))
    assert out == tmp_path / "lesson.wav"
    sf_info = soundfile.info(str(out))
    assert (sf_info.samplerate, sf_info.channels, sf_info.subtype) == (16000, 1, "PCM_16")
    assert abs(sf_info.frames / sf_info.samplerate - script["duration_s"]) < 0.1
    # progress streams from ffmpeg: starts at 0, never goes back, ends at 1, with steps in between
    assert fractions[0] == 0.0 and fractions[-1] == 1.0
    assert fractions == sorted(fractions) and len(set(fractions)) >= 3
    samples = media.load_wav(out)
    assert samples.dtype == np.float32 and samples.ndim == 1 and len(samples) == sf_info.frames
    assert _leftovers(tmp_path) == ["lesson.wav"]


# --- hostile and broken inputs ----------------------------------------------------------------------------------------


def test_zero_byte_file(tmp_path):
    empty = tmp_path / "lesson.mp4"
    empty.touch()
    _assert_refused(empty, tmp_path, "empty (0 bytes)")


def test_truncated_mp4_refused_by_probe(tmp_path):
    cut = tmp_path / "cut.mp4"
    data = LESSON.read_bytes()
    cut.write_bytes(data[: int(len(data) * 0.3)])  # faststart: the index survives, the media data does not
    _assert_refused(cut, tmp_path, "truncated or corrupt")


def test_truncated_mp4_refused_by_extract_even_with_a_stale_probe(tmp_path):
    """If the probe is skipped (info from the whole file), decoding itself notices the audio stops short."""
    info = media.probe(LESSON)
    cut = tmp_path / "cut.mp4"
    data = LESSON.read_bytes()
    cut.write_bytes(data[: int(len(data) * 0.3)])
    _assert_refused(cut, tmp_path, "truncated or corrupt", "audio ends at", info=info)


def test_truncated_matroska(tmp_path, clips):
    """Matroska cut short still seeks somewhere: the audio found near the end must be near the declared end."""
    cut = tmp_path / "cut.mkv"
    data = clips["long_mkv"].read_bytes()
    cut.write_bytes(data[: int(len(data) * 0.3)])
    _assert_refused(cut, tmp_path, "truncated or corrupt", "audio stops near")
    whole = media.probe(clips["long_mkv"])
    _assert_refused(cut, tmp_path, "truncated or corrupt", "audio ends at", info=whole)


def test_audio_track_shorter_than_the_video_is_not_truncation(tmp_path, clips):
    info = media.probe(clips["short_audio"])
    assert info.has_audio and abs(info.duration_s - 3.0) < 0.1
    samples = media.load_wav(media.extract_audio(clips["short_audio"], tmp_path / "a.wav", info))
    assert abs(len(samples) / media.SAMPLE_RATE - 1.5) < 0.1


def test_random_bytes_named_mp4(tmp_path):
    junk = tmp_path / "lesson.mp4"
    junk.write_bytes(np.random.default_rng(0).integers(0, 256, 100_000, dtype=np.uint8).tobytes())
    _assert_refused(junk, tmp_path, "truncated or corrupt, or not a video")


def test_text_file(tmp_path):
    text = tmp_path / "notes.mp4"
    text.write_text("Lesson notes: ask more open questions.\n" * 20)
    _assert_refused(text, tmp_path, "text file")


def _opened_while_probing(target: Path, action) -> bool:
    """Did ``action`` open ``target`` (a FIFO)?  A writer blocks until some reader opens the FIFO."""
    os.mkfifo(target)
    released = threading.Event()
    opened: list[bool] = []

    def writer() -> None:
        fd = os.open(target, os.O_WRONLY)
        opened.append(not released.is_set())
        os.close(fd)

    thread = threading.Thread(target=writer, daemon=True)
    thread.start()
    try:
        action()
    finally:
        time.sleep(0.3)
        released.set()
        fd = os.open(target, os.O_RDONLY | os.O_NONBLOCK)  # let the writer finish
        thread.join(5)
        os.close(fd)
    return any(opened)


def test_hls_playlist_is_refused_and_never_followed(tmp_path):
    segment = tmp_path / "segment.ts"
    playlist = tmp_path / "lesson.m3u8"
    playlist.write_text(f"#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:10,\n{segment}\n#EXT-X-ENDLIST\n")

    def attempt() -> None:
        with pytest.raises(MediaError, match="container 'hls' not allowed"):
            media.probe(playlist)

    assert not _opened_while_probing(segment, attempt), "ffprobe followed the playlist"
    assert not any(p.name.endswith(".wav") for p in tmp_path.iterdir())


def test_ffconcat_is_refused_and_never_followed(tmp_path):
    target = tmp_path / "elsewhere.mp4"
    script = tmp_path / "lesson.mp4"  # disguised as an mp4
    script.write_text("ffconcat version 1.0\nfile elsewhere.mp4\n")  # relative: ffmpeg's concat calls that safe

    def attempt() -> None:
        _assert_refused(script, tmp_path, "container 'concat' not allowed")

    assert not _opened_while_probing(target, attempt), "ffprobe followed the concat script"


def test_protocol_syntax_in_a_name_is_just_a_name(tmp_path, clips, monkeypatch):
    """A file called ``concat:av.mp4|av.mp4`` is read as that one local file, never as ffmpeg's concat protocol."""
    monkeypatch.chdir(tmp_path)
    shutil.copy(clips["av"], tmp_path / "av.mp4")  # what the concat protocol would read: it has video
    shutil.copy(clips["audio_only"], tmp_path / "concat:av.mp4|av.mp4")  # the file itself has none
    info = media.probe(Path("concat:av.mp4|av.mp4"))
    assert info.has_audio and not info.has_video


@pytest.mark.parametrize("name", ["photo.png", "frame%03d.png"])
def test_still_images_and_image_sequences_are_refused(tmp_path, name):
    image = _ffmpeg(tmp_path / name, "-f", "lavfi", "-i", "color=c=red:size=64x64", "-frames:v", "1", "-update", "1")
    _assert_refused(image, tmp_path, "not allowed")


def test_fifo_and_missing_files(tmp_path):
    fifo = tmp_path / "upload.mp4"
    os.mkfifo(fifo)
    _assert_refused(fifo, tmp_path, "not a regular file")
    _assert_refused(tmp_path / "gone.mp4", tmp_path, "does not exist")


def test_huge_declared_dimensions(tmp_path, clips):
    _assert_refused(clips["huge"], tmp_path, "too large (4000x4000")


def test_portrait_4k_is_within_the_limits():
    limits = MediaLimits()
    assert media._fits(2160, 3840, limits) and media._fits(3840, 2160, limits)
    assert not media._fits(2161, 3840, limits) and not media._fits(4000, 100, limits)


def test_duration_and_size_limits(tmp_path, clips):
    with pytest.raises(MediaError, match=r"too long \(3\.0 s; the limit is 1\.8 s\)"):
        media.probe(clips["av"], MediaLimits(max_duration_s=1.8))
    with pytest.raises(MediaError, match="too big"):
        media.probe(clips["av"], MediaLimits(max_bytes=1000))


def test_audio_only_file(tmp_path, clips):
    info = media.probe(clips["audio_only"])
    assert info.has_audio and not info.has_video and (info.width, info.height) == (0, 0)
    out = media.extract_audio(clips["audio_only"], tmp_path / "a.wav", info)
    samples = media.load_wav(out)
    assert abs(len(samples) / media.SAMPLE_RATE - 3.0) < 0.1
    # a 440 Hz tone: the strongest frequency in the decoded audio
    spectrum = np.abs(np.fft.rfft(samples[: media.SAMPLE_RATE]))
    assert abs(np.argmax(spectrum) - 440) <= 2


def test_video_without_audio(tmp_path, clips):
    info = media.probe(clips["video_only"])
    assert info.has_video and not info.has_audio
    _assert_refused(clips["video_only"], tmp_path, "no audio track", info=info)


@pytest.mark.parametrize("name", ["lesson with spaces.mp4", "leçon ünïcode 課堂.mp4", "-lesson.mp4", "--help.mp4"])
def test_awkward_names(tmp_path, clips, monkeypatch, name):
    monkeypatch.chdir(tmp_path)  # so a leading dash reaches us as a relative path, the dangerous case
    shutil.copy(clips["av"], tmp_path / name)
    info = media.probe(Path(name))
    assert info.has_audio and info.has_video
    out = media.extract_audio(Path(name), Path(f"-{name}.wav"), info)
    assert abs(len(media.load_wav(out)) / media.SAMPLE_RATE - 3.0) < 0.1


def test_silent_lesson(tmp_path, clips):
    out = media.extract_audio(clips["silent"], tmp_path / "silent.wav")
    samples = media.load_wav(out)
    assert abs(len(samples) / media.SAMPLE_RATE - 3.0) < 0.1
    assert float(np.abs(samples).max()) < 1e-3


def test_timeout_kills_ffmpeg_and_leaves_nothing(tmp_path):
    limits = MediaLimits(decode_timeout_floor_s=0.001, decode_timeout_s_per_media_s=0.0)
    info = media.probe(LESSON)
    with pytest.raises(MediaError, match="timed out"):
        media.extract_audio(LESSON, tmp_path / "a.wav", info, limits=limits)
    assert _leftovers(tmp_path) == []


def test_failing_progress_callback_leaves_nothing(tmp_path, clips):
    class Cancelled(Exception):
        pass

    def cancel(stage: str, fraction: float) -> None:
        if fraction > 0:
            raise Cancelled

    with pytest.raises(Cancelled):
        media.extract_audio(LESSON, tmp_path / "a.wav", progress=cancel)
    assert _leftovers(tmp_path) == []


def test_input_args_decode_a_frame(tmp_path, clips):
    """The redaction stage's entry: the hardened prefix decodes video, and refuses an unprobed container."""
    info = media.probe(clips["av"])
    args = media.input_args(clips["av"], info)
    assert args[:5] == ["-nostdin", "-protocol_whitelist", "file", "-f", "mov"]
    assert args[-2:] == ["-i", f"file:{clips['av'].resolve()}"]
    frame = subprocess.run(
        [ffmpeg_binary(), "-v", "error", *args, "-map", "0:v:0", "-frames:v", "1", "-f", "rawvideo",
         "-pix_fmt", "gray", "pipe:1"],
        capture_output=True, check=True, timeout=30,
    ).stdout  # fmt: skip
    assert len(frame) == 160 * 120
    forged = media.MediaInfo(duration_s=3.0, container="hls", has_audio=True, has_video=True)
    with pytest.raises(MediaError, match="'hls' not allowed"):
        media.input_args(clips["av"], forged)


def test_load_wav_refuses_other_rates(tmp_path):
    wav = tmp_path / "a.wav"
    soundfile.write(str(wav), np.zeros(800, dtype=np.float32), 8000)
    with pytest.raises(MediaError, match="expected 16000 Hz"):
        media.load_wav(wav)
