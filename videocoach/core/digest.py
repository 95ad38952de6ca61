"""The SHA-256 of a file, read in 1 MiB blocks (the ingest's duplicate check, the model cache's stamps, the partial
re-render's record of what a rendition was made from)."""

from __future__ import annotations

import hashlib
import os

BLOCK = 1 << 20  # 1 MiB


def file_sha256(path: str | os.PathLike[str]) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(BLOCK):
            digest.update(block)
    return digest.hexdigest()


__all__ = ["BLOCK", "file_sha256"]
