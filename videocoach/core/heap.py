"""The C heap of a long-running analysis process: fewer malloc arenas, so freed memory is reused, not kept per thread.

glibc gives each thread that allocates its own arena (up to 8 per core), and an arena keeps what its thread freed
for that thread.  The lanes of a lesson (transcription workers, the diariser, the video) free and allocate hundreds of
MB of numpy buffers each, so on a 50-minute lesson the process held 2.98 GB at its peak with the default arenas and
2.77 GB with two (``bench/bench_lesson.py --minutes 50 --stop-at-statistics``, ``MALLOC_ARENA_MAX=2``; the
statistics came as soon).  ``limit_arenas`` sets the same through ``mallopt`` before the lanes start (arenas are made
as threads first allocate).  Elsewhere than glibc it does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools

ARENAS = 2  # two cores, two arenas: the threads share them (glibc's M_ARENA_MAX)
_M_ARENA_MAX = -8  # glibc's malloc.h


@functools.cache
def limit_arenas(arenas: int = ARENAS) -> bool:
    """Cap this process's malloc arenas (once); False where the C library has no ``mallopt`` (not glibc)."""
    name = ctypes.util.find_library("c")
    if not name:
        return False
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return bool(mallopt(_M_ARENA_MAX, int(arenas)))


__all__ = ["ARENAS", "limit_arenas"]
