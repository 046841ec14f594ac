"""Re-judging a child's history when what is known about the child changes after the fact.

Inputs: the services, an open ``StoreContext`` (its session and now), the persons concerned (each by its
subject keys and its source event ids, from the master person index), the events routed earlier in this
unit of work, the deliveries it has planned but not yet written, and the reason (for the recall notices).
Outputs: ``Rejudged``: ``planned``, what the child's earlier events qualify for now (with the ids routing
those events now would give, so nothing is delivered twice); ``dropped``, planned-but-unwritten delivery
ids that are no longer due; ``recalls``, for each delivery already made that is no longer due, a notice
to its recipient to disregard it (naming its delivery id) and an alert to operators.
Guarantees: every event is judged at its own time; only what can change after the fact is re-judged
(rules that depend on the child being on a register, key-worker notices, repeat escalations); a recall's
id derives from the recalled delivery's, so re-judging twice recalls once and never recalls a recall.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace

from sqlalchemy import and_, or_
from sqlmodel import Session, select

from schemas import parse_event
from schemas.events import UnscheduledCareAttended
from sinks.contract import PlannedDelivery, UnitOfWork
from sinks.models import INTAKE_PROCESSED, DeliveryRecord, IntakeEvent
from streams.register.state import StoreContext
from streams.services import Services
from streams.sharing.policy import Policy

REJUDGED_EVENT_TYPES = ("unscheduled_care.attended", "ppn.submitted", "domestic_abuse.reported", "missing.reported")
REPEAT_RULES = ("repeat_missing", "repeat_standard_ppn")
RECALL_NOTIFICATION = ("please disregard an earlier notification (named by its delivery id): a later record shows "
                       "it was not due")


@dataclass(frozen=True)
class Person:
    """One master person as the index holds it now."""

    keys: frozenset[str]
    event_ids: frozenset[str]


@dataclass
class Rejudged:
    planned: list[PlannedDelivery] = field(default_factory=list)
    dropped: set[str] = field(default_factory=set)
    recalls: list[PlannedDelivery] = field(default_factory=list)


def person(services: Services, person_id: str) -> Person:
    identity = services.identity
    return Person(frozenset(identity.keys_of_person(person_id)), frozenset(identity.events_of_person(person_id)))


def rejudge(session: Session, services: Services, context: StoreContext, persons: list[Person], reason: str,
            routed: set[str] = frozenset(), pending: list[PlannedDelivery] = (), exclude: str | None = None  # type: ignore[assignment]
            ) -> Rejudged:
    """What the persons' earlier events qualify for now, and what they no longer do (see the module docstring)."""
    identity, policy, watch = services.identity, services.policy, services.watch
    event_ids = set().union(*(p.event_ids for p in persons)) - {exclude}
    keys = set().union(*(p.keys for p in persons))
    rows = session.exec(select(IntakeEvent.event_id, IntakeEvent.event_type, IntakeEvent.status, IntakeEvent.payload)
                        .where(IntakeEvent.event_id.in_(sorted(event_ids)))).all() if event_ids else []  # type: ignore[attr-defined]
    current, planned, judged = context.current, [], set()
    for row in sorted(rows, key=lambda r: r.event_id):  # one read for the persons' whole history
        if row.event_type not in REJUDGED_EVENT_TYPES or not (row.status == INTAKE_PROCESSED or row.event_id in routed):
            continue  # not routed yet: routing it will judge it
        earlier = parse_event(row.payload, context.now)
        context.evaluating(earlier)
        if isinstance(earlier, UnscheduledCareAttended):
            context.record_access_if_flagged(earlier)
            context.forget_access_unless_flagged(earlier)
        planned += [d for d in policy.plan(earlier, context) if d.rule in policy.flag_dependent_rules]
        planned += watch.key_worker_notices(earlier, context)
        judged.add(row.event_id)
    for one in persons:
        planned += watch.repeat_escalations(session, set(one.keys), context)
    if current is not None:
        context.evaluating(current)
    planned = [replace(d, master_person_id=identity.master_of(d.subject_key) if d.subject_key else None) for d in planned]

    due = {d.delivery_id for d in planned}
    rejudged = _Rejudged(services, judged, keys)
    result = Rejudged(planned=planned)
    result.dropped = {d.delivery_id for d in pending
                      if d.delivery_id not in due and rejudged.covers(d.rule, d.source_event_id, d.subject_key, d.content)}
    withdrawn = [row for row in _sent(session, services, judged, keys)
                 if row.delivery_id not in due
                 and rejudged.covers(row.rule, row.source_event_id, row.subject_key, json.loads(row.content_json))]
    result.recalls = _recalls(session, services, withdrawn, reason)
    return result


class _Rejudged:
    """Which deliveries re-judging these events and keys answers for."""

    def __init__(self, services: Services, events: set[str], keys: set[str]) -> None:
        policy = services.policy
        self.events, self.keys = events, keys
        self.event_rules = policy.flag_dependent_rules | {policy.operations["registered_child_incident"].id}
        self.alert_rule = policy.operations["deadline_alert"].id

    def covers(self, rule: str, source_event_id: str, subject_key: str | None, content: dict) -> bool:
        if rule in self.event_rules:
            return source_event_id in self.events
        return rule == self.alert_rule and subject_key in self.keys and content.get("watch_rule") in REPEAT_RULES


def _sent(session: Session, services: Services, events: set[str], keys: set[str]) -> list[DeliveryRecord]:
    policy = services.policy
    event_rules = sorted(policy.flag_dependent_rules | {policy.operations["registered_child_incident"].id})
    conditions = []
    if events:
        conditions.append(and_(DeliveryRecord.source_event_id.in_(sorted(events)),  # type: ignore[attr-defined]
                               DeliveryRecord.rule.in_(event_rules)))  # type: ignore[attr-defined]
    if keys:
        conditions.append(and_(DeliveryRecord.subject_key.in_(sorted(keys)),  # type: ignore[union-attr]
                               DeliveryRecord.rule == policy.operations["deadline_alert"].id))
    return list(session.exec(select(DeliveryRecord).where(or_(*conditions)))) if conditions else []


def _recalls(session: Session, services: Services, withdrawn: list[DeliveryRecord], reason: str) -> list[PlannedDelivery]:
    """A notice to each withdrawn delivery's recipient and an alert to operators, unless recalled before."""
    policy = services.policy
    out: list[PlannedDelivery] = []
    for row in withdrawn:
        values = {"recalls_delivery_id": row.delivery_id, "recalled_rule": row.rule,
                  "recalled_source_event_id": row.source_event_id or None, "reason": reason,
                  "event_type": "delivery.recalled"}
        out.append(replace(policy.plan_operational(f"recall_{row.sink}", row.delivery_id, {
            **values, "notification": RECALL_NOTIFICATION, "subject_key": row.subject_key},
            recipient=row.recipient, subject_key=row.subject_key), master_person_id=row.master_person_id))
        out.append(replace(policy.plan_operational("delivery_recalled", row.delivery_id, {
            **values, "alert": "a delivery was recalled: a later record shows it was not due",
            "recalled_sink": row.sink, "recalled_recipient": row.recipient}), master_person_id=row.master_person_id))
    if not out:
        return out
    done = set(session.exec(select(DeliveryRecord.delivery_id).where(
        DeliveryRecord.delivery_id.in_([d.delivery_id for d in out]))))  # type: ignore[attr-defined]
    return [d for d in out if d.delivery_id not in done]


def recalled_ids(session: Session, policy: Policy) -> set[str]:
    """Every delivery id some recall notice withdrew (what a recipient should disregard)."""
    rows = session.exec(select(DeliveryRecord.content_json).where(
        DeliveryRecord.rule.in_(sorted(policy.recall_rule_ids()))))  # type: ignore[attr-defined]
    return {json.loads(content)["recalls_delivery_id"] for content in rows}


def after_identity_decision(session: Session, services: Services, notice: PlannedDelivery, actor: str) -> set[str]:
    """An operator's merge or un-merge, already in the index within ``session``'s transaction: its notice to
    operators, what the two persons' histories qualify for now (a merge may show an earlier incident was about
    a flagged child) and recalls of what they no longer do (sent on the strength of an undone merge), checked
    and written to their sinks. Returns the sinks written to (flush them after the commit); raises
    ``SinkRefused`` before writing anything if a sink refuses one."""
    content = notice.content
    reason = f"{content['event_type']} change {content['change_seq']} by {actor}"
    context = StoreContext(session, services.settings, services.clock.now(), services.identity.keys_like)
    persons = [person(services, p) for p in sorted({content["survivor_person_id"], content["absorbed_person_id"]})]
    result = rejudge(session, services, context, persons, reason)
    planned = [notice, *result.planned, *result.recalls]
    for delivery in planned:
        services.sinks[delivery.sink].check(delivery)
    unit = UnitOfWork(session, actor, context.now)
    for sink_name in sorted({d.sink for d in planned}):
        services.sinks[sink_name].write([d for d in planned if d.sink == sink_name], unit)
    return {d.sink for d in planned}
