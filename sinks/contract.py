"""The sink contract every destination implements, and what flows into it.

Inputs: ``PlannedDelivery`` objects (planned by the sharing policy or the deadline watch) or, for
the audit and e-mail sinks, their own items; a ``UnitOfWork`` naming the transaction, the actor and
the instant. Outputs: whatever the destination keeps (rows, e-mails, a list). Guarantees: a sink's
``write`` is idempotent for the same items; a sink refuses content carrying a key its allow-list
does not name (``SinkRefused``), so a policy mistake cannot over-share silently; a destination that
cannot take more now raises ``SinkBackpressure`` with a retry delay instead of dropping anything.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, TypeVar

from sqlmodel import Session

SINKS = ("childrens_services", "health", "education", "police", "audit", "alerts")
"""Every destination the sharing policy may name; ``audit`` is written beside each of the others."""

DELIVERY_SINKS = tuple(name for name in SINKS if name != "audit")

Item = TypeVar("Item")


@dataclass(frozen=True)
class PlannedDelivery:
    """One delivery the policy allows, before it is written to its sink."""

    delivery_id: str
    sink: str
    recipient: str
    rule: str
    policy_version: str
    source_event_id: str
    source_event_type: str
    subject_key: str | None
    content: dict[str, Any] = field(hash=False)
    master_person_id: str | None = None  # set by the router from the identity index


@dataclass(frozen=True)
class UnitOfWork:
    """The transaction a write joins: its session, who is acting, and the instant it happens."""

    session: Session
    actor: str
    now: datetime


class SinkRefused(ValueError):
    """A delivery breaks its sink's allow-list; the event is parked instead of over-sharing."""


class SinkBackpressure(Exception):
    """The destination cannot take more now; the caller retries after ``retry_after`` seconds."""

    def __init__(self, retry_after: float, reason: str) -> None:
        super().__init__(f"{reason} (retry after {retry_after:g} s)")
        self.retry_after = retry_after


class Sink(ABC, Generic[Item]):
    """One destination. ``setup`` once before the first write, ``write`` batches, ``flush`` at the end."""

    name: str

    def setup(self) -> None:  # noqa: B027 - optional hook
        """Prepare the destination (connections, checks); the default needs nothing."""

    @abstractmethod
    def write(self, batch: Sequence[Item], unit: UnitOfWork) -> int:
        """Take ``batch`` inside ``unit``; returns how many items were new to the destination."""

    def flush(self) -> None:  # noqa: B027 - optional hook
        """Make buffered writes durable; sinks that write inside the unit of work have nothing to do."""


@dataclass(frozen=True)
class ContentShape:
    """What one rule may send: its top-level keys (None: anything, the full event) and, for keys whose value
    is an object (e.g. ``child``), the keys that object may hold."""

    keys: frozenset[str] | None
    nested: Mapping[str, frozenset[str]] = field(default_factory=dict)


class GuardedSink(Sink[PlannedDelivery]):
    """A sink for planned deliveries that checks each against its allow-list before taking it: the keys any
    rule may send to this sink, and with ``shapes``, the delivering rule's own view, nested keys included."""

    def __init__(self, name: str, allowed_keys: frozenset[str] | None,
                 shapes: Mapping[str, ContentShape] | None = None) -> None:
        if name not in DELIVERY_SINKS:
            raise ValueError(f"unknown sink {name!r}")
        self.name = name
        self.allowed_keys = allowed_keys
        self.shapes = shapes

    def check(self, delivery: PlannedDelivery) -> None:
        """Raise ``SinkRefused`` when the content carries a key this sink, or this rule, may not send."""
        if self.allowed_keys is not None:
            extra = set(delivery.content) - self.allowed_keys
            if extra:
                raise SinkRefused(f"sink {self.name} may not receive {sorted(extra)} (rule {delivery.rule})")
        if self.shapes is None:
            return
        shape = self.shapes.get(delivery.rule)
        if shape is None:
            raise SinkRefused(f"rule {delivery.rule} does not deliver to sink {self.name}")
        if shape.keys is None:
            return
        extra = set(delivery.content) - shape.keys
        if extra:
            raise SinkRefused(f"rule {delivery.rule} may not send {sorted(extra)} to sink {self.name}")
        for key, allowed in shape.nested.items():
            value = delivery.content.get(key)
            for item in value if isinstance(value, list) else [value]:
                if isinstance(item, Mapping) and (extra := set(item) - allowed):
                    raise SinkRefused(f"rule {delivery.rule} may not send {key}.{sorted(extra)} to sink {self.name}")
