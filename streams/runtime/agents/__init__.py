"""Faust agents, one module per stage; each is thin and calls a plain handler in a thread."""

from __future__ import annotations

from streams.kafka.codec import Origin


def raw_messages(events) -> list[tuple[bytes | None, Origin]]:  # type: ignore[no-untyped-def]
    """(value, origin) for each Faust event of a batch: what the plain handlers take."""
    return [(e.message.value, Origin(e.message.topic, e.message.partition, e.message.offset, e.message.key)) for e in events]
