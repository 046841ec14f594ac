"""Faust agents, one module per stage; each is thin and calls a plain handler in a thread."""

from __future__ import annotations

from collections.abc import Mapping

from streams.kafka.codec import Origin


def raw_messages(events) -> list[tuple[bytes | None, Origin]]:  # type: ignore[no-untyped-def]
    """(value, origin) for each Faust event of a batch: what the plain handlers take."""
    return [(e.message.value, Origin(e.message.topic, e.message.partition, e.message.offset, e.message.key,
                                     _headers(e.message.headers))) for e in events]


def _headers(headers) -> tuple[tuple[str, bytes], ...]:  # type: ignore[no-untyped-def]
    if not headers:
        return ()
    pairs = headers.items() if isinstance(headers, Mapping) else headers
    return tuple((str(name), bytes(value or b"")) for name, value in pairs)
