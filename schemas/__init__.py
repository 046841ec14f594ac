"""Wire models for every event in the public contract (EVENTS.md): the single source of truth."""

from schemas.envelope import Agency, Envelope, Source
from schemas.events import EVENT_MODELS, EVENT_TYPES, Event, parse_event
from schemas.person import PersonRef, Role, Sex

__all__ = ["Agency", "Envelope", "EVENT_MODELS", "EVENT_TYPES", "Event", "PersonRef", "Role", "Sex", "Source", "parse_event"]
