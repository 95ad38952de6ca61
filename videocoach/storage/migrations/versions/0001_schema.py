"""The schema as the hand-written store left it: every table, the append-only audit log, and (PostgreSQL) the
application role that may not change or remove audit rows.  On a database the old store made, the tables it already
has are kept as they are and only what it lacks is added.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

from videocoach.storage.schema import SCHEMA_VERSION, metadata

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

SQLITE_AUDIT = (
    "CREATE TRIGGER IF NOT EXISTS audit_log_no_update BEFORE UPDATE ON audit_log"
    " BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END",
    "CREATE TRIGGER IF NOT EXISTS audit_log_no_delete BEFORE DELETE ON audit_log"
    " BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END",
)
POSTGRES_AUDIT = (
    "CREATE OR REPLACE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS"
    " $$ BEGIN RAISE EXCEPTION 'audit_log is append-only'; END $$",
    "CREATE TRIGGER audit_log_no_change BEFORE UPDATE OR DELETE ON audit_log"
    " FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()",
    "CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log"
    " FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only()",
    # the role the app and workers log in through (GRANT videocoach_app TO <login>): no UPDATE, DELETE or
    # TRUNCATE on the audit log, and no right to change the schema
    "DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'videocoach_app')"
    " THEN CREATE ROLE videocoach_app NOLOGIN; END IF; END $$",
    "GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO videocoach_app",
    "REVOKE UPDATE, DELETE, TRUNCATE ON audit_log FROM videocoach_app",
    "REVOKE INSERT, UPDATE, DELETE ON alembic_version FROM videocoach_app",
    "GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO videocoach_app",
)


def upgrade() -> None:
    bind = op.get_bind()
    existed = sa.inspect(bind).has_table("lessons")
    metadata.create_all(bind, checkfirst=True)
    if existed:
        columns = {c["name"] for c in sa.inspect(bind).get_columns("face_marks")}
        if "consent_record" not in columns:  # a database from before marks named their consent record
            op.add_column("face_marks", sa.Column("consent_record", sa.Text()))
    # an old database without a version row predates sealed fields (version 1); a new one starts sealed
    op.execute(sa.text("INSERT INTO meta(key, value) VALUES ('schema_version', :v) ON CONFLICT (key) DO NOTHING")
               .bindparams(v=str(1 if existed else SCHEMA_VERSION)))
    for statement in SQLITE_AUDIT if bind.dialect.name == "sqlite" else POSTGRES_AUDIT:
        op.execute(statement)
