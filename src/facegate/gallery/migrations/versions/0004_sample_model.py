"""Each sample records the embedding model that made it (every sample enrolled before is FaceNet's).

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("samples") as batch:
        batch.add_column(sa.Column("model", sa.String(32), nullable=False, server_default="facenet"))


def downgrade() -> None:  # SQLite rebuilds the table to drop a column: keep it AUTOINCREMENT (0003)
    with op.batch_alter_table("samples", table_kwargs={"sqlite_autoincrement": True}) as batch:
        batch.drop_column("model")
