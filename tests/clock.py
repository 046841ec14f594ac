"""The integration tests' clock: every process of a test instance, and the tests themselves, run on it.

It starts at the instant the examples were written (``EXAMPLES_NOW``), or that many weeks later when
``SAFEGUARD_TEST_WEEKS_AHEAD`` is set (52 runs the suite a year ahead), and moves at the wall clock's
pace. Instances get it through ``SAFEGUARD_CLOCK_OFFSET_SECONDS``; events are built relative to it.
So the suite gives the same answers on any calendar date, and a process that read the wall clock
instead of the pipeline's clock would see every event as weeks old (or in the future) and fail.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta, timezone

from schemas import examples
from streams.clock import Clock

WEEKS_AHEAD = int(os.environ.get("SAFEGUARD_TEST_WEEKS_AHEAD", "0"))
START = examples.EXAMPLES_NOW + timedelta(weeks=WEEKS_AHEAD)
OFFSET = START - datetime.now(timezone.utc)
TEST_CLOCK = Clock(OFFSET)


def now() -> datetime:
    return TEST_CLOCK.now()


def clock_env() -> dict[str, str]:
    """What puts a `safeguard` process on this clock."""
    return {"SAFEGUARD_CLOCK_OFFSET_SECONDS": f"{OFFSET.total_seconds():.3f}"}


def example(event_type: str, **changes: object) -> dict:
    """The example for ``event_type`` as it stands to the tests' now."""
    return examples.example(event_type, now=now(), **changes)


def at(timestamp: str) -> str:
    """A fixed instant of the examples' calendar (e.g. "2026-11-20T22:00:00+00:00", a Friday night), moved by
    whole weeks into the tests' calendar, so its weekday and time of day stay as written."""
    return str(examples.moved(timestamp, START - examples.EXAMPLES_NOW))
