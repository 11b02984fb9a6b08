"""Alembic migrations of the gallery schema (env.py and versions/ ship inside the package)."""
