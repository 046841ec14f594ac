"""Building blocks shared by the event models: strict base model and constrained field types.

Inputs: none (type definitions). Outputs: ``StrictModel`` (``extra="forbid"``, whitespace
stripped) and annotated types for NHS numbers, UPNs, postcodes and past dates/timestamps.
Guarantee: every model in ``schemas`` builds on these, so one rule is enforced one way.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Field, ValidationInfo

from schemas import validators

# Free text limits: generous for narrative, tight for identifiers, so an oversized field is a
# clear schema error rather than a memory problem downstream.
NAME_MAX = 200
SHORT_TEXT_MAX = 500
NARRATIVE_MAX = 20_000
LIST_MAX = 200


class StrictModel(BaseModel):
    """Base for every wire model: unknown fields are errors, surrounding spaces are dropped."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, populate_by_name=True)


def _strip_str(value: object) -> object:
    return value.strip() if isinstance(value, str) else value


NhsNumber = Annotated[
    str,
    BeforeValidator(_strip_str),
    AfterValidator(validators.normalise_nhs_number),
    Field(description="NHS number: 10 digits with a valid modulus-11 check digit; spaces are removed.",
          examples=["943 476 5919"]),
]
Upn = Annotated[
    str,
    AfterValidator(validators.normalise_upn),
    Field(description="Unique pupil number: check letter + 12 characters.", examples=["F801200100001"]),
]
Postcode = Annotated[
    str,
    AfterValidator(validators.normalise_postcode),
    Field(description="UK postcode, normalised to upper case with one space.", examples=["LD1 5LG"]),
]
def _text_not_number(value: object) -> object:
    """Dates and timestamps travel as RFC 3339 text; a bare number (an epoch?) is ambiguous and refused."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        raise ValueError("must be RFC 3339 text (e.g. 2026-11-20 or 2026-11-20T21:40:00+00:00), not a number")
    return value


def _not_in_future_date(value: date, info: ValidationInfo) -> date:
    now = _now_of(info)
    return validators.not_in_future_date(value, now.date() if now else None)


def _not_in_future_timestamp(value: datetime, info: ValidationInfo) -> datetime:
    return validators.not_in_future_timestamp(value, _now_of(info))


def _now_of(info: ValidationInfo) -> datetime | None:
    """The pipeline's clock, passed as validation context (``parse_event(..., now=...)``); else the system's."""
    return (info.context or {}).get("now") if isinstance(info.context, dict) else None


PastDate = Annotated[date, BeforeValidator(_text_not_number), AfterValidator(_not_in_future_date)]
PastTimestamp = Annotated[
    AwareDatetime,
    BeforeValidator(_text_not_number),
    AfterValidator(_not_in_future_timestamp),
    Field(description="RFC 3339 timestamp with a UTC offset; not in the future."),
]
# One line of text: no control characters (a CR/LF in a name once forged extra lines in an e-mail body).
# Narrative may break lines and tab, nothing else below the space. The pattern is published in the JSON
# Schema for producers; the validator gives the reason in words.
ONE_LINE = r"^[^\x00-\x1F\x7F]*$"
LINES = r"^[^\x00-\x08\x0B\x0C\x0E-\x1F\x7F]*$"
_CONTROL = re.compile(r"[\x00-\x1F\x7F]")
_CONTROL_NOT_LINES = re.compile(r"[\x00-\x08\x0B\x0C\x0E-\x1F\x7F]")


def _one_line(value: str) -> str:
    if (found := _CONTROL.search(value)) is not None:
        raise ValueError(f"must be one line of text: control character U+{ord(found.group()):04X} (a line break, tab "
                         f"or other control) at position {found.start()}")
    return value


def _lines(value: str) -> str:
    if (found := _CONTROL_NOT_LINES.search(value)) is not None:
        raise ValueError(f"control character U+{ord(found.group()):04X} at position {found.start()}: only line breaks "
                         "and tabs are allowed")
    return value


def one_line(**field: Any) -> Any:
    """A one-line text type (codes, references): ``Field`` arguments, plus no control characters."""
    return Annotated[str, Field(json_schema_extra={"pattern": ONE_LINE}, **field), AfterValidator(_one_line)]


Name = Annotated[str, Field(min_length=1, max_length=NAME_MAX, json_schema_extra={"pattern": ONE_LINE}),
                 AfterValidator(_one_line)]
ShortText = Annotated[str, Field(max_length=SHORT_TEXT_MAX, json_schema_extra={"pattern": ONE_LINE}), AfterValidator(_one_line)]
Narrative = Annotated[str, Field(max_length=NARRATIVE_MAX, json_schema_extra={"pattern": LINES}), AfterValidator(_lines)]
Phone = Annotated[str, Field(max_length=40, pattern=r"^[0-9+() \-]{3,40}$", examples=["01597 827666"])]
