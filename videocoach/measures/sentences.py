"""ASR segments cut into sentences (at . ? ! and at pauses), each attributed to the speaker who talks most during it.
Pure.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import replace
from typing import Iterable, Sequence
from videocoach.core.model import RoleTurn, Utterance, Word


_SENTENCE_END = re.compile(r"[.?!\u2026]+[\"')\]]*$")
_TEXT_SENTENCE = re.compile(r"[^.?!\u2026]+(?:[.?!\u2026]+[\"')\]]*|$)")


def split_sentences(
    utterances: Iterable[Utterance], turns: Sequence[RoleTurn] = (), pause_split_s: float = 1.0
) -> tuple[Utterance, ...]:
    """Split ASR segments into sentences (at . ? ! and at pauses of ``pause_split_s``), each re-attributed.

    A Whisper segment can hold several sentences, even two speakers.  With word timings, a sentence ends at a word
    that ends with . ? ! or before a pause; without words, the text is split at punctuation and times are shared out
    by character count.  With ``turns``, each sentence gets the speaker who talks most during it, as
    ``model.attribute_speakers`` decides (each word votes with its overlap; a word in a gap votes a little for the
    nearest turn within 1 s), using sorted-turn look-ups so that a long lesson stays fast; a sentence that no turn
    reaches keeps the segment's speaker.
    """
    pieces: list[Utterance] = []
    for u in utterances:
        if u.words:
            groups: list[list[Word]] = [[]]
            for i, word in enumerate(u.words):
                groups[-1].append(word)
                nxt = u.words[i + 1] if i + 1 < len(u.words) else None
                ends = _SENTENCE_END.search(word.text.strip()) is not None
                if nxt is not None and (ends or nxt.start - word.end >= pause_split_s):
                    groups.append([])
            for group in groups:
                # one sentence keeps the segment's own text; otherwise join the words (faster-whisper's carry
                # their leading space, other engines' do not)
                text = u.text.strip() if len(groups) == 1 else "".join(
                    w.text if w.text[:1].isspace() else " " + w.text for w in group
                ).strip()
                if text:
                    pieces.append(replace(u, start=group[0].start, end=max(group[-1].end, group[0].start),
                                          text=text, words=tuple(group)))
        else:
            parts = [m.group(0) for m in _TEXT_SENTENCE.finditer(u.text) if m.group(0).strip()]
            total = sum(len(p) for p in parts) or 1
            t = u.start
            for part in parts:
                end = min(u.end, t + u.duration * len(part) / total)
                pieces.append(replace(u, start=t, end=max(t, end), text=part.strip(), words=()))
                t = end
    if not turns:
        return tuple(pieces)
    return _attribute(pieces, turns)


_NEAREST_TURN_S = 1.0  # as model.attribute_speakers: a word in a gap goes to a turn at most this far away


def _attribute(sentences: Sequence[Utterance], turns: Sequence[RoleTurn]) -> tuple[Utterance, ...]:
    ordered = sorted(turns, key=lambda t: t.start)  # stable, as attribute_speakers: ties go to the earlier-listed
    starts = [t.start for t in ordered]
    reach: list[float] = []  # reach[k]: the latest end among ordered[:k + 1]
    reach_at: list[int] = []  # ... and which turn it is
    for k, t in enumerate(ordered):
        if not reach or t.end > reach[-1]:
            reach.append(t.end)
            reach_at.append(k)
        else:
            reach.append(reach[-1])
            reach_at.append(reach_at[-1])
    role_of = {t.speaker: t.role for t in ordered}
    out = []
    for s in sentences:
        weights: dict[str, float] = {}
        for a, b in [(w.start, w.end) for w in s.words] or [(s.start, s.end)]:
            hi = bisect.bisect_left(starts, b)  # turns starting before the word ends
            lo = bisect.bisect_right(reach, a)  # the first turn that could still be going at the word's start
            hit = False
            for t in ordered[lo:hi]:
                overlap = min(b, t.end) - max(a, t.start)
                if overlap > 0:
                    weights[t.speaker] = weights.get(t.speaker, 0.0) + overlap
                    hit = True
            if not hit:
                gaps = []
                if hi < len(ordered):
                    gaps.append((ordered[hi].start - b, ordered[hi].speaker))
                before = bisect.bisect_left(starts, a) - 1
                if before >= 0:
                    t = ordered[reach_at[before]]
                    gaps.append((a - t.end, t.speaker))
                if gaps:
                    gap, speaker = min(gaps)
                    if gap <= _NEAREST_TURN_S:
                        weights[speaker] = weights.get(speaker, 0.0) + 1e-3
        if weights:
            speaker = max(weights, key=weights.__getitem__)
            out.append(replace(s, speaker=speaker, role=role_of[speaker]))
        else:
            out.append(s)
    return tuple(out)
