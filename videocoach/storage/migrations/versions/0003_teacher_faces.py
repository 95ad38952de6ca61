"""The teacher's face print (sealed, one per teacher), for showing the enrolled teacher without marking.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

from videocoach.storage.schema import metadata

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    bind = op.get_bind()
    metadata.tables["teacher_faces"].create(bind, checkfirst=True)
    if bind.dialect.name == "postgresql":
        op.execute(sa.text("GRANT SELECT, INSERT, UPDATE, DELETE ON teacher_faces TO videocoach_app"))


def downgrade() -> None:
    op.drop_table("teacher_faces")
