"""Schema migrations: the newest revision builds exactly the tables the models describe."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlmodel import SQLModel

from sinks.store import migrate


class TestMigrations:
    def test_migrated_schema_matches_the_models(self, engine):
        """After `upgrade head` Alembic finds no difference between the database and the models."""
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            assert compare_metadata(context, SQLModel.metadata) == []

    def test_migrating_twice_is_harmless(self, engine):
        """A second upgrade (another process starting) changes nothing and does not fail."""
        migrate(engine)
        with engine.connect() as connection:
            assert MigrationContext.configure(connection).get_current_revision() == "0014"
