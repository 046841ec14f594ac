"""The two units of work of the pipeline, as plain functions tested without Faust.

``intake``: raw messages -> validated events recorded in ``intake_event`` (or parked as dead
letters, with an operator alert); returns what to forward to the accepted topic and to the
dead-letter topics. ``route``: accepted events -> state updates, policy-planned deliveries and
deadline-watch alerts written to their sinks with audit lines, every person resolved to a master
person (``streams/identity/index.py``, which each delivery names), and the intake row marked
processed, all in one transaction. ``fire_deadlines``: breaches due deadlines and writes their
alerts, in one transaction. Guarantees: neither raises on bad input; both are idempotent, so at-least-once
redelivery after a crash neither loses nor duplicates anything.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone

import structlog
from pydantic import ValidationError
from sqlalchemy import Engine, update
from sqlmodel import Session, select

from schemas import parse_event
from sinks.destinations import Sink, SinkRefused
from sinks.models import INTAKE_ACCEPTED, INTAKE_PROCESSED, DeadLetterRecord, IntakeEvent
from sinks.store import insert_ignoring_duplicates
from streams.kafka.codec import Accepted, DeadLetter, Origin, decode
from streams.identity.index import IdentityIndex
from streams.identity.keys import partition_key
from streams.sharing.policy import PlannedDelivery, Policy
from streams.settings import Settings
from streams.register.state import StoreContext
from streams.encompass.notices import record_notices
from streams.deadlines.school_calendar import Calendars
from streams.deadlines.watch import Watch, WatchRules

log = structlog.get_logger("safeguard.handlers")


@dataclass
class IntakeResult:
    forward: list[tuple[bytes, bytes]] = field(default_factory=list)  # (key, canonical JSON) for the accepted topic
    dead_letters: list[DeadLetter] = field(default_factory=list)
    duplicates: int = 0


@dataclass
class RouteResult:
    processed: int = 0
    skipped: int = 0
    delivered: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    parked: list[DeadLetter] = field(default_factory=list)


def intake(engine: Engine, policy: Policy, settings: Settings, sinks: dict[str, Sink],
           messages: list[tuple[bytes | None, Origin]], allowed_types: dict[str, tuple[str, ...]]) -> IntakeResult:
    """Validate and record a batch of raw messages from inbound topics."""
    result = IntakeResult()
    accepted: dict[str, Accepted] = {}
    for raw, origin in messages:
        outcome = decode(raw, origin, max_bytes=settings.max_message_bytes, allowed_types=allowed_types.get(origin.topic, ()))
        if isinstance(outcome, DeadLetter):
            result.dead_letters.append(outcome)
        elif str(outcome.event.event_id) in accepted:
            result.duplicates += 1  # the same event twice in one batch
        else:
            accepted[str(outcome.event.event_id)] = outcome
    now = datetime.now(timezone.utc)
    with Session(engine) as session:
        # Only the columns the duplicate check needs: the stored payloads stay in the database.
        known = {row.event_id: row for row in session.exec(
            select(IntakeEvent.event_id, IntakeEvent.content_hash, IntakeEvent.status)
            .where(IntakeEvent.event_id.in_(list(accepted))))} if accepted else {}  # type: ignore[attr-defined]
        rows = []
        for event_id, item in accepted.items():
            previous = known.get(event_id)
            if previous is not None and previous.content_hash != item.content_hash:
                result.dead_letters.append(DeadLetter(
                    item.canonical_json.encode(), item.origin, f"event_id: {event_id} was already accepted with different content; "
                    "an event_id identifies one event and may not be reused", field_path="event_id",
                    event_id=event_id, event_type=item.event.event_type))  # type: ignore[attr-defined]
                continue
            if previous is not None:
                result.duplicates += 1
                if previous.status == INTAKE_PROCESSED:
                    continue
            else:
                rows.append(_intake_row(item, now))
            result.forward.append((partition_key(item.event), item.canonical_json.encode()))
        insert_ignoring_duplicates(session, IntakeEvent, rows, ["event_id"])
        park(session, policy, sinks["alerts"], result.dead_letters, now)
        session.commit()
    return result


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


def park(session: Session, policy: Policy, alerts_sink: Sink, letters: list[DeadLetter], now: datetime) -> None:
    """Record dead letters and tell operators (identifiers and reasons only), idempotently."""
    if not letters:
        return
    insert_ignoring_duplicates(session, DeadLetterRecord, [{
        "dead_letter_id": letter.dead_letter_id, "topic": letter.origin.topic, "partition": letter.origin.partition,
        "offset": letter.origin.offset, "event_id": letter.event_id, "event_type": letter.event_type,
        "reason": letter.reason, "field_path": letter.field_path, "errors_json": json.dumps(letter.errors),
        "original": letter.original, "parked_at": now, "replayed_at": None,
    } for letter in letters], ["dead_letter_id"])
    alerts = [policy.plan_operational("dead_letter_alert", letter.dead_letter_id, {
        "alert": "input parked on a dead-letter topic", "dead_letter_id": letter.dead_letter_id,
        "topic": letter.origin.topic, "partition": letter.origin.partition, "offset": letter.origin.offset,
        "event_id": letter.event_id, "event_type": letter.event_type, "reason": letter.reason, "field_path": letter.field_path,
    }) for letter in letters]
    alerts_sink.write(session, alerts, actor="safeguard.intake")


def route(engine: Engine, policy: Policy, settings: Settings, sinks: dict[str, Sink],
          messages: list[tuple[bytes | None, Origin]], watch: Watch | None = None,
          calendars: Calendars | None = None, identity: IdentityIndex | None = None) -> RouteResult:
    """Resolve persons, apply state, plan and write deliveries, and mark events processed, in one transaction."""
    watch = watch or Watch(WatchRules.load(settings.watch_rules_file), policy)
    calendars = calendars or Calendars(settings.school_calendars_file)
    identity = identity or IdentityIndex(policy, settings.identity_match_threshold)
    try:
        return _route(engine, policy, settings, sinks, messages, watch, calendars, identity)
    except BaseException:
        identity.discard()  # what it learnt in the failed transaction is not in the log
        raise


def _route(engine: Engine, policy: Policy, settings: Settings, sinks: dict[str, Sink],
           messages: list[tuple[bytes | None, Origin]], watch: Watch, calendars: Calendars,
           identity: IdentityIndex) -> RouteResult:
    result = RouteResult()
    now = datetime.now(timezone.utc)
    parsed = []  # before the lock below: parsing needs no store, so other workers need not wait for it
    for raw, origin in messages:
        try:
            parsed.append((parse_event(raw or b""), raw, origin))
        except ValidationError as exc:
            result.parked.append(DeadLetter(raw or b"", origin, f"accepted event no longer validates: {exc.errors()[0]['msg']}"))
    with Session(engine) as session:
        # First, before any read: routing units of work run one at a time across workers, so each
        # sees everything committed before it and nothing commits meanwhile. Events about one
        # matter can sit on different partitions (a PPN keyed by its child, an outcome naming no child
        # by its organisation), and the person index spans them all.
        identity.begin(session)
        context = StoreContext(session, settings)
        pending: dict[str, list[PlannedDelivery]] = defaultdict(list)
        done: list[str] = []
        # By key only, status checked here: with a status condition SQLite's planner walks the status
        # index, i.e. every processed event ever (0.5 s per batch at 450,000 events, and growing).
        already = {row.event_id for row in session.exec(select(IntakeEvent.event_id, IntakeEvent.status).where(
            IntakeEvent.event_id.in_([str(event.event_id) for event, _, _ in parsed])))  # type: ignore[attr-defined]
            if row.status == INTAKE_PROCESSED} if parsed else set()
        answered_early = watch.referrals_answered_early(session, [event for event, _, _ in parsed])
        for event, raw, origin in parsed:
            event_id = str(event.event_id)
            if event_id in already or event_id in done:
                result.skipped += 1
                continue
            resolution = identity.resolve_event(session, event)
            context.apply(event)
            planned = policy.plan(event, context)
            if getattr(event, "ppn_reference", None) in answered_early:
                planned += _outcomes_now_deliverable(session, policy, watch, context, event)
            planned += watch.on_event(session, event, context)
            planned = [replace(d, master_person_id=resolution.master_for(d.subject_key)) for d in planned]
            planned += resolution.notices
            try:
                for delivery in planned:
                    sinks[delivery.sink].check(delivery)
            except SinkRefused as exc:
                # Nothing of this event is delivered: a policy/view mismatch must not over-share.
                result.parked.append(DeadLetter(raw or b"", origin, f"sharing refused: {exc}",
                                                event_id=event_id, event_type=event.event_type))  # type: ignore[attr-defined]
                continue
            record_notices(session, event, planned, calendars, watch, settings)
            for delivery in planned:
                pending[delivery.sink].append(delivery)
            done.append(event_id)
            if event.event_type == "referral.outcome":  # type: ignore[attr-defined]
                answered_early.add(event.referral_reference)  # its PPN may follow in this same batch
            log.info("event.routed", event_id=event_id, event_type=event.event_type,  # type: ignore[attr-defined]
                     topic=origin.topic, partition=origin.partition, offset=origin.offset,
                     deliveries=len(planned), rules=sorted({d.rule for d in planned}))
        identity.finish(session)
        for sink_name, batch in pending.items():
            batch = [d if (current := identity.current(d.master_person_id)) == d.master_person_id
                     else replace(d, master_person_id=current) for d in batch]  # merged later in this batch
            result.delivered[sink_name] += sinks[sink_name].write(session, batch, actor="safeguard.router")
        if done:
            session.exec(update(IntakeEvent).where(IntakeEvent.event_id.in_(done))  # type: ignore[attr-defined, call-overload]
                         .values(status=INTAKE_PROCESSED, processed_at=now)
                         .execution_options(synchronize_session=False))  # rows loaded here are not read again
        park(session, policy, sinks["alerts"], result.parked, now)
        session.commit()
    result.processed = len(done)
    return result


def _outcomes_now_deliverable(session: Session, policy: Policy, watch: Watch, context: StoreContext,
                              referral) -> list[PlannedDelivery]:  # type: ignore[no-untyped-def]
    """An outcome that arrived before its referral is routed to the referrer once the referral is known."""
    planned = []
    for event_id in watch.outcomes_received_before(session, referral):
        row = session.get(IntakeEvent, event_id)
        if row is not None:
            planned += [d for d in policy.plan(parse_event(row.payload), context) if d.sink != "alerts"]
    return planned


def fire_deadlines(engine: Engine, sinks: dict[str, Sink], watch: Watch, now: datetime) -> int:
    """Breach every deadline due by ``now`` and write its alerts, in one transaction; returns alerts written."""
    with Session(engine) as session:
        alerts = watch.fire_due(session, now)
        by_sink: dict[str, list[PlannedDelivery]] = defaultdict(list)
        for alert in alerts:
            by_sink[alert.sink].append(alert)
        written = sum(sinks[name].write(session, batch, actor="safeguard.watch") for name, batch in by_sink.items())
        session.commit()
    for alert in alerts:
        log.warning("deadline.breached", delivery_id=alert.delivery_id, rule=alert.content.get("watch_rule"),
                    subject_key=alert.subject_key, recipient=alert.recipient)
    return written
