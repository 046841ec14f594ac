"""One valid, realistic example per event type (invented people), for producers and tests.

Inputs: an instant to write them relative to (optional). Outputs: ``EXAMPLES`` (event type ->
JSON-ready dict, as they stood at ``EXAMPLES_NOW``) and ``example(event_type, now=None, **changes)``
which returns a fresh copy with a new ``event_id``, every date and timestamp moved by ``now -
EXAMPLES_NOW`` when ``now`` is given. Guarantee: every example validates against its model at
``EXAMPLES_NOW`` and, moved, at ``now`` (a unit test checks it); the generated JSON Schemas embed
them as they stood.
"""

from __future__ import annotations

import copy
import re
import uuid
from datetime import date, datetime, timedelta, timezone

POLICE = {"agency": "police", "organisation": "Dyfed-Powys Police", "organisation_code": "DPP", "system": "Niche RMS"}
POWYS = {"code": "W06000023", "name": "Powys County Council", "office_phone": "01597 827666", "emergency_duty_phone": "0345 054 4847"}
LA_SOURCE = {"agency": "local_authority", "organisation": "Powys County Council", "organisation_code": "W06000023", "system": "WCCIS"}
HEALTH_SOURCE = {"agency": "health", "organisation": "Powys Teaching Health Board", "organisation_code": "7A7", "system": "WPAS"}
ADDRESS = {"lines": ["12 Heol y Castell"], "town": "Llandrindod Wells", "postcode": "ld1 5lg"}

CHILD_SIAN = {"source_person_id": "NICHE-P-1001", "given_names": "Siân", "family_name": "Jones", "date_of_birth": "2016-05-14",
              "sex": "female", "nhs_number": "943 476 5919", "upn": "F801200100001", "address": ADDRESS,
              "school": {"code": "6662005", "name": "Ysgol Cefnllys"}, "preferred_language": "cy", "role": "child_in_household"}
CHILD_DAFYDD = {"source_person_id": "NICHE-P-1002", "given_names": "Dafydd", "family_name": "Jones", "date_of_birth": "2023-01-30",
                "sex": "male", "address": ADDRESS, "role": "child_in_household"}
MOTHER = {"source_person_id": "NICHE-P-1003", "given_names": "Rhian", "family_name": "Jones", "date_of_birth": "1990-08-02",
          "sex": "female", "address": ADDRESS, "role": "victim"}
ALLEGED = {"source_person_id": "NICHE-P-1004", "given_names": "Mark", "family_name": "Evans", "date_of_birth": "1987-11-19",
           "sex": "male", "role": "alleged_perpetrator"}
OFFICER = {"collar_number": "4471", "station": "Llandrindod Wells", "phone": "101"}
KEY_WORKER = {"name": "Gwenllian Price", "team": "Child Protection North", "phone": "01597 826000", "email": "g.price@powys.example.gov.uk"}

EXAMPLES: dict[str, dict] = {
    "ppn.submitted": {
        "event_id": "5b0f8a52-5a0e-4c8e-9e55-3c1f0b7a9d01", "event_type": "ppn.submitted", "schema_version": 1,
        "occurred_at": "2026-11-20T21:40:00+00:00", "recorded_at": "2026-11-20T23:05:00+00:00",
        "source": {**POLICE, "reference": "PPN-2026-004211"},
        "ppn_reference": "PPN-2026-004211", "category": "child_concern", "risk_level": "medium",
        "persons": [CHILD_SIAN, MOTHER], "summary": "Child found alone at home late at night.",
        "voice_of_child": {"words": "I was waiting for Mam", "appearance": "cold, in pyjamas", "child_seen": True, "child_spoken_to": True},
        "officer": OFFICER, "incident_reference": "INC-2026-118", "location_postcode": "LD1 5LG",
    },
    "domestic_abuse.reported": {
        "event_id": "5b0f8a52-5a0e-4c8e-9e55-3c1f0b7a9d02", "event_type": "domestic_abuse.reported", "schema_version": 1,
        "occurred_at": "2026-11-20T22:00:00+00:00", "recorded_at": "2026-11-20T23:30:00+00:00",
        "source": {**POLICE, "reference": "DA-2026-7781"},
        "incident_reference": "DA-2026-7781", "attended_at": "2026-11-20T22:25:00+00:00", "location_postcode": "LD1 5LG",
        "risk_level": "high",
        "children": [{**CHILD_SIAN, "present_at_incident": True, "where_present": "upstairs bedroom"},
                     {**CHILD_DAFYDD, "present_at_incident": True, "where_present": "living room"}],
        "adults": [MOTHER, ALLEGED],
        "voice_of_child": {"words": "I hid under the duvet", "child_seen": True, "child_spoken_to": True}, "officer": OFFICER,
    },
    "cpr.registered": {
        "event_id": "5b0f8a52-5a0e-4c8e-9e55-3c1f0b7a9d03", "event_type": "cpr.registered", "schema_version": 1,
        "occurred_at": "2026-11-18T14:00:00+00:00", "recorded_at": "2026-11-18T14:10:00+00:00",
        "source": {**LA_SOURCE, "reference": "CPR-1881"},
        "child": {**CHILD_SIAN, "source_person_id": "WCCIS-77120", "role": "subject"}, "local_authority": POWYS,
        "categories": ["neglect", "emotional"], "registered_on": "2026-11-18", "plan_reference": "CASPP-1881",
        "key_worker": KEY_WORKER, "sequence": 1,
    },
    "cpr.amended": {
        "event_id": "5b0f8a52-5a0e-4c8e-9e55-3c1f0b7a9d04", "event_type": "cpr.amended", "schema_version": 1,
        "occurred_at": "2026-11-19T10:00:00+00:00", "recorded_at": "2026-11-19T10:05:00+00:00",
        "source": {**LA_SOURCE, "reference": "CPR-1881"},
        "child": {**CHILD_SIAN, "source_person_id": "WCCIS-77120", "role": "subject"}, "local_authority": POWYS,
        "categories": ["neglect"], "key_worker": {**KEY_WORKER, "phone": "01597 826111"}, "sequence": 2,
    },
    "cpr.deregistered": {
        "event_id": "5b0f8a52-5a0e-4c8e-9e55-3c1f0b7a9d05", "event_type": "cpr.deregistered", "schema_version": 1,
        "occurred_at": "2026-11-21T09:00:00+00:00", "recorded_at": "2026-11-21T09:02:00+00:00",
        "source": {**LA_SOURCE, "reference": "CPR-1881"},
        "child": {**CHILD_SIAN, "source_person_id": "WCCIS-77120", "role": "subject"}, "local_authority": POWYS,
        "deregistered_on": "2026-11-21", "reason": "plan ended: risks reduced", "sequence": 3,
    },
    "cpr.snapshot": {
        "event_id": "5b0f8a52-5a0e-4c8e-9e55-3c1f0b7a9d06", "event_type": "cpr.snapshot", "schema_version": 1,
        "occurred_at": "2026-11-21T06:00:00+00:00", "recorded_at": "2026-11-21T06:00:00+00:00", "source": LA_SOURCE,
        "local_authority": POWYS, "as_of": "2026-11-21T06:00:00+00:00",
        "children": [{"child": {**CHILD_SIAN, "source_person_id": "WCCIS-77120", "role": "subject"}, "categories": ["neglect"],
                      "registered_on": "2026-11-18", "plan_reference": "CASPP-1881", "key_worker": KEY_WORKER}],
    },
    "missing.reported": {
        "event_id": "5b0f8a52-5a0e-4c8e-9e55-3c1f0b7a9d07", "event_type": "missing.reported", "schema_version": 1,
        "occurred_at": "2026-11-21T19:30:00+00:00", "recorded_at": "2026-11-21T19:45:00+00:00",
        "source": {"agency": "care_provider", "organisation": "Bryn Awel Children's Home", "organisation_code": "CP-0193"},
        "episode_reference": "MISS-2026-0091", "child": {**CHILD_SIAN, "role": "subject"},
        "last_seen_at": "2026-11-21T17:00:00+00:00", "last_seen_location": {"description": "bus station", "postcode": "LD1 5DL"},
        "risk_level": "high", "looked_after": True,
        "placement": {"type": "children's home", "provider": "Bryn Awel", "local_authority": "W06000023"},
        "reported_by": {"name": "Duty manager", "organisation": "Bryn Awel Children's Home", "phone": "01597 820000"},
        "profile_reference": "CIF-2026-0412",
    },
    "missing.returned": {
        "event_id": "5b0f8a52-5a0e-4c8e-9e55-3c1f0b7a9d08", "event_type": "missing.returned", "schema_version": 1,
        "occurred_at": "2026-11-21T23:10:00+00:00", "recorded_at": "2026-11-21T23:20:00+00:00",
        "source": {"agency": "care_provider", "organisation": "Bryn Awel Children's Home", "organisation_code": "CP-0193"},
        "episode_reference": "MISS-2026-0091", "child": {**CHILD_SIAN, "role": "subject"},
        "returned_at": "2026-11-21T23:05:00+00:00", "found_location": "a friend's house in Builth Wells",
    },
    "return_interview.completed": {
        "event_id": "5b0f8a52-5a0e-4c8e-9e55-3c1f0b7a9d11", "event_type": "return_interview.completed", "schema_version": 1,
        "occurred_at": "2026-11-22T10:00:00+00:00", "recorded_at": "2026-11-22T10:30:00+00:00", "source": LA_SOURCE,
        "episode_reference": "MISS-2026-0091", "child": {**CHILD_SIAN, "role": "subject"},
        "completed_at": "2026-11-22T10:00:00+00:00", "conducted_by": {"name": "Return interview worker", "team": "Edge of Care"},
    },
    "unscheduled_care.attended": {
        "event_id": "5b0f8a52-5a0e-4c8e-9e55-3c1f0b7a9d09", "event_type": "unscheduled_care.attended", "schema_version": 1,
        "occurred_at": "2026-11-21T11:15:00+00:00", "recorded_at": "2026-11-21T11:16:00+00:00", "source": HEALTH_SOURCE,
        "attendance_reference": "ATT-553201", "child": {**CHILD_SIAN, "source_person_id": "WPAS-88812", "role": "subject"},
        "site": {"name": "Llandrindod Wells MIU", "code": "7A7MIU1", "type": "MIU"}, "attended_at": "2026-11-21T11:15:00+00:00",
    },
    "referral.outcome": {
        "event_id": "5b0f8a52-5a0e-4c8e-9e55-3c1f0b7a9d10", "event_type": "referral.outcome", "schema_version": 1,
        "occurred_at": "2026-11-21T15:00:00+00:00", "recorded_at": "2026-11-21T15:02:00+00:00", "source": LA_SOURCE,
        "referral_reference": "PPN-2026-004211", "decision": "care_and_support_assessment",
        "rationale": "Care and support needs identified.", "decided_at": "2026-11-21T15:00:00+00:00",
        "contact": {"team": "Powys front door (MASH)", "phone": "01597 827666"},
    },
}


EXAMPLES_NOW = datetime(2026, 11, 22, 11, 0, tzinfo=timezone.utc)
"""The instant the examples describe as now: the last of them happened shortly before it."""

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$")


def example(event_type: str, now: datetime | None = None, **changes: object) -> dict:
    """A deep copy of the example for ``event_type`` with a fresh event id and ``changes`` applied;
    with ``now``, its dates and timestamps are moved so that it stands to ``now`` as it stood to
    ``EXAMPLES_NOW`` (``changes`` are applied after the move, as given)."""
    event = copy.deepcopy(EXAMPLES[event_type])
    if now is not None:
        event = moved(event, now - EXAMPLES_NOW)
    event["event_id"] = str(uuid.uuid4())
    event.update(copy.deepcopy(changes))
    return event


def moved(value: object, by: timedelta) -> object:
    """``value`` with every RFC 3339 timestamp moved by ``by`` and every date by its whole days,
    at any depth (dates of birth too, so ages stay as they were)."""
    if isinstance(value, dict):
        return {key: moved(item, by) for key, item in value.items()}
    if isinstance(value, list):
        return [moved(item, by) for item in value]
    if isinstance(value, str):
        if _TIMESTAMP.match(value):
            return (datetime.fromisoformat(value) + by).isoformat()
        if _DATE.match(value):
            return (date.fromisoformat(value) + timedelta(days=by.days)).isoformat()
    return value
