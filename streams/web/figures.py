"""Operational figures read from the SQL store: counts and identifiers, never personal data.

Inputs: the store engine, the instant, the policy's reconciliation-report rules (and, from the
supervisor, consumer lag per partition). Outputs: a dict of figures for the dashboard, its live
stream, ``/metrics`` (``streams/web/metrics.py``) and the CLI. Guarantee: read-only;
every figure is derived from keyed rows, so it never double-counts.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Collection
from datetime import datetime, timedelta, timezone

from sqlalchemy import Engine, case, func
from sqlmodel import Session, select

from sinks.contract import SINKS
from sinks.models import (
    DeadLetterRecord,
    Deadline,
    DeliveryRecord,
    EncompassNotice,
    IdentityChange,
    IdentityRecord,
    IdentityReview,
    IntakeEvent,
    RegisterFlag,
    WebhookDelivery,
)
from streams.encompass.notices import notice_status

TOP_REASONS = 5
FEED_RECIPIENTS_SHOWN = 50
RATE_WINDOW = timedelta(seconds=60)
WORKLIST_HORIZON = timedelta(hours=8)  # the worklist: what is overdue, and what falls due within this
WORKLIST_SHOWN = 50
HISTORY_BUCKET = timedelta(minutes=5)  # deliveries per recipient over time: twelve five-minute buckets
HISTORY_BUCKETS = 12
HISTORY_RECIPIENTS = 6


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def _share(part: int | None, whole: int | None) -> float | None:
    return round((part or 0) / whole, 4) if whole else None


def collect(engine: Engine, now: datetime, report_rules: Collection[str], lag: dict[str, int] | None = None) -> dict:
    since = now - RATE_WINDOW
    with Session(engine) as session:
        intake = dict(session.exec(select(IntakeEvent.status, func.count()).group_by(IntakeEvent.status)).all())
        by_type = dict(session.exec(select(IntakeEvent.event_type, func.count()).group_by(IntakeEvent.event_type)).all())
        per_topic = dict(session.exec(select(IntakeEvent.topic, func.count()).where(IntakeEvent.accepted_at >= since)
                                      .group_by(IntakeEvent.topic)).all())
        per_agency = dict(session.exec(select(IntakeEvent.source_agency, func.count()).where(IntakeEvent.accepted_at >= since)
                                       .group_by(IntakeEvent.source_agency)).all())
        deliveries = dict(session.exec(select(DeliveryRecord.sink, func.count()).group_by(DeliveryRecord.sink)).all())
        by_rule = dict(session.exec(select(DeliveryRecord.rule, func.count()).group_by(DeliveryRecord.rule)).all())
        parked = session.exec(select(func.count()).select_from(DeadLetterRecord)).one()
        reasons = session.exec(select(DeadLetterRecord.reason, func.count()).group_by(DeadLetterRecord.reason)
                               .order_by(func.count().desc()).limit(TOP_REASONS)).all()
        recent = session.exec(select(DeadLetterRecord.dead_letter_id, DeadLetterRecord.topic, DeadLetterRecord.field_path,
                                     DeadLetterRecord.reason, DeadLetterRecord.replayed_at)
                              .order_by(DeadLetterRecord.parked_at.desc()).limit(10)).all()  # type: ignore[union-attr]
        flags = session.exec(select(func.count()).select_from(RegisterFlag).where(RegisterFlag.active == True)).one()  # noqa: E712
        with_nhs = session.exec(select(func.count()).select_from(RegisterFlag).where(
            RegisterFlag.active == True, RegisterFlag.nhs_number != None)).one()  # noqa: E711,E712
        notices = Counter(notice_status(n, now) for n in session.exec(select(EncompassNotice)))
        deadlines = session.exec(select(Deadline.rule, Deadline.status, func.count()).group_by(Deadline.rule, Deadline.status)).all()
        voice_total, voice_yes = session.exec(select(func.count(IntakeEvent.voice_recorded), func.sum(
            case((IntakeEvent.voice_recorded == True, 1), else_=0))).where(IntakeEvent.event_type == "ppn.submitted")).one()  # noqa: E712
        persons, with_language = session.exec(select(func.sum(IntakeEvent.persons), func.sum(IntakeEvent.persons_with_language))).one()
        reviews = dict(session.exec(select(IdentityReview.status, func.count()).group_by(IdentityReview.status)).all())
        changes = dict(session.exec(select(IdentityChange.kind, func.count()).group_by(IdentityChange.kind)).all())
        waiting = session.exec(select(IdentityReview.review_id, IdentityReview.score, IdentityReview.person_id,
                                      IdentityReview.candidate_person_id).where(IdentityReview.status == "open")
                               .order_by(IdentityReview.created_at).limit(10)).all()  # type: ignore[arg-type]
        person_records = session.exec(select(func.count()).select_from(IdentityRecord)).one()
        master_persons = session.exec(select(func.count(func.distinct(IdentityRecord.person_id)))).one()
        feeds = session.exec(select(DeliveryRecord.recipient, func.count(), func.count(DeliveryRecord.relayed_at))
                             .group_by(DeliveryRecord.recipient)).all()
        oldest = session.exec(select(func.min(DeliveryRecord.delivered_at))
                              .where(DeliveryRecord.relayed_at.is_(None))).one()  # type: ignore[union-attr]
        hooks = session.exec(select(WebhookDelivery.organisation_code, WebhookDelivery.status, func.count())
                             .group_by(WebhookDelivery.organisation_code, WebhookDelivery.status)).all()
        on_worklist = (Deadline.status == "breached") | ((Deadline.status == "open") & (Deadline.due_at <= now + WORKLIST_HORIZON))
        worklist = session.exec(select(Deadline.rule, Deadline.reference, Deadline.recipients_json, Deadline.due_at,
                                       Deadline.status).where(on_worklist)
                                .order_by(Deadline.due_at).limit(WORKLIST_SHOWN)).all()  # type: ignore[arg-type]
        worklist_total = session.exec(select(func.count()).select_from(Deadline).where(on_worklist)).one()
        history = _deliveries_over_time(session, now)
        reports = session.exec(select(DeliveryRecord.content_json).where(
            DeliveryRecord.rule.in_(list(report_rules)))  # type: ignore[attr-defined]
            .order_by(DeliveryRecord.delivered_at.desc()).limit(20)).all()  # type: ignore[union-attr]
    latest_reports: dict[str, dict] = {}
    for content in reports:
        report = json.loads(content)["reconciliation_report"]
        latest_reports.setdefault(report["local_authority"], report)
    webhooks: dict[str, Counter] = {}
    for organisation, status, count in hooks:
        webhooks.setdefault(organisation, Counter())[status] += count
    recipients = sorted(({"recipient": recipient, "relayed": relayed, "waiting": total - relayed,
                          "webhook_acknowledged": webhooks.get(recipient, Counter())["acknowledged"],
                          "webhook_pending": webhooks.get(recipient, Counter())["pending"],
                          "webhook_failed": webhooks.get(recipient, Counter())["failed"]}
                         for recipient, total, relayed in feeds), key=lambda r: (-r["waiting"], r["recipient"]))
    return {
        "generated_at": now.isoformat(),
        # Outbound feeds (streams/pipeline/relay.py): per recipient, the fifty with most waiting first.
        "feeds": {"recipients": recipients[:FEED_RECIPIENTS_SHOWN], "recipient_count": len(recipients),
                  "waiting": sum(r["waiting"] for r in recipients),
                  "oldest_unrelayed_seconds": round((now - _aware(oldest)).total_seconds(), 1) if oldest else 0.0},
        "intake": {"accepted": intake.get("accepted", 0) + intake.get("processed", 0), "processed": intake.get("processed", 0),
                   "awaiting_routing": intake.get("accepted", 0), "by_event_type": by_type},
        "rates": {"window_seconds": RATE_WINDOW.seconds,
                  "per_topic": {k: round(v / RATE_WINDOW.seconds, 2) for k, v in per_topic.items()},
                  "per_agency": {(k or "unknown"): round(v / RATE_WINDOW.seconds, 2) for k, v in per_agency.items()},
                  "total": round(sum(per_topic.values()) / RATE_WINDOW.seconds, 2)},
        "lag": lag or {},
        "deliveries": {sink: deliveries.get(sink, 0) for sink in SINKS if sink != "audit"},
        "deliveries_by_rule": by_rule,
        "dead_letters": {"total": parked, "top_reasons": [{"reason": r, "count": c} for r, c in reasons],
                         "recent": [{"dead_letter_id": i, "topic": t, "field_path": f, "reason": r,
                                     "replayed_at": _aware(when).isoformat() if when else None} for i, t, f, r, when in recent]},
        # What someone must act on: overdue (breached) deadlines and those due within the horizon, soonest first.
        "worklist": {"horizon_hours": WORKLIST_HORIZON.total_seconds() / 3600, "total": worklist_total,
                     "items": [{"rule": rule, "reference": reference, "recipients": json.loads(recipients),
                                "due_at": _aware(due).isoformat(),
                                "status": "overdue" if status == "breached" or _aware(due) <= now else "due"}
                               for rule, reference, recipients, due, status in worklist]},
        "deliveries_over_time": history,
        "encompass": {status: notices.get(status, 0) for status in ("pending", "delivered", "acknowledged", "overdue")},
        "deadlines": [{"rule": rule, "status": status, "count": count} for rule, status, count in deadlines],
        "register": {"active_flags": flags, "with_valid_nhs_number": with_nhs,
                     # CP-IS asks for at least 95% before a local authority goes live.
                     "share_with_valid_nhs_number": _share(with_nhs, flags),
                     "reconciliation": list(latest_reports.values())},
        # master_persons counts persons ever created; merged ones are subtracted, un-merged added back.
        "identity": {"records": person_records,
                     "master_persons": master_persons - changes.get("merge", 0) + changes.get("unmerge", 0),
                     "review_open": reviews.get("open", 0), "review_confirmed": reviews.get("confirmed", 0),
                     "review_rejected": reviews.get("rejected", 0), "merges": changes.get("merge", 0),
                     "unmerges": changes.get("unmerge", 0),
                     # The oldest ten waiting, by identifiers: decided with `safeguard identity review`.
                     "waiting": [{"review_id": r, "score": s, "person_id": p, "candidate_person_id": c} for r, s, p, c in waiting]},
        "quality": {"ppns_with_voice_of_child": _share(voice_yes, voice_total),
                    "persons_with_language_preference": _share(with_language, persons)},
    }


def _deliveries_over_time(session: Session, now: datetime) -> dict:
    """Deliveries per recipient in each five-minute bucket of the last hour (the busiest recipients, the rest as
    "others"), counted in the database in one pass over the window."""
    start = now - HISTORY_BUCKET * HISTORY_BUCKETS
    edges = [start + HISTORY_BUCKET * i for i in range(HISTORY_BUCKETS + 1)]
    counts = [func.sum(case(((DeliveryRecord.delivered_at >= low) & (DeliveryRecord.delivered_at < high), 1), else_=0))
              for low, high in zip(edges, edges[1:])]
    rows = session.exec(select(DeliveryRecord.recipient, *counts).where(DeliveryRecord.delivered_at >= start)
                        .group_by(DeliveryRecord.recipient)).all()
    ranked = sorted(((recipient, [int(c or 0) for c in buckets]) for recipient, *buckets in rows),
                    key=lambda r: (-sum(r[1]), r[0]))
    series = dict(ranked[:HISTORY_RECIPIENTS])
    if len(ranked) > HISTORY_RECIPIENTS:
        series["others"] = [sum(column) for column in zip(*(b for _, b in ranked[HISTORY_RECIPIENTS:]))]
    return {"bucket_seconds": int(HISTORY_BUCKET.total_seconds()), "starts": [edge.isoformat() for edge in edges[:-1]],
            "recipients": series}
