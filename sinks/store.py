"""The SQL store: engine creation and the idempotent insert every writer uses.

Inputs: a SQLAlchemy URL (SQLite file by default, PostgreSQL in production). Outputs: an
engine with the tables created, and ``insert_ignoring_duplicates``. Guarantee: a row whose key
already exists is left as it was, so redelivered work never writes twice.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

from sqlalchemy import Engine, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlmodel import Session, SQLModel, create_engine

from sinks import models  # noqa: F401  (registers the tables)

SQLITE_BUSY_TIMEOUT_SECONDS = 30


def make_engine(url: str) -> Engine:
    """Create an engine and its tables; SQLite files get WAL mode so readers never block writers."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS, "check_same_thread": False})
        event.listen(engine, "connect", _sqlite_pragmas)
    else:
        engine = create_engine(url, pool_pre_ping=True)
    SQLModel.metadata.create_all(engine)
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
    statement = module.insert(table).values(list(rows)).on_conflict_do_nothing(index_elements=list(key))
    result = session.exec(statement)  # type: ignore[call-overload]
    return result.rowcount or 0
