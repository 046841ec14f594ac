"""The envelope every event carries: identity, timing, origin and classification.

Inputs: producer JSON. Outputs: ``Envelope`` fields on every event model. Guarantee:
``event_id`` is a UUID (the idempotency key), timestamps carry an offset and are not in the
future, and the source names an agency from the fixed list.
"""

from __future__ import annotations

from enum import Enum
from typing import Annotated
from uuid import UUID

from pydantic import Field, model_validator

from schemas.common import PastTimestamp, ShortText, StrictModel, one_line


class Agency(str, Enum):
    police = "police"
    local_authority = "local_authority"
    health = "health"
    education = "education"
    care_provider = "care_provider"


class Source(StrictModel):
    """Which agency and system published the event, and the source's own reference."""

    agency: Agency
    organisation: ShortText = Field(examples=["Dyfed-Powys Police"])
    organisation_code: one_line(min_length=1, max_length=40, examples=["DPP"])
    system: ShortText | None = Field(default=None, examples=["Niche RMS"])
    reference: ShortText | None = Field(default=None, description="The source's own id for this record.",
                                        examples=["PPN-2026-004211"])


class Envelope(StrictModel):
    """Fields shared by every event type."""

    event_id: UUID = Field(description="Idempotency key: the same event_id published twice is delivered once.")
    schema_version: Annotated[int, Field(ge=1, le=1, description="Version of this event type's schema.")] = 1
    occurred_at: PastTimestamp = Field(description="When it happened (incident, decision, attendance).")
    recorded_at: PastTimestamp = Field(description="When the source system recorded it.")
    source: Source
    classification: one_line(max_length=40) = "OFFICIAL-SENSITIVE"

    @model_validator(mode="before")
    @classmethod
    def _lift_payload(cls, data: object) -> object:
        """Accept the event-specific fields either at the top level or inside a ``payload`` object."""
        if isinstance(data, dict) and isinstance(data.get("payload"), dict):
            merged = {k: v for k, v in data.items() if k != "payload"}
            for key, value in data["payload"].items():
                merged.setdefault(key, value)
            return merged
        return data
