"""Routing units of work run one at a time across workers, so events about one matter on two
partitions (a PPN keyed by its child, an outcome naming no child by its organisation) never
miss each other: on a shared file SQLite store and on PostgreSQL."""

from __future__ import annotations

import json
import threading
import uuid
from dataclasses import replace

import pytest
from sqlmodel import Session

from schemas.examples import example
from sinks.store import make_engine
from streams.identity.index import IdentityIndex
from streams.kafka.codec import Origin
from streams.pipeline.intake import intake
from streams.pipeline.routing import route
from streams.services import Services, build_services
from tests.unit.helpers import another_index, deliveries


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

    def __init__(self, services: Services) -> None:
        super().__init__(services.policy, services.audit, services.clock)
        self.paused, self.resume = threading.Event(), threading.Event()

    def finish(self, session: Session) -> None:
        super().finish(session)
        self.paused.set()
        assert self.resume.wait(30)


def accepted(services: Services, event: dict) -> list[tuple[bytes, Origin]]:
    """``event`` through intake: what the router would consume."""
    topology = services.topology
    raw = json.dumps(event).encode()
    taken = intake(services, [(raw, Origin(topology.topic_for(event["event_type"]).name, 0, 0,
                                           headers=tuple(services.producer_keys.sign_as_claimed(raw))))])
    return [(value, Origin(topology.accepted.name, 0, 0)) for _key, value in taken.forward]


def test_an_outcome_routed_while_its_referral_is_being_routed_still_reaches_the_referrer(shared_engine, settings, clock):
    services = build_services(settings, engine=shared_engine, clock=clock)
    ppn, outcome = example("ppn.submitted"), example("referral.outcome")
    assert "child" not in outcome  # keyed by its organisation: another partition, possibly another worker
    ppn_messages = accepted(services, ppn)
    outcome_messages = accepted(services, outcome)

    worker_a = replace(services, identity=PausedBeforeCommit(services))
    worker_b = replace(services, identity=another_index(services))
    routing_ppn = threading.Thread(target=route, args=(worker_a, ppn_messages))
    routing_ppn.start()
    assert worker_a.identity.paused.wait(30)
    outcome_routed = threading.Event()

    def route_outcome() -> None:
        route(worker_b, outcome_messages)
        outcome_routed.set()

    routing_outcome = threading.Thread(target=route_outcome)
    routing_outcome.start()
    assert not outcome_routed.wait(1.0), "worker B routed while worker A's unit of work was open"
    worker_a.identity.resume.set()
    routing_ppn.join(30)
    routing_outcome.join(30)
    assert outcome_routed.is_set()
    told = [d for d in deliveries(shared_engine, "police") if d.rule == "referral.police.outcome_to_referrer"]
    assert [(d.source_event_id, d.recipient) for d in told] == [(outcome["event_id"], "DPP")]
