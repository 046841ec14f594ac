"""A delivery as one JSON line: what `safeguard export` prints, what the outbound topics and webhooks carry.

Inputs: a ``DeliveryRecord``. Outputs: the line's fields (``delivery_id``, ``sink``, ``recipient``, ``rule``,
``policy_version``, ``source_event_id``, ``source_event_type``, ``master_person_id``, ``subject_key``,
``delivered_at``, ``content``) and its canonical bytes. Guarantee: one definition, so a recipient gets
exactly what `safeguard export` shows for it.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone

from sinks.models import DeliveryRecord


def iso(value: datetime) -> str:
    return (value if value.tzinfo else value.replace(tzinfo=timezone.utc)).isoformat()


def delivery_line(delivery: DeliveryRecord) -> dict:
    return {
        "delivery_id": delivery.delivery_id, "sink": delivery.sink, "recipient": delivery.recipient, "rule": delivery.rule,
        "policy_version": delivery.policy_version, "source_event_id": delivery.source_event_id,
        "source_event_type": delivery.source_event_type, "master_person_id": delivery.master_person_id,
        "subject_key": delivery.subject_key, "delivered_at": iso(delivery.delivered_at),
        "content": json.loads(delivery.content_json),
    }


def delivery_bytes(delivery: DeliveryRecord) -> bytes:
    return json.dumps(delivery_line(delivery), ensure_ascii=False, separators=(",", ":")).encode()
