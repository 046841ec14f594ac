"""Router agent: consumes accepted events, applies state and the sharing policy, writes sinks.

Consumes: the accepted topic (canonical event JSON). Produces: rows in the delivery (outbox)
and audit tables, state updates, processed marks; parks anything it cannot route on the
accepted topic's ``.dlq``. Guarantee: one transaction per batch and deterministic delivery
ids, so redelivery after a crash delivers nothing twice and loses nothing.
"""

from __future__ import annotations

import time

import structlog

from streams.pipeline.routing import route
from streams.runtime.agents import copy_dead_letters, raw_messages
from streams.runtime.retry import until_done

log = structlog.get_logger("safeguard.router")


def register(pipeline) -> None:  # type: ignore[no-untyped-def]
    app, services = pipeline.app, pipeline.services
    topology, settings = services.topology, services.settings
    accepted = app.topic(topology.accepted.name, value_serializer="raw", key_serializer="raw")
    parked_topic = app.topic(topology.accepted.dead_letter, value_serializer="raw", key_serializer="raw")

    @app.agent(accepted, name="safeguard.router")
    async def router_agent(stream):  # type: ignore[no-untyped-def]
        async for events in stream.take_events(settings.batch_size, within=settings.batch_within_seconds):
            started = time.perf_counter()
            messages = raw_messages(events)
            result = await until_done("route", route, services, messages)
            await copy_dead_letters(result.parked, lambda _letter: parked_topic, log)
            log.info("router.batch", messages=len(messages), processed=result.processed, skipped=result.skipped,
                     delivered=dict(result.delivered), parked=len(result.parked),
                     ms=round((time.perf_counter() - started) * 1000, 1))
