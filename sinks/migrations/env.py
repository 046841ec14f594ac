"""Alembic environment: runs migrations on the connection ``sinks.store.migrate`` hands over."""

from alembic import context
from sqlmodel import SQLModel

from sinks import models  # noqa: F401  (registers the tables on SQLModel.metadata)

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=SQLModel.metadata, render_as_batch=True,
                  compare_type=True)
with context.begin_transaction():
    context.run_migrations()
