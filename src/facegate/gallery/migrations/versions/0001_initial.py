"""Initial gallery schema: people, samples, events, api_keys, gallery_state.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from facegate.gallery.schema import UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "people",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(200), nullable=False, unique=True),
        sa.Column("created_at", UTCDateTime, nullable=False),
    )
    op.create_table(
        "samples",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("person_id", sa.Integer, sa.ForeignKey("people.id", ondelete="CASCADE"), nullable=False),
        sa.Column("embedding", sa.LargeBinary, nullable=False),
        sa.Column("thumbnail", sa.LargeBinary, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False, unique=True),
        sa.Column("filename", sa.String(500)),
        *(
            sa.Column(name, sa.Float, nullable=False)
            for name in ("box_x1", "box_y1", "box_x2", "box_y2", "detection_score", "face_px", "sharpness")
        ),
        sa.Column("nose_position", sa.Float),
        sa.Column("faces_found", sa.Integer, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
    )
    op.create_index("ix_samples_person_id", "samples", ["person_id"])
    op.create_table(
        "events",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("time", UTCDateTime, nullable=False),
        sa.Column("gate", sa.String(200), nullable=False),
        sa.Column("person_id", sa.Integer),
        sa.Column("decision", sa.String(16), nullable=False),
        sa.Column("score", sa.Float, nullable=False),
        sa.Column("distance", sa.Float),
    )
    for column in ("time", "gate", "person_id", "decision"):
        op.create_index(f"ix_events_{column}", "events", [column])
    op.create_table(
        "api_keys",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(200), nullable=False, unique=True),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("key_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("prefix", sa.String(16), nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
    )
    state = op.create_table(
        "gallery_state",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("revision", sa.Integer, nullable=False),
    )
    op.bulk_insert(state, [{"id": 1, "revision": 0}])


def downgrade() -> None:
    for table in ("gallery_state", "api_keys", "events", "samples", "people"):
        op.drop_table(table)
