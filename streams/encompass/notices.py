"""Operation Encompass: notices to schools, their deadlines, e-mail to the safeguarding lead,
the per-school inbox and acknowledgement.

Inputs: education deliveries planned by the sharing policy (``record_notices``, inside the
router's transaction), school tokens (inbox API), the SMTP settings and a clock
(``dispatch_emails``). Outputs: ``encompass_notice`` rows with the deadline (09:00 of the
school's next school day) and an ``encompass_acknowledgement`` watch deadline at 10:00 that day;
e-mails; acknowledgements. Guarantees: a school only ever sees and acknowledges its own notices
(another school's notice id answers 404, as if it did not exist); every e-mail attempt is
retried with back-off, and a notice whose e-mail keeps failing raises one alert instead of
vanishing; a notice is delivered at once whatever the day, the deadline only governs escalation.
"""

from __future__ import annotations

import json
import smtplib
import ssl
from datetime import datetime, timedelta, timezone
from email.message import EmailMessage
from email.utils import make_msgid
from typing import Any

from sqlalchemy import Engine, or_, update
from sqlmodel import Session, select

from schemas import Envelope
from sinks.destinations import Sink
from sinks.models import AuditRecord, DeliveryRecord, EncompassNotice, School
from sinks.store import insert_ignoring_duplicates
from streams.sharing.policy import PlannedDelivery, Policy
from streams.deadlines.school_calendar import Calendars
from streams.settings import Settings
from streams.deadlines.watch import Watch

ENCOMPASS_RULES = ("domestic_abuse.education.encompass_notice", "ppn.education.encompass_notice",
                   "ppn.education.wider_offence_notice")
SEND_LEASE = timedelta(minutes=2)
MAX_BACKOFF = timedelta(hours=1)


def record_notices(session: Session, event: Envelope, planned: list[PlannedDelivery], calendars: Calendars,
                   watch: Watch, settings: Settings) -> None:
    """Keep a notice (with its deadlines) for every Encompass delivery just planned."""
    attended = getattr(event, "attended_at", None) or event.occurred_at
    now = datetime.now(timezone.utc)
    for delivery in planned:
        if delivery.rule not in ENCOMPASS_RULES:
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
                     else settings.area_local_authority_code)
        watch.open_deadline(session, "encompass_acknowledgement", delivery.delivery_id, delivery.subject_key, escalate_at,
                            sorted({event.source.organisation_code, authority}),
                            {"school_code": delivery.recipient, "police_reference": reference,
                             "notify_by": notify_by.isoformat()})


def notice_status(notice: EncompassNotice, now: datetime) -> str:
    if notice.acknowledged_at is not None:
        return "acknowledged"
    if _aware(notice.escalate_at) <= now:
        return "overdue"
    return "delivered" if notice.email_status == "sent" else "pending"


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def list_notices(engine: Engine, school_code: str) -> list[dict[str, Any]]:
    now = datetime.now(timezone.utc)
    with Session(engine) as session:
        rows = session.exec(select(EncompassNotice, DeliveryRecord).where(
            EncompassNotice.school_code == school_code, DeliveryRecord.delivery_id == EncompassNotice.notice_id)
            .order_by(EncompassNotice.created_at.desc())).all()  # type: ignore[attr-defined]
        return [{"notice_id": notice.notice_id, "status": notice_status(notice, now),
                 "notify_by": _aware(notice.notify_by).isoformat(), "escalate_at": _aware(notice.escalate_at).isoformat(),
                 "acknowledged_at": _aware(notice.acknowledged_at).isoformat() if notice.acknowledged_at else None,
                 "notice": json.loads(delivery.content_json)} for notice, delivery in rows]


def acknowledge(engine: Engine, watch: Watch, sinks: dict[str, Sink], school_code: str, notice_id: str,
                by: str) -> tuple[int, dict[str, Any]]:
    """Record a school's acknowledgement (idempotent); 404 for a notice that is not this school's."""
    now = datetime.now(timezone.utc)
    with Session(engine) as session:
        notice = session.get(EncompassNotice, notice_id)
        if notice is None or notice.school_code != school_code:
            return 404, {"error": "no such notice for this school"}
        if notice.acknowledged_at is None:
            notice.acknowledged_at, notice.acknowledged_by = now, by
            session.add(notice)
            resolutions = watch.meet_deadline(session, "encompass_acknowledgement", notice_id, now, f"ack:{school_code}")
            for resolution in resolutions:
                sinks[resolution.sink].write(session, [resolution], actor=f"school:{school_code}")
        session.commit()
        return 200, {"notice_id": notice_id, "acknowledged_at": _aware(notice.acknowledged_at).isoformat()}


def audit_school_access(engine: Engine, school_code: str, caller: str, action: str, status: int, notice_id: str | None) -> None:
    with Session(engine) as session:
        session.add(AuditRecord(audit_id=f"school:{make_msgid()}", recorded_at=datetime.now(timezone.utc), action=action,
                                actor=caller, recipient=school_code, sink="education", delivery_id=notice_id,
                                detail=json.dumps({"status": status})))
        session.commit()


# --- e-mail ----------------------------------------------------------------------------------------

def render_email(notice: EncompassNotice, content: dict[str, Any], to: str, sender: str) -> EmailMessage:
    """A plain-text notice; the subject carries only the police reference, never the child's name."""
    child = content.get("child", {})
    school = content.get("school", {})
    contact = content.get("police_contact", {})
    lines = [
        "Operation Encompass notice (OFFICIAL-SENSITIVE)",
        "",
        f"Child: {child.get('given_names', '')} {child.get('family_name', '')}".rstrip(),
        f"Date of birth: {child.get('date_of_birth', 'not recorded')}",
        f"UPN: {child.get('upn', 'not recorded')}",
        f"School or setting: {school.get('name', '')} ({school.get('code', notice.school_code)})",
        f"Police reference: {content.get('police_reference', '')}",
        f"Incident: {content.get('occurred_at', '')}; police attended {content.get('attended_at', content.get('occurred_at', ''))}",
        f"Child present: {'yes' if child.get('present_at_incident') else 'no' if child.get('present_at_incident') is False else 'not recorded'}"
        + (f" ({child['where_present']})" if child.get("where_present") else ""),
    ]
    if content.get("voice_of_child_line"):
        lines.append(f"The child said or showed: {content['voice_of_child_line']}")
    lines += ["", "Police contact: " + ", ".join(str(v) for k, v in contact.items() if k != "organisation_code"),
              f"Please acknowledge by {_aware(notice.escalate_at).strftime('%H:%M on %d %B %Y')} in the school inbox.",
              f"Notice id: {notice.notice_id}"]
    message = EmailMessage()
    message["From"], message["To"] = sender, to
    subject = f"Operation Encompass notice {content.get('police_reference', '')}".strip()
    message["Subject"] = " ".join(subject.split())  # no line breaks can reach a header
    message["Message-ID"] = f"<{notice.notice_id}@encompass.safeguard>"  # lets mail systems drop a resend
    message.set_content("\n".join(lines))
    return message


def dispatch_emails(engine: Engine, settings: Settings, policy: Policy, sinks: dict[str, Sink], now: datetime) -> int:
    """Send every due notice e-mail once (claimed with a lease), retrying failures with back-off."""
    if not settings.smtp_host:
        return 0
    sent = 0
    with Session(engine) as session:
        due = session.exec(select(EncompassNotice.notice_id).where(
            or_(EncompassNotice.email_status == "pending",
                (EncompassNotice.email_status == "sending") & (EncompassNotice.email_next_attempt_at <= now)),  # type: ignore[operator]
            EncompassNotice.email_next_attempt_at <= now).limit(50)).all()  # type: ignore[operator]
    for notice_id in due:
        with Session(engine) as session:
            claimed = session.exec(update(EncompassNotice).where(  # type: ignore[call-overload]
                EncompassNotice.notice_id == notice_id, EncompassNotice.email_next_attempt_at <= now,
                EncompassNotice.email_status.in_(["pending", "sending"]))  # type: ignore[attr-defined]
                .values(email_status="sending", email_next_attempt_at=now + SEND_LEASE))
            session.commit()
            if claimed.rowcount != 1:
                continue  # another worker has it
            notice = session.get(EncompassNotice, notice_id)
            school = session.get(School, notice.school_code)
            if school is None or not school.dsl_email:
                notice.email_status, notice.email_last_error = "no_address", "no safeguarding lead e-mail on the school directory"
                session.add(notice)
                session.commit()
                continue
            delivery = session.get(DeliveryRecord, notice_id)
            message = render_email(notice, json.loads(delivery.content_json), school.dsl_email, settings.smtp_from)
            try:
                send_email(message, settings)
            except (OSError, smtplib.SMTPException) as exc:
                notice.email_attempts += 1
                backoff = min(timedelta(seconds=settings.email_retry_first_seconds * 2 ** (notice.email_attempts - 1)), MAX_BACKOFF)
                notice.email_status, notice.email_next_attempt_at = "pending", now + backoff
                notice.email_last_error = f"{type(exc).__name__}: {str(exc)[:300]}"
                session.add(notice)
                if notice.email_attempts == settings.email_alert_after_attempts:
                    alert = policy.plan_operational("dead_letter_alert", f"encompass-email|{notice_id}", {
                        "alert": "Operation Encompass e-mail keeps failing: the school has not been e-mailed",
                        "dead_letter_id": notice_id, "topic": "smtp", "reason": notice.email_last_error,
                        "event_type": "encompass.email"}, recipient="operators")
                    sinks[alert.sink].write(session, [alert], actor="safeguard.encompass")
                session.commit()
                continue
            notice.email_status, notice.email_sent_at, notice.email_attempts = "sent", now, notice.email_attempts + 1
            session.add(notice)
            session.commit()
            sent += 1
    return sent


def send_email(message: EmailMessage, settings: Settings) -> None:
    with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=15) as client:  # type: ignore[arg-type]
        if settings.smtp_starttls:
            client.starttls(context=ssl.create_default_context())
        if settings.smtp_username and settings.smtp_password:
            client.login(settings.smtp_username, settings.smtp_password.get_secret_value())
        client.send_message(message)
