"""Consent-aware face redaction: face detection (``faces``), tracks with fail-closed hold rules (``tracking``),
consent policies (``policy``), the redacted rendering with its audit pass (``redact``), and all of these in one decode
of the video (``onepass``: what the pipeline runs).

May import: ``videocoach.core``, ``videocoach.av``, ``videocoach.config`` (the cache for the int8 detector model).
"""
