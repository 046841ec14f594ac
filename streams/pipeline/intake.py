"""Intake, the first unit of work: raw messages from the inbound topics become validated events
recorded in ``intake_event``, or dead letters.

Inputs: the services and a batch of ``(bytes, Origin)``. Outputs: ``IntakeResult``: what to forward
to the accepted topic (key, canonical JSON) and the dead letters to put on the ``.dlq`` topics, each
also recorded in ``dead_letter`` with an operator alert (identifiers and reasons only). Guarantees:
never raises on bad input; idempotent (keyed by ``event_id``), so a redelivered batch forwards what is
not yet processed and records nothing twice; an ``event_id`` reused for other content is parked (in
the same batch or a later one); an event whose producer's signature does not verify, or who is not
entitled to publish it (``streams/access``), is parked with the reason.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from datetime import datetime

from sqlmodel import Session, select

from sinks.contract import UnitOfWork
from sinks.models import INTAKE_ACCEPTED, INTAKE_PROCESSED, DeadLetterRecord, IntakeEvent
from sinks.store import insert_ignoring_duplicates
from streams.access.credentials import CredentialError, Producer, header_map
from streams.identity.keys import partition_key
from streams.kafka.codec import Accepted, DeadLetter, Origin, decode
from streams.kafka.undecodable import Undecodable
from streams.services import Services

CREDENTIALS_FIELD = "credentials"


@dataclass
class IntakeResult:
    forward: list[tuple[bytes, bytes]] = field(default_factory=list)  # (key, canonical JSON) for the accepted topic
    dead_letters: list[DeadLetter] = field(default_factory=list)
    duplicates: int = 0


def intake(services: Services, messages: list[tuple[bytes | None, Origin]]) -> IntakeResult:
    """Validate and record a batch of raw messages from the inbound topics."""
    settings, now = services.settings, services.clock.now()
    allowed_types = {spec.name: spec.event_types for spec in services.topology.inbound}
    result = IntakeResult()
    accepted: dict[str, Accepted] = {}
    producers: dict[str, Producer] = {}
    originals: dict[str, bytes] = {}
    for raw, origin in messages:
        outcome = decode(raw, origin, max_bytes=settings.max_message_bytes,
                         allowed_types=allowed_types.get(origin.topic, ()), now=now)
        if not isinstance(outcome, DeadLetter):
            try:
                producer = services.producer_keys.verify(header_map(origin.headers), raw or b"")
            except CredentialError as exc:
                outcome = _refused(outcome, str(exc), raw or b"")
        if isinstance(outcome, DeadLetter):
            result.dead_letters.append(outcome)
        elif (first := accepted.get(str(outcome.event.event_id))) is not None:
            if first.content_hash == outcome.content_hash:
                result.duplicates += 1  # the same event twice in one batch
            else:
                result.dead_letters.append(_conflicting(outcome))
        else:
            accepted[str(outcome.event.event_id)] = outcome
            originals[str(outcome.event.event_id)], producers[str(outcome.event.event_id)] = raw or b"", producer
    with Session(services.engine) as session:
        for event_id, item in list(accepted.items()):
            refusal = services.entitlements.refusal(item.event, producers[event_id], session)
            if refusal is not None:
                del accepted[event_id]
                result.dead_letters.append(_refused(item, f"not entitled: {refusal}", originals[event_id]))
        # Only the columns the duplicate check needs: the stored payloads stay in the database.
        known = {row.event_id: row for row in session.exec(
            select(IntakeEvent.event_id, IntakeEvent.content_hash, IntakeEvent.status)
            .where(IntakeEvent.event_id.in_(list(accepted))))} if accepted else {}  # type: ignore[attr-defined]
        rows = []
        for event_id, item in accepted.items():
            previous = known.get(event_id)
            if previous is not None and previous.content_hash != item.content_hash:
                result.dead_letters.append(_conflicting(item))
                continue
            if previous is not None:
                result.duplicates += 1
                if previous.status == INTAKE_PROCESSED:
                    continue
            else:
                rows.append(_intake_row(item, now))
            result.forward.append((partition_key(item.event), item.canonical_json.encode()))
        insert_ignoring_duplicates(session, IntakeEvent, rows, ["event_id"])
        result.dead_letters = park(services, session, result.dead_letters, now, actor="safeguard.intake")
        session.commit()
    if result.dead_letters:
        services.flush_sinks(["alerts"])
    return result


def _conflicting(item: Accepted) -> DeadLetter:
    event_id = str(item.event.event_id)
    return DeadLetter(item.canonical_json.encode(), item.origin, f"event_id: {event_id} was already accepted with "
                      "different content; an event_id identifies one event and may not be reused", field_path="event_id",
                      event_id=event_id, event_type=item.event.event_type)  # type: ignore[attr-defined]


def _refused(item: Accepted, reason: str, original: bytes) -> DeadLetter:
    """A valid event its producer could not prove it may publish (``field_path`` "credentials": never replayed
    by signing it again)."""
    return DeadLetter(original, item.origin, reason, field_path=CREDENTIALS_FIELD,
                      event_id=str(item.event.event_id), event_type=item.event.event_type)  # type: ignore[attr-defined]


def _intake_row(item: Accepted, now: datetime) -> dict:
    event = item.event
    people = _persons(event)
    voice = getattr(event, "voice_of_child", None)
    return {
        "source_agency": event.source.agency.value,
        "voice_recorded": (voice is not None and voice.is_recorded()) if hasattr(event, "voice_of_child") else None,
        "persons": len(people), "persons_with_language": sum(1 for p in people if p.preferred_language),
        "event_id": str(event.event_id), "event_type": event.event_type,  # type: ignore[attr-defined]
        "topic": item.origin.topic, "partition": item.origin.partition, "offset": item.origin.offset,
        "key": partition_key(event).decode(), "content_hash": item.content_hash, "payload": item.canonical_json,
        "occurred_at": event.occurred_at, "accepted_at": now, "status": INTAKE_ACCEPTED, "processed_at": None,
    }


def _persons(event) -> list:  # type: ignore[no-untyped-def]
    found = []
    for name in ("persons", "children", "adults"):
        found += [p for p in getattr(event, name, None) or [] if hasattr(p, "preferred_language")]
    child = getattr(event, "child", None)
    if child is not None:
        found.append(child)
    return found


def park(services: Services, session: Session, letters: list[DeadLetter], now: datetime, *, actor: str) -> list[DeadLetter]:
    """Record dead letters and tell operators (identifiers and reasons only), idempotently; returns
    the letters stamped with the time they were parked."""
    if not letters:
        return letters
    letters = [letter if letter.parked_at else replace(letter, parked_at=now) for letter in letters]
    insert_ignoring_duplicates(session, DeadLetterRecord, [{
        "dead_letter_id": letter.dead_letter_id, "topic": letter.origin.topic, "partition": letter.origin.partition,
        "offset": letter.origin.offset, "event_id": letter.event_id, "event_type": letter.event_type,
        "reason": letter.reason, "field_path": letter.field_path, "errors_json": json.dumps(letter.errors),
        "original": letter.original, "parked_at": now, "replayed_at": None,
    } for letter in letters], ["dead_letter_id"])
    alerts = [services.policy.plan_operational("dead_letter_alert", letter.dead_letter_id, {
        "alert": "input parked on a dead-letter topic", "dead_letter_id": letter.dead_letter_id,
        "topic": letter.origin.topic, "partition": letter.origin.partition, "offset": letter.origin.offset,
        "event_id": letter.event_id, "event_type": letter.event_type, "reason": letter.reason, "field_path": letter.field_path,
    }) for letter in letters]
    services.sinks["alerts"].write(alerts, UnitOfWork(session, actor, now))
    return letters


def park_undecodable(services: Services, skipped: list[Undecodable]) -> list[DeadLetter]:
    """Record batches the consumer could not decode and skipped (``streams/kafka/undecodable.py``): each is
    parked (no original: its bytes could not be read) and operators are alerted."""
    if not skipped:
        return []
    letters = [DeadLetter(b"", Origin(batch.topic, batch.partition, batch.first_offset),
                          f"record batch at offsets {batch.first_offset}..{batch.last_offset} could not be decoded and was "
                          f"skipped: {batch.reason}; the producer must send it again", field_path="(record batch)")
               for batch in skipped]
    now = services.clock.now()
    with Session(services.engine) as session:
        letters = park(services, session, letters, now, actor="safeguard.intake")
        session.commit()
    services.flush_sinks(["alerts"])
    return letters
