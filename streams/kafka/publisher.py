"""Publishing events: validate each JSON line, publish the valid ones, report the rest.

Inputs: lines of JSON (a ``.jsonl`` file), the topology and a broker address. Outputs: a
``PublishReport`` (published count, one rejection per bad line with its line number and
reason). Guarantee: a line is published only if it validates; each send is acknowledged by
all in-sync replicas (acks=all) before ``publish_lines`` returns.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from kafka import KafkaProducer

from streams.access.credentials import ProducerKeys
from streams.identity.keys import partition_key
from streams.kafka.broker_quirks import producer_settings
from streams.kafka.codec import Accepted, Origin, decode
from streams.kafka.connection import KafkaConnection
from streams.kafka.topics import Topology

MAX_LINE_BYTES = 1_048_576


@dataclass
class Rejection:
    line: int
    reason: str
    event_id: str | None = None


@dataclass
class PublishReport:
    published: int = 0
    rejected: list[Rejection] = field(default_factory=list)


def make_producer(connection: KafkaConnection) -> KafkaProducer:
    return KafkaProducer(client_id="safeguard-publish", **producer_settings(), **connection.client_options())


def prepare(lines: Iterable[bytes], topology: Topology, now: datetime,
            max_bytes: int = MAX_LINE_BYTES) -> tuple[list[tuple[str, bytes, bytes]], list[Rejection]]:
    """Validate lines (``now`` judges "in the future"); returns (topic, key, value) for the valid ones
    and rejections for the rest."""
    ready, rejected = [], []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        outcome = decode(line.strip(), Origin(topic="(file)", offset=number), max_bytes=max_bytes, now=now)
        if not isinstance(outcome, Accepted):
            rejected.append(Rejection(number, outcome.reason, outcome.event_id))
            continue
        event = outcome.event
        topic = topology.topic_for(event.event_type).name  # type: ignore[attr-defined]
        # Publish what the producer wrote (not our re-serialisation), so the pipeline sees the original.
        ready.append((topic, partition_key(event), line.strip()))
    return ready, rejected


def publish_lines(lines: Iterable[bytes], topology: Topology, connection: KafkaConnection, now: datetime,
                  keys: ProducerKeys) -> PublishReport:
    """Validate and publish, each line signed for the producer it names (the instance vouches for the
    organisations it serves: whoever holds its master key)."""
    ready, rejected = prepare(lines, topology, now)
    report = PublishReport(rejected=rejected)
    if ready:
        send_raw(ready, connection, keys)
    report.published = len(ready)
    return report


def send_raw(messages: list[tuple[str, bytes | None, bytes]], connection: KafkaConnection,
             keys: ProducerKeys | None = None) -> None:
    """Send (topic, key, value) messages and wait for every acknowledgement; with ``keys``, each value is
    signed for the producer its ``source`` names (inbound topics), else sent unsigned (the internal topic)."""
    producer = make_producer(connection)
    try:
        futures = [producer.send(topic, key=key, value=value, headers=keys.sign_as_claimed(value) if keys else None)
                   for topic, key, value in messages]
        producer.flush()
        for future in futures:
            future.get(timeout=30)
    finally:
        producer.close()


def rejection_line(rejection: Rejection) -> str:
    event = f" event_id={rejection.event_id}" if rejection.event_id else ""
    return f"line {rejection.line}: rejected{event}: {rejection.reason}"


def as_json(report: PublishReport) -> str:
    return json.dumps({"published": report.published, "rejected": [r.__dict__ for r in report.rejected]})
