"""HTTP Range headers for the media route: one ``bytes=a-b`` range, parsed strictly; an absurd header is a 416,
never a parse of thousands of digits.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


_MAX_RANGE_LEN = 200  # a longer Range header is absurd: 416, never parsed
_MAX_RANGE_DIGITS = 19  # no file has more bytes than fit in 19 digits
_RANGE_RE = re.compile(r"^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$", re.IGNORECASE)


class RangeNotSatisfiable(ValueError):
    pass


# -- HTTP ranges ---------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ByteRange:
    start: int  # first byte
    stop: int  # one past the last byte

    @property
    def length(self) -> int:
        return self.stop - self.start


def parse_range(header: str | None, size: int) -> ByteRange | None:
    """The single byte range a ``Range`` header asks for (None: the whole file).

    Several ranges, or a unit other than bytes, are ignored (the whole file is sent, which RFC 9110 allows);
    a well-formed range that lies outside the file raises RangeNotSatisfiable (416).
    """
    if not header:
        return None
    if len(header) > _MAX_RANGE_LEN:
        raise RangeNotSatisfiable("absurd range header")
    if "," in header or not header.strip().lower().startswith("bytes"):
        return None
    m = _RANGE_RE.match(header)
    if m is None:
        raise RangeNotSatisfiable(f"bad range {header!r}")
    first, last = m.group(1), m.group(2)
    if len(first) > _MAX_RANGE_DIGITS or len(last) > _MAX_RANGE_DIGITS:
        raise RangeNotSatisfiable("range numbers beyond any file size")
    if first == "" and last == "":
        raise RangeNotSatisfiable(f"bad range {header!r}")
    if first == "":  # the last N bytes
        n = int(last)
        if n == 0 or size == 0:
            raise RangeNotSatisfiable("empty suffix range")
        return ByteRange(max(0, size - n), size)
    start = int(first)
    stop = size if last == "" else min(int(last) + 1, size)
    if start >= size or (last != "" and int(last) < start):
        raise RangeNotSatisfiable(f"range {header!r} outside 0-{size - 1}")
    return ByteRange(start, stop)
