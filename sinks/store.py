"""The SQL store: engine creation and the idempotent insert every writer uses.

Inputs: a SQLAlchemy URL (SQLite file by default, PostgreSQL in production). Outputs: an
engine whose schema is migrated to the newest Alembic revision (``sinks/migrations``), and
``insert_ignoring_duplicates``. Guarantee: a row whose key
already exists is left as it was, so redelivered work never writes twice.
"""

from __future__ import annotations

import fcntl
from collections.abc import Iterable, Sequence
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlmodel import Session, SQLModel, create_engine

from sinks import models  # noqa: F401  (registers the tables)

SQLITE_BUSY_TIMEOUT_SECONDS = 30


MIGRATIONS = Path(__file__).with_name("migrations")
# Any fixed number: PostgreSQL advisory lock that serialises concurrent migrations.
MIGRATION_LOCK_ID = 735_201


def alembic_config(connection) -> Config:  # type: ignore[no-untyped-def]
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest migration (idempotent; safe when several processes start at once)."""
    database = engine.url.database
    if engine.dialect.name == "sqlite" and database and database != ":memory:":
        # pysqlite runs DDL outside a transaction, so two processes could both create a table:
        # a lock file beside the database serialises them.
        with open(f"{database}.migrate-lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            _upgrade(engine)
    else:
        _upgrade(engine)


def _upgrade(engine: Engine) -> None:
    with engine.connect() as connection:
        if connection.dialect.name == "postgresql":
            connection.exec_driver_sql(f"SELECT pg_advisory_lock({MIGRATION_LOCK_ID})")
        try:
            command.upgrade(alembic_config(connection), "head")
            connection.commit()
        finally:
            if connection.dialect.name == "postgresql":
                connection.exec_driver_sql(f"SELECT pg_advisory_unlock({MIGRATION_LOCK_ID})")
                connection.commit()


def make_engine(url: str) -> Engine:
    """Create an engine with the schema migrated; SQLite files get WAL mode so readers never block writers."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS, "check_same_thread": False})
        event.listen(engine, "connect", _sqlite_pragmas)
    else:
        engine = create_engine(url, pool_pre_ping=True)
    migrate(engine)
    return engine


def _sqlite_pragmas(connection, _record) -> None:  # type: ignore[no-untyped-def]
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def insert_ignoring_duplicates(session: Session, model: type[SQLModel], rows: Sequence[dict], key: Iterable[str]) -> int:
    """Insert ``rows``; rows whose ``key`` columns already exist are skipped. Returns rows inserted."""
    if not rows:
        return 0
    table = model.__table__  # type: ignore[attr-defined]
    dialect = session.get_bind().dialect.name
    module = postgresql if dialect == "postgresql" else sqlite
    key = list(key)
    # RETURNING lists only the rows actually inserted (rowcount is unreliable for multi-row
    # inserts on some drivers), so the count is exact on SQLite and PostgreSQL alike.
    # Rows go as parameters (not inlined VALUES) so the compiled statement is cached and reused.
    statement = module.insert(table).on_conflict_do_nothing(index_elements=key).returning(table.c[key[0]])
    # Straight to the connection: the ORM's bulk machinery costs more than the insert itself.
    # Objects added to the session go first, so the store sees writes in the order they were made.
    if session.new or session.dirty or session.deleted:
        session.flush()
    return len(session.connection().execute(statement, list(rows)).all())
