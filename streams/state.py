"""State the router keeps in the SQL store: register flags and open referrals.

Inputs: validated events, inside the router's unit of work. Outputs: updated ``register_flag``
and ``referral`` rows, and ``StoreContext``, the ``RoutingContext`` the policy engine reads.
Guarantee: updates are idempotent and ordered by the source's own sequence or event time, so
a stale register event that arrives late never overwrites (or resurrects) a newer state.
"""

from __future__ import annotations

import json
from typing import Any

from sqlmodel import Session, select

from schemas import Envelope, PersonRef
from schemas.events import CprAmended, CprDeregistered, CprRegistered, DomesticAbuseReported, PpnSubmitted
from sinks.models import ReferralRecord, RegisterFlag
from sinks.store import insert_ignoring_duplicates
from streams.keys import person_key
from streams.settings import Settings

REGISTER_EVENTS = (CprRegistered, CprAmended, CprDeregistered)


def _is_newer(event: CprRegistered | CprDeregistered, flag: RegisterFlag) -> bool:
    if event.sequence is not None and flag.sequence is not None:
        return event.sequence > flag.sequence
    occurred = event.occurred_at
    stored = flag.event_at if flag.event_at.tzinfo else flag.event_at.replace(tzinfo=occurred.tzinfo)
    return occurred > stored


class StoreContext:
    """Routing context backed by one open session; apply an event's state before planning it."""

    def __init__(self, session: Session, settings: Settings) -> None:
        self.session = session
        self.settings = settings
        self._current: dict[str, bool] = {}

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
        if not child.nhs_number:
            return None
        flag = self.session.exec(
            select(RegisterFlag).where(RegisterFlag.nhs_number == child.nhs_number, RegisterFlag.active == True)  # noqa: E712
        ).first()
        return json.loads(flag.details_json) if flag else None

    def referrer_of(self, reference: str) -> tuple[str, str] | None:
        record = self.session.get(ReferralRecord, reference) if reference else None
        return (record.referrer_agency, record.referrer_code) if record else None

    # -- state updates --------------------------------------------------------------------------
    def apply(self, event: Envelope) -> None:
        """Update state for ``event`` (idempotent); must run before the policy plans it."""
        if isinstance(event, REGISTER_EVENTS):
            self._current[str(event.event_id)] = self._apply_register(event)
        elif isinstance(event, (PpnSubmitted, DomesticAbuseReported)):
            reference = event.ppn_reference if isinstance(event, PpnSubmitted) else event.incident_reference
            insert_ignoring_duplicates(self.session, ReferralRecord, [{
                "referral_reference": reference, "referrer_agency": event.source.agency.value,
                "referrer_code": event.source.organisation_code, "source_event_id": str(event.event_id),
                "referred_at": event.occurred_at,
            }], ["referral_reference"])

    def _apply_register(self, event: CprRegistered | CprDeregistered) -> bool:
        key = person_key(event.child, event.local_authority.code)
        flag = self.session.get(RegisterFlag, key)
        if flag is not None and flag.event_id == str(event.event_id):
            return True  # the same event again: its deliveries are re-planned with the same ids
        if flag is not None and not _is_newer(event, flag):
            return False
        active = not isinstance(event, CprDeregistered)
        details = event.model_dump(mode="json", include={
            "local_authority", "categories", "registered_on", "plan_reference", "key_worker", "expected_due_date"})
        if isinstance(event, CprAmended) and flag is not None:
            merged = json.loads(flag.details_json)
            merged.update({k: v for k, v in details.items() if v is not None})
            details = merged
        if flag is None:
            flag = RegisterFlag(child_key=key, local_authority_code=event.local_authority.code, active=active,
                                event_at=event.occurred_at, event_id=str(event.event_id), details_json="{}")
        flag.nhs_number = event.child.nhs_number
        flag.local_authority_code = event.local_authority.code
        flag.active = active
        flag.event_at = event.occurred_at
        flag.sequence = event.sequence
        flag.event_id = str(event.event_id)
        flag.details_json = json.dumps(details, sort_keys=True)
        self.session.add(flag)
        self.session.flush()
        return True
