"""Operation Encompass e-mail: each notice rendered as plain text in the school's language and sent
to the school's designated safeguarding lead (or, when that address fails or is absent, the deputy)
through the e-mail sink, with retries and an alert when it keeps failing.

Inputs: the store's pending notices, the e-mail sink (``None`` when no SMTP server is configured:
notices then wait in the school inbox), the policy (for the alert), the delivery sinks and ``now``.
Outputs: e-mails; each notice's e-mail status, attempts, next attempt and which address took it. Guarantees: a notice is
claimed with a lease before sending, so two workers never send it at once; a failed attempt is
retried with doubling back-off (capped at an hour), and the attempt that reaches
``email_alert_after_attempts`` raises one operator alert instead of the notice vanishing; the
subject carries only the police reference and no line break can reach a header.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from email.message import EmailMessage

from sqlalchemy import Engine, or_, update
from sqlmodel import Session, select

from sinks.contract import GuardedSink, SinkBackpressure, UnitOfWork
from sinks.email import SmtpSink
from sinks.models import DeliveryRecord, EncompassNotice, School
from streams.encompass.notices import readable
from streams.notices.render import flat
from streams.settings import Settings
from streams.sharing.policy import Policy

SEND_LEASE = timedelta(minutes=2)
MAX_BACKOFF = timedelta(hours=1)
DUE_PER_RUN = 50


def render_email(notice: EncompassNotice, readable_notice: dict[str, str], to: str, sender: str) -> EmailMessage:
    """The notice as plain text (``streams.encompass.notices.readable``: the school's language, "acknowledge by" its
    deadline); the subject is the template's title, which carries only the police reference, never the child's name.
    Every value in it was flattened to one line, so no text from an event can add a line or reach a header."""
    message = EmailMessage()
    message["From"], message["To"] = sender, to
    message["Subject"] = flat(readable_notice["title"])
    message["Message-ID"] = f"<{notice.notice_id}@encompass.safeguard>"  # lets mail systems drop a resend
    message.set_content(readable_notice["text"] + "\n")
    message["Content-Language"] = ", ".join(readable_notice["language"].split("+"))  # after set_content, which clears it
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
        addresses = [(who, address) for who, address in (("lead", school.dsl_email if school else None),
                                                         ("deputy", school.deputy_dsl_email if school else None)) if address]
        if not addresses:
            notice.email_status, notice.email_last_error = "no_address", "no safeguarding lead or deputy e-mail on the directory"
            session.add(notice)
            session.commit()
            return 0
        delivery = session.get(DeliveryRecord, notice_id)
        text = readable(policy, notice, json.loads(delivery.content_json), school)
        unit = UnitOfWork(session, "safeguard.encompass", now)
        failures: list[SinkBackpressure] = []
        for who, address in addresses:  # the lead first; the deputy when the lead's address fails
            try:
                email.write([render_email(notice, text, address, settings.smtp_from)], unit)
            except SinkBackpressure as exc:
                failures.append(exc)
                continue
            notice.email_status, notice.email_sent_at, notice.email_sent_to = "sent", now, who
            notice.email_attempts += 1
            session.add(notice)
            session.commit()
            return 1
        exc = failures[-1]  # every address failed: retry later, with back-off
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
