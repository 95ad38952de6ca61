"""Locating and running ffmpeg / ffprobe: argv lists, checked exit codes, stderr carried into the error."""

from __future__ import annotations

import shutil
import subprocess
from functools import lru_cache
from typing import Sequence


class FFmpegError(RuntimeError):
    """ffmpeg or ffprobe failed; the message carries the tail of its stderr."""


@lru_cache(maxsize=None)
def ffmpeg_binary() -> str:
    found = shutil.which("ffmpeg")
    if found:
        return found
    try:  # a binary shipped inside a PyPI package
        import imageio_ffmpeg

        return imageio_ffmpeg.get_ffmpeg_exe()
    except Exception as exc:  # noqa: BLE001 - any failure means "not available"
        raise FFmpegError("ffmpeg not found: install Debian's ffmpeg package (scripts/setup.sh does)") from exc


@lru_cache(maxsize=None)
def ffprobe_binary() -> str:
    found = shutil.which("ffprobe")
    if not found:
        raise FFmpegError("ffprobe not found: install Debian's ffmpeg package (scripts/setup.sh does)")
    return found


def stderr_tail(stderr: bytes | str | None, lines: int = 12) -> str:
    if stderr is None:
        return ""
    text = stderr.decode("utf-8", "replace") if isinstance(stderr, bytes) else stderr
    return "\n".join(text.strip().splitlines()[-lines:])


def run(argv: Sequence[str], *, timeout_s: float | None = None, input_bytes: bytes | None = None) -> bytes:
    """Run a tool to completion; return stdout; raise FFmpegError with its stderr on failure or timeout."""
    try:
        proc = subprocess.run(
            list(argv), input=input_bytes, capture_output=True, timeout=timeout_s, check=False
        )
    except subprocess.TimeoutExpired as exc:
        raise FFmpegError(f"{argv[0]} timed out after {timeout_s:.0f} s\n{stderr_tail(exc.stderr)}") from exc
    if proc.returncode != 0:
        raise FFmpegError(f"{argv[0]} exited with {proc.returncode}\n{stderr_tail(proc.stderr)}")
    return proc.stdout
