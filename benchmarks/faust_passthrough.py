"""A plain Faust agent A -> B on the embedded broker: the framework's own ceiling on this machine.

Run by ``benchmarks.pipeline`` as a worker process: ``python -m benchmarks.faust_passthrough BROKER``.
Consumes ``bench.in`` and forwards every message unchanged to ``bench.out`` in batches, exactly as the
pipeline's agents do (``take_events`` with the default batch settings, every send acknowledged before
the next batch), with the pipeline's app and broker settings (``create_app``), and nothing else: no
parsing, no store.
"""

from __future__ import annotations

import asyncio
import sys

from streams.kafka import broker_quirks
from streams.runtime.app import create_app
from streams.runtime.worker import make_worker
from streams.settings import Settings

SOURCE, TARGET = "bench.in", "bench.out"


def main() -> None:
    settings = Settings(log_level="WARNING", app_id="bench-faust-passthrough")
    broker_quirks.shorten_fetch_wait(settings.consumer_fetch_max_wait_ms)
    app = create_app(settings, sys.argv[1])
    source = app.topic(SOURCE, value_serializer="raw", key_serializer="raw")
    target = app.topic(TARGET, value_serializer="raw", key_serializer="raw")

    @app.agent(source, name="bench.forward")
    async def forward(stream):  # type: ignore[no-untyped-def]
        async for events in stream.take_events(settings.batch_size, within=settings.batch_within_seconds):
            sends = [await target.send(key=event.message.key, value=event.message.value) for event in events]
            await asyncio.gather(*sends)

    make_worker(app, settings).execute_from_commandline()


if __name__ == "__main__":
    main()
