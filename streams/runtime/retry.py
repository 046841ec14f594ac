"""Back-pressure for the agents: a failing unit of work is retried, never skipped.

Inputs: a blocking function and its arguments. Outputs: its result. Guarantee: the call is
repeated with capped exponential back-off until it succeeds, so a store outage stalls the
partition (visible as lag) instead of losing or reordering events; every failure is logged.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TypeVar

import structlog

T = TypeVar("T")
log = structlog.get_logger("safeguard.retry")

FIRST_DELAY_SECONDS = 0.2
MAX_DELAY_SECONDS = 5.0


async def until_done(what: str, func: Callable[..., T], *args: object) -> T:
    """Run ``func(*args)`` in a thread, retrying with back-off until it returns."""
    delay, attempt = FIRST_DELAY_SECONDS, 1
    while True:
        try:
            return await asyncio.to_thread(func, *args)
        except Exception as exc:  # noqa: BLE001 - anything the store throws is retried
            log.error("unit_of_work.failed", unit=what, attempt=attempt, error=type(exc).__name__,
                      detail=str(exc)[:300], retry_in_seconds=delay)
            await asyncio.sleep(delay)
            delay, attempt = min(delay * 2, MAX_DELAY_SECONDS), attempt + 1
