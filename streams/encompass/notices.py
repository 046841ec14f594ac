"""Operation Encompass notices: their deadlines, the per-school inbox and acknowledgement.

Inputs: education deliveries planned by the sharing policy (``record_notices``, inside the
router's transaction, with the policy's rules of kind ``encompass_notice``), a school's own calls to
its inbox, and the instant (``now``). Outputs: ``encompass_notice`` rows with the deadline (09:00 of
the school's next school day) and an ``encompass_acknowledgement`` watch deadline at 10:00 that day;
acknowledgements; audit lines for every inbox access. Guarantees: a school only ever sees and
acknowledges its own notices (another school's notice id answers 404, as if it did not exist); a
notice is delivered at once whatever the day, the deadline only governs escalation.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from email.utils import make_msgid
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session, select

from schemas import Envelope
from sinks.audit import AuditEntry, AuditSink
from sinks.contract import GuardedSink, PlannedDelivery, UnitOfWork
from sinks.models import DeliveryRecord, EncompassNotice, School
from sinks.store import insert_ignoring_duplicates
from streams.deadlines.school_calendar import Calendars
from streams.deadlines.watch import Watch
from streams.sharing.policy import Policy, RoutingContext


def record_notices(session: Session, event: Envelope, planned: list[PlannedDelivery], policy: Policy,
                   calendars: Calendars, watch: Watch, context: RoutingContext, now: datetime) -> list[PlannedDelivery]:
    """Keep a notice (with its deadlines) for every Encompass delivery just planned; returns an alert, at once, for
    each notice whose school has no usable address (those who would be told at the escalation are told now)."""
    attended = getattr(event, "attended_at", None) or event.occurred_at
    notice_rules = policy.encompass_notice_rules
    alerts: list[PlannedDelivery] = []
    for delivery in planned:
        if delivery.rule not in notice_rules:
            continue
        notify_by, escalate_at = calendars.deadlines(delivery.recipient, attended)
        reference = delivery.content.get("police_reference")
        insert_ignoring_duplicates(session, EncompassNotice, [{
            "notice_id": delivery.delivery_id, "school_code": delivery.recipient, "subject_key": delivery.subject_key,
            "police_reference": reference, "attended_at": attended, "notify_by": notify_by, "escalate_at": escalate_at,
            "created_at": now, "email_status": "pending", "email_attempts": 0, "email_next_attempt_at": now,
            "email_sent_at": None, "email_last_error": None, "acknowledged_at": None, "acknowledged_by": None,
        }], ["notice_id"])
        school = session.get(School, delivery.recipient)
        authority = (school.local_authority_code if school and school.local_authority_code
                     else context.area_recipient("local_authority"))
        recipients = watch.recipients("encompass_acknowledgement", context, referrer=event.source.organisation_code,
                                      school_local_authority=authority)
        watch.open_deadline(session, "encompass_acknowledgement", delivery.delivery_id, delivery.subject_key, escalate_at,
                            recipients,
                            {"school_code": delivery.recipient, "police_reference": reference,
                             "notify_by": notify_by.isoformat()})
        if school is None or not school.dsl_email:
            reason = ("the school is not on the school directory" if school is None
                      else "the school directory has no safeguarding lead e-mail for it")
            alerts += [policy.plan_operational("encompass_unreachable_school", f"{delivery.delivery_id}|{recipient}", {
                "alert": "an Operation Encompass notice cannot be e-mailed: telephone the school's safeguarding lead",
                "notice_id": delivery.delivery_id, "school_code": delivery.recipient, "police_reference": reference,
                "reason": reason, "event_type": "encompass.school_unreachable"}, recipient=recipient,
                subject_key=delivery.subject_key) for recipient in recipients]
    return alerts


def notice_status(notice: EncompassNotice, now: datetime) -> str:
    if notice.acknowledged_at is not None:
        return "acknowledged"
    if aware(notice.escalate_at) <= now:
        return "overdue"
    return "delivered" if notice.email_status == "sent" else "pending"


def aware(value: datetime) -> datetime:
    """A stored timestamp as UTC (SQLite returns them naive)."""
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def list_notices(engine: Engine, school_code: str, now: datetime) -> list[dict[str, Any]]:
    with Session(engine) as session:
        rows = session.exec(select(EncompassNotice, DeliveryRecord).where(
            EncompassNotice.school_code == school_code, DeliveryRecord.delivery_id == EncompassNotice.notice_id)
            .order_by(EncompassNotice.created_at.desc())).all()  # type: ignore[attr-defined]
        return [{"notice_id": notice.notice_id, "status": notice_status(notice, now),
                 "notify_by": aware(notice.notify_by).isoformat(), "escalate_at": aware(notice.escalate_at).isoformat(),
                 "acknowledged_at": aware(notice.acknowledged_at).isoformat() if notice.acknowledged_at else None,
                 "notice": json.loads(delivery.content_json)} for notice, delivery in rows]


def acknowledge(engine: Engine, watch: Watch, sinks: dict[str, GuardedSink], school_code: str, notice_id: str,
                by: str, now: datetime) -> tuple[int, dict[str, Any]]:
    """Record a school's acknowledgement (idempotent); 404 for a notice that is not this school's."""
    with Session(engine) as session:
        notice = session.get(EncompassNotice, notice_id)
        if notice is None or notice.school_code != school_code:
            return 404, {"error": "no such notice for this school"}
        if notice.acknowledged_at is None:
            notice.acknowledged_at, notice.acknowledged_by = now, by
            session.add(notice)
            resolutions = watch.meet_deadline(session, "encompass_acknowledgement", notice_id, now, f"ack:{school_code}")
            for resolution in resolutions:
                sinks[resolution.sink].write([resolution], UnitOfWork(session, f"school:{school_code}", now))
        session.commit()
        return 200, {"notice_id": notice_id, "acknowledged_at": aware(notice.acknowledged_at).isoformat()}


def audit_school_access(engine: Engine, audit: AuditSink, school_code: str, caller: str, action: str, status: int,
                        notice_id: str | None, now: datetime) -> None:
    with Session(engine) as session:
        audit.write([AuditEntry(audit_id=f"school:{make_msgid()}", action=action, recipient=school_code, sink="education",
                                delivery_id=notice_id, detail=json.dumps({"status": status}))],
                    UnitOfWork(session, caller, now))
        session.commit()
