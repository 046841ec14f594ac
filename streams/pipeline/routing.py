"""Routing, the second unit of work: accepted events become state, deliveries and deadlines.

Inputs: the services and a batch of ``(canonical JSON, Origin)`` from the accepted topic. Outputs:
``RouteResult``; in the store, in one transaction: every person resolved to a master person (which
each delivery names), register and referral state, the policy's deliveries and the deadline watch's
alerts written to their sinks with audit lines, Operation Encompass notices, and the intake rows
marked processed. Guarantees: never raises on bad input (an event that no longer validates, or whose
deliveries a sink refuses, is parked whole); idempotent (deterministic delivery ids, processed
marks), so redelivery after a crash neither loses nor duplicates anything.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from dataclasses import dataclass, field, replace
from datetime import datetime

import structlog
from pydantic import ValidationError
from sqlalchemy import update
from sqlmodel import Session, select

from schemas import parse_event
from schemas.events import CprAmended, CprDeregistered, CprRegistered
from sinks.contract import PlannedDelivery, SinkRefused, UnitOfWork
from sinks.models import INTAKE_PROCESSED, IntakeEvent
from streams.encompass.notices import record_notices
from streams.identity.index import Review
from streams.identity.keys import children_of, person_key
from streams.kafka.codec import DeadLetter, Origin
from streams.pipeline.intake import park
from streams.pipeline.rejudge import Rejudged, person, rejudge
from streams.register.state import StoreContext
from streams.services import Services

log = structlog.get_logger("safeguard.routing")


@dataclass
class RouteResult:
    processed: int = 0
    skipped: int = 0
    delivered: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    parked: list[DeadLetter] = field(default_factory=list)


def route(services: Services, messages: list[tuple[bytes | None, Origin]]) -> RouteResult:
    """Resolve persons, apply state, plan and write deliveries, and mark events processed, in one transaction."""
    try:
        return _route(services, messages)
    except BaseException:
        services.identity.discard()  # what it learnt in the failed transaction is not in the log
        raise


def _route(services: Services, messages: list[tuple[bytes | None, Origin]]) -> RouteResult:
    policy, watch, identity, sinks = services.policy, services.watch, services.identity, services.sinks
    result = RouteResult()
    now = services.clock.now()
    parsed = []  # before the lock below: parsing needs no store, so other workers need not wait for it
    for raw, origin in messages:
        try:
            parsed.append((parse_event(raw or b"", now), raw, origin))
        except ValidationError as exc:
            result.parked.append(DeadLetter(raw or b"", origin, f"accepted event no longer validates: {exc.errors()[0]['msg']}"))
    with Session(services.engine) as session:
        # First, before any read: routing units of work run one at a time across workers, so each
        # sees everything committed before it and nothing commits meanwhile. Events about one
        # matter can sit on different partitions (a PPN keyed by its child, an outcome naming no child
        # by its organisation), and the person index spans them all.
        identity.begin(session)
        context = StoreContext(session, services.settings, now, identity.keys_like)
        pending: dict[str, list[PlannedDelivery]] = defaultdict(list)
        done: list[str] = []
        # By key only, status checked here: with a status condition SQLite's planner walks the status
        # index, i.e. every processed event ever (0.5 s per batch at 450,000 events, and growing).
        recorded = {row.event_id: row for row in session.exec(
            select(IntakeEvent.event_id, IntakeEvent.status, IntakeEvent.content_hash).where(
                IntakeEvent.event_id.in_([str(event.event_id) for event, _, _ in parsed])))  # type: ignore[attr-defined]
        } if parsed else {}
        already = {event_id for event_id, row in recorded.items() if row.status == INTAKE_PROCESSED}
        parsed = _accepted_by_intake(parsed, recorded, result)
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
                planned += _outcomes_now_deliverable(session, services, context, event)
                planned += watch.referral_arrived(session, event)
            planned += watch.on_event(session, event, context)
            planned = [replace(d, master_person_id=resolution.master_for(d.subject_key)) for d in planned]
            if isinstance(event, (CprRegistered, CprAmended, CprDeregistered)) or resolution.notices:
                # A register change (late, or dated before what was routed) or a merge: the child's history again.
                rejudged = _rejudged(session, services, context, event, resolution.notices, set(done),
                                     [d for batch in pending.values() for d in batch])
                for sink_name in pending:
                    pending[sink_name] = [d for d in pending[sink_name] if d.delivery_id not in rejudged.dropped]
                planned += rejudged.planned + rejudged.recalls
            planned += resolution.notices
            planned += _reviews_of_flagged_children(services, context, resolution.reviews, now)
            try:
                for delivery in planned:
                    sinks[delivery.sink].check(delivery)
            except SinkRefused as exc:
                # Nothing of this event is delivered: a policy/view mismatch must not over-share.
                result.parked.append(DeadLetter(raw or b"", origin, f"sharing refused: {exc}",
                                                event_id=event_id, event_type=event.event_type))  # type: ignore[attr-defined]
                continue
            planned += record_notices(session, event, planned, policy, services.calendars, watch, context, now)
            for delivery in planned:
                pending[delivery.sink].append(delivery)
            done.append(event_id)
            if event.event_type == "referral.outcome":  # type: ignore[attr-defined]
                answered_early.add(event.referral_reference)  # its PPN may follow in this same batch
            log.info("event.routed", event_id=event_id, event_type=event.event_type,  # type: ignore[attr-defined]
                     topic=origin.topic, partition=origin.partition, offset=origin.offset,
                     deliveries=len(planned), rules=sorted({d.rule for d in planned}))
        identity.finish(session)
        unit = UnitOfWork(session, "safeguard.router", now)
        for sink_name, batch in pending.items():
            batch = _first_of_each(batch)  # two reports of one incident plan one notice: the first stands
            batch = [d if (current := identity.current(d.master_person_id)) == d.master_person_id
                     else replace(d, master_person_id=current) for d in batch]  # merged later in this batch
            result.delivered[sink_name] += sinks[sink_name].write(batch, unit)
        if done:
            session.exec(update(IntakeEvent).where(IntakeEvent.event_id.in_(done))  # type: ignore[attr-defined, call-overload]
                         .values(status=INTAKE_PROCESSED, processed_at=now)
                         .execution_options(synchronize_session=False))  # rows loaded here are not read again
        result.parked = park(services, session, result.parked, now, actor="safeguard.router")
        session.commit()
    services.flush_sinks([*pending, *(["alerts"] if result.parked else [])])
    result.processed = len(done)
    return result


def _accepted_by_intake(parsed: list, recorded: dict, result: RouteResult) -> list:  # type: ignore[type-arg]
    """The accepted topic is internal: only what intake recorded, with the same content, is routed. Anything
    else (produced straight onto the topic, or altered there) is parked."""
    kept = []
    for event, raw, origin in parsed:
        row = recorded.get(str(event.event_id))
        if row is not None and row.content_hash == hashlib.sha256(raw or b"").hexdigest():
            kept.append((event, raw, origin))
            continue
        why = "no intake record" if row is None else "its content differs from what intake recorded"
        result.parked.append(DeadLetter(raw or b"", origin, f"not accepted by intake ({why}): the accepted topic is "
                                        "internal; producers publish to the inbound topics", field_path="event_id",
                                        event_id=str(event.event_id), event_type=event.event_type))
    return kept


def _reviews_of_flagged_children(services: Services, context: StoreContext, reviews: tuple[Review, ...],
                                 now: datetime) -> list[PlannedDelivery]:
    """An uncertain match to a child on the register is not left in the operators' queue alone: the authority
    holding the flag gets an urgent review item naming both records (identifiers only)."""
    planned = []
    for review in reviews:
        candidate_keys = services.identity.keys_of_person(review.candidate_person_id)
        flag = context.flag_of_keys(candidate_keys, now)
        if flag is None:
            continue
        planned.append(services.policy.plan_operational("flagged_child_review", review.review_id, {
            "notification": "a new record may be a child on your child protection register: please review urgently",
            "review_id": review.review_id, "record_key": review.record_key, "record_subject_key": review.subject_key,
            "candidate_person_id": review.candidate_person_id, "candidate_subject_keys": sorted(candidate_keys),
            "score": review.score, "urgency": "urgent", "event_type": "identity.review"},
            recipient=flag["local_authority"]["code"], subject_key=review.subject_key))
    return planned


def _first_of_each(batch: list[PlannedDelivery]) -> list[PlannedDelivery]:
    firsts: dict[str, PlannedDelivery] = {}
    for delivery in batch:
        firsts.setdefault(delivery.delivery_id, delivery)
    return list(firsts.values())


def _rejudged(session: Session, services: Services, context: StoreContext, event, merges: list[PlannedDelivery],  # type: ignore[no-untyped-def]
              routed: set[str], pending: list[PlannedDelivery]) -> Rejudged:
    """The earlier events of the event's children (by their master persons) judged again: a registration received
    after an attendance it covers notifies the key worker; a merge that shows an earlier incident was about a
    flagged child does too; a de-registration dated before an incident already notified recalls the notice."""
    identity = services.identity
    persons = {identity.master_of(person_key(child, event.source.organisation_code)) for child in children_of(event)}
    reason = (f"register change {event.event_id}" if not merges
              else "merge of person records " + ", ".join(str(m.content.get("change_seq")) for m in merges))
    return rejudge(session, services, context, [person(services, p) for p in sorted(persons - {None})], reason,  # type: ignore[arg-type]
                   routed, pending, exclude=str(event.event_id))


def _outcomes_now_deliverable(session: Session, services: Services, context: StoreContext,
                              referral) -> list[PlannedDelivery]:  # type: ignore[no-untyped-def]
    """An outcome that arrived before its referral is routed to the referrer once the referral is known."""
    planned = []
    for event_id in services.watch.outcomes_received_before(session, referral):
        row = session.get(IntakeEvent, event_id)
        if row is not None:
            planned += [d for d in services.policy.plan(parse_event(row.payload, context.now), context) if d.sink != "alerts"]
    return planned
