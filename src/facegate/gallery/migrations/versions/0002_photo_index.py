"""Photo archive index: one row per face (or per photo without a face / that failed) written by `facegate index`.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from facegate.gallery.schema import UTCDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "photo_index",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("path", sa.Text, nullable=False),
        sa.Column("sha256", sa.String(64)),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("face", sa.Integer),
        *(sa.Column(name, sa.Float) for name in ("box_x1", "box_y1", "box_x2", "box_y2", "score")),
        sa.Column("landmarks", sa.LargeBinary),
        sa.Column("embedding", sa.LargeBinary),
        sa.Column("error", sa.Text),
        sa.Column("indexed_at", UTCDateTime, nullable=False),
    )
    op.create_index("ix_photo_index_path", "photo_index", ["path"])
    op.create_index("ix_photo_index_status", "photo_index", ["status"])


def downgrade() -> None:
    op.drop_table("photo_index")
