"""Ids are never handed out twice: SQLite tables rebuilt as AUTOINCREMENT (PostgreSQL's sequences already never
go back), and the people counter starts past every id an access event still names.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

TABLES = ("people", "samples", "events", "api_keys")


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    for table in TABLES:  # copied into a new table (database.migrate turns foreign keys off meanwhile)
        with op.batch_alter_table(table, recreate="always", table_kwargs={"sqlite_autoincrement": True}):
            pass
    # a person deleted before this migration may still be named by events: the next person starts past them
    op.execute(
        "INSERT INTO sqlite_sequence (name, seq) SELECT 'people', 0 "
        "WHERE NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'people')"
    )
    op.execute(
        "UPDATE sqlite_sequence SET seq = MAX(seq, (SELECT COALESCE(MAX(person_id), 0) FROM events)) "
        "WHERE name = 'people'"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    for table in TABLES:
        with op.batch_alter_table(table, recreate="always", table_kwargs={"sqlite_autoincrement": False}):
            pass
