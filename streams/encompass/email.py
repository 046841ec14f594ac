"""Operation Encompass e-mail: each notice rendered as plain text and sent to the school's
designated safeguarding lead through the e-mail sink, with retries and an alert when it keeps failing.

Inputs: the store's pending notices, the e-mail sink (``None`` when no SMTP server is configured:
notices then wait in the school inbox), the policy (for the alert), the delivery sinks and ``now``.
Outputs: e-mails; each notice's e-mail status, attempts and next attempt. Guarantees: a notice is
claimed with a lease before sending, so two workers never send it at once; a failed attempt is
retried with doubling back-off (capped at an hour), and the attempt that reaches
``email_alert_after_attempts`` raises one operator alert instead of the notice vanishing; the
subject carries only the police reference and no line break can reach a header.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from email.message import EmailMessage
from typing import Any

from sqlalchemy import Engine, or_, update
from sqlmodel import Session, select

from sinks.contract import GuardedSink, SinkBackpressure, UnitOfWork
from sinks.email import SmtpSink
from sinks.models import DeliveryRecord, EncompassNotice, School
from streams.encompass.notices import aware
from streams.settings import Settings
from streams.sharing.policy import Policy

SEND_LEASE = timedelta(minutes=2)
MAX_BACKOFF = timedelta(hours=1)
DUE_PER_RUN = 50


def flat(value: Any) -> str:
    """One line: every run of whitespace (line breaks, tabs) and every control character becomes one space."""
    return " ".join("".join(" " if ord(c) < 32 or ord(c) == 127 else c for c in str(value)).split())


def render_email(notice: EncompassNotice, content: dict[str, Any], to: str, sender: str) -> EmailMessage:
    """A plain-text notice; the subject carries only the police reference, never the child's name. Every value
    is flattened to one line, so no text from an event can add a line (a forged "Police contact") to the body."""
    child = content.get("child", {})
    school = content.get("school", {})
    contact = content.get("police_contact", {})
    present = child.get("present_at_incident")
    lines = [
        "Operation Encompass notice (OFFICIAL-SENSITIVE)",
        "",
        f"Child: {flat(child.get('given_names', ''))} {flat(child.get('family_name', ''))}".rstrip(),
        f"Date of birth: {flat(child.get('date_of_birth', 'not recorded'))}",
        f"UPN: {flat(child.get('upn', 'not recorded'))}",
        f"School or setting: {flat(school.get('name', ''))} ({flat(school.get('code', notice.school_code))})",
        f"Police reference: {flat(content.get('police_reference', ''))}",
        f"Incident: {flat(content.get('occurred_at', ''))}; police attended "
        f"{flat(content.get('attended_at', content.get('occurred_at', '')))}",
        f"Child present: {'yes' if present else 'no' if present is False else 'not recorded'}"
        + (f" ({flat(child['where_present'])})" if child.get("where_present") else ""),
    ]
    if content.get("voice_of_child_line"):
        lines.append(f"The child said or showed: {flat(content['voice_of_child_line'])}")
    lines += ["", "Police contact: " + ", ".join(flat(v) for k, v in contact.items() if k != "organisation_code"),
              f"Please acknowledge by {aware(notice.escalate_at).strftime('%H:%M on %d %B %Y')} in the school inbox.",
              f"Notice id: {notice.notice_id}"]
    message = EmailMessage()
    message["From"], message["To"] = sender, to
    subject = f"Operation Encompass notice {content.get('police_reference', '')}".strip()
    message["Subject"] = flat(subject)  # no line breaks can reach a header
    message["Message-ID"] = f"<{notice.notice_id}@encompass.safeguard>"  # lets mail systems drop a resend
    message.set_content("\n".join(lines))
    return message


def dispatch_emails(engine: Engine, email: SmtpSink | None, settings: Settings, policy: Policy,
                    sinks: dict[str, GuardedSink], now: datetime) -> int:
    """Send every due notice e-mail once (claimed with a lease), retrying failures with back-off."""
    if email is None:
        return 0
    with Session(engine) as session:
        due = session.exec(select(EncompassNotice.notice_id).where(
            or_(EncompassNotice.email_status == "pending",
                (EncompassNotice.email_status == "sending") & (EncompassNotice.email_next_attempt_at <= now)),  # type: ignore[operator]
            EncompassNotice.email_next_attempt_at <= now).limit(DUE_PER_RUN)).all()  # type: ignore[operator]
    return sum(_send_one(engine, email, settings, policy, sinks, notice_id, now) for notice_id in due)


def _send_one(engine: Engine, email: SmtpSink, settings: Settings, policy: Policy, sinks: dict[str, GuardedSink],
              notice_id: str, now: datetime) -> int:
    with Session(engine) as session:
        claimed = session.exec(update(EncompassNotice).where(  # type: ignore[call-overload]
            EncompassNotice.notice_id == notice_id, EncompassNotice.email_next_attempt_at <= now,
            EncompassNotice.email_status.in_(["pending", "sending"]))  # type: ignore[attr-defined]
            .values(email_status="sending", email_next_attempt_at=now + SEND_LEASE))
        session.commit()
        if claimed.rowcount != 1:
            return 0  # another worker has it
        notice = session.get(EncompassNotice, notice_id)
        school = session.get(School, notice.school_code)
        if school is None or not school.dsl_email:
            notice.email_status, notice.email_last_error = "no_address", "no safeguarding lead e-mail on the school directory"
            session.add(notice)
            session.commit()
            return 0
        delivery = session.get(DeliveryRecord, notice_id)
        message = render_email(notice, json.loads(delivery.content_json), school.dsl_email, settings.smtp_from)
        unit = UnitOfWork(session, "safeguard.encompass", now)
        try:
            email.write([message], unit)
        except SinkBackpressure as exc:
            notice.email_attempts += 1
            backoff = min(timedelta(seconds=settings.email_retry_first_seconds * 2 ** (notice.email_attempts - 1)), MAX_BACKOFF)
            notice.email_status, notice.email_next_attempt_at = "pending", now + backoff
            cause = exc.__cause__ or exc
            notice.email_last_error = f"{type(cause).__name__}: {str(cause)[:300]}"
            session.add(notice)
            if notice.email_attempts == settings.email_alert_after_attempts:
                alert = policy.plan_operational("dead_letter_alert", f"encompass-email|{notice_id}", {
                    "alert": "Operation Encompass e-mail keeps failing: the school has not been e-mailed",
                    "dead_letter_id": notice_id, "topic": "smtp", "reason": notice.email_last_error,
                    "event_type": "encompass.email"}, recipient="operators")
                sinks[alert.sink].write([alert], unit)
            session.commit()
            return 0
        notice.email_status, notice.email_sent_at, notice.email_attempts = "sent", now, notice.email_attempts + 1
        session.add(notice)
        session.commit()
        return 1
