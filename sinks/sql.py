"""The SQL delivery sinks: one per agency, each a table of deliveries (the outbox that channels such
as e-mail and the school inbox read) with an audit line per disclosure.

Inputs: planned deliveries for this sink, inside the router's (or the timer's, or a web request's)
unit of work. Outputs: ``delivery`` rows and, through the audit writer, ``audit_record`` rows.
Guarantee: idempotent (keyed by the deterministic delivery id) and allow-list checked; nothing is
written unless the unit of work commits, so a delivery and its audit line exist together or not at all.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

from sinks.audit import AuditEntry, AuditSink
from sinks.contract import ContentShape, GuardedSink, PlannedDelivery, UnitOfWork
from sinks.models import DeliveryRecord
from sinks.store import insert_ignoring_duplicates


class SqlDeliverySink(GuardedSink):
    def __init__(self, name: str, allowed_keys: frozenset[str] | None, audit: AuditSink,
                 shapes: Mapping[str, ContentShape] | None = None) -> None:
        super().__init__(name, allowed_keys, shapes)
        self.audit = audit

    def write(self, batch: Sequence[PlannedDelivery], unit: UnitOfWork) -> int:
        for delivery in batch:
            self.check(delivery)
        rows = [{
            "delivery_id": d.delivery_id, "sink": d.sink, "recipient": d.recipient, "rule": d.rule,
            "policy_version": d.policy_version, "source_event_id": d.source_event_id,
            "source_event_type": d.source_event_type, "subject_key": d.subject_key, "master_person_id": d.master_person_id,
            "delivered_at": unit.now, "content_json": json.dumps(d.content, ensure_ascii=False, sort_keys=True),
        } for d in batch]
        inserted = insert_ignoring_duplicates(unit.session, DeliveryRecord, rows, ["delivery_id"])
        # Audit rows are keyed by delivery, so a crash between the two inserts heals on replay.
        self.audit.write([AuditEntry.disclosure(d) for d in batch], unit)
        return inserted
