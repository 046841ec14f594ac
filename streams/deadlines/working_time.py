"""Working time in Wales: the calendar behind "4 working hours" and "7 working days".

Inputs: an aware timestamp and a duration in working hours or days. Outputs: the aware
deadline. Guarantee: weekends and bank holidays in Wales (from the ``holidays`` library, not
hand-coded dates) are skipped; working hours are 09:00-17:00 Europe/London, so deadlines are
right across the change to and from summer time.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays

LONDON = ZoneInfo("Europe/London")
DAY_START = time(9, 0)
DAY_END = time(17, 0)
WORKING_DAY_HOURS = 8


@lru_cache(maxsize=64)
def _bank_holidays(year: int) -> holidays.HolidayBase:
    return holidays.country_holidays("GB", subdiv="WLS", years=year)


@lru_cache(maxsize=8192)  # every deadline walks the days ahead of it: a few years of days, cached
def is_working_day(day: date) -> bool:
    return day.weekday() < 5 and day not in _bank_holidays(day.year)


def next_working_day(day: date) -> date:
    day += timedelta(days=1)
    while not is_working_day(day):
        day += timedelta(days=1)
    return day


def add_working_days(start: datetime, days: int) -> datetime:
    """``start`` moved forward ``days`` working days (same local clock time, end of day if after hours)."""
    local = start.astimezone(LONDON)
    day = local.date()
    for _ in range(days):
        day = next_working_day(day)
    clock = min(max(local.time(), DAY_START), DAY_END) if is_working_day(local.date()) else DAY_END
    return datetime.combine(day, clock, LONDON)


def add_working_hours(start: datetime, hours: float) -> datetime:
    """``start`` moved forward ``hours`` of working time (09:00-17:00 on working days)."""
    local = start.astimezone(LONDON)
    day, clock = local.date(), local.time()
    if not is_working_day(day) or clock >= DAY_END:
        day, clock = next_working_day(day), DAY_START
    elif clock < DAY_START:
        clock = DAY_START
    remaining = timedelta(hours=hours)
    while True:
        cursor = datetime.combine(day, clock, LONDON)
        available = datetime.combine(day, DAY_END, LONDON) - cursor
        if remaining <= available:
            return cursor + remaining
        remaining -= available
        day, clock = next_working_day(day), DAY_START
