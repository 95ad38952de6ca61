"""Schema migrations with Alembic, run from code when a store opens (``migrations/versions``).

The upgrade runs in one transaction that first takes the database's write lock (SQLite ``BEGIN IMMEDIATE``,
PostgreSQL a transaction advisory lock), so workers starting together upgrade once and the others find it done.
A database already at the newest revision is not touched: the application role on PostgreSQL, which may not change
the schema, opens it without trying.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Callable, Sequence

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from videocoach.storage.database import Database

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
_LOCK_KEY = 0x76636D6967  # "vcmig": the advisory lock of schema upgrades

Sealer = Callable[[str, str, Sequence[object], str], str]


def _config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


@functools.lru_cache(maxsize=1)
def head_revision() -> str:
    return ScriptDirectory.from_config(_config()).get_current_head()


def current_revision(db: Database) -> str | None:
    with db.engine.connect() as conn:
        rev = MigrationContext.configure(conn).get_current_revision()
        conn.rollback()
        return rev


def upgrade(db: Database, seal: Sealer | None) -> bool:
    """Bring the database to the newest revision.  Returns True when old plaintext fields were sealed (SQLite: the
    caller then rewrites the file)."""
    head = head_revision()
    if current_revision(db) == head:
        return False
    cfg = _config()
    with db.engine.connect() as conn:
        if db.is_sqlite:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_LOCK_KEY})")
        try:
            if MigrationContext.configure(conn).get_current_revision() != head:
                cfg.attributes["connection"] = conn
                cfg.attributes["seal"] = seal
                command.upgrade(cfg, "head")
        except BaseException:
            conn.rollback()
            raise
        conn.commit()
    return bool(cfg.attributes.get("sealed"))
