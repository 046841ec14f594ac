"""The outbound topics on the broker: create them, publish to them, read back what is on them.

Inputs: a ``KafkaConnection``; messages ``(topic, key, value, delivery_id)``. Outputs: topics created with
the configured partitions (on first use: a recipient's topic appears with its first delivery); for a
publish, the next offset of every partition written (after every acknowledgement, acks=all); for a read
back, the delivery ids (header ``safeguard-delivery-id``) from given offsets to the true log end.
Guarantee: ``publish`` returns only when the broker has acknowledged everything, or raises.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import NewTopic
from kafka.errors import TopicAlreadyExistsError

from streams.kafka.admin import admin_client
from streams.kafka.broker_quirks import log_end_offsets, producer_settings
from streams.kafka.connection import KafkaConnection

DELIVERY_HEADER = "safeguard-delivery-id"
READ_POLL_MS = 300


@dataclass(frozen=True)
class OutboundMessage:
    topic: str
    key: bytes
    value: bytes
    delivery_id: str


class KafkaOutbound:
    def __init__(self, connection: KafkaConnection, partitions: int, replication_factor: int = 1) -> None:
        self.connection, self.partitions, self.replication_factor = connection, partitions, replication_factor
        self._known: set[str] = set()
        self._producer: KafkaProducer | None = None

    def ensure_topics(self, names: set[str]) -> None:
        missing = names - self._known
        if not missing:
            return
        admin = admin_client(self.connection)
        try:
            existing = set(admin.list_topics())
            for name in sorted(missing - existing):
                try:
                    admin.create_topics([NewTopic(name, self.partitions, self.replication_factor,
                                                  topic_configs={"cleanup.policy": "delete"})])
                except TopicAlreadyExistsError:
                    pass
            deadline = time.monotonic() + 15
            while not missing <= set(admin.list_topics()):
                if time.monotonic() > deadline:
                    raise RuntimeError(f"outbound topics not visible: {sorted(missing - set(admin.list_topics()))}")
                time.sleep(0.1)
        finally:
            admin.close()
        self._known |= missing

    def publish(self, messages: list[OutboundMessage]) -> dict[tuple[str, int], int]:
        """Send in order, wait for every acknowledgement; returns (topic, partition) -> next offset."""
        if self._producer is None:
            self._producer = KafkaProducer(client_id="safeguard-relay", **producer_settings(),
                                           **self.connection.client_options())
        futures = [self._producer.send(m.topic, key=m.key, value=m.value,
                                       headers=[(DELIVERY_HEADER, m.delivery_id.encode())]) for m in messages]
        self._producer.flush()
        ends: dict[tuple[str, int], int] = {}
        for future in futures:
            metadata = future.get(timeout=30)
            place = (metadata.topic, metadata.partition)
            ends[place] = max(ends.get(place, 0), metadata.offset + 1)
        return ends

    def delivery_ids_since(self, topic: str, offsets: dict[int, int]) -> tuple[set[str], dict[int, int]]:
        """Delivery ids on ``topic`` from ``offsets`` (partition -> offset; absent: the start) to the true log
        end, and the log end of every partition."""
        consumer = KafkaConsumer(enable_auto_commit=False, group_id=None, consumer_timeout_ms=READ_POLL_MS,
                                 **self.connection.client_options())
        try:
            partitions = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
            if not partitions:
                return set(), {}
            ends = {tp.partition: end for tp, end in log_end_offsets(self.connection, partitions).items()}
            consumer.assign(partitions)
            for tp in partitions:
                consumer.seek(tp, offsets.get(tp.partition, 0))
            found: set[str] = set()
            remaining = {tp.partition for tp in partitions if offsets.get(tp.partition, 0) < ends[tp.partition]}
            deadline = time.monotonic() + 60
            while remaining and time.monotonic() < deadline:
                for tp, records in consumer.poll(timeout_ms=READ_POLL_MS).items():
                    for record in records:
                        found.update(v.decode() for k, v in record.headers or [] if k == DELIVERY_HEADER)
                        if record.offset + 1 >= ends[tp.partition]:
                            remaining.discard(tp.partition)
            if remaining:
                raise RuntimeError(f"{topic}: could not read back to the log end (partitions {sorted(remaining)})")
            return found, ends
        finally:
            consumer.close()

    def close(self) -> None:
        if self._producer is not None:
            self._producer.close()
            self._producer = None
