"""The relay: deliveries committed in the store leave the building, each exactly once (transactional outbox).

Inputs: the services and an ``Outbound`` (the broker's outbound topics; ``streams/kafka/outbound.py``).
Outputs: every delivery published to ``<prefix>.out.<sink>.<organisation_code>``, keyed by its master person
(so one child's deliveries keep their order), valued by its `safeguard export` line, its delivery id in a
header; deliveries for organisations with a webhook queued for it (``streams/pipeline/webhooks.py``).
Guarantees: each delivery appears on its topic once, even if the relay is killed at any moment. Before a
batch is published its topics are marked in flight (committed); after every acknowledgement the batch is
marked relayed with each topic's new end offsets, and the mark cleared (committed). A relay that finds a
topic still in flight reads it back from the offsets it knew to the log end, and marks what it finds
relayed instead of publishing it again. One relay per store (``safeguard up`` runs one; the compose file
one replica).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Protocol

import structlog
from sqlmodel import Session, select

from sinks.lines import delivery_bytes
from sinks.models import DeliveryRecord, RelayTopic, WebhookDelivery
from sinks.store import insert_ignoring_duplicates
from streams.kafka.outbound import OutboundMessage
from streams.services import Services

log = structlog.get_logger("safeguard.relay")


class Outbound(Protocol):
    def ensure_topics(self, names: set[str]) -> None: ...
    def publish(self, messages: list[OutboundMessage]) -> dict[tuple[str, int], int]: ...
    def delivery_ids_since(self, topic: str, offsets: dict[int, int]) -> tuple[set[str], dict[int, int]]: ...


@dataclass
class RelayResult:
    published: int = 0
    recovered: int = 0  # found already on their topic after a crash: marked, not published again


def relay_once(services: Services, outbound: Outbound, limit: int | None = None) -> RelayResult:
    """Recover any topic left in flight, then publish up to ``limit`` unrelayed deliveries."""
    result = RelayResult()
    result.recovered = _recover(services, outbound)
    topology, now = services.topology, services.clock.now()
    with Session(services.engine) as session:
        rows = session.exec(select(DeliveryRecord).where(DeliveryRecord.relayed_at.is_(None))  # type: ignore[union-attr]
                            .order_by(DeliveryRecord.delivered_at, DeliveryRecord.delivery_id)  # type: ignore[arg-type]
                            .limit(limit or services.settings.relay_batch)).all()
        if not rows:
            return result
        messages = [OutboundMessage(topology.outbound(row.sink, row.recipient),
                                    (row.master_person_id or row.delivery_id).encode(), delivery_bytes(row), row.delivery_id)
                    for row in rows]
        topics = {m.topic for m in messages}
        _mark_in_flight(session, topics)
        session.commit()  # the intent is durable before anything is published
        rows_by_id = {row.delivery_id: row for row in rows}
    outbound.ensure_topics(topics)
    ends = outbound.publish(messages)
    with Session(services.engine) as session:
        _relayed(services, session, list(rows_by_id), now)
        _settle(session, topics, ends)
        session.commit()
    result.published = len(messages)
    log.info("relay.published", deliveries=len(messages), topics=len(topics))
    return result


def _recover(services: Services, outbound: Outbound) -> int:
    """Topics a dead relay left in flight: what is on them past the known offsets is relayed already."""
    with Session(services.engine) as session:
        in_flight = session.exec(select(RelayTopic).where(RelayTopic.in_flight == True)).all()  # noqa: E712
        marks = {row.topic: {int(p): o for p, o in json.loads(row.offsets_json).items()} for row in in_flight}
    if not marks:
        return 0
    found: set[str] = set()
    ends: dict[tuple[str, int], int] = {}
    for topic, offsets in marks.items():
        ids, topic_ends = outbound.delivery_ids_since(topic, offsets)
        if any(offsets.get(p, 0) > end for p, end in topic_ends.items()):  # the topic was recreated (an in-memory broker)
            ids, topic_ends = outbound.delivery_ids_since(topic, {})
        found |= ids
        ends.update({(topic, p): end for p, end in topic_ends.items()})
    with Session(services.engine) as session:
        unrelayed = [row.delivery_id for row in session.exec(select(DeliveryRecord).where(
            DeliveryRecord.delivery_id.in_(sorted(found)), DeliveryRecord.relayed_at.is_(None)))] if found else []  # type: ignore[attr-defined, union-attr]
        _relayed(services, session, unrelayed, services.clock.now())
        _settle(session, set(marks), ends)
        session.commit()
    log.warning("relay.recovered", topics=len(marks), already_published=len(unrelayed))
    return len(unrelayed)


def _mark_in_flight(session: Session, topics: set[str]) -> None:
    insert_ignoring_duplicates(session, RelayTopic, [{"topic": t, "offsets_json": "{}", "in_flight": False} for t in topics],
                               ["topic"])
    for row in session.exec(select(RelayTopic).where(RelayTopic.topic.in_(sorted(topics)))):  # type: ignore[attr-defined]
        row.in_flight = True
        session.add(row)


def _settle(session: Session, topics: set[str], ends: dict[tuple[str, int], int]) -> None:
    for row in session.exec(select(RelayTopic).where(RelayTopic.topic.in_(sorted(topics)))):  # type: ignore[attr-defined]
        offsets = {int(p): o for p, o in json.loads(row.offsets_json).items()}
        offsets.update({p: end for (topic, p), end in ends.items() if topic == row.topic})
        row.offsets_json, row.in_flight = json.dumps({str(p): o for p, o in sorted(offsets.items())}), False
        session.add(row)


def _relayed(services: Services, session: Session, delivery_ids: list[str], now) -> None:  # type: ignore[no-untyped-def]
    """Mark deliveries relayed, and queue those owed to an organisation's webhook."""
    if not delivery_ids:
        return
    hooks = {hook.organisation_code for hook in services.settings.webhooks}
    owed = []
    for row in session.exec(select(DeliveryRecord).where(DeliveryRecord.delivery_id.in_(delivery_ids))):  # type: ignore[attr-defined]
        row.relayed_at = now
        session.add(row)
        if row.recipient in hooks:
            owed.append({"delivery_id": row.delivery_id, "organisation_code": row.recipient, "status": "pending",
                         "attempts": 0, "next_attempt_at": now, "acknowledged_at": None, "last_error": None})
    insert_ignoring_duplicates(session, WebhookDelivery, owed, ["delivery_id"])
