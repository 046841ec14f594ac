"""Run events through the two units of work in memory, as the agents would."""

from __future__ import annotations

import json

from sqlmodel import Session, select

from sinks.models import DeliveryRecord
from streams.kafka.codec import Origin
from streams.pipeline.units import intake, route
from streams.settings import Settings
from streams.kafka.topics import Topology


def run(engine, policy, sinks, settings: Settings, events: list[dict | bytes]):
    """Intake then route ``events`` (dicts or raw bytes); returns (intake result, route result)."""
    topology = Topology.from_settings(settings)
    allowed = {spec.name: spec.event_types for spec in topology.inbound}
    messages = []
    for offset, event in enumerate(events):
        raw = event if isinstance(event, bytes) else json.dumps(event).encode()
        try:
            topic = topology.topic_for(json.loads(raw)["event_type"]).name
        except Exception:  # noqa: BLE001 - broken input goes to some inbound topic
            topic = topology.inbound[0].name
        messages.append((raw, Origin(topic, 0, offset)))
    taken = intake(engine, policy, settings, sinks, messages, allowed)
    routed = route(engine, policy, settings, sinks,
                   [(value, Origin(topology.accepted.name, 0, i)) for i, (_key, value) in enumerate(taken.forward)])
    return taken, routed


def deliveries(engine, sink: str | None = None) -> list[DeliveryRecord]:
    with Session(engine) as session:
        query = select(DeliveryRecord)
        if sink:
            query = query.where(DeliveryRecord.sink == sink)
        return list(session.exec(query))


def contents(engine, sink: str) -> list[dict]:
    return [json.loads(d.content_json) for d in deliveries(engine, sink)]
