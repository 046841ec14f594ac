"""The SQL store: engine creation and the idempotent insert every writer uses.

Inputs: a SQLAlchemy URL (SQLite file by default, PostgreSQL in production). Outputs: an
engine whose schema is migrated to the newest Alembic revision (``sinks/migrations``),
``insert_ignoring_duplicates``, and ``stage_insert``, its deferred form for the router's many
one-row writes. Guarantees: a row whose key already exists is left as it was, so redelivered work
never writes twice; a staged row is written before anything in its session reads or writes its
table (any ORM statement or get, ``insert_ignoring_duplicates``) and before the session commits,
so deferring it changes the number of statements, never what a reader sees or what is committed.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.orm import ORMExecuteState, SessionTransaction
from sqlalchemy.orm import Session as OrmSession
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


def private_directory(path: Path) -> None:
    """Create ``path`` (a data directory) readable by this user only; an existing one keeps its owner's choice."""
    if not path.exists():
        path.mkdir(parents=True, exist_ok=True)
        path.chmod(0o700)  # after mkdir: its mode argument is masked by the umask


def make_engine(url: str) -> Engine:
    """Create an engine with the schema migrated; SQLite files get WAL mode so readers never block writers."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            database = Path(parsed.database)
            private_directory(database.parent)
            if not database.exists():  # private to the service user from the start (SQLite's -wal/-shm follow it)
                os.close(os.open(database, os.O_CREAT | os.O_WRONLY, 0o600))
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
    cursor.execute("PRAGMA cache_size=-65536")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def insert_ignoring_duplicates(session: Session, model: type[SQLModel], rows: Sequence[dict], key: Iterable[str]) -> int:
    """Insert ``rows``; rows whose ``key`` columns already exist are skipped. Returns rows inserted."""
    if not rows:
        return 0
    flush_staged(session, [model])  # rows staged earlier go first, as if they had been written then
    return len(_insert(session, model, rows, list(key)))


def _insert(session: Session, model: type[SQLModel], rows: Sequence[dict], key: list[str]) -> list[tuple]:
    """The keys of the rows actually inserted."""
    table = model.__table__  # type: ignore[attr-defined]
    module = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    # RETURNING lists only the rows actually inserted (rowcount is unreliable for multi-row
    # inserts on some drivers), so the count is exact on SQLite and PostgreSQL alike.
    # Rows go as parameters (not inlined VALUES) so the compiled statement is cached and reused.
    statement = module.insert(table).on_conflict_do_nothing(index_elements=key).returning(*(table.c[k] for k in key))
    # Straight to the connection: the ORM's bulk machinery costs more than the insert itself.
    # Objects added to the session go first, so the store sees writes in the order they were made.
    if session.new or session.dirty or session.deleted:
        session.flush()
    return [tuple(row) for row in session.connection().execute(statement, list(rows)).all()]


# -- staged inserts ------------------------------------------------------------------------------

STAGED = "safeguard.staged_inserts"
OnConflict = Callable[[Session, dict[str, Any]], None]


@dataclass
class _Staged:
    key: list[str]
    on_conflict: OnConflict | None
    rows: dict[tuple, dict[str, Any]] = field(default_factory=dict)


def stage_insert(session: Session, model: type[SQLModel], row: dict[str, Any], key: Iterable[str],
                 on_conflict: OnConflict | None = None) -> bool:
    """Insert ``row`` unless its key exists, deferred (see the module docstring) so that a batch's
    one-row writes to a table become one statement. ``on_conflict(session, row)`` runs, at the
    write, for a row whose key was already in the table. Returns False when a row with this key is
    staged already (the first one stays, as with ``insert_ignoring_duplicates``)."""
    staged: dict[type[SQLModel], _Staged] | None = session.info.get(STAGED)
    if staged is None:
        session.connection()  # begins the transaction whose end (commit, rollback, close) the rows share
        staged = session.info[STAGED] = {}
    entry = staged.get(model)
    if entry is None:
        entry = staged[model] = _Staged(list(key), on_conflict)
    row_key = tuple(row[column] for column in entry.key)
    if row_key in entry.rows:
        return False
    entry.rows[row_key] = row
    return True


def flush_staged(session: Session, models: Iterable[type] | None = None) -> None:
    """Write the staged rows of ``models`` (all when None) now."""
    staged: dict[type[SQLModel], _Staged] | None = session.info.get(STAGED)
    if not staged:
        return
    for model in list(staged) if models is None else [m for m in models if m in staged]:
        entry = staged.pop(model)  # first: the conflict handlers below may read the table again
        inserted = set(_insert(session, model, list(entry.rows.values()), entry.key))
        if entry.on_conflict is not None:
            for row_key, row in entry.rows.items():
                if row_key not in inserted:
                    entry.on_conflict(session, row)


@event.listens_for(OrmSession, "do_orm_execute")
def _write_staged_before_statement(state: ORMExecuteState) -> None:
    if state.session.info.get(STAGED):
        flush_staged(state.session, [mapper.class_ for mapper in state.all_mappers])  # type: ignore[arg-type]


@event.listens_for(OrmSession, "before_commit")
def _write_staged_before_commit(session: OrmSession) -> None:
    flush_staged(session)  # type: ignore[arg-type]


@event.listens_for(OrmSession, "after_transaction_end")
def _forget_staged_when_the_transaction_ends(session: OrmSession, transaction: SessionTransaction) -> None:
    if transaction.parent is None:  # rolled back or closed (a commit wrote them already)
        session.info.pop(STAGED, None)
