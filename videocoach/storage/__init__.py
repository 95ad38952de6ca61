"""Where everything is kept: the SQLite store with its access rule and append-only audit log (``store``), media
sealed at rest (``vault``), accounts and passwords (``auth``), and the export formats (``exports``).

May import: ``videocoach.core``, ``videocoach.config``.
"""
