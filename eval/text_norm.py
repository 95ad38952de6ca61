"""Human transcripts made to look like ASR output without punctuation: the one normalisation every question eval and
training script applies (lower case, transcriber notes in [brackets] removed, apostrophes dropped, "what's" ->
"whats", every other punctuation mark a space)."""

from __future__ import annotations

import re


def unpunctuate(text: str) -> str:
    text = re.sub(r"\[[^\]]*\]", " ", text)
    text = re.sub(r"['\u2019\u2018`]", "", text)
    return re.sub(r"[^\w\s]|_", " ", text.lower())
