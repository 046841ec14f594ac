"""The register in event time: every change kept, periods on the register folded from them.

Inputs: register changes (registrations, amendments, de-registrations, snapshot corrections) as they
arrive, in any order; questions "was any of these child keys on a register at this instant?". Outputs:
``register_history`` rows; ``Period`` objects (authority, start, end, details). Guarantee: the periods
are a function of the set of changes, never of their arrival order: each (child, authority) history is
ordered by the source's sequence when every change carries one, else by when it happened; an unborn
child's period ends 28 days after the expected due date unless a change ends it earlier.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from typing import Any

from sqlmodel import Session, select

from sinks.models import RegisterHistory
from sinks.store import stage_insert

REGISTERED, AMENDED, DEREGISTERED = "registered", "amended", "deregistered"
UNBORN_FLAG_GRACE = timedelta(days=28)


@dataclass(frozen=True)
class Period:
    """One stretch of one child on one authority's register."""

    child_key: str
    authority: str
    start: datetime
    end: datetime | None  # None: still on the register
    details: dict[str, Any]

    def covers(self, at: datetime) -> bool:
        return self.start <= at and (self.end is None or at < self.end)


def record_change(session: Session, change_id: str, child_key: str, authority: str, kind: str, effective: date | None,
                  occurred_at: datetime, sequence: int | None, details: dict[str, Any]) -> None:
    """Keep one register change (idempotent by ``change_id``)."""
    effective_at = datetime.combine(effective, time(0, 0), timezone.utc) if effective else occurred_at
    stage_insert(session, RegisterHistory, {
        "change_id": change_id, "child_key": child_key, "local_authority_code": authority, "kind": kind,
        "effective_at": effective_at, "occurred_at": occurred_at, "sequence": sequence,
        "details_json": json.dumps(details, sort_keys=True)}, ["change_id"])


def periods_for(session: Session, child_keys: Iterable[str]) -> list[Period]:
    """Every period on a register of any of ``child_keys`` (one child's identifiers)."""
    keys = sorted(set(child_keys))
    if not keys:
        return []
    rows = session.exec(select(RegisterHistory).where(RegisterHistory.child_key.in_(keys))).all()  # type: ignore[attr-defined]
    return fold(rows)


def fold(rows: Iterable[RegisterHistory]) -> list[Period]:
    groups: dict[tuple[str, str], list[RegisterHistory]] = defaultdict(list)
    for row in rows:
        groups[(row.child_key, row.local_authority_code)].append(row)
    periods: list[Period] = []
    for (child_key, authority), changes in sorted(groups.items()):
        by_sequence = all(change.sequence is not None for change in changes)
        changes.sort(key=lambda c: ((c.sequence or 0) if by_sequence else 0, _aware(c.occurred_at), c.change_id))
        start: datetime | None = None
        details: dict[str, Any] = {}
        for change in changes:
            values = json.loads(change.details_json)
            if change.kind == REGISTERED:
                if start is not None:  # registered again while on the register: the details change
                    details = {**details, **values}
                    continue
                start, details = _aware(change.effective_at), values
            elif change.kind == AMENDED and start is not None:
                details = {**details, **{k: v for k, v in values.items() if v is not None}}
            elif change.kind == DEREGISTERED and start is not None:
                periods.append(_period(child_key, authority, start, max(start, _aware(change.effective_at)), details))
                start, details = None, {}
        if start is not None:
            periods.append(_period(child_key, authority, start, None, details))
    return periods


def _period(child_key: str, authority: str, start: datetime, end: datetime | None, details: dict[str, Any]) -> Period:
    due = details.get("expected_due_date")
    if due:
        lapse = datetime.combine(date.fromisoformat(due) + UNBORN_FLAG_GRACE, time(0, 0), timezone.utc)
        end = lapse if end is None else min(end, lapse)
    return Period(child_key, authority, start, end, details)


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
