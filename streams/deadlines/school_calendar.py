"""School calendars: when is a school's next school day, and so its Operation Encompass deadline.

Inputs: the calendars file (``school_calendars.toml``: nation, terms and INSET days per local
authority), a school code and the time police attended. Outputs: the deadline (09:00 of the next
school day) and the escalation time (10:00 that day), aware, Europe/London. Guarantee: bank
holidays come from the ``holidays`` library for Wales or England, not hand-coded dates.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from pathlib import Path

import holidays

from streams.deadlines.working_time import LONDON

CALENDARS_FILE = Path(__file__).with_name("school_calendars.toml")
NOTICE_BY = time(9, 0)
ESCALATE_AT = time(10, 0)
_SUBDIVISION = {"wales": "WLS", "england": "ENG"}


@dataclass(frozen=True)
class SchoolCalendar:
    nation: str
    terms: tuple[tuple[date, date], ...] = ()
    inset_days: frozenset[date] = frozenset()

    def is_school_day(self, day: date) -> bool:
        if day.weekday() >= 5 or day in _bank_holidays(self.nation, day.year) or day in self.inset_days:
            return False
        if not self.terms or not (self.terms[0][0] <= day <= self.terms[-1][1]):
            return True  # outside the covered years: the earlier, safer assumption
        return any(start <= day <= end for start, end in self.terms)

    def next_school_day(self, attended: datetime) -> date:
        local = attended.astimezone(LONDON)
        day = local.date() if local.time() < NOTICE_BY else local.date() + timedelta(days=1)
        for _ in range(400):
            if self.is_school_day(day):
                return day
            day += timedelta(days=1)
        raise ValueError("no school day within 400 days: the calendar is wrong")


@lru_cache(maxsize=32)
def _bank_holidays(nation: str, year: int) -> holidays.HolidayBase:
    return holidays.country_holidays("GB", subdiv=_SUBDIVISION[nation], years=year)


class Calendars:
    def __init__(self, path: Path = CALENDARS_FILE) -> None:
        data = tomllib.loads(path.read_text())
        self.default = self._calendar(data.get("default", {"nation": "wales"}), "default")
        self.by_authority = {str(number): self._calendar(spec, str(number))
                             for number, spec in data.get("authorities", {}).items()}

    @staticmethod
    def _calendar(spec: dict, name: str) -> SchoolCalendar:
        nation = spec.get("nation", "wales")
        if nation not in _SUBDIVISION:
            raise ValueError(f"calendar {name}: nation must be wales or england")
        terms = tuple(sorted((date.fromisoformat(a), date.fromisoformat(b)) for a, b in spec.get("terms", [])))
        if any(start > end for start, end in terms):
            raise ValueError(f"calendar {name}: a term ends before it starts")
        return SchoolCalendar(nation, terms, frozenset(date.fromisoformat(d) for d in spec.get("inset_days", [])))

    def for_school(self, school_code: str) -> SchoolCalendar:
        number = school_code[:3] if len(school_code) == 7 and school_code.isdigit() else ""
        return self.by_authority.get(number, self.default)

    def deadlines(self, school_code: str, attended: datetime) -> tuple[datetime, datetime]:
        """(notify by, escalate at) for a notice to ``school_code`` about an incident attended at ``attended``."""
        day = self.for_school(school_code).next_school_day(attended)
        return datetime.combine(day, NOTICE_BY, LONDON), datetime.combine(day, ESCALATE_AT, LONDON)
