"""Events become passages (last seen, frames, a snapshot of the face) and API keys belong to a named gate.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("events", table_kwargs={"sqlite_autoincrement": True}) as batch:
        batch.add_column(sa.Column("last_seen", sa.DateTime(), nullable=True))
        batch.add_column(sa.Column("frames", sa.Integer(), nullable=False, server_default="1"))
        batch.add_column(sa.Column("snapshot", sa.LargeBinary(), nullable=True))
    with op.batch_alter_table("api_keys", table_kwargs={"sqlite_autoincrement": True}) as batch:
        batch.add_column(sa.Column("gate", sa.String(200), nullable=True))


def downgrade() -> None:  # SQLite rebuilds a table to drop a column: keep it AUTOINCREMENT (0003)
    with op.batch_alter_table("api_keys", table_kwargs={"sqlite_autoincrement": True}) as batch:
        batch.drop_column("gate")
    with op.batch_alter_table("events", table_kwargs={"sqlite_autoincrement": True}) as batch:
        for column in ("snapshot", "frames", "last_seen"):
            batch.drop_column(column)
