"""The owner's "No, not me" about a person of a lesson (a person id of the lesson's people step; nothing biometric).

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

from videocoach.storage.schema import metadata

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    bind = op.get_bind()
    metadata.tables["person_answers"].create(bind, checkfirst=True)
    if bind.dialect.name == "postgresql":
        op.execute(sa.text("GRANT SELECT, INSERT, UPDATE, DELETE ON person_answers TO videocoach_app"))


def downgrade() -> None:
    op.drop_table("person_answers")
