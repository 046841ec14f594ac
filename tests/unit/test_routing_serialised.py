"""Routing units of work run one at a time across workers, so events about one matter on two
partitions (a PPN keyed by its child, an outcome naming no child by its organisation) never
miss each other: on a shared file SQLite store and on PostgreSQL."""

from __future__ import annotations

import json
import threading
import uuid

import pytest
from sqlmodel import Session

from schemas.examples import example
from sinks.destinations import build_sinks
from sinks.store import make_engine
from streams.kafka.codec import Origin
from streams.pipeline.units import intake, route
from streams.identity.index import IdentityIndex
from streams.kafka.topics import Topology
from tests.unit.helpers import deliveries


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.integration)])
def shared_engine(request, tmp_path):
    """A store two workers (threads here) reach through their own connections."""
    if request.param == "sqlite":
        engine = make_engine(f"sqlite:///{tmp_path / 'store.db'}")
    else:
        engine = make_engine(request.getfixturevalue("postgres").create_database(f"t_{uuid.uuid4().hex[:12]}"))
    yield engine
    engine.dispose()


class PausedBeforeCommit(IdentityIndex):
    """A worker whose routing unit of work stops, lock held, just before it would commit."""

    def __init__(self, policy) -> None:  # type: ignore[no-untyped-def]
        super().__init__(policy)
        self.paused, self.resume = threading.Event(), threading.Event()

    def finish(self, session: Session) -> None:
        super().finish(session)
        self.paused.set()
        assert self.resume.wait(30)


def accepted(engine, policy, sinks, settings, event: dict) -> list[tuple[bytes, Origin]]:
    """``event`` through intake: what the router would consume."""
    topology = Topology.from_settings(settings)
    allowed = {spec.name: spec.event_types for spec in topology.inbound}
    taken = intake(engine, policy, settings, sinks, [(json.dumps(event).encode(), Origin(
        topology.topic_for(event["event_type"]).name, 0, 0))], allowed)
    return [(value, Origin(topology.accepted.name, 0, 0)) for _key, value in taken.forward]


def test_an_outcome_routed_while_its_referral_is_being_routed_still_reaches_the_referrer(shared_engine, policy, settings):
    sinks = build_sinks(policy)
    ppn, outcome = example("ppn.submitted"), example("referral.outcome")
    assert "child" not in outcome  # keyed by its organisation: another partition, possibly another worker
    ppn_messages = accepted(shared_engine, policy, sinks, settings, ppn)
    outcome_messages = accepted(shared_engine, policy, sinks, settings, outcome)

    worker_a = PausedBeforeCommit(policy)
    routing_ppn = threading.Thread(target=route, args=(shared_engine, policy, settings, sinks, ppn_messages),
                                   kwargs={"identity": worker_a})
    routing_ppn.start()
    assert worker_a.paused.wait(30)
    outcome_routed = threading.Event()

    def route_outcome() -> None:
        route(shared_engine, policy, settings, sinks, outcome_messages, identity=IdentityIndex(policy))
        outcome_routed.set()

    routing_outcome = threading.Thread(target=route_outcome)
    routing_outcome.start()
    assert not outcome_routed.wait(1.0), "worker B routed while worker A's unit of work was open"
    worker_a.resume.set()
    routing_ppn.join(30)
    routing_outcome.join(30)
    assert outcome_routed.is_set()
    told = [d for d in deliveries(shared_engine, "police") if d.rule == "referral.police.outcome_to_referrer"]
    assert [(d.source_event_id, d.recipient) for d in told] == [(outcome["event_id"], "DPP")]
