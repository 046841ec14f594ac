"""State the router keeps in the SQL store: register flags, care accesses and open referrals.

Inputs: validated events, inside the router's unit of work; the master person index's keys for a
child. Outputs: updated ``register_flag`` (the current state, for the health lookup), every register
change in ``register_history`` (``history.py``), ``care_access`` and ``referral`` rows,
reconciliation corrections, and ``StoreContext``, the ``RoutingContext`` the policy engine reads.
Guarantees: updates are idempotent and ordered by the source's own sequence or event time, so a stale
register event that arrives late never overwrites (or resurrects) a newer state, and a snapshot never
undoes a change made after it; "is this child flagged?" is answered at the time of the event being
planned, for every key the person index holds for the child, whatever order the changes arrived in.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timezone
from typing import Any

from sqlalchemy import delete
from sqlmodel import Session, select

from schemas import Envelope, PersonRef
from schemas.events import (
    CprAmended,
    CprDeregistered,
    CprRegistered,
    CprSnapshot,
    DomesticAbuseReported,
    PpnSubmitted,
    RegisterEntry,
    UnscheduledCareAttended,
)
from sinks.models import CareAccess, ReferralRecord, RegisterFlag, School, SchoolRollEntry
from sinks.store import insert_ignoring_duplicates, stage_insert
from streams.identity.keys import person_key
from streams.register.history import AMENDED, DEREGISTERED, REGISTERED, UNBORN_FLAG_GRACE, Period, periods_for, record_change
from streams.settings import Settings

REGISTER_EVENTS = (CprRegistered, CprAmended, CprDeregistered)
ACCESS_HISTORY_LENGTH = 25
DETAIL_FIELDS = {"local_authority", "categories", "registered_on", "plan_reference", "key_worker", "expected_due_date"}


@dataclass(frozen=True)
class Correction:
    """One difference between a register snapshot and our flags, and what was done about it."""

    child: PersonRef
    child_key: str
    difference: str  # flag_missing | flag_stale | details_differ
    action: str  # set | remove | update
    flag: dict[str, Any]


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def _is_newer(event: CprRegistered | CprDeregistered, flag: RegisterFlag) -> bool:
    if event.sequence is not None and flag.sequence is not None:
        return event.sequence > flag.sequence
    return event.occurred_at > _aware(flag.event_at)


def event_time(event: Envelope) -> datetime:
    """When what the event reports happened (an attendance: when the child attended)."""
    return getattr(event, "attended_at", None) or event.occurred_at


def flag_is_live(flag: RegisterFlag, today: date) -> bool:
    """Active, and (for an unborn child on the mother's record) not past its delete date on ``today``."""
    if not flag.active:
        return False
    due = json.loads(flag.details_json).get("expected_due_date")
    return not (due and date.fromisoformat(due) + UNBORN_FLAG_GRACE < today)


def live_flag_for_nhs(session: Session, nhs_number: str, today: date) -> RegisterFlag | None:
    flags = session.exec(select(RegisterFlag).where(RegisterFlag.nhs_number == nhs_number, RegisterFlag.active == True)).all()  # noqa: E712
    live = [flag for flag in flags if flag_is_live(flag, today)]
    return max(live, key=lambda flag: _aware(flag.event_at)) if live else None


class StoreContext:
    """Routing context backed by one open session; apply an event's state before planning it."""

    def __init__(self, session: Session, settings: Settings, now: datetime,
                 keys_like: Callable[[str], set[str]] = lambda key: {key}) -> None:
        self.session = session
        self.settings = settings
        self.now = now
        self.keys_like = keys_like  # every key the person behind a child key is known by (the master person index)
        self.current: Envelope | None = None  # the event being planned: flags are judged at its time
        self._periods: dict[frozenset[str], list[Period]] = {}  # this unit of work's answers, until a register change
        self._current: dict[str, bool] = {}
        self._corrections: dict[str, list[Correction]] = {}
        self._reports: dict[str, dict[str, Any]] = {}

    # -- RoutingContext -------------------------------------------------------------------------
    def area_recipient(self, which: str) -> str:
        return {
            "local_authority": self.settings.area_local_authority_code,
            "health_board": self.settings.area_health_board_code,
            "police_force": self.settings.area_police_force_code,
        }[which]

    def register_change_is_current(self, event: Envelope) -> bool:
        return self._current.get(str(event.event_id), False)

    def flag_for(self, child: PersonRef) -> dict[str, Any] | None:
        """The register details if the child (any of its master person's records) was on a register when the
        event being planned happened, else None."""
        return self.flag_of_keys(self.child_keys(child), event_time(self.current) if self.current else self.now)

    def flag_of_keys(self, keys: set[str], at: datetime) -> dict[str, Any] | None:
        """The register details of whichever of ``keys`` was on a register at ``at``, else None."""
        key = frozenset(keys)
        if key not in self._periods:
            self._periods[key] = periods_for(self.session, key)
        covering = [period for period in self._periods[key] if period.covers(at)]
        return max(covering, key=lambda period: period.start).details if covering else None

    def child_keys(self, child: PersonRef) -> set[str]:
        """Every key the register may hold this child under: its own, its NHS number's, and those of every record
        the master person index holds for the same person."""
        own = person_key(child, self.current.source.organisation_code) if self.current else f"nhs:{child.nhs_number}"
        keys = {own, *self.keys_like(own)}
        if child.nhs_number:
            keys.add(f"nhs:{child.nhs_number}")
        return keys

    def evaluating(self, event: Envelope) -> None:
        """Plan ``event`` next (an earlier event being re-evaluated, or the one just applied)."""
        self.current = event

    def referrer_of(self, reference: str) -> tuple[str, str] | None:
        record = self.session.get(ReferralRecord, reference) if reference else None
        return (record.referrer_agency, record.referrer_code) if record else None

    def school_for(self, child: PersonRef) -> dict[str, Any] | None:
        """The child's school or setting: as the event names it, else from the roll by UPN or NHS number only."""
        if child.home_educated:
            return None
        if child.school is not None:
            return {k: v for k, v in child.school.model_dump(mode="json").items() if v is not None}
        clauses = [clause for value, clause in ((child.upn, SchoolRollEntry.upn == child.upn),
                                                (child.nhs_number, SchoolRollEntry.nhs_number == child.nhs_number)) if value]
        for clause in clauses:
            entry = self.session.exec(select(SchoolRollEntry).where(clause)).first()
            if entry is not None:
                school = self.session.get(School, entry.school_code)
                return {"code": entry.school_code, **({"name": school.name} if school else {})}
        return None

    def encompass_settings(self) -> tuple[int, tuple[str, ...]]:
        return self.settings.encompass_min_age, tuple(self.settings.encompass_wider_categories)

    def corrections(self, event: Envelope) -> list[Correction]:
        return self._corrections.get(str(event.event_id), [])

    def reconciliation_report(self, event: Envelope) -> dict[str, Any] | None:
        return self._reports.get(str(event.event_id))

    # -- state updates --------------------------------------------------------------------------
    def apply(self, event: Envelope) -> None:
        """Update state for ``event`` (idempotent); must run before the policy plans it."""
        self.current = event
        if isinstance(event, (*REGISTER_EVENTS, CprSnapshot)):
            self._periods.clear()  # the register changes: what was answered before may not hold
        if isinstance(event, REGISTER_EVENTS):
            self._current[str(event.event_id)] = self._apply_register(event)
        elif isinstance(event, CprSnapshot):
            self._reconcile(event)
        elif isinstance(event, UnscheduledCareAttended):
            self.record_access_if_flagged(event)
        elif isinstance(event, (PpnSubmitted, DomesticAbuseReported)):
            reference = event.ppn_reference if isinstance(event, PpnSubmitted) else event.incident_reference
            stage_insert(self.session, ReferralRecord, {
                "referral_reference": reference, "referrer_agency": event.source.agency.value,
                "referrer_code": event.source.organisation_code, "source_event_id": str(event.event_id),
                "referred_at": event.occurred_at,
            }, ["referral_reference"])

    def _apply_register(self, event: CprRegistered | CprDeregistered) -> bool:
        key = person_key(event.child, event.local_authority.code)
        kind, effective = ((DEREGISTERED, event.deregistered_on) if isinstance(event, CprDeregistered)
                           else (AMENDED, None) if isinstance(event, CprAmended) else (REGISTERED, event.registered_on))
        record_change(self.session, str(event.event_id), key, event.local_authority.code, kind, effective,
                      event.occurred_at, event.sequence, event.model_dump(mode="json", include=DETAIL_FIELDS))
        flag = self.session.get(RegisterFlag, key)
        if flag is not None and flag.event_id == str(event.event_id):
            return True  # the same event again: its deliveries are re-planned with the same ids
        if flag is not None and not _is_newer(event, flag):
            return False
        details = event.model_dump(mode="json", include=DETAIL_FIELDS)
        if isinstance(event, CprAmended) and flag is not None:
            merged = json.loads(flag.details_json)
            merged.update({k: v for k, v in details.items() if v is not None})
            details = merged
        self._store_flag(key, event.child, not isinstance(event, CprDeregistered), event.occurred_at, event.sequence,
                         str(event.event_id), details, flag, event.source.organisation_code)
        return True

    def _store_flag(self, key: str, child: PersonRef, active: bool, at: datetime, sequence: int | None, event_id: str,
                    details: dict[str, Any], flag: RegisterFlag | None, producer: str | None = None) -> RegisterFlag:
        if flag is None:
            flag = RegisterFlag(child_key=key, local_authority_code="", active=active, event_at=at, event_id=event_id,
                                details_json="{}")
        flag.nhs_number = child.nhs_number
        flag.local_authority_code = details["local_authority"]["code"]
        flag.active, flag.event_at, flag.sequence, flag.event_id = active, at, sequence, event_id
        flag.producer_code = producer or flag.producer_code  # who holds it: only they may amend or remove it
        flag.details_json = json.dumps(details, sort_keys=True)
        flag.child_json = child.model_dump_json()
        self.session.add(flag)
        self.session.flush()
        return flag

    def _reconcile(self, event: CprSnapshot) -> None:
        """Compare a local authority's full register with our flags; correct and record every difference."""
        authority = event.local_authority
        as_of = event.as_of
        listed: dict[str, RegisterEntry] = {}
        for entry in event.children:
            entry = entry if isinstance(entry, RegisterEntry) else RegisterEntry(child=entry)
            listed[person_key(entry.child, authority.code)] = entry
        flags = {flag.child_key: flag for flag in self.session.exec(
            select(RegisterFlag).where(RegisterFlag.local_authority_code == authority.code))}
        active_before = sum(1 for flag in flags.values() if flag.active)
        corrections, changed_since = [], []
        authority_json = authority.model_dump(mode="json")
        for key, entry in listed.items():
            flag = flags.get(key)
            if flag is not None and flag.event_id == str(event.event_id):
                continue  # this snapshot was applied already (redelivery)
            if flag is not None and _aware(flag.event_at) > as_of:
                changed_since.append(key)
                continue
            wanted = entry.model_dump(mode="json", include=DETAIL_FIELDS - {"local_authority"}, exclude_none=True)
            if flag is None or not flag.active:
                details = {"local_authority": authority_json, **wanted}
                corrections.append(Correction(entry.child, key, "flag_missing", "set", details))
            else:
                current = json.loads(flag.details_json)
                differs = {k: v for k, v in wanted.items() if current.get(k) != v}
                if not differs:
                    continue
                details = {**current, **differs, "local_authority": {**current.get("local_authority", {}), **authority_json}}
                corrections.append(Correction(entry.child, key, "details_differ", "update", details))
            self._store_flag(key, entry.child, True, as_of, flag.sequence if flag else None, str(event.event_id), details, flag,
                             event.source.organisation_code)
            record_change(self.session, f"{event.event_id}|{key}", key, authority.code,
                          REGISTERED if corrections[-1].action == "set" else AMENDED,
                          entry.registered_on if corrections[-1].action == "set" else None, as_of, None, details)
        for key, flag in flags.items():
            if key in listed or not flag.active:
                continue
            if _aware(flag.event_at) > as_of:
                changed_since.append(key)
                continue
            child = PersonRef.model_validate_json(flag.child_json) if flag.child_json != "{}" else PersonRef(source_person_id=key)
            details = json.loads(flag.details_json)
            corrections.append(Correction(child, key, "flag_stale", "remove", details))
            self._store_flag(key, child, False, as_of, flag.sequence, str(event.event_id), details, flag)
            record_change(self.session, f"{event.event_id}|{key}", key, authority.code, DEREGISTERED, None, as_of, None,
                          details)
        self._corrections[str(event.event_id)] = corrections
        self._reports[str(event.event_id)] = {
            "local_authority": authority.code, "as_of": as_of.isoformat(), "children_in_snapshot": len(listed),
            "active_flags_before": active_before, "differences": len(corrections),
            "corrections": [{"child_key": c.child_key, "difference": c.difference, "action": c.action} for c in corrections],
            "changed_after_snapshot": sorted(changed_since),
        }

    def record_access_if_flagged(self, event: UnscheduledCareAttended) -> None:
        """Keep the attendance in the child's access history if the child was on a register when it happened."""
        self.current = event
        nhs = event.child.nhs_number
        if not nhs or self.flag_for(event.child) is None:
            return  # an unflagged child's attendance is disclosed to nobody and kept nowhere
        record_access(self.session, nhs, f"{event.source.organisation_code}:{event.attendance_reference}",
                      event.attended_at, event.site.model_dump(mode="json"), str(event.event_id))


    def forget_access_unless_flagged(self, event: UnscheduledCareAttended) -> None:
        """Re-judged: an attendance of a child who, it turns out, was not on a register then leaves the history."""
        self.current = event
        if self.flag_for(event.child) is None:
            access_id = f"{event.source.organisation_code}:{event.attendance_reference}"
            self.session.exec(delete(CareAccess).where(CareAccess.access_id == access_id))  # type: ignore[call-overload]


def record_access(session: Session, nhs_number: str, access_id: str, at: datetime, site: dict, event_id: str | None) -> None:
    """Keep one access in a flagged child's history, pruned to the most recent 25."""
    insert_ignoring_duplicates(session, CareAccess, [{
        "access_id": access_id, "nhs_number": nhs_number, "accessed_at": at, "site_json": json.dumps(site),
        "source_event_id": event_id}], ["access_id"])
    keep = select(CareAccess.access_id).where(CareAccess.nhs_number == nhs_number).order_by(
        CareAccess.accessed_at.desc()).limit(ACCESS_HISTORY_LENGTH)  # type: ignore[attr-defined]
    session.exec(delete(CareAccess).where(CareAccess.nhs_number == nhs_number,  # type: ignore[call-overload]
                                          CareAccess.access_id.not_in(keep)))  # type: ignore[attr-defined]


def recent_accesses(session: Session, nhs_number: str) -> list[dict[str, Any]]:
    rows = session.exec(select(CareAccess).where(CareAccess.nhs_number == nhs_number)
                        .order_by(CareAccess.accessed_at.desc()).limit(ACCESS_HISTORY_LENGTH))  # type: ignore[attr-defined]
    return [{"accessed_at": _aware(row.accessed_at).isoformat(), "site": json.loads(row.site_json)} for row in rows]
