"""Raw video frames in and out of ffmpeg through pipes.

``FrameReader`` decodes a probed input (always through ``media.input_args``: the hardened input) to ``bgr24`` frames
at a constant frame rate and yields ``Frame(index, t_s, image)``; ``FrameWriter`` takes frames on stdin and encodes
H.264 (libx264, yuv420p, a keyframe every ``keyframe_s``, ``+faststart``), optionally muxing the audio of the
original (re-encoded to AAC), with every metadata tag, chapter, subtitle and data stream dropped.

Both run ffmpeg in a subprocess with its stderr captured to a temporary file (carried into ``FFmpegError``), an
overall time limit (the process is killed), a stall limit on every pipe read or write, and a background thread so
that decoding, Python work and encoding overlap.  Leaving the ``with`` block through an exception kills ffmpeg; the
writer then leaves whatever partial file it wrote for the caller to delete (``redact`` writes to a temporary name).
"""

from __future__ import annotations

import os
import queue
import select
import subprocess
import tempfile
import threading
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from videocoach.av.ffmpeg import FFmpegError, ffmpeg_binary, stderr_tail
from videocoach.core.model import MediaInfo

STALL_TIMEOUT_S = 120.0  # no byte through a pipe for this long: ffmpeg is stuck
QUEUE_FRAMES = 4  # frames buffered between a pipe thread and the caller (4 x 2.7 MB at 720p)
_END = object()


def rational_fps(fps: float) -> Fraction:
    """29.97 -> 30000/1001: a rational ffmpeg takes exactly."""
    if not fps > 0:
        raise ValueError(f"fps must be positive, got {fps!r}")
    return Fraction(fps).limit_denominator(1001)


@dataclass(frozen=True)
class Frame:
    index: int
    t_s: float
    image: np.ndarray  # H x W x 3 uint8, BGR


class _Proc:
    """An ffmpeg subprocess with stderr in a temp file, an overall deadline and a kill switch."""

    def __init__(self, argv: list[str], *, timeout_s: float, stdin: bool, stdout: bool) -> None:
        self.argv = argv
        self.timeout_s = timeout_s
        self._err = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(
            argv,
            stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
            stdout=subprocess.PIPE if stdout else subprocess.DEVNULL,
            stderr=self._err,
            bufsize=0,
        )
        self.timed_out = threading.Event()
        self._timer = threading.Timer(timeout_s, self._expire)
        self._timer.daemon = True
        self._timer.start()

    def _expire(self) -> None:
        self.timed_out.set()
        self.kill()

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()

    def stderr(self) -> str:
        try:
            self._err.seek(0)
            return self._err.read().decode("utf-8", "replace")
        except (OSError, ValueError):
            return ""

    def error(self, what: str) -> FFmpegError:
        if self.timed_out.is_set():
            return FFmpegError(f"ffmpeg {what} timed out after {self.timeout_s:.0f} s\n{stderr_tail(self.stderr())}")
        rc = self.proc.poll()
        return FFmpegError(f"ffmpeg {what} failed (exit {rc})\n{stderr_tail(self.stderr())}")

    def wait(self, timeout_s: float) -> int:
        try:
            return self.proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self.kill()
            return self.proc.wait()

    def cleanup(self) -> None:
        self._timer.cancel()
        self.kill()
        for pipe in (self.proc.stdin, self.proc.stdout):
            if pipe is not None:
                try:
                    pipe.close()
                except OSError:
                    pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        self._err.close()


def _read_exact(fd: int, buf: memoryview, stall_s: float) -> int:
    """Fill ``buf`` from a pipe; return the bytes read (less than asked only at end of stream)."""
    got = 0
    while got < len(buf):
        ready, _, _ = select.select([fd], [], [], stall_s)
        if not ready:
            raise TimeoutError(f"no data from ffmpeg for {stall_s:.0f} s")
        n = os.readv(fd, [buf[got:]])
        if n == 0:
            break
        got += n
    return got


def _write_all(fd: int, data: memoryview, stall_s: float) -> None:
    sent = 0
    while sent < len(data):
        _, ready, _ = select.select([], [fd], [], stall_s)
        if not ready:
            raise TimeoutError(f"ffmpeg took no data for {stall_s:.0f} s")
        sent += os.write(fd, data[sent:])


def display_size(path: str | os.PathLike[str], info: MediaInfo) -> tuple[int, int]:
    """Width and height of the frames ffmpeg decodes: a phone video rotated by 90/270 degrees comes out portrait.

    ``MediaInfo`` holds the coded size; ffmpeg applies the display rotation when decoding (and we strip it from the
    output), so the raw frames are rotated and the size swapped.  Probed through the same hardened input.
    """
    import json

    from videocoach.av.ffmpeg import ffprobe_binary, run

    argv = [
        ffprobe_binary(), "-hide_banner", "-v", "error", "-protocol_whitelist", "file", "-f", info.container,
        "-select_streams", "v:0", "-show_entries", "stream_side_data=rotation:stream_tags=rotate",
        "-print_format", "json", f"file:{Path(path).resolve()}",
    ]
    data = json.loads(run(argv, timeout_s=30.0).decode("utf-8", "replace") or "{}")
    rotation = 0.0
    for stream in data.get("streams") or []:
        for side in stream.get("side_data_list") or []:
            if "rotation" in side:
                rotation = float(side["rotation"])
        if not rotation and (stream.get("tags") or {}).get("rotate"):
            rotation = float(stream["tags"]["rotate"])
    if round(abs(rotation)) % 180 == 90:
        return info.height, info.width
    return info.width, info.height


class FrameReader:
    """Decode the first video stream of a probed file to BGR frames at a constant ``fps`` (default: the file's)."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        info: MediaInfo,
        *,
        fps: float | None = None,
        width: int | None = None,
        height: int | None = None,
        timeout_s: float | None = None,
        stall_timeout_s: float = STALL_TIMEOUT_S,
        queue_frames: int = QUEUE_FRAMES,
        frames: tuple[int, int] | None = None,
    ) -> None:
        """``frames``: only the frames ``[start, end)`` of the constant-rate sequence (same indices as a whole decode;
        the frames before are decoded and dropped, decoding stops after ``end``)."""
        from videocoach.av import media

        if not info.has_video:
            raise FFmpegError(f"{Path(path).name}: no video stream to decode")
        self.fps = float(rational_fps(fps or info.fps or 25.0))
        shown_w, shown_h = display_size(path, info) if not (width and height) else (width, height)
        self.width = int(width or shown_w)
        self.height = int(height or shown_h)
        if self.width <= 0 or self.height <= 0:
            raise FFmpegError(f"{Path(path).name}: unknown picture size")
        self.frame_bytes = self.width * self.height * 3
        bound_s = info.duration_s + 1.0  # never decode past the declared length
        # the overall limit counts the caller's time too (ffmpeg waits while frames are processed): generous
        self.timeout_s = timeout_s if timeout_s is not None else 600.0 + 30.0 * bound_s
        self.stall_timeout_s = stall_timeout_s
        r = rational_fps(self.fps)
        self.first_index = 0
        trim = ""
        if frames is not None:
            start, end = int(frames[0]), int(frames[1])
            if not 0 <= start < end:
                raise ValueError(f"bad frame range {frames!r}")
            self.first_index = start
            trim = f",trim=start_frame={start}:end_frame={end},setpts=PTS-STARTPTS"  # no padding before
        self.argv = [
            ffmpeg_binary(),
            "-hide_banner",
            "-v",
            "error",
            *media.input_args(path, info),
            "-map",
            "0:v:0",
            "-an",
            "-sn",
            "-dn",
            "-t",
            f"{bound_s:.3f}",
            # constant frame rate and a fixed size, so frame i is at i / fps in every pass over the file
            "-vf",
            f"fps={r.numerator}/{r.denominator}{trim},scale={self.width}:{self.height}",
            "-pix_fmt",
            "bgr24",
            "-f",
            "rawvideo",
            "pipe:1",
        ]
        self._queue: queue.Queue = queue.Queue(maxsize=max(1, queue_frames))
        self._proc: _Proc | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self.frames_read = 0

    def __enter__(self) -> "FrameReader":
        self._proc = _Proc(self.argv, timeout_s=self.timeout_s, stdin=False, stdout=True)
        self._thread = threading.Thread(target=self._pump, name="ffmpeg-decode", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _put(self, item) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.2)
                return True
            except queue.Full:
                continue
        return False

    def _pump(self) -> None:
        assert self._proc is not None and self._proc.proc.stdout is not None
        fd = self._proc.proc.stdout.fileno()
        index = self.first_index
        try:
            while not self._stop.is_set():
                image = np.empty((self.height, self.width, 3), dtype=np.uint8)
                got = _read_exact(fd, memoryview(image).cast("B"), self.stall_timeout_s)
                if got == 0:
                    break
                if got < self.frame_bytes:
                    self._proc.wait(30)
                    raise self._proc.error(f"decode (stream ended inside frame {index})")
                if not self._put(Frame(index, index / self.fps, image)):
                    return
                index += 1
            rc = self._proc.wait(30)
            if rc != 0:
                raise self._proc.error("decode")
            self._put(_END)
        except (OSError, TimeoutError, FFmpegError) as exc:
            if isinstance(exc, FFmpegError):
                err = exc
            else:
                self._proc.kill()
                err = FFmpegError(f"ffmpeg decode: {exc}\n{stderr_tail(self._proc.stderr())}")
            self._put(err)

    def __iter__(self):
        if self._proc is None:
            raise RuntimeError("use FrameReader in a with block")
        while True:
            item = self._queue.get()
            if item is _END:
                return
            if isinstance(item, Exception):
                raise item
            self.frames_read += 1
            yield item

    def close(self) -> None:
        self._stop.set()
        if self._proc is not None:
            self._proc.kill()
        if self._thread is not None:
            self._thread.join(timeout=10)
        if self._proc is not None:
            self._proc.cleanup()


class FrameWriter:
    """Encode BGR frames to an H.264 MP4 (metadata stripped), with the original's audio muxed when given."""

    def __init__(
        self,
        out_path: str | os.PathLike[str],
        width: int,
        height: int,
        fps: float,
        *,
        audio_from: tuple[str | os.PathLike[str], MediaInfo] | None = None,
        preset: str = "veryfast",
        crf: int = 23,
        keyframe_s: float = 1.0,
        timeout_s: float = 3600.0,
        stall_timeout_s: float = STALL_TIMEOUT_S,
        queue_frames: int = QUEUE_FRAMES,
    ) -> None:
        from videocoach.av import media

        self.width, self.height = int(width), int(height)
        self.frame_bytes = self.width * self.height * 3
        r = rational_fps(fps)
        gop = max(1, round(float(r) * keyframe_s))
        audio_args: list[str] = []
        maps = ["-map", "0:v:0"]
        if audio_from is not None and audio_from[1].has_audio:
            audio_args = media.input_args(audio_from[0], audio_from[1])
            maps += ["-map", "1:a:0", "-c:a", "aac", "-b:a", "128k"]
        self.argv = [
            ffmpeg_binary(),
            "-hide_banner",
            "-v",
            "error",
            "-f",
            "rawvideo",
            "-pix_fmt",
            "bgr24",
            "-s",
            f"{self.width}x{self.height}",
            "-framerate",
            f"{r.numerator}/{r.denominator}",
            "-i",
            "pipe:0",
            *audio_args,
            *maps,
            "-vf",
            "pad=ceil(iw/2)*2:ceil(ih/2)*2",  # yuv420p needs even sizes
            "-c:v",
            "libx264",
            "-preset",
            preset,
            "-crf",
            str(crf),
            "-pix_fmt",
            "yuv420p",
            "-g",
            str(gop),
            "-keyint_min",
            str(gop),
            "-sc_threshold",
            "0",  # keyframes exactly every keyframe_s: seeking is fast and predictable
            "-map_metadata",
            "-1",
            "-map_chapters",
            "-1",
            "-sn",
            "-dn",
            "-fflags",
            "+bitexact",  # no encoder/version tags either
            "-movflags",
            "+faststart",
            "-f",
            "mp4",
            "-y",
            f"file:{Path(out_path).resolve()}",
        ]
        self.timeout_s = timeout_s
        self.stall_timeout_s = stall_timeout_s
        self._queue: queue.Queue = queue.Queue(maxsize=max(1, queue_frames))
        self._proc: _Proc | None = None
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None
        self._closed = False
        self.frames_written = 0

    def __enter__(self) -> "FrameWriter":
        self._proc = _Proc(self.argv, timeout_s=self.timeout_s, stdin=True, stdout=False)
        self._thread = threading.Thread(target=self._pump, name="ffmpeg-encode", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.finish()
        else:
            self.abort()

    def _pump(self) -> None:
        assert self._proc is not None and self._proc.proc.stdin is not None
        fd = self._proc.proc.stdin.fileno()
        try:
            while True:
                item = self._queue.get()
                if item is _END:
                    break
                _write_all(fd, memoryview(item).cast("B"), self.stall_timeout_s)
        except (OSError, TimeoutError) as exc:  # BrokenPipe: ffmpeg died; its stderr says why
            self._error = exc
            self._proc.kill()
            while True:  # drain so write() never blocks on a full queue
                try:
                    if self._queue.get(timeout=0.5) is _END:
                        break
                except queue.Empty:
                    if self._closed:
                        break

    def write(self, image: np.ndarray) -> None:
        if self._proc is None or self._closed:
            raise RuntimeError("FrameWriter is not open")
        if image.shape != (self.height, self.width, 3) or image.dtype != np.uint8:
            raise ValueError(f"expected a {self.width}x{self.height} BGR uint8 frame, got {image.shape} {image.dtype}")
        if self._error is not None or self._proc.proc.poll() is not None:
            self._fail("encode")
        self._queue.put(np.ascontiguousarray(image))
        self.frames_written += 1

    def _fail(self, what: str) -> None:
        assert self._proc is not None
        self._proc.wait(10)
        raise self._proc.error(what) from self._error

    def finish(self) -> None:
        """Flush, wait for ffmpeg and check it succeeded (raises FFmpegError otherwise)."""
        if self._proc is None or self._closed:
            return
        self._closed = True
        try:
            self._queue.put(_END)
            assert self._thread is not None
            self._thread.join(timeout=self.timeout_s)
            if self._error is None and self._proc.proc.stdin is not None:
                self._proc.proc.stdin.close()
            rc = self._proc.wait(self.timeout_s)
            if self._error is not None or rc != 0 or self._proc.timed_out.is_set():
                raise self._proc.error("encode") from self._error
        finally:
            self._proc.cleanup()

    def abort(self) -> None:
        if self._proc is None:
            return
        self._closed = True
        self._proc.kill()
        try:
            self._queue.put_nowait(_END)
        except queue.Full:
            pass
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._proc.cleanup()


__all__ = ["Frame", "FrameReader", "FrameWriter", "STALL_TIMEOUT_S", "display_size", "rational_fps"]
