"""Every topic, declared once: name, the event types it carries, and its dead-letter sibling.

Inputs: ``Settings`` (prefix, partitions). Outputs: ``TopicSpec`` objects for the CLI, the
admin step and the Faust app. Guarantee: nothing else invents topic names; topics are created
explicitly with these partition counts, never by broker auto-create.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from streams.settings import Settings

DEAD_LETTER_SUFFIX = ".dlq"

# Inbound topic (without prefix) -> event types producers publish there. Keyed by the child so
# that every event about one child is ordered on one partition.
INBOUND: dict[str, tuple[str, ...]] = {
    "ppn": ("ppn.submitted",),
    "domestic-abuse": ("domestic_abuse.reported",),
    "cpr": ("cpr.registered", "cpr.amended", "cpr.deregistered", "cpr.snapshot"),
    "missing": ("missing.reported", "missing.returned", "return_interview.completed"),
    "unscheduled-care": ("unscheduled_care.attended",),
    "referral-outcome": ("referral.outcome",),
}
ACCEPTED = "accepted"
OUTBOUND_NAME = re.compile(r"[^A-Za-z0-9_\-]")  # an organisation code as a topic name part (Kafka: [A-Za-z0-9._-])


@dataclass(frozen=True)
class TopicSpec:
    """One declared topic."""

    name: str
    partitions: int
    event_types: tuple[str, ...]
    description: str
    retention_hours: int = 24 * 14
    dead_letter_retention_hours: int = 24 * 90

    @property
    def dead_letter(self) -> str:
        return self.name + DEAD_LETTER_SUFFIX


@dataclass(frozen=True)
class Topology:
    """All topics of one pipeline instance."""

    inbound: tuple[TopicSpec, ...]
    accepted: TopicSpec
    prefix: str = "safeguarding"

    @classmethod
    def from_settings(cls, settings: Settings) -> Topology:
        prefix = settings.topic_prefix
        retention = {"retention_hours": settings.retention_hours,
                     "dead_letter_retention_hours": settings.dead_letter_retention_hours}
        inbound = tuple(
            TopicSpec(f"{prefix}.{name}", settings.partitions, types, f"Inbound {', '.join(types)} events from producers.",
                      **retention)
            for name, types in INBOUND.items()
        )
        accepted = TopicSpec(f"{prefix}.{ACCEPTED}", settings.partitions, tuple(t for s in inbound for t in s.event_types),
                             "Validated events recorded in the intake store, awaiting routing.", **retention)
        return cls(inbound=inbound, accepted=accepted, prefix=prefix)

    @property
    def all_specs(self) -> tuple[TopicSpec, ...]:
        return (*self.inbound, self.accepted)

    def declared(self, replication_factor: int) -> dict[str, tuple[int, dict[str, str]]]:
        """Every topic name -> (partitions, topic configs) as it should exist on the cluster.

        No topic is compacted: none is a changelog (state lives in the SQL store)."""
        declared = {}
        for spec in self.all_specs:
            for name, hours in ((spec.name, spec.retention_hours), (spec.dead_letter, spec.dead_letter_retention_hours)):
                configs = {"cleanup.policy": "delete", "retention.ms": str(hours * 3_600_000)}
                if replication_factor >= 3:
                    configs["min.insync.replicas"] = "2"
                declared[name] = (spec.partitions, configs)
        return declared

    def all_names(self) -> list[str]:
        """Every topic name including dead-letter siblings."""
        return [name for spec in self.all_specs for name in (spec.name, spec.dead_letter)]

    def topic_for(self, event_type: str) -> TopicSpec:
        """The inbound topic a producer publishes ``event_type`` to; ``KeyError`` if unknown."""
        for spec in self.inbound:
            if event_type in spec.event_types:
                return spec
        raise KeyError(event_type)

    def outbound(self, sink: str, organisation_code: str) -> str:
        """The topic one organisation reads what one sink delivered to it from (EVENTS.md, "Outbound feeds")."""
        return f"{self.prefix}.out.{sink}.{OUTBOUND_NAME.sub('_', organisation_code)}"

    def spec_named(self, name: str) -> TopicSpec | None:
        return next((spec for spec in self.all_specs if spec.name == name), None)
