"""The site's operating point: the false-accept target (FPIR) an admin set for every gate sharing the gallery.

Galleries from before have none set (NULL): FACEGATE_FPIR or the default decide, as they did.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("gallery_state") as batch:
        batch.add_column(sa.Column("fpir", sa.Float, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("gallery_state") as batch:
        batch.drop_column("fpir")
