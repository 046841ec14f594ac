"""Intake agent: consumes every inbound topic, validates, records, forwards or parks.

Consumes: the inbound topics (raw bytes). Produces: canonical JSON on the accepted topic,
dead-letter records on each inbound topic's ``.dlq`` sibling. Guarantee: at-least-once; the
batch is recorded in the store and every forward/park is acknowledged by the broker before
the offsets can be committed, and replays are absorbed by the event-id keyed intake table.
"""

from __future__ import annotations

import asyncio
import time

import structlog

from streams.pipeline.intake import intake
from streams.runtime.agents import copy_dead_letters, raw_messages
from streams.runtime.retry import until_done

log = structlog.get_logger("safeguard.intake")


def register(pipeline) -> None:  # type: ignore[no-untyped-def]
    app, services = pipeline.app, pipeline.services
    topology, settings = services.topology, services.settings
    inbound = app.topic(*(spec.name for spec in topology.inbound), value_serializer="raw", key_serializer="raw")
    accepted = app.topic(topology.accepted.name, value_serializer="raw", key_serializer="raw")
    dead_letter_topics = {spec.name: app.topic(spec.dead_letter, value_serializer="raw", key_serializer="raw")
                          for spec in topology.inbound}

    @app.agent(inbound, name="safeguard.intake")
    async def intake_agent(stream):  # type: ignore[no-untyped-def]
        async for events in stream.take_events(settings.batch_size, within=settings.batch_within_seconds):
            started = time.perf_counter()
            messages = raw_messages(events)
            result = await until_done("intake", intake, services, messages)
            sends = [await accepted.send(key=key, value=value) for key, value in result.forward]
            for letter in result.dead_letters:
                log.warning("event.parked", dead_letter_id=letter.dead_letter_id, event_id=letter.event_id,
                            event_type=letter.event_type, topic=letter.origin.topic, partition=letter.origin.partition,
                            offset=letter.origin.offset, reason=letter.reason[:300], field_path=letter.field_path)
            await copy_dead_letters(result.dead_letters, lambda letter: dead_letter_topics[letter.origin.topic], log)
            await asyncio.gather(*sends)  # a forward that fails restarts the batch: intake absorbs the replay
            log.info("intake.batch", messages=len(messages), forwarded=len(result.forward),
                     parked=len(result.dead_letters), duplicates=result.duplicates,
                     ms=round((time.perf_counter() - started) * 1000, 1))
