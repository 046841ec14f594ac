"""Operational figures read from the SQL store: counts and identifiers, never personal data.

Inputs: the store engine. Outputs: a dict of figures for the dashboard, ``/metrics`` and the
CLI. Guarantee: read-only; every figure is derived from keyed rows, so it never double-counts.
"""

from __future__ import annotations

from sqlalchemy import Engine, func
from sqlmodel import Session, select

from collections import Counter
from datetime import datetime, timezone

from sinks.models import DeadLetterRecord, Deadline, DeliveryRecord, EncompassNotice, IntakeEvent, RegisterFlag
from streams.encompass import notice_status
from streams.policy import SINKS

TOP_REASONS = 5


def collect(engine: Engine) -> dict:
    with Session(engine) as session:
        intake = dict(session.exec(select(IntakeEvent.status, func.count()).group_by(IntakeEvent.status)).all())
        by_type = dict(session.exec(select(IntakeEvent.event_type, func.count()).group_by(IntakeEvent.event_type)).all())
        deliveries = dict(session.exec(select(DeliveryRecord.sink, func.count()).group_by(DeliveryRecord.sink)).all())
        by_rule = dict(session.exec(select(DeliveryRecord.rule, func.count()).group_by(DeliveryRecord.rule)).all())
        parked = session.exec(select(func.count()).select_from(DeadLetterRecord)).one()
        reasons = session.exec(select(DeadLetterRecord.reason, func.count()).group_by(DeadLetterRecord.reason)
                               .order_by(func.count().desc()).limit(TOP_REASONS)).all()
        recent = session.exec(select(DeadLetterRecord.dead_letter_id, DeadLetterRecord.topic, DeadLetterRecord.field_path,
                                     DeadLetterRecord.reason).order_by(DeadLetterRecord.parked_at.desc()).limit(10)).all()  # type: ignore[union-attr]
        flags = session.exec(select(func.count()).select_from(RegisterFlag).where(RegisterFlag.active == True)).one()  # noqa: E712
        now = datetime.now(timezone.utc)
        notices = Counter(notice_status(n, now) for n in session.exec(select(EncompassNotice)))
        deadlines = session.exec(select(Deadline.rule, Deadline.status, func.count()).group_by(Deadline.rule, Deadline.status)).all()
        with_nhs = session.exec(select(func.count()).select_from(RegisterFlag).where(
            RegisterFlag.active == True, RegisterFlag.nhs_number != None)).one()  # noqa: E711,E712
    return {
        "intake": {"accepted": intake.get("accepted", 0) + intake.get("processed", 0), "processed": intake.get("processed", 0),
                   "awaiting_routing": intake.get("accepted", 0), "by_event_type": by_type},
        "deliveries": {sink: deliveries.get(sink, 0) for sink in SINKS if sink != "audit"},
        "deliveries_by_rule": by_rule,
        "dead_letters": {"total": parked, "top_reasons": [{"reason": r, "count": c} for r, c in reasons],
                         "recent": [{"dead_letter_id": i, "topic": t, "field_path": f, "reason": r} for i, t, f, r in recent]},
        "encompass": {status: notices.get(status, 0) for status in ("pending", "delivered", "acknowledged", "overdue")},
        "deadlines": [{"rule": rule, "status": status, "count": count} for rule, status, count in deadlines],
        "register": {"active_flags": flags, "with_valid_nhs_number": with_nhs,
                     # CP-IS asks for at least 95% before a local authority goes live.
                     "share_with_valid_nhs_number": round(with_nhs / flags, 4) if flags else None},
    }


def prometheus_text(figures: dict) -> str:
    """The figures in Prometheus text exposition format."""
    lines = [
        "# HELP safeguard_intake_events Events accepted on intake, by state.",
        "# TYPE safeguard_intake_events gauge",
        f'safeguard_intake_events{{state="accepted"}} {figures["intake"]["accepted"]}',
        f'safeguard_intake_events{{state="processed"}} {figures["intake"]["processed"]}',
        "# HELP safeguard_deliveries Deliveries recorded per sink.",
        "# TYPE safeguard_deliveries gauge",
        *(f'safeguard_deliveries{{sink="{sink}"}} {count}' for sink, count in figures["deliveries"].items()),
        "# HELP safeguard_dead_letters Inputs parked on dead-letter topics.",
        "# TYPE safeguard_dead_letters gauge",
        f"safeguard_dead_letters {figures['dead_letters']['total']}",
        "# HELP safeguard_register_active_flags Children currently flagged on the register.",
        "# TYPE safeguard_register_active_flags gauge",
        f"safeguard_register_active_flags {figures['register']['active_flags']}",
        "# HELP safeguard_encompass_notices Operation Encompass notices by status.",
        "# TYPE safeguard_encompass_notices gauge",
        *(f'safeguard_encompass_notices{{status="{k}"}} {v}' for k, v in figures["encompass"].items()),
        "# HELP safeguard_deadlines Watched deadlines by rule and status (open, met, breached, resolved).",
        "# TYPE safeguard_deadlines gauge",
        *(f'safeguard_deadlines{{rule="{d["rule"]}",status="{d["status"]}"}} {d["count"]}' for d in figures["deadlines"]),
        "# HELP safeguard_register_flags_with_nhs_number Flagged children whose record carries a valid NHS number.",
        "# TYPE safeguard_register_flags_with_nhs_number gauge",
        f"safeguard_register_flags_with_nhs_number {figures['register']['with_valid_nhs_number']}",
    ]
    return "\n".join(lines) + "\n"
