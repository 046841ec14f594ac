"""The one audit writer: every audit line (disclosures, look-ups, school and operator access,
identity changes) is written through it.

Inputs: ``AuditEntry`` items inside a ``UnitOfWork``. Outputs: ``audit_record`` rows, later sealed
into the hash chain (``sinks/audit_chain.py``). Guarantee: keyed by ``audit_id``, so writing the
same entry twice (a replayed unit of work) leaves one row; entries carry identifiers, never a child's
personal data beyond the subject key.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass

from sinks.audit_chain import content_digest
from sinks.contract import PlannedDelivery, Sink, UnitOfWork
from sinks.models import AuditRecord
from sinks.store import insert_ignoring_duplicates


@dataclass(frozen=True)
class AuditEntry:
    """One audit line; ``detail`` is JSON text with identifiers only."""

    audit_id: str
    action: str
    sink: str | None = None
    recipient: str | None = None
    rule: str | None = None
    policy_version: str | None = None
    source_event_id: str | None = None
    subject_key: str | None = None
    master_person_id: str | None = None
    delivery_id: str | None = None
    detail: str | None = None

    @classmethod
    def disclosure(cls, delivery: PlannedDelivery) -> AuditEntry:
        """The line recording that ``delivery`` was disclosed (keyed by the delivery, so replays heal)."""
        return cls(audit_id=f"delivery:{delivery.delivery_id}", action="disclosed", sink=delivery.sink,
                   recipient=delivery.recipient, rule=delivery.rule, policy_version=delivery.policy_version,
                   source_event_id=delivery.source_event_id, subject_key=delivery.subject_key,
                   master_person_id=delivery.master_person_id, delivery_id=delivery.delivery_id,
                   detail=json.dumps({"content_sha256": content_digest(delivery.content)}))


class AuditSink(Sink[AuditEntry]):
    name = "audit"

    def write(self, batch: Sequence[AuditEntry], unit: UnitOfWork) -> int:
        rows = [{**asdict(entry), "recorded_at": unit.now, "actor": unit.actor} for entry in batch]
        return insert_ignoring_duplicates(unit.session, AuditRecord, rows, ["audit_id"])
