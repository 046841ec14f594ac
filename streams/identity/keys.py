"""Who an event is about, and the partition key that keeps one child's events in order.

Inputs: a validated event. Outputs: the children it concerns and the key bytes. Guarantees:
the same child (by NHS number, else by the source's own person id) always yields the same key; a
victim of domestic abuse known to be under 18 on the day (teenage relationship abuse: 16 and 17
are victims in law) is a child the event concerns too, once, even when listed among the adults.
"""

from __future__ import annotations

from schemas import Envelope, PersonRef
from schemas.events import CprSnapshot, DomesticAbuseReported, PpnSubmitted
from schemas.person import Role


def children_of(event: Envelope) -> list[PersonRef]:
    """The children an event concerns, in the order the event lists them."""
    if isinstance(event, PpnSubmitted):
        return event.child_persons()
    if isinstance(event, DomesticAbuseReported):
        listed = {person_key(child, event.source.organisation_code) for child in event.children}
        young_victims = [adult for adult in event.adults if adult.role == Role.victim
                         and adult.is_child_on(event.occurred_at.date()) and adult.date_of_birth is not None
                         and person_key(adult, event.source.organisation_code) not in listed]
        return [*event.children, *young_victims]
    if isinstance(event, CprSnapshot):
        return []
    child = getattr(event, "child", None)
    return [child] if child is not None else []


def partition_key(event: Envelope) -> bytes:
    """Key for the inbound and accepted topics."""
    children = children_of(event)
    if not children:
        authority = getattr(event, "local_authority", None)
        return f"la:{authority.code if authority else event.source.organisation_code}".encode()
    return person_key(children[0], event.source.organisation_code).encode()


def person_key(person: PersonRef, organisation_code: str) -> str:
    """A stable text key for one person: NHS number when known, else source organisation + id."""
    if person.nhs_number:
        return f"nhs:{person.nhs_number}"
    return f"src:{organisation_code}:{person.source_person_id}"
