"""The sink contract every destination implements, and the SQL-backed sinks for each agency.

Inputs: planned deliveries from the policy engine, inside the router's unit of work (a
``Session``). Outputs: one ``delivery`` row per delivery (the outbox that channels such as
e-mail read) and one ``audit_record`` row per disclosure. Guarantee: idempotent (keyed by
the deterministic delivery id), and a sink refuses content carrying a key its allow-list does
not name, so a policy mistake cannot over-share silently.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime, timezone

from sqlmodel import Session

from sinks.models import AuditRecord, DeliveryRecord
from sinks.store import insert_ignoring_duplicates
from streams.sharing.policy import SINKS, PlannedDelivery, Policy


class SinkRefused(ValueError):
    """A delivery breaks its sink's allow-list; the event is parked instead of over-sharing."""


class Sink:
    """One destination. ``setup`` once, ``write`` batches inside a unit of work, ``flush`` at the end."""

    def __init__(self, name: str, allowed_keys: frozenset[str] | None) -> None:
        if name not in SINKS:
            raise ValueError(f"unknown sink {name!r}")
        self.name = name
        self.allowed_keys = allowed_keys

    def setup(self) -> None:
        """SQL sinks need nothing beyond the store's tables."""

    def check(self, delivery: PlannedDelivery) -> None:
        """Raise ``SinkRefused`` when the content carries a key this sink may not receive."""
        if self.allowed_keys is None:
            return
        extra = set(delivery.content) - self.allowed_keys
        if extra:
            raise SinkRefused(f"sink {self.name} may not receive {sorted(extra)} (rule {delivery.rule})")

    def write(self, session: Session, batch: Sequence[PlannedDelivery], *, actor: str) -> int:
        """Record ``batch`` (all for this sink) and its audit lines; returns how many were new."""
        for delivery in batch:
            self.check(delivery)
        now = datetime.now(timezone.utc)
        rows = [{
            "delivery_id": d.delivery_id, "sink": d.sink, "recipient": d.recipient, "rule": d.rule,
            "policy_version": d.policy_version, "source_event_id": d.source_event_id,
            "source_event_type": d.source_event_type, "subject_key": d.subject_key, "master_person_id": d.master_person_id,
            "delivered_at": now, "content_json": json.dumps(d.content, ensure_ascii=False, sort_keys=True),
        } for d in batch]
        inserted = insert_ignoring_duplicates(session, DeliveryRecord, rows, ["delivery_id"])
        # Audit rows are keyed by delivery, so a crash between the two inserts heals on replay.
        audit = [{
            "audit_id": f"delivery:{d.delivery_id}", "recorded_at": now, "action": "disclosed", "actor": actor,
            "sink": d.sink, "recipient": d.recipient, "rule": d.rule, "policy_version": d.policy_version,
            "source_event_id": d.source_event_id, "subject_key": d.subject_key, "master_person_id": d.master_person_id,
            "delivery_id": d.delivery_id, "detail": None,
        } for d in batch]
        insert_ignoring_duplicates(session, AuditRecord, audit, ["audit_id"])
        return inserted

    def flush(self) -> None:
        """The router's commit makes SQL writes durable; nothing is buffered here."""


def build_sinks(policy: Policy) -> dict[str, Sink]:
    """One sink per destination, each guarding the union of the policy's views for it."""
    return {name: Sink(name, policy.allowed_keys(name)) for name in SINKS if name != "audit"}
