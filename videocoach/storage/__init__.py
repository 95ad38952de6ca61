"""Where everything is kept: the store with its access rule and append-only audit log (``store``) on SQLite or
PostgreSQL through SQLAlchemy Core (``database``) with Alembic migrations (``migrate``, ``migrations/``), media
sealed at rest (``vault``), accounts and passwords (``auth``), and the export formats (``exports``).

May import: ``videocoach.core``, ``videocoach.config``, SQLAlchemy and Alembic.
"""
