"""``PersonRef``: how every event names a person, and the pieces it is made of.

Inputs: producer JSON. Outputs: validated persons with normalised identifiers. Guarantee: an
NHS number or UPN that reaches the pipeline has passed its check digit; dates of birth are
not in the future.
"""

from __future__ import annotations

from datetime import date
from enum import Enum
from typing import Annotated

from pydantic import BeforeValidator, Field, field_validator

from schemas.common import (
    LIST_MAX,
    Name,
    NhsNumber,
    PastDate,
    Postcode,
    ShortText,
    StrictModel,
    Upn,
    one_line,
)
from schemas.validators import age_in_years

ADULT_AGE = 18


class Sex(str, Enum):
    female = "female"
    male = "male"
    unknown = "unknown"


class Role(str, Enum):
    subject = "subject"
    child_in_household = "child_in_household"
    parent_carer = "parent_carer"
    victim = "victim"
    alleged_perpetrator = "alleged_perpetrator"
    other = "other"


_SEX_ALIASES = {"f": "female", "m": "male", "u": "unknown", "not known": "unknown", "not_known": "unknown"}


def _normalise_sex(value: object) -> object:
    if isinstance(value, str):
        lowered = value.strip().lower()
        return _SEX_ALIASES.get(lowered, lowered)
    return value


def _names_as_text(value: object) -> object:
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return " ".join(item.strip() for item in value if item.strip())
    return value


class Address(StrictModel):
    """A postal address; only the postcode is checked for form."""

    lines: list[ShortText] = Field(default_factory=list, max_length=8, description="Street lines.",
                                   examples=[["12 Heol y Castell"]])
    town: ShortText | None = Field(default=None, examples=["Llandrindod Wells"])
    postcode: Postcode | None = None


class SchoolRef(StrictModel):
    """The school or early-years setting a child attends."""

    code: one_line(min_length=1, max_length=40, description="School/setting code (e.g. LA + DfE/Welsh Government number).",
                               examples=["6662005"])
    name: ShortText | None = Field(default=None, examples=["Ysgol Cefnllys"])


class PersonRef(StrictModel):
    """A person as one source system knows them."""

    source_person_id: one_line(min_length=1, max_length=100,
                                           description="The source system's own id for this person.",
                                           examples=["NICHE-P-0042"])
    given_names: Annotated[Name | None, BeforeValidator(_names_as_text)] = Field(
        default=None, description="All given names, space separated.", examples=["Dafydd Rhys"])
    family_name: Name | None = Field(default=None, examples=["Jones"])
    other_names: list[Name] = Field(default_factory=list, max_length=LIST_MAX,
                                    description="Aliases and previous family names.")
    date_of_birth: PastDate | None = Field(default=None, examples=["2015-03-09"])
    dob_estimated: bool = Field(default=False, description="True when the date of birth is an estimate.")
    sex: Annotated[Sex | None, BeforeValidator(_normalise_sex)] = None
    nhs_number: NhsNumber | None = None
    upn: Upn | None = None
    address: Address | None = None
    school: SchoolRef | None = Field(default=None, description="For children: the school or early-years setting.")
    home_educated: bool = Field(default=False, description="For children: educated at home (no school to notify).")
    preferred_language: Annotated[str, Field(pattern=r"^[a-z]{2}$")] | None = Field(
        default=None, description="ISO 639-1 code of the person's preferred language.", examples=["cy", "en"])
    ethnicity: ShortText | None = None
    religion: ShortText | None = None
    parental_responsibility: Annotated[list[ShortText], BeforeValidator(lambda v: [v] if isinstance(v, str) else v)] = Field(
        default_factory=list, max_length=20, description="Who holds parental responsibility for this child.")
    role: Role = Field(default=Role.subject, description="This person's role in the event.")

    @field_validator("preferred_language", mode="before")
    @classmethod
    def _lower_language(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value

    def age_on(self, on: date) -> int | None:
        """Whole years of age on ``on``, or ``None`` when the date of birth is unknown."""
        return None if self.date_of_birth is None else age_in_years(self.date_of_birth, on)

    def is_child_on(self, on: date) -> bool:
        """True when this person is known to be under 18 on ``on`` (or is named as a household child)."""
        age = self.age_on(on)
        if age is not None:
            return age < ADULT_AGE
        return self.role == Role.child_in_household
