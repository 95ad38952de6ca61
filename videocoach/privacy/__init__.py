"""Consent-aware face redaction: face detection (``faces``), tracks with fail-closed hold rules (``tracking``),
consent policies (``policy``), the redacted rendering with its audit pass (``redact``), all of these in one decode
of the video (``onepass``: what the pipeline runs), face identity (``identity``: dlib descriptors, computed beside
the pass in a child process by ``embed_process``), people from
tracks and the enrolled teacher's tracks (``people``), the audit's second opinion (``second_opinion``), bodies on
sampled frames for the movement measures only (``bodies``: positions, never what is shown), the partial re-render
(``splice``) and the served-frames check (``served_check``: the detector on every frame of the rendition as served).

May import: ``videocoach.core``, ``videocoach.av``, ``videocoach.config`` (the cache for the int8 detector model).
"""
