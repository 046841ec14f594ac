"""Who an event is about, and the partition key that keeps one child's events in order.

Inputs: a validated event. Outputs: the children it concerns and the key bytes. Guarantee:
the same child (by NHS number, else by the source's own person id) always yields the same key.
"""

from __future__ import annotations

from schemas import Envelope, PersonRef
from schemas.events import CprSnapshot, DomesticAbuseReported, PpnSubmitted


def children_of(event: Envelope) -> list[PersonRef]:
    """The children an event concerns, in the order the event lists them."""
    if isinstance(event, PpnSubmitted):
        return event.child_persons()
    if isinstance(event, DomesticAbuseReported):
        return list(event.children)
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
