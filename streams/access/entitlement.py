"""Producer entitlement: may this producer publish this event?

Inputs: the entitlements data (``entitlements.toml``: agency -> event types), a validated event, the
``Producer`` its credentials prove, and an open session (the register flags). Outputs: ``None`` when the
producer may publish the event, else the reason naming the field. Guarantees: the event's ``source``
must be the proved producer; its agency must be entitled to the event type; a register change must come
from the authority it names as holding the register, and an amendment or de-registration may not touch
a flag another authority holds (a transfer between authorities is a later addition to the contract).
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

from sqlmodel import Session

from schemas import Envelope
from schemas.envelope import Agency
from schemas.events import CprAmended, CprDeregistered
from sinks.models import RegisterFlag
from streams.access.credentials import Producer
from streams.identity.keys import person_key


class EntitlementError(ValueError):
    """The entitlements file is not usable; the text names the problem."""


@dataclass(frozen=True)
class Entitlements:
    version: str
    event_types: dict[str, frozenset[str]]

    @classmethod
    def load(cls, path: Path) -> Entitlements:
        from schemas import EVENT_TYPES

        try:
            data = tomllib.loads(path.read_text())
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise EntitlementError(f"{path}: {exc}") from exc
        agencies = data.get("agencies", {})
        problems = [f"unknown agency {name!r}" for name in agencies if name not in {a.value for a in Agency}]
        problems += [f"agencies.{name}: unknown event_type {t!r}" for name, spec in agencies.items()
                     for t in spec.get("event_types", ()) if t not in EVENT_TYPES]
        if not isinstance(data.get("version"), str) or problems:
            raise EntitlementError(f"{path}: " + "; ".join(problems or ["'version' must be a string"]))
        return cls(data["version"], {name: frozenset(spec.get("event_types", ())) for name, spec in agencies.items()})

    def refusal(self, event: Envelope, producer: Producer, session: Session) -> str | None:
        """Why ``producer`` may not publish ``event``, or None."""
        source = event.source
        if (source.agency.value, source.organisation_code) != (producer.agency, producer.organisation_code):
            return (f"source: the event names {source.agency.value}:{source.organisation_code} as its producer, "
                    f"but it was signed by {producer.name}")
        event_type = event.event_type  # type: ignore[attr-defined]
        if event_type not in self.event_types.get(producer.agency, frozenset()):
            return f"event_type: {producer.agency} may not publish {event_type} (entitlements {self.version})"
        if isinstance(event, (CprAmended, CprDeregistered)):
            flag = session.get(RegisterFlag, person_key(event.child, event.local_authority.code))
            holder = (flag.producer_code or flag.local_authority_code) if flag is not None and flag.active else None
            if holder is not None and holder != producer.organisation_code:
                return (f"child: the child's register flag is held by {holder} (local authority "
                        f"{flag.local_authority_code}); only that authority may amend or remove it, and the producer "
                        f"is {producer.name}")  # type: ignore[union-attr]
        return None
