"""Field checks a safeguarding professional expects, shared by every event model.

Inputs: raw field values from producers. Outputs: normalised values (NHS numbers without
spaces, postcodes in canonical form) or a ``ValueError`` whose message says exactly why the
value was refused. Guarantee: the checks are pure functions with no I/O, so the CLI, the
codec and the identity resolver all agree on what is valid.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta, timezone

NHS_NUMBER_LENGTH = 10
# A producer's clock may run slightly ahead of ours; a timestamp further ahead is an error.
CLOCK_SKEW_ALLOWANCE = timedelta(minutes=5)

_UPN_CHECK_LETTERS = "ABCDEFGHJKLMNPQRTUVWXYZ"
_UPN_PATTERN = re.compile(r"^[A-HJ-NP-RT-Z][0-9]{11}[0-9A-HJ-NP-RT-Z]$")
_POSTCODE_PATTERN = re.compile(r"^([A-Z]{1,2}[0-9][A-Z0-9]?) ?([0-9][A-Z]{2})$")
_SEPARATORS = re.compile(r"[\s\-]")


def nhs_number_problem(raw: str) -> str | None:
    """Return why ``raw`` is not a valid NHS number, or ``None`` when it is valid."""
    digits = _SEPARATORS.sub("", raw)
    if not digits.isdigit() or len(digits) != NHS_NUMBER_LENGTH:
        return "an NHS number has exactly 10 digits (spaces allowed between groups)"
    if len(set(digits)) == 1:
        return "an NHS number cannot be one digit repeated"
    total = sum(int(d) * weight for d, weight in zip(digits[:9], range(10, 1, -1)))
    check = 11 - total % 11
    if check == 11:
        check = 0
    if check == 10 or check != int(digits[9]):
        return "the NHS number fails its modulus-11 check digit: it is mistyped or not an NHS number"
    return None


def normalise_nhs_number(raw: str) -> str:
    """Strip spaces and hyphens from a valid NHS number, or raise ``ValueError`` saying why."""
    problem = nhs_number_problem(raw)
    if problem:
        raise ValueError(problem)
    return _SEPARATORS.sub("", raw)


def upn_problem(raw: str) -> str | None:
    """Return why ``raw`` is not a valid unique pupil number, or ``None`` when it is valid.

    A UPN is 13 characters: a check letter, 11 digits (LA, establishment, year, serial) and a
    final digit, or a final letter for a temporary UPN. The check letter is the weighted sum
    (weights 2 to 13) of characters 2-13, modulo 23, mapped onto the 23 permitted letters.
    """
    if not _UPN_PATTERN.match(raw):
        return "a UPN is a check letter followed by 11 digits and a final digit or letter (13 characters)"
    total = 0
    for weight, char in zip(range(2, 14), raw[1:]):
        total += weight * (int(char) if char.isdigit() else _UPN_CHECK_LETTERS.index(char))
    if _UPN_CHECK_LETTERS[total % 23] != raw[0]:
        return "the UPN's check letter does not match its digits: it is mistyped"
    return None


def normalise_upn(raw: str) -> str:
    """Upper-case and strip a UPN, or raise ``ValueError`` saying why it is invalid."""
    value = _SEPARATORS.sub("", raw).upper()
    problem = upn_problem(value)
    if problem:
        raise ValueError(problem)
    return value


def normalise_postcode(raw: str) -> str:
    """Return a UK postcode in canonical form (``LD1 5LG``), or raise ``ValueError``."""
    compact = _SEPARATORS.sub("", raw).upper()
    match = _POSTCODE_PATTERN.match(compact)
    if not match:
        return _raise("not a UK postcode (expected e.g. 'LD1 5LG' or 'SA61 1TP')")
    return f"{match.group(1)} {match.group(2)}"


def not_in_future_date(value: date, today: date | None = None) -> date:
    """Refuse a calendar date after today."""
    today = today or datetime.now(timezone.utc).date()
    if value > today:
        raise ValueError(f"date {value.isoformat()} is in the future")
    return value


def not_in_future_timestamp(value: datetime, now: datetime | None = None) -> datetime:
    """Refuse a timestamp more than a few minutes ahead of now (clock skew is tolerated)."""
    now = now or datetime.now(timezone.utc)
    if value - now > CLOCK_SKEW_ALLOWANCE:
        raise ValueError(f"timestamp {value.isoformat()} is in the future")
    return value


def age_in_years(date_of_birth: date, on: date) -> int:
    """Whole years of age on ``on``."""
    years = on.year - date_of_birth.year
    if (on.month, on.day) < (date_of_birth.month, date_of_birth.day):
        years -= 1
    return years


def _raise(message: str) -> str:
    raise ValueError(message)
