"""The one clock: nothing in the pipeline reads the wall clock except through it.

Inputs: the system clock and an offset from settings (``SAFEGUARD_CLOCK_OFFSET_SECONDS``, zero in
production; tests and rehearsals run the whole pipeline ahead of or behind the calendar with it).
Outputs: ``now()`` as an aware UTC datetime, ``today()``. Guarantee: every worker, timer, web
handler and CLI command given the same settings agrees on the time, so every rule can be run at any
instant and the test suite passes on any date. ``FixedClock`` is the clock tests set by hand.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone


class Clock:
    """The system clock, shifted by ``offset``."""

    def __init__(self, offset: timedelta = timedelta(0)) -> None:
        self.offset = offset

    def now(self) -> datetime:
        return datetime.now(timezone.utc) + self.offset

    def today(self) -> date:
        return self.now().date()

    def __call__(self) -> datetime:
        return self.now()


class FixedClock(Clock):
    """A clock that stands still until told to move."""

    def __init__(self, at: datetime) -> None:
        super().__init__()
        if at.tzinfo is None:
            raise ValueError("a clock needs an aware datetime")
        self.at = at.astimezone(timezone.utc)

    def now(self) -> datetime:
        return self.at

    def advance(self, by: timedelta) -> datetime:
        self.at += by
        return self.at
