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


async def copy_dead_letters(letters, topic_of, log) -> None:  # type: ignore[no-untyped-def]
    """Copy parked letters to their dead-letter topics. Each is already in the store, with its operator alert,
    so a copy the broker refuses is logged and skipped: no send error may crash the agent (a crash-looping
    agent stops every other event)."""
    import asyncio

    from streams.kafka.codec import dead_letter_payload

    pending = []
    for letter in letters:
        try:
            pending.append((letter, await topic_of(letter).send(key=letter.dead_letter_id.encode(),
                                                                 value=dead_letter_payload(letter))))
        except Exception as exc:  # noqa: BLE001 - logged; the letter is safe in the store
            log.error("dead_letter.copy_failed", dead_letter_id=letter.dead_letter_id, error=type(exc).__name__)
    results = await asyncio.gather(*(future for _, future in pending), return_exceptions=True)
    for (letter, _), outcome in zip(pending, results):
        if isinstance(outcome, BaseException):
            log.error("dead_letter.copy_failed", dead_letter_id=letter.dead_letter_id, error=type(outcome).__name__)
