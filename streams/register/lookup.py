"""The CP-IS style lookup for health: is this child flagged, who to call, recent attendances.

Inputs: the authenticated caller (or ``None``), an NHS number and the instant. Outputs: ``(status, body)``: 200 with
the flag (local authority and its office and emergency-duty numbers, categories, start date,
key worker, the 25 most recent unscheduled-care accesses), 404 when not flagged, 400 for a
malformed NHS number, 401 without a valid token, 403 for a role that may not look up.
Guarantee: every request, refused or not, is audited (who, when, which child, which role); a
view-and-notify lookup records an access and notifies the key worker in the same transaction.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session

from schemas.validators import nhs_number_problem
from sinks.audit import AuditEntry, AuditSink
from sinks.contract import GuardedSink, UnitOfWork
from streams.access.tokens import Caller
from streams.register.state import live_flag_for_nhs, recent_accesses, record_access
from streams.sharing.policy import Policy

LOOKUP_ROLES = ("view_only", "view_and_notify")


def lookup_flag(engine: Engine, policy: Policy, sinks: dict[str, GuardedSink], audit_sink: AuditSink,
                caller: Caller | None, nhs_raw: str, now: datetime) -> tuple[int, dict[str, Any]]:
    request_id = str(uuid.uuid4())
    nhs = "".join(nhs_raw.split())
    with Session(engine) as session:
        unit = UnitOfWork(session, caller.organisation_code if caller else "anonymous", now)

        def audit(status: int, reason: str, notified: bool = False) -> None:
            audit_sink.write([AuditEntry(
                audit_id=f"lookup:{request_id}", action="health_flag_lookup",
                recipient=caller.organisation_code if caller else None,
                subject_key=f"nhs:{nhs}" if nhs_number_problem(nhs) is None else None,
                detail=json.dumps({"status": status, "reason": reason, "role": caller.role if caller else None,
                                   "token_id": caller.token_id if caller else None, "notified_key_worker": notified}))], unit)
            session.commit()

        if caller is None:
            audit(401, "no valid bearer token")
            return 401, {"error": "a valid bearer token is required"}
        if caller.role not in LOOKUP_ROLES:
            audit(403, f"role {caller.role} may not look up flags")
            return 403, {"error": f"role {caller.role} may not look up child protection flags"}
        problem = nhs_number_problem(nhs)
        if problem:
            audit(400, "malformed NHS number")
            return 400, {"error": f"nhs_number: {problem}"}
        flag = live_flag_for_nhs(session, nhs, now.date())
        if flag is None:
            audit(404, "not flagged")
            return 404, {"nhs_number": nhs, "flagged": False}
        details = json.loads(flag.details_json)
        notified = caller.role == "view_and_notify"
        if notified:
            site = {"name": caller.organisation_code, "code": caller.organisation_code, "type": "lookup"}
            record_access(session, nhs, f"lookup:{request_id}", now, site, None)
            child = json.loads(flag.child_json)
            notice = policy.plan_operational("lookup_access_notification", request_id, {
                "notification": "a health professional looked up this child's child protection flag",
                "nhs_number": nhs, "looked_up_by": caller.organisation_code, "role": caller.role,
                "looked_up_at": now.isoformat(), "event_type": "health.lookup",
                "child": {k: child.get(k) for k in ("given_names", "family_name", "date_of_birth") if child.get(k)},
                "register_key_worker": {"key_worker": details.get("key_worker"), "plan_reference": details.get("plan_reference")},
            }, recipient=flag.local_authority_code, subject_key=f"nhs:{nhs}")
            sinks[notice.sink].write([notice], UnitOfWork(session, f"api:{caller.organisation_code}", now))
        body = {
            "nhs_number": nhs, "flagged": True,
            "unborn": bool(details.get("expected_due_date")),
            "local_authority": details.get("local_authority"), "categories": details.get("categories", []),
            "registered_on": details.get("registered_on"), "plan_reference": details.get("plan_reference"),
            "expected_due_date": details.get("expected_due_date"), "key_worker": details.get("key_worker"),
            "flag_updated_at": flag.event_at.isoformat(), "recent_accesses": recent_accesses(session, nhs),
            # So the practitioner can make the Active Offer (Welsh Language Standards) in the child's language.
            "preferred_language": json.loads(flag.child_json).get("preferred_language"),
        }
        audit(200, "flag shown", notified)
    return 200, body
