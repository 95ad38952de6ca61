"""Sensitive text fields sealed with the media key (the old store's schema version 2): a database written before
then has each such field sealed once, in place.  The store hands over its sealing function; without it the upgrade
stops (fail closed) rather than leave plaintext.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

from videocoach.storage.schema import SCHEMA_VERSION, SEALED_FIELDS
from videocoach.storage.vault import FIELD_PREFIX

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    bind = op.get_bind()
    version = bind.execute(sa.text("SELECT value FROM meta WHERE key='schema_version'")).scalar()
    if version is not None and int(version) >= SCHEMA_VERSION:
        return
    attributes = op.get_context().config.attributes
    seal = attributes.get("seal")
    if seal is None:
        raise RuntimeError("sealing the database's fields needs the media key: open it with the store")
    if bind.dialect.name != "sqlite":
        raise RuntimeError("an unsealed (version 1) database can only be a SQLite one")
    for table, column, key_cols in SEALED_FIELDS:
        if not sa.inspect(bind).has_table(table):
            continue
        rows = bind.execute(sa.text(f"SELECT rowid AS rid, {column}, {', '.join(key_cols)} FROM {table}")).mappings()
        for r in rows.fetchall():
            value = r[column]
            if isinstance(value, str) and not value.startswith(FIELD_PREFIX):
                sealed = seal(table, column, [r[c] for c in key_cols], value)
                bind.execute(sa.text(f"UPDATE {table} SET {column}=:v WHERE rowid=:rid"), {"v": sealed, "rid": r["rid"]})
    bind.execute(sa.text("UPDATE meta SET value=:v WHERE key='schema_version'"), {"v": str(SCHEMA_VERSION)})
    attributes["sealed"] = True  # the store rewrites the file so no plaintext stays in free pages
