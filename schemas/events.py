"""The ten event types of the contract (EVENTS.md), discriminated by ``event_type``.

Inputs: producer JSON (a dict or bytes). Outputs: one of the event models below, via
``parse_event``. Guarantee: the models are the single source of truth for the wire format;
JSON Schema and AsyncAPI files are generated from them (``schemas.generate``).
"""

from __future__ import annotations

from datetime import date, datetime
from enum import Enum
from typing import Annotated, Literal, Union

from pydantic import BeforeValidator, EmailStr, Field, TypeAdapter, field_validator, model_validator

from schemas.common import (
    LIST_MAX,
    Name,
    Narrative,
    PastDate,
    PastTimestamp,
    Phone,
    Postcode,
    ShortText,
    StrictModel,
    one_line,
)
from schemas.envelope import Envelope
from schemas.person import PersonRef

Reference = one_line(min_length=1, max_length=100)


class RiskLevel(str, Enum):
    high = "high"
    medium = "medium"
    standard = "standard"


class PpnCategory(str, Enum):
    domestic_abuse = "domestic_abuse"
    child_concern = "child_concern"
    missing_child = "missing_child"
    exploitation = "exploitation"
    adult_at_risk = "adult_at_risk"
    other = "other"


class CprCategory(str, Enum):
    neglect = "neglect"
    physical = "physical"
    sexual = "sexual"
    emotional = "emotional"


class Decision(str, Enum):
    no_further_action = "no_further_action"
    information_advice_assistance = "information_advice_assistance"
    care_and_support_assessment = "care_and_support_assessment"
    strategy_discussion = "strategy_discussion"
    section_47_enquiry = "section_47_enquiry"
    already_open = "already_open"
    other = "other"


def _lower(value: object) -> object:
    return value.strip().lower() if isinstance(value, str) else value


class VoiceOfChild(StrictModel):
    """AWARE: what the officer saw and heard of the child."""

    appearance: Narrative | None = None
    words: Narrative | None = Field(default=None, description="The child's own words.")
    activity: Narrative | None = None
    relationships: Narrative | None = None
    environment: Narrative | None = None
    child_seen: bool | None = None
    child_spoken_to: bool | None = None

    def is_recorded(self) -> bool:
        """True when anything of the child's voice was written down."""
        return any((self.appearance, self.words, self.activity, self.relationships, self.environment))


class Officer(StrictModel):
    collar_number: one_line(min_length=1, max_length=20)
    station: ShortText | None = None
    name: Name | None = None
    phone: Phone | None = None
    email: EmailStr | None = None


class LocalAuthority(StrictModel):
    code: one_line(min_length=1, max_length=40, examples=["W06000023"])
    name: ShortText | None = Field(default=None, examples=["Powys County Council"])
    office_phone: Phone | None = None
    emergency_duty_phone: Phone | None = None


class KeyWorker(StrictModel):
    name: Name | None = None
    team: ShortText | None = None
    phone: Phone | None = None
    email: EmailStr | None = None


class Contact(StrictModel):
    """A named contact at an agency."""

    name: Name | None = None
    role: ShortText | None = None
    team: ShortText | None = None
    organisation: ShortText | None = None
    phone: Phone | None = None
    email: EmailStr | None = None


class Location(StrictModel):
    description: ShortText | None = None
    postcode: Postcode | None = None


ContactOrText = Union[Contact, ShortText]
LocationOrText = Union[Location, ShortText]


class ChildAtIncident(PersonRef):
    """A child at a domestic-abuse incident: a person plus whether and where they were present."""

    present_at_incident: bool | None = None
    where_present: ShortText | None = Field(default=None, examples=["upstairs bedroom"])


class Placement(StrictModel):
    type: ShortText | None = Field(default=None, examples=["children's home"])
    provider: ShortText | None = None
    local_authority: Union[LocalAuthority, ShortText, None] = None


class Site(StrictModel):
    name: ShortText
    code: one_line(min_length=1, max_length=40)
    type: Annotated[Literal["MIU", "ED", "OOH GP"], BeforeValidator(
        lambda v: {"OOH_GP": "OOH GP", "OOHGP": "OOH GP", "OOH": "OOH GP"}.get(v.strip().upper(), v.strip().upper())
        if isinstance(v, str) else v)]


class RegisterEntry(StrictModel):
    """One child on a local authority's register, as listed in a snapshot."""

    child: PersonRef
    categories: list[CprCategory] = Field(default_factory=list, max_length=4)
    registered_on: PastDate | None = None
    plan_reference: Reference | None = None
    key_worker: KeyWorker | None = None
    expected_due_date: date | None = None


# --- the ten event types -------------------------------------------------------------------


class PpnSubmitted(Envelope):
    """Police public protection notice about a child."""

    event_type: Literal["ppn.submitted"]
    ppn_reference: Reference = Field(examples=["PPN-2026-004211"])
    category: Annotated[PpnCategory, BeforeValidator(_lower)]
    risk_level: Annotated[RiskLevel, BeforeValidator(_lower)]
    persons: list[PersonRef] = Field(min_length=1, max_length=LIST_MAX)
    summary: Narrative | None = None
    voice_of_child: VoiceOfChild | None = None
    officer: Officer | None = None
    incident_reference: Reference | None = None
    location_postcode: Postcode | None = None
    missing_episode_reference: Reference | None = Field(
        default=None, description="For a PPN raised about a missing episode: that episode's reference.")

    @model_validator(mode="after")
    def _names_a_child(self) -> PpnSubmitted:
        on = self.occurred_at.date()
        if not any(person.is_child_on(on) for person in self.persons):
            raise ValueError(
                "persons: a PPN must name at least one child (a person under 18 by date_of_birth, "
                "or with role child_in_household); adult-only notices do not belong on this pipeline")
        return self

    def child_persons(self) -> list[PersonRef]:
        """The persons who are children on the day of the incident."""
        on = self.occurred_at.date()
        return [person for person in self.persons if person.is_child_on(on)]


class DomesticAbuseReported(Envelope):
    """A domestic-abuse incident police attended where children live or were present."""

    event_type: Literal["domestic_abuse.reported"]
    incident_reference: Reference
    attended_at: PastTimestamp
    location_postcode: Postcode | None = None
    risk_level: Annotated[RiskLevel, BeforeValidator(_lower)] = Field(description="DASH risk grade.")
    children: list[ChildAtIncident] = Field(min_length=1, max_length=LIST_MAX)
    adults: list[PersonRef] = Field(default_factory=list, max_length=LIST_MAX,
                                    description="Victim and alleged perpetrator: never shared with schools.")
    voice_of_child: VoiceOfChild | None = None
    officer: Officer | None = None


class CprRegistered(Envelope):
    """A child (or an unborn child, on the mother's record) placed on the child protection register."""

    event_type: Literal["cpr.registered"]
    child: PersonRef
    local_authority: LocalAuthority
    categories: list[Annotated[CprCategory, BeforeValidator(_lower)]] = Field(min_length=1, max_length=4)
    registered_on: PastDate
    plan_reference: Reference | None = None
    key_worker: KeyWorker | None = None
    expected_due_date: date | None = Field(default=None, description="Set when an unborn child is registered on the mother's record.")
    sequence: Annotated[int, Field(ge=0)] | None = Field(
        default=None, description="The register's own change counter for this child, when the source has one.")

    @field_validator("categories")
    @classmethod
    def _distinct(cls, value: list[CprCategory]) -> list[CprCategory]:
        return sorted(set(value), key=lambda c: c.value)


class CprAmended(CprRegistered):
    """Categories, key worker or contact details changed for a child on the register."""

    event_type: Literal["cpr.amended"]  # type: ignore[assignment]
    registered_on: PastDate | None = None  # type: ignore[assignment]


class CprDeregistered(Envelope):
    """A child removed from the child protection register."""

    event_type: Literal["cpr.deregistered"]
    child: PersonRef
    local_authority: LocalAuthority
    deregistered_on: PastDate
    reason: ShortText | None = None
    sequence: Annotated[int, Field(ge=0)] | None = None


class CprSnapshot(Envelope):
    """Every child on one local authority's register, for reconciliation against current flags."""

    event_type: Literal["cpr.snapshot"]
    local_authority: LocalAuthority
    as_of: PastTimestamp
    children: list[Union[RegisterEntry, PersonRef]] = Field(max_length=20_000)


class MissingReported(Envelope):
    """A child reported missing."""

    event_type: Literal["missing.reported"]
    episode_reference: Reference
    child: PersonRef
    last_seen_at: PastTimestamp
    last_seen_location: LocationOrText | None = None
    risk_level: Literal["medium", "high"]
    looked_after: bool = False
    placement: Placement | None = None
    reported_by: ContactOrText | None = None
    profile_reference: Reference | None = Field(default=None, description="Philomena / Child Information Form profile.")
    ppn_reference: Reference | None = Field(default=None, description="The PPN for this episode, when raised.")

    @field_validator("risk_level", mode="before")
    @classmethod
    def _never_low(cls, value: object) -> object:
        value = _lower(value)
        if value in ("low", "standard"):
            raise ValueError(
                f"risk_level '{value}' is not accepted for a missing child: missing children are never "
                "graded low risk; grade the episode medium or high")
        return value


class MissingReturned(Envelope):
    """A missing child found or returned."""

    event_type: Literal["missing.returned"]
    episode_reference: Reference
    child: PersonRef
    returned_at: PastTimestamp
    found_location: LocationOrText | None = None


class ReturnInterviewCompleted(Envelope):
    """A return home interview held with a child after a missing episode (due within 72 h of return)."""

    event_type: Literal["return_interview.completed"]
    episode_reference: Reference
    child: PersonRef
    completed_at: PastTimestamp
    conducted_by: ContactOrText | None = None
    offered_only: bool = Field(default=False, description="True when the interview was offered and declined.")


class UnscheduledCareAttended(Envelope):
    """A child attended unscheduled care (minor injuries unit, emergency department, out-of-hours GP)."""

    event_type: Literal["unscheduled_care.attended"]
    attendance_reference: Reference
    child: PersonRef
    site: Site
    attended_at: PastTimestamp


class ReferralOutcome(Envelope):
    """Children's services' decision on a referral, to go back to the referrer."""

    event_type: Literal["referral.outcome"]
    referral_reference: Reference = Field(description="The PPN reference or DTR id this outcome answers.")
    decision: Annotated[Decision, BeforeValidator(_lower)]
    rationale: Narrative | None = None
    decided_at: PastTimestamp
    contact: ContactOrText | None = None
    child: PersonRef | None = Field(default=None, description="The child the referral was about, when known.")


Event = Annotated[
    Union[
        PpnSubmitted,
        DomesticAbuseReported,
        CprRegistered,
        CprAmended,
        CprDeregistered,
        CprSnapshot,
        MissingReported,
        MissingReturned,
        ReturnInterviewCompleted,
        UnscheduledCareAttended,
        ReferralOutcome,
    ],
    Field(discriminator="event_type"),
]

EVENT_MODELS: dict[str, type[Envelope]] = {
    model.model_fields["event_type"].annotation.__args__[0]: model  # type: ignore[union-attr]
    for model in Event.__origin__.__args__  # type: ignore[attr-defined]
}
EVENT_TYPES: tuple[str, ...] = tuple(EVENT_MODELS)

_EVENT_ADAPTER: TypeAdapter[Event] = TypeAdapter(Event)


def parse_event(data: dict | bytes | str, now: datetime | None = None) -> Envelope:
    """Validate one event (a dict or JSON text) and return its model; raises ``ValidationError``.

    ``now`` is the instant "in the future" is judged against (the pipeline's clock); default the system clock."""
    context = {"now": now} if now is not None else None
    if isinstance(data, (bytes, str)):
        return _EVENT_ADAPTER.validate_json(data, context=context)
    return _EVENT_ADAPTER.validate_python(data, context=context)
