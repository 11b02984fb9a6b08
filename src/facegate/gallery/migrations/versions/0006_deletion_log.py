"""The deletion log: samples deleted at each gallery revision, so vector indexes follow deletions incrementally.

Deletions made before this migration were not logged: `deletions_from` starts at the gallery's revision, and an index
that follows an older revision reads every sample id once instead.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sample_deletions",
        sa.Column("sample_id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("revision", sa.Integer, nullable=False),
        sa.Column("deleted_at", sa.DateTime, nullable=False),
    )
    op.create_index("ix_sample_deletions_revision", "sample_deletions", ["revision"])
    op.create_index("ix_sample_deletions_deleted_at", "sample_deletions", ["deleted_at"])
    with op.batch_alter_table("gallery_state") as batch:
        batch.add_column(sa.Column("deletions_from", sa.Integer, nullable=False, server_default="0"))
    op.execute("UPDATE gallery_state SET deletions_from = revision")


def downgrade() -> None:
    with op.batch_alter_table("gallery_state") as batch:
        batch.drop_column("deletions_from")
    op.drop_table("sample_deletions")
