"""The shared data model and its pure helpers: frozen dataclasses in float seconds (``model``), interval arithmetic
(``intervals``), plain-JSON (de)serialisation (``serialize``), the torch thread-count helper (``threads``)
and a file's SHA-256 (``digest``).

May import: the standard library and numpy only.  Every other part of videocoach may import this.
"""
