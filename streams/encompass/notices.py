"""Operation Encompass notices: their deadlines, the per-school inbox and acknowledgement.

Inputs: education deliveries planned by the sharing policy (``record_notices``, inside the
router's transaction, with the policy's rules of kind ``encompass_notice``), a school's own calls to
its inbox, and the instant (``now``). Outputs: ``encompass_notice`` rows with the deadline (09:00 of
the school's next school day) and an ``encompass_acknowledgement`` watch deadline at 10:00 that day;
acknowledgements; audit lines for every inbox access; ``readable``: the notice as the school reads
it (e-mail and inbox), in the school's language, ending with "acknowledge by" its deadline.
Guarantees: a school only ever sees and acknowledges its own notices (another school's notice id
answers 404, as if it did not exist); a notice is delivered at once whatever the day, the deadline
only governs escalation; a school with neither its safeguarding lead's nor a deputy's address is
reported at once.
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
        if school is None or not (school.dsl_email or school.deputy_dsl_email):
            reason = ("the school is not on the school directory" if school is None
                      else "the school directory has no safeguarding lead or deputy e-mail for it")
            alerts += [policy.plan_operational("encompass_unreachable_school", f"{delivery.delivery_id}|{recipient}", {
                "alert": "an Operation Encompass notice cannot be e-mailed: telephone the school's safeguarding lead",
                "notice_id": delivery.delivery_id, "school_code": delivery.recipient, "police_reference": reference,
                "reason": reason, "event_type": "encompass.school_unreachable"}, recipient=recipient,
                subject_key=delivery.subject_key) for recipient in recipients]
    return alerts


def readable(policy: Policy, notice: EncompassNotice, content: dict[str, Any], school: School | None) -> dict[str, str]:
    """The notice as its school reads it: ``{"language", "title", "text"}`` in the school's language (its directory
    entry's, else the deployment's default), ending with what to do and by when (acknowledge by the escalation)."""
    child = content.get("child", {})
    contact = content.get("police_contact", {})
    school_view = content.get("school", {})
    values = {
        "police_reference": content.get("police_reference") or notice.police_reference or "",
        "child_name": " ".join(filter(None, (child.get("given_names"), child.get("family_name")))) or None,
        "date_of_birth": child.get("date_of_birth"), "upn": child.get("upn"),
        "preferred_language": child.get("preferred_language"),
        "school_name": school_view.get("name") or (school.name if school else notice.school_code),
        "school_code": school_view.get("code") or notice.school_code,
        "occurred_at": content.get("occurred_at") or aware(notice.attended_at).isoformat(),
        "attended_at": content.get("attended_at") or content.get("occurred_at") or aware(notice.attended_at).isoformat(),
        "present": child.get("present_at_incident"), "where_present": child.get("where_present"),
        "voice_of_child": content.get("voice_of_child_line"),
        "police_contact": ", ".join(str(v) for k, v in contact.items() if k != "organisation_code" and v) or None,
        "notice_id": notice.notice_id, "acknowledge_by": aware(notice.escalate_at).isoformat(),
    }
    language = policy.languages.of(notice.school_code, school.language if school else None)
    return policy.notices.render("encompass_notice", language, {k: v for k, v in values.items() if v is not None})


def notice_status(notice: EncompassNotice, now: datetime) -> str:
    if notice.acknowledged_at is not None:
        return "acknowledged"
    if aware(notice.escalate_at) <= now:
        return "overdue"
    return "delivered" if notice.email_status == "sent" else "pending"


def aware(value: datetime) -> datetime:
    """A stored timestamp as UTC (SQLite returns them naive)."""
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def list_notices(engine: Engine, policy: Policy, school_code: str, now: datetime) -> list[dict[str, Any]]:
    """The school's notices, newest first: status, deadlines, the notice's fields and its readable text."""
    with Session(engine) as session:
        school = session.get(School, school_code)
        rows = session.exec(select(EncompassNotice, DeliveryRecord).where(
            EncompassNotice.school_code == school_code, DeliveryRecord.delivery_id == EncompassNotice.notice_id)
            .order_by(EncompassNotice.created_at.desc())).all()  # type: ignore[attr-defined]
        listed = []
        for notice, delivery in rows:
            content = json.loads(delivery.content_json)
            listed.append({"notice_id": notice.notice_id, "status": notice_status(notice, now),
                           "notify_by": aware(notice.notify_by).isoformat(), "escalate_at": aware(notice.escalate_at).isoformat(),
                           "acknowledge_by": aware(notice.escalate_at).isoformat(),
                           "acknowledged_at": aware(notice.acknowledged_at).isoformat() if notice.acknowledged_at else None,
                           "notice": content, "readable": readable(policy, notice, content, school)})
        return listed


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
