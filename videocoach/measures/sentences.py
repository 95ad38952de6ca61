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
    speech = _merged(turns)
    for u in utterances:
        if u.words:
            groups: list[list[Word]] = [[]]
            for i, word in enumerate(u.words):
                groups[-1].append(word)
                nxt = u.words[i + 1] if i + 1 < len(u.words) else None
                ends = _SENTENCE_END.search(word.text.strip()) is not None
                if nxt is not None and not ends and len(groups[-1]) == 1 and nxt.start - word.end >= pause_split_s \
                        and _stranded(word, nxt, speech):
                    groups[-1][-1] = _moved_before(word, nxt, speech)  # it opens the sentence after the pause: keep it there
                    continue
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
_STRANDED_MAX_BACKED = 0.5  # a word with less than this share of its time inside anyone's turn is not where Whisper put it


def _merged(turns: Sequence[RoleTurn]) -> list[tuple[float, float]]:
    out: list[tuple[float, float]] = []
    for a, b in sorted((t.start, t.end) for t in turns):
        if out and a <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out


def _backed(a: float, b: float, speech: Sequence[tuple[float, float]]) -> float:
    """The share of [a, b] inside someone's turn (1 for a zero-length word inside one)."""
    if b <= a:
        return 1.0 if any(s <= a <= e for s, e in speech) else 0.0
    return sum(max(0.0, min(b, e) - max(a, s)) for s, e in speech) / (b - a)


def _stranded(word: Word, nxt: Word, speech: Sequence[tuple[float, float]]) -> bool:
    """Whisper's word timing can pull the first word of a sentence back across the pause before it, into the
    silence after the previous speaker (the sample lesson: a pupil's "Because" placed at the end of the teacher's
    question, 3 s before the pupil spoke).  Such a word opens a sentence (no . ? ! ends it), lies mostly outside
    every diarisation turn, and the word after the pause lies inside one: it belongs to what follows the pause."""
    if not speech:
        return False
    return (_backed(word.start, word.end, speech) < _STRANDED_MAX_BACKED
            and _backed(nxt.start, nxt.end, speech) >= _STRANDED_MAX_BACKED)


def _moved_before(word: Word, nxt: Word, speech: Sequence[tuple[float, float]]) -> Word:
    """The stranded word, placed just before the next word: at most as long as it was (and a second), and not
    before the speech the next word is in begins (the sentence then starts when its speaker does)."""
    length = min(word.end - word.start, 1.0)
    start = max(word.start, nxt.start - length)
    begun = [s for s, e in speech if s <= nxt.start <= e or s <= nxt.end <= e]
    if begun:
        start = min(max(start, begun[0]), nxt.start)
    return replace(word, start=start, end=nxt.start)


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
