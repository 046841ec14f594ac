"""The demo day: the same seed and time give the same events; published again later, it is new events."""

import json
from datetime import datetime, timedelta, timezone

from streams.runtime.demo import demo_day

MONDAY = datetime(2025, 3, 3, 9, 30, tzinfo=timezone.utc)


def event_ids(lines: list[bytes]) -> set[str]:
    ids = set()
    for line in lines:
        try:
            event = json.loads(line)
        except ValueError:
            continue  # the demo's deliberately truncated line
        if isinstance(event, dict) and "event_id" in event:
            ids.add(event["event_id"])
    return ids


def test_the_same_seed_and_time_give_the_same_events():
    assert demo_day(MONDAY) == demo_day(MONDAY)


def test_a_demo_day_published_again_later_reuses_no_event_id():
    """`make up` a second time on the same data: the pipeline parks an event id reused with other
    content, so a later demo day must be new events."""
    first, later = event_ids(demo_day(MONDAY)), event_ids(demo_day(MONDAY + timedelta(hours=2)))
    assert len(first) > 100 and len(later) == len(first)
    assert not first & later
