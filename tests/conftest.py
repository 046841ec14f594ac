"""Shared fixtures: settings on a temporary data directory and an in-memory SQL store."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy.pool import StaticPool
from sqlmodel import create_engine

from schemas.examples import EXAMPLES_NOW
from sinks.store import migrate
from streams.clock import FixedClock
from streams.notices.languages import RecipientLanguages
from streams.notices.render import Notices
from streams.services import build_services
from streams.settings import DEFAULT_POLICY_FILE, Settings
from streams.sharing.policy import Policy


@pytest.fixture
def settings(tmp_path):
    return Settings(_env_file=None, data_dir=tmp_path, database_url="sqlite://")


@pytest.fixture(scope="session")
def postgres():
    """One throw-away PostgreSQL server for the whole run (started only if a test asks for it)."""
    import shutil
    import tempfile
    from pathlib import Path

    from tests.postgres import PostgresServer

    # Not under pytest's tmp dir: its parents are private to root, and the server runs unprivileged.
    base = Path(tempfile.mkdtemp(prefix="safeguard-pg-"))
    server = PostgresServer(base).start()
    yield server
    server.stop()
    shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.integration)])
def engine(request):
    """The store on in-memory SQLite, and again on a fresh PostgreSQL database."""
    if request.param == "sqlite":
        engine = create_engine("sqlite://", connect_args={"check_same_thread": False}, poolclass=StaticPool)
        migrate(engine)
        yield engine
        return
    from sinks.store import make_engine

    server = request.getfixturevalue("postgres")
    engine = make_engine(server.create_database(f"t_{uuid.uuid4().hex[:12]}"))
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def policy():
    return Policy.load(DEFAULT_POLICY_FILE, Notices.load(), RecipientLanguages.load())


@pytest.fixture
def clock():
    """The tests' clock: it stands at the instant the examples were written until a test moves it."""
    return FixedClock(EXAMPLES_NOW)


@pytest.fixture
def services(settings, engine, clock):
    """Everything the units of work need, built as the worker builds it, on the test store and clock."""
    return build_services(settings, engine=engine, clock=clock)


@pytest.fixture
def sinks(services):
    return services.sinks
