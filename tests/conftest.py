"""Shared fixtures: settings on a temporary data directory and an in-memory SQL store."""

from __future__ import annotations

import pytest
from sqlalchemy.pool import StaticPool
from sqlmodel import SQLModel, create_engine

from sinks.destinations import build_sinks
from streams.policy import Policy
from streams.settings import DEFAULT_POLICY_FILE, Settings


@pytest.fixture
def settings(tmp_path):
    return Settings(_env_file=None, data_dir=tmp_path, database_url="sqlite://")


@pytest.fixture
def engine():
    engine = create_engine("sqlite://", connect_args={"check_same_thread": False}, poolclass=StaticPool)
    SQLModel.metadata.create_all(engine)
    return engine


@pytest.fixture(scope="session")
def policy():
    return Policy.load(DEFAULT_POLICY_FILE)


@pytest.fixture
def sinks(policy):
    return build_sinks(policy)
