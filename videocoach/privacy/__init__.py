"""Consent-aware face redaction: face detection (``faces``), tracks with fail-closed hold rules (``tracking``),
consent policies (``policy``), and the redacted rendering with its audit pass (``redact``).

May import: ``videocoach.core``, ``videocoach.av``.
"""
