"""Alembic schema migrations of the SQL store (SQLite and PostgreSQL)."""
