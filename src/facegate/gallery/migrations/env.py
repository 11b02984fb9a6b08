"""Alembic environment: migrates the connection handed over by facegate.gallery.database.migrate."""

from __future__ import annotations

from alembic import context
from sqlalchemy import text

from facegate.gallery.schema import Base

connection = context.config.attributes["connection"]
context.configure(
    connection=connection, target_metadata=Base.metadata, render_as_batch=connection.dialect.name == "sqlite"
)
with context.begin_transaction():
    if connection.dialect.name == "postgresql":  # servers sharing one database migrate one at a time
        connection.execute(text("SELECT pg_advisory_xact_lock(4650319)"))
    context.run_migrations()
