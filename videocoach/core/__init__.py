"""The shared data model and its pure helpers: frozen dataclasses in float seconds (``model``), interval arithmetic
(``intervals``), plain-JSON (de)serialisation (``serialize``) and the torch thread-count helper (``threads``).

May import: the standard library and numpy only.  Every other part of videocoach may import this.
"""
