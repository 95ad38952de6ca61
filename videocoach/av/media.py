"""The media stage: check an uploaded file with ffprobe, then extract its audio safely.

Uploaded lesson recordings are untrusted input, and ffmpeg can do far more than read one file: follow playlists
(HLS, ``ffconcat``), read other local files, open devices (``lavfi``), or spend unbounded time and memory on a
hostile header.  Every call here is therefore fenced in:

* the file must be a regular, non-empty file under the size limit, and is always passed as ``file:<absolute path>``
  (a name that starts with ``-`` can never be read as an option, and no other protocol is reachable);
* ``-protocol_whitelist file`` on every input, and ffprobe runs with ``-format_whitelist`` = our allow-list of
  demuxers, so a playlist or concat script is refused before anything it names is opened;
* containers and codecs come from allow-lists (:data:`ALLOWED_DEMUXERS`, :data:`ALLOWED_VIDEO_CODECS`,
  :data:`ALLOWED_AUDIO_CODECS`); dimensions and duration are bounded by :class:`MediaLimits`;
* after probing, ffmpeg is run with the demuxer forced (``-f <MediaInfo.container>``), ``-nostdin``, a ``-t`` bound
  and a subprocess timeout;
* a cut-off upload (index intact, data missing) is caught twice: :func:`probe` seeks to the last second and must
  find data there (exact for files with audio, best effort for video-only ones), and :func:`extract_audio` refuses
  audio that stops well short of its declared length.  A stage decoding video should compare its frame count
  with ``duration_s`` in the same way.

Other stages that decode the same file (the redaction stage decodes video frames) must use exactly the same
hardened input::

    info = media.probe(path)                      # raises MediaError with a user-facing message
    argv = [ffmpeg_binary(), "-hide_banner", *media.input_args(path, info), "-map", "0:v:0", ...]

:func:`input_args` returns ``-nostdin -protocol_whitelist file -f <demuxer> [demuxer hardening] -i file:<abs path>``.
Map streams explicitly (``0:v:0`` / ``0:a:0``) rather than letting ffmpeg pick one.
"""

from __future__ import annotations

import json
import math
import os
import re
import stat
import subprocess
import tempfile
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from videocoach.av.ffmpeg import FFmpegError, ffmpeg_binary, ffprobe_binary, run, stderr_tail
from videocoach.core.model import MediaInfo, Progress, no_progress

SAMPLE_RATE = 16000  # Hz: what every speech model in the pipeline expects
GiB = 1024**3

# ffprobe's format_name -> its first name, which is what ``-f`` accepts.  Anything not here is refused: playlists
# (hls), concat scripts, image sequences (image2), devices (lavfi, v4l2), pipes and raw streams.
ALLOWED_DEMUXERS: frozenset[str] = frozenset(
    {
        "mov",  # mov,mp4,m4a,3gp,3g2,mj2: phones, most cameras
        "matroska",  # matroska,webm
        "avi",
        "mpegts",  # camcorders (.mts / .m2ts)
        "mpeg",  # MPEG program stream (.mpg, .vob)
        "wav",
        "mp3",
        "flac",
        "ogg",
        "aac",  # raw ADTS
        "gif",
    }
)
ALLOWED_VIDEO_CODECS: frozenset[str] = frozenset(
    {"h264", "hevc", "vp8", "vp9", "av1", "mpeg4", "mpeg2video", "mpeg1video", "mjpeg", "gif", "theora", "h263"}
)
ALLOWED_AUDIO_CODECS: frozenset[str] = frozenset(
    {"aac", "mp3", "mp2", "opus", "vorbis", "flac", "alac", "ac3", "eac3"}
)  # plus every pcm_* (plain samples)

# Extra AVOptions for a forced demuxer: the defaults are already safe, this keeps them so if a default changes.
_DEMUXER_HARDENING: dict[str, tuple[str, ...]] = {
    "mov": ("-enable_drefs", "0", "-use_absolute_path", "0"),  # never follow references to other files
}

_TEXT_SNIFF_BYTES = 4096
_TAIL_CHECK_S = 1.0  # probe reads one packet from the last second: a truncated file has none there
_TAIL_TOLERANCE_S = 3.0  # the audio packet found there must be at most this far before the declared end
# Demuxers whose durations come from an index or header (exact), not estimated from the bit rate: for these a
# shortfall in the decoded audio is a cut-off file.  Estimated ones (mp3, aac, mpegts, mpeg, gif) get more slack.
_EXACT_DURATION_DEMUXERS = frozenset({"mov", "matroska", "wav", "flac", "ogg", "avi"})


class MediaError(ValueError):
    """An input file that cannot or must not be processed.  The message is meant for the user as it stands."""


@dataclass(frozen=True)
class MediaLimits:
    """Bounds on what an upload may be.  Portrait video is allowed: the box is compared either way round."""

    max_bytes: int = 8 * GiB  # a 50-minute 1080p lesson is about 2-4 GiB
    max_duration_s: float = 3 * 3600.0  # 3 h
    max_width: int = 3840  # 4K UHD
    max_height: int = 2160
    probe_timeout_s: float = 30.0
    decode_timeout_floor_s: float = 60.0
    decode_timeout_s_per_media_s: float = 0.5  # a 3 h lesson may take up to 90 min to decode: generous

    def decode_timeout_s(self, duration_s: float) -> float:
        """How long one full decode of ``duration_s`` of media may take before it is killed."""
        return self.decode_timeout_floor_s + self.decode_timeout_s_per_media_s * max(0.0, duration_s)


DEFAULT_LIMITS = MediaLimits()


# --- probing -----------------------------------------------------------------------------------------------------


def probe(path: str | os.PathLike[str], limits: MediaLimits = DEFAULT_LIMITS) -> MediaInfo:
    """Check ``path`` against the allow-lists and limits; return what ffprobe says about it.

    Raises :class:`MediaError` (one clear sentence, with ffprobe's stderr where it helps) for anything that is not a
    readable, allowed, bounded audio or video file.  ``MediaInfo.container`` is the demuxer name to force with ``-f``.
    """
    path = Path(path)
    name = path.name or str(path)
    abs_path, size_bytes = _regular_file(path, limits)

    argv = [
        ffprobe_binary(),
        "-hide_banner",
        "-v",
        "error",
        "-protocol_whitelist",
        "file",
        "-format_whitelist",
        ",".join(sorted(ALLOWED_DEMUXERS)),
        "-print_format",
        "json",
        "-show_format",
        "-show_streams",
        f"file:{abs_path}",
    ]
    try:
        out = run(argv, timeout_s=limits.probe_timeout_s)
    except FFmpegError as exc:
        raise _probe_failure(name, abs_path, str(exc)) from None
    try:
        data = json.loads(out.decode("utf-8", "replace"))
    except json.JSONDecodeError:
        raise MediaError(f"{name}: the file is truncated or corrupt (ffprobe gave unreadable output)") from None

    fmt = data.get("format") or {}
    format_name = str(fmt.get("format_name") or "")
    demuxer = format_name.split(",")[0]
    if demuxer not in ALLOWED_DEMUXERS:
        raise MediaError(f"{name}: not a supported video (container {format_name or 'unknown'!r} not allowed)")

    streams = data.get("streams") or []
    video = [s for s in streams if s.get("codec_type") == "video" and not _is_attached_picture(s)]
    audio = [s for s in streams if s.get("codec_type") == "audio"]
    if not video and not audio:
        raise MediaError(f"{name}: the file has no audio or video streams")
    for s in video:
        codec = str(s.get("codec_name") or "unknown")
        if codec not in ALLOWED_VIDEO_CODECS:
            raise MediaError(f"{name}: not a supported video (video codec {codec!r} not allowed)")
        width, height = int(s.get("width") or 0), int(s.get("height") or 0)
        if width <= 0 or height <= 0:
            raise MediaError(f"{name}: the file is truncated or corrupt (a video stream has no picture size)")
        if not _fits(width, height, limits):
            limit = f"{limits.max_width}x{limits.max_height}"
            raise MediaError(f"{name}: the video is too large ({width}x{height}; the limit is {limit})")
    for s in audio:
        codec = str(s.get("codec_name") or "unknown")
        if codec not in ALLOWED_AUDIO_CODECS and not codec.startswith("pcm_"):
            raise MediaError(f"{name}: not a supported recording (audio codec {codec!r} not allowed)")

    duration_s = _duration_s(fmt, streams)
    if duration_s is None:
        raise MediaError(f"{name}: the file is truncated or corrupt (ffprobe reports no duration)")
    if duration_s <= 0:
        raise MediaError(f"{name}: the recording has zero length")
    if duration_s > limits.max_duration_s:
        raise MediaError(f"{name}: too long ({_hms(duration_s)}; the limit is {_hms(limits.max_duration_s)})")

    info = MediaInfo(
        duration_s=duration_s,
        container=demuxer,
        has_audio=bool(audio),
        has_video=bool(video),
        audio_codec=str(audio[0].get("codec_name")) if audio else None,
        video_codec=str(video[0].get("codec_name")) if video else None,
        width=int(video[0].get("width") or 0) if video else 0,
        height=int(video[0].get("height") or 0) if video else 0,
        fps=_fps(video[0]) if video else 0.0,
        size_bytes=size_bytes,
    )
    start_s = _float_or_none(fmt.get("start_time")) or 0.0
    audio_end_s = _stream_duration_s(audio[0], duration_s) if audio else None
    _check_tail_readable(name, abs_path, info, limits, start_s=start_s, audio_end_s=audio_end_s)
    return info


def input_args(path: str | os.PathLike[str], info: MediaInfo) -> list[str]:
    """The hardened ffmpeg input for a probed file: ``-nostdin -protocol_whitelist file -f <demuxer> ... -i file:...``.

    Put it after the ffmpeg binary (and global options such as ``-hide_banner``), before output options.  Refuses a
    ``MediaInfo`` whose container is not on the allow-list, so an unprobed file cannot slip through.
    """
    path = Path(path)
    if info.container not in ALLOWED_DEMUXERS:
        raise MediaError(f"{path.name}: not a supported video (container {info.container!r} not allowed)")
    abs_path = path.resolve(strict=False)
    try:
        mode = abs_path.stat().st_mode
    except OSError as exc:
        raise MediaError(f"{path.name}: the file cannot be read ({exc.strerror})") from None
    if not stat.S_ISREG(mode):
        raise MediaError(f"{path.name}: not a regular file")
    return ["-nostdin", *_demuxer_args(info), "-i", f"file:{abs_path}"]


def _demuxer_args(info: MediaInfo) -> list[str]:
    return ["-protocol_whitelist", "file", "-f", info.container, *_DEMUXER_HARDENING.get(info.container, ())]


# --- audio extraction ----------------------------------------------------------------------------------------------


def extract_audio(
    path: str | os.PathLike[str],
    out_wav: str | os.PathLike[str],
    info: MediaInfo | None = None,
    *,
    sample_rate: int = SAMPLE_RATE,
    limits: MediaLimits = DEFAULT_LIMITS,
    progress: Progress = no_progress,
) -> Path:
    """Decode the first audio track to a mono 16-bit WAV at ``sample_rate``; return ``out_wav``.

    Probes first unless ``info`` is given.  Writes to a temporary name beside ``out_wav`` and renames it into place,
    so a failure (MediaError, timeout, a progress callback that raises) leaves nothing at ``out_wav``.  A file whose
    audio stops well short of its declared duration is refused as truncated.
    """
    path, out_wav = Path(path), Path(out_wav)
    name = path.name
    if info is None:
        info = probe(path, limits)
    if not info.has_audio:
        raise MediaError(f"{name}: the video has no audio track")
    if sample_rate <= 0:
        raise ValueError(f"sample_rate must be positive, got {sample_rate}")

    bound_s = min(info.duration_s, limits.max_duration_s) + 1.0  # -t: never decode past the declared length
    timeout_s = limits.decode_timeout_s(bound_s)
    out_wav.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_wav.parent / f".{out_wav.name}.{uuid.uuid4().hex[:12]}.part"
    argv = [
        ffmpeg_binary(),
        "-hide_banner",
        "-v",
        "error",
        *input_args(path, info),
        "-map",
        "0:a:0",
        "-vn",
        "-sn",
        "-dn",
        "-ac",
        "1",
        "-ar",
        str(sample_rate),
        "-c:a",
        "pcm_s16le",
        "-t",
        f"{bound_s:.3f}",
        "-f",
        "wav",
        "-progress",
        "pipe:1",
        "-nostats",
        "-y",
        f"file:{tmp.resolve()}",
    ]
    stage = "extract_audio"
    progress(stage, 0.0)
    try:
        stderr = _run_with_progress(argv, timeout_s, info.duration_s, lambda f: progress(stage, f))
        got_s = _wav_duration_s(tmp)
        expected_s = info.duration_s
        if _short(got_s, expected_s, info):
            # an audio track may legitimately end before the video: compare with its own declared length
            expected_s = _declared_audio_end_s(path.resolve(), info, limits) or expected_s
        if _short(got_s, expected_s, info):
            tail = _clean(stderr_tail(stderr, 4), path.resolve(), name, skip_first_line=False)
            raise MediaError(
                f"{name}: the file is truncated or corrupt (audio ends at {got_s:.1f} s of {expected_s:.1f} s"
                + (f"; ffmpeg: {tail})" if tail else ")")
            )
        os.replace(tmp, out_wav)
    except FFmpegError as exc:
        detail = _clean(str(exc), path.resolve(), name, skip_first_line=False)
        raise MediaError(f"{name}: the audio could not be decoded ({detail})") from None
    finally:
        tmp.unlink(missing_ok=True)
    progress(stage, 1.0)
    return out_wav


def load_wav(path: str | os.PathLike[str]) -> np.ndarray:
    """A 16 kHz WAV (as :func:`extract_audio` writes) as float32 mono samples in [-1, 1]."""
    import soundfile

    samples, sr = soundfile.read(str(path), dtype="float32", always_2d=True)
    if sr != SAMPLE_RATE:
        raise MediaError(f"{Path(path).name}: expected {SAMPLE_RATE} Hz audio, got {sr} Hz")
    return np.ascontiguousarray(samples.mean(axis=1, dtype=np.float32))


# --- helpers -------------------------------------------------------------------------------------------------------


def _regular_file(path: Path, limits: MediaLimits) -> tuple[Path, int]:
    name = path.name or str(path)
    try:
        abs_path = path.resolve(strict=True)
        st = abs_path.stat()
    except FileNotFoundError:
        raise MediaError(f"{name}: the file does not exist") from None
    except OSError as exc:
        raise MediaError(f"{name}: the file cannot be read ({exc.strerror})") from None
    if not stat.S_ISREG(st.st_mode):  # a fifo or device would hang or stream forever
        raise MediaError(f"{name}: not a regular file")
    if st.st_size == 0:
        raise MediaError(f"{name}: the file is empty (0 bytes)")
    if st.st_size > limits.max_bytes:
        raise MediaError(
            f"{name}: the file is too big ({st.st_size / GiB:.1f} GiB; the limit is {limits.max_bytes / GiB:g} GiB)"
        )
    if not os.access(abs_path, os.R_OK):
        raise MediaError(f"{name}: the file cannot be read (permission denied)")
    return abs_path, st.st_size


_NOT_WHITELISTED = re.compile(r"\[([\w,]+) @ 0x[0-9a-fA-F]+\] Format not on whitelist")


def _probe_failure(name: str, abs_path: Path, message: str) -> MediaError:
    if "timed out" in message.splitlines()[0]:
        return MediaError(f"{name}: ffprobe took too long to read the file; it may be corrupt or hostile")
    found = _NOT_WHITELISTED.search(message)
    if found:
        kind = {"hls": "a playlist", "concat": "a concat script", "image2": "an image"}.get(found.group(1), "")
        what = f": it is {kind}" if kind else ""
        return MediaError(f"{name}: not a supported video (container {found.group(1)!r} not allowed{what})")
    if _looks_like_text(abs_path):
        return MediaError(f"{name}: not a supported video (it is a text file)")
    detail = _clean(message, abs_path, name)
    return MediaError(f"{name}: the file is truncated or corrupt, or not a video (ffprobe: {detail})")


def _clean(message: str, abs_path: Path, name: str, *, skip_first_line: bool = True) -> str:
    """ffmpeg's stderr for a user: one line, without our server path, object addresses or the exit-status line."""
    lines = [line.strip() for line in message.splitlines()[1 if skip_first_line else 0 :] if line.strip()]
    text = "; ".join(lines).replace(f"file:{abs_path}", name).replace(str(abs_path), name)
    return re.sub(r" @ 0x[0-9a-fA-F]+\]", "]", text)[-300:]


def _looks_like_text(path: Path) -> bool:
    try:
        with path.open("rb") as f:
            head = f.read(_TEXT_SNIFF_BYTES)
    except OSError:
        return False
    if not head or b"\0" in head:
        return False
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 4:  # a multi-byte character cut at the end is still text
            return False
    return True


def _is_attached_picture(stream: dict) -> bool:
    return bool((stream.get("disposition") or {}).get("attached_pic"))


def _fits(width: int, height: int, limits: MediaLimits) -> bool:
    long_side, short_side = max(width, height), min(width, height)
    return long_side <= max(limits.max_width, limits.max_height) and short_side <= min(
        limits.max_width, limits.max_height
    )


def _hms(seconds: float) -> str:
    """A duration for a message: "4.1 h", "12 min", "3.0 s"."""
    if seconds >= 3600:
        return f"{seconds / 3600:.1f} h"
    if seconds >= 60:
        return f"{seconds / 60:.0f} min"
    return f"{seconds:.1f} s"


def _float_or_none(value: object) -> float | None:
    try:
        x = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) else None


def _duration_s(fmt: dict, streams: list[dict]) -> float | None:
    duration = _float_or_none(fmt.get("duration"))
    if duration is not None:
        return duration
    per_stream = [d for d in (_float_or_none(s.get("duration")) for s in streams) if d is not None]
    return max(per_stream) if per_stream else None


def _fps(stream: dict) -> float:
    for key in ("avg_frame_rate", "r_frame_rate"):
        num, _, den = str(stream.get(key) or "0/0").partition("/")
        n, d = _float_or_none(num), _float_or_none(den or "1")
        if n and d:
            return n / d
    return 0.0


def _short(got_s: float, expected_s: float, info: MediaInfo) -> bool:
    if info.container in _EXACT_DURATION_DEMUXERS:
        return expected_s - got_s > max(1.0, 0.01 * expected_s)
    return expected_s - got_s > max(2.0, 0.05 * expected_s)


def _stream_duration_s(stream: dict, container_s: float) -> float:
    """A stream's own length: its duration, or Matroska's DURATION tag ("00:01:02.500000000"), else the file's."""
    seconds = _float_or_none(stream.get("duration"))
    if seconds is None:
        tag = str((stream.get("tags") or {}).get("DURATION") or "")
        h, _, rest = tag.partition(":")
        m, _, sec = rest.partition(":")
        parts = [_float_or_none(x) for x in (h, m, sec)]
        if all(x is not None for x in parts):
            seconds = parts[0] * 3600 + parts[1] * 60 + parts[2]  # type: ignore[operator]
    return min(seconds, container_s) if seconds is not None and seconds > 0 else container_s


def _declared_audio_end_s(abs_path: Path, info: MediaInfo, limits: MediaLimits) -> float | None:
    """The first audio stream's declared length, or None when ffprobe cannot say (the caller then fails closed)."""
    argv = [
        ffprobe_binary(),
        "-hide_banner",
        "-v",
        "error",
        *_demuxer_args(info),
        "-select_streams",
        "a:0",
        "-show_entries",
        "stream=duration:stream_tags=DURATION",
        "-print_format",
        "json",
        f"file:{abs_path}",
    ]
    try:
        streams = json.loads(run(argv, timeout_s=limits.probe_timeout_s).decode("utf-8", "replace")).get("streams")
    except (FFmpegError, json.JSONDecodeError):
        return None
    return _stream_duration_s(streams[0], info.duration_s) if streams else None


def _check_tail_readable(
    name: str, abs_path: Path, info: MediaInfo, limits: MediaLimits, *, start_s: float, audio_end_s: float | None
) -> None:
    """Seek to the last second and read one packet: a cut-off upload has its index but not its data there.

    With audio, the packet found must also lie near the audio's declared end (a Matroska file cut short seeks to
    whatever data is left).  Best effort for video-only files with long keyframe intervals (the seek lands on an
    earlier keyframe); :func:`extract_audio` checks the decoded length as well.
    """
    end_s = audio_end_s if info.has_audio and audio_end_s is not None else info.duration_s
    at_s = max(0.0, start_s + end_s - _TAIL_CHECK_S)
    argv = [
        ffprobe_binary(),
        "-hide_banner",
        "-v",
        "error",
        *_demuxer_args(info),  # the same hardened input as input_args (ffprobe takes the url bare)
        *(["-select_streams", "a:0"] if info.has_audio else []),  # audio seeks exactly; video to a keyframe
        "-read_intervals",
        f"{at_s:.3f}%+#1",
        "-show_entries",
        "packet=pts_time",
        "-print_format",
        "json",
        f"file:{abs_path}",
    ]
    try:
        out = run(argv, timeout_s=limits.probe_timeout_s)
        packets = json.loads(out.decode("utf-8", "replace")).get("packets") or []
    except FFmpegError as exc:
        detail = _clean(str(exc), abs_path, name)
        raise MediaError(f"{name}: the file is truncated or corrupt (ffprobe: {detail})") from None
    except json.JSONDecodeError:
        packets = []
    if not packets:
        raise MediaError(f"{name}: the file is truncated or corrupt (its last second cannot be read)")
    if info.has_audio and info.container in _EXACT_DURATION_DEMUXERS:
        found_s = max((_float_or_none(p.get("pts_time")) or 0.0) for p in packets) - start_s
        if found_s < end_s - _TAIL_TOLERANCE_S:
            raise MediaError(
                f"{name}: the file is truncated or corrupt (its audio stops near {found_s:.1f} s of {end_s:.1f} s)"
            )


def _run_with_progress(argv: list[str], timeout_s: float, duration_s: float, report) -> str:
    """Run ffmpeg with ``-progress pipe:1``; report the fraction done as it streams; return its stderr.

    Raises FFmpegError on a non-zero exit or when it runs past ``timeout_s`` (it is killed).
    """
    with tempfile.TemporaryFile() as err:  # a file, not a pipe: a chatty stderr cannot block ffmpeg
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=err)
        timed_out = threading.Event()

        def _kill() -> None:
            timed_out.set()
            proc.kill()

        watchdog = threading.Timer(timeout_s, _kill)
        watchdog.daemon = True
        watchdog.start()
        try:
            assert proc.stdout is not None
            for raw in proc.stdout:
                key, _, value = raw.decode("ascii", "replace").strip().partition("=")
                if key == "out_time_us" and duration_s > 0:
                    us = _float_or_none(value)
                    if us is not None and us >= 0:
                        report(min(1.0, us / 1e6 / duration_s))
            returncode = proc.wait()
        finally:
            watchdog.cancel()
            proc.stdout.close()
            if proc.poll() is None:  # the progress callback raised: stop ffmpeg before propagating
                proc.kill()
                proc.wait()
        err.seek(0)
        stderr = err.read().decode("utf-8", "replace")
    if timed_out.is_set():
        raise FFmpegError(f"ffmpeg timed out after {timeout_s:.0f} s\n{stderr_tail(stderr)}")
    if returncode != 0:
        raise FFmpegError(f"ffmpeg exited with {returncode}\n{stderr_tail(stderr)}")
    return stderr


def _wav_duration_s(path: Path) -> float:
    import soundfile

    try:
        info = soundfile.info(str(path))
    except RuntimeError as exc:  # soundfile raises LibsndfileError (a RuntimeError) on unreadable files
        raise FFmpegError(f"ffmpeg wrote no readable WAV: {exc}") from None
    return info.frames / info.samplerate


__all__ = [
    "ALLOWED_AUDIO_CODECS",
    "ALLOWED_DEMUXERS",
    "ALLOWED_VIDEO_CODECS",
    "DEFAULT_LIMITS",
    "MediaError",
    "MediaLimits",
    "SAMPLE_RATE",
    "extract_audio",
    "input_args",
    "load_wav",
    "probe",
]
