"""Run events through the units of work in memory, as the agents would, on the tests' clock."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from sqlmodel import Session, select

from sinks.models import DeliveryRecord
from streams.clock import FixedClock
from streams.identity.index import IdentityIndex
from streams.kafka.codec import Origin
from streams.pipeline.intake import intake
from streams.pipeline.routing import route
from streams.pipeline.timer import fire_deadlines
from streams.services import Services, build_services
from streams.settings import Settings

ARRIVAL_DELAY = timedelta(minutes=1)


def run(services: Services, events: list[dict | bytes]):
    """Intake then route ``events`` (dicts or raw bytes), each signed for the producer it names (as
    ``safeguard publish`` does); returns (intake result, route result).

    Events arrive when they are recorded: a fixed clock standing before the latest ``recorded_at``
    is moved to a minute after it (it never moves back)."""
    arrive_after_recording(services, events)
    topology = services.topology
    messages = []
    for offset, event in enumerate(events):
        raw = event if isinstance(event, bytes) else json.dumps(event).encode()
        try:
            topic = topology.topic_for(json.loads(raw)["event_type"]).name
        except Exception:  # noqa: BLE001 - broken input goes to some inbound topic
            topic = topology.inbound[0].name
        messages.append((raw, Origin(topic, 0, offset, headers=tuple(services.producer_keys.sign_as_claimed(raw)))))
    taken = intake(services, messages)
    routed = route(services, [(value, Origin(topology.accepted.name, 0, i)) for i, (_key, value) in enumerate(taken.forward)])
    return taken, routed


def arrive_after_recording(services: Services, events: list[dict | bytes]) -> None:
    clock = services.clock
    if not isinstance(clock, FixedClock):
        return
    times = []
    for event in events:
        if isinstance(event, dict) and isinstance(event.get("recorded_at"), str):
            try:
                times.append(datetime.fromisoformat(event["recorded_at"]))
            except ValueError:
                continue
    latest = max((t for t in times if t.tzinfo), default=None)
    if latest is not None and latest + ARRIVAL_DELAY > clock.now():
        clock.at = latest + ARRIVAL_DELAY


def fire_at(services: Services, when: datetime) -> int:
    """The deadline timer at ``when`` (the tests' clock is set there first)."""
    services.clock.at = when  # type: ignore[attr-defined]
    return fire_deadlines(services)


def with_settings(services: Services, settings: Settings) -> Services:
    """The same store and clock under other settings."""
    return build_services(settings, engine=services.engine, clock=services.clock)


def another_index(services: Services) -> IdentityIndex:
    """A second worker's (or a restarted worker's) identity index on the same store."""
    return IdentityIndex(services.policy, services.audit, services.clock, services.settings.identity_match_threshold)


def deliveries(engine, sink: str | None = None) -> list[DeliveryRecord]:
    with Session(engine) as session:
        query = select(DeliveryRecord)
        if sink:
            query = query.where(DeliveryRecord.sink == sink)
        return list(session.exec(query))


def contents(engine, sink: str) -> list[dict]:
    return [json.loads(d.content_json) for d in deliveries(engine, sink)]

