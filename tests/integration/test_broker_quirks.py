"""Each embedded-broker workaround in streams/kafka/broker_quirks.py, proven against the real Tansu broker."""

from __future__ import annotations

import asyncio
import threading

import pytest
from aiokafka import AIOKafkaProducer
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import NewTopic

from streams.kafka import broker_quirks
from streams.kafka.admin import admin_client
from streams.kafka.connection import KafkaConnection
from streams.kafka.embedded_broker import EmbeddedBroker

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def broker(tmp_path_factory):
    with EmbeddedBroker(tmp_path_factory.mktemp("broker")) as running:
        yield running


def make_topic(broker: EmbeddedBroker, name: str, partitions: int = 3) -> list[TopicPartition]:
    admin = admin_client(KafkaConnection(broker.address))
    admin.create_topics([NewTopic(name, partitions, 1)])
    admin.close()
    return [TopicPartition(name, p) for p in range(partitions)]


class TestLogEnd:
    def test_true_log_end_counts_every_message_even_when_list_offsets_falls_short(self, broker):
        """After many batches, log_end_offsets equals what was produced, whatever ListOffsets(LATEST) says."""
        partitions = make_topic(broker, "quirk-log-end")
        producer = KafkaProducer(bootstrap_servers=broker.address, **broker_quirks.producer_settings())
        produced = [0, 0, 0]
        for _batch in range(20):
            for index in range(150):
                producer.send("quirk-log-end", value=b"x" * 100, partition=index % 3)
                produced[index % 3] += 1
            producer.flush()
        producer.close()
        consumer = KafkaConsumer(bootstrap_servers=broker.address)
        reported = consumer.end_offsets(partitions)
        consumer.close()
        true_end = broker_quirks.log_end_offsets(KafkaConnection(broker.address), partitions)
        assert [true_end[tp] for tp in partitions] == produced
        assert all(reported[tp] <= true_end[tp] for tp in partitions)
        # The dashboard's bounded reading (one poll here) lies between the broker's answer and the truth.
        bounded = broker_quirks.log_end_offsets(KafkaConnection(broker.address), partitions, budget_seconds=0)
        assert all(reported[tp] <= bounded[tp] <= true_end[tp] for tp in partitions)

    def test_bounded_reading_returns_while_a_producer_keeps_the_tail_moving(self, broker):
        """With a budget, the reading stops chasing a tail that never stops growing; without one it
        would read until the producer paused (the loop ends only on a poll that finds nothing new)."""
        partitions = make_topic(broker, "quirk-moving-tail", 1)
        producing = threading.Event()
        stop = threading.Event()

        def keep_producing() -> None:
            producer = KafkaProducer(bootstrap_servers=broker.address, **broker_quirks.producer_settings())
            while not stop.is_set():
                producer.send("quirk-moving-tail", value=b"x" * 100).get(timeout=30)
                producing.set()
                stop.wait(0.02)
            producer.close()

        readings: list[dict] = []
        producer_thread = threading.Thread(target=keep_producing)
        reader = threading.Thread(target=lambda: readings.append(broker_quirks.log_end_offsets(
            KafkaConnection(broker.address), partitions, budget_seconds=1.0)))
        producer_thread.start()
        try:
            assert producing.wait(30)
            reader.start()
            reader.join(timeout=30)
            still_reading = reader.is_alive()
        finally:
            stop.set()
            producer_thread.join(timeout=30)
            reader.join(timeout=30)
        assert not still_reading, "the budgeted reading kept chasing the tail while the producer was busy"
        assert readings[0][partitions[0]] > 0


class TestIdempotentProducers:
    def test_kafka_python_idempotent_producer_is_accepted(self, broker):
        """The CLI's producer (kafka-python, idempotent, acks=all) publishes normally."""
        make_topic(broker, "quirk-idempotent", 1)
        producer = KafkaProducer(bootstrap_servers=broker.address, **broker_quirks.producer_settings())
        metadata = producer.send("quirk-idempotent", value=b"v").get(timeout=30)
        producer.close()
        assert metadata.offset == 0

    def test_aiokafka_idempotent_handshake_is_rejected(self, broker):
        """aiokafka's InitProducerId handshake fails on this broker: the reason Faust's producer stays non-idempotent."""
        async def attempt() -> None:
            producer = AIOKafkaProducer(bootstrap_servers=broker.address, enable_idempotence=True, acks="all")
            try:
                await asyncio.wait_for(producer.start(), 20)
                await asyncio.wait_for(producer.send_and_wait("quirk-idempotent", b"v"), 20)
            finally:
                await producer.stop()

        with pytest.raises(Exception):  # noqa: B017 - any failure of the handshake is the quirk
            asyncio.run(attempt())

    def test_pipeline_app_is_at_least_once_with_short_session_timeout(self, tmp_path):
        """The Faust app uses at-least-once (no idempotent/transactional producer) and the ~10 s session timeout."""
        from streams.runtime.app import create_pipeline
        from streams.services import build_services
        from streams.settings import Settings

        pipeline = create_pipeline(build_services(Settings(_env_file=None, data_dir=tmp_path)), "127.0.0.1:9")
        assert pipeline.app.conf.processing_guarantee.value == "at_least_once"
        assert pipeline.app.conf.broker_session_timeout == 10.0
        assert pipeline.app.conf.broker_heartbeat_interval == 1.0


class TestFetchWait:
    def test_workers_shorten_fausts_hard_coded_fetch_wait(self, broker):
        """After the worker's patch, the 1,500 ms fetch wait Faust asks aiokafka for becomes the configured one."""
        import aiokafka

        original = aiokafka.AIOKafkaConsumer
        try:
            broker_quirks.shorten_fetch_wait(100)

            async def build() -> tuple[int, int]:
                faust_like = aiokafka.AIOKafkaConsumer(bootstrap_servers=broker.address, fetch_max_wait_ms=1500)
                explicit = aiokafka.AIOKafkaConsumer(bootstrap_servers=broker.address, fetch_max_wait_ms=700)
                return faust_like._fetch_max_wait_ms, explicit._fetch_max_wait_ms

            assert asyncio.run(build()) == (100, 700)
        finally:
            aiokafka.AIOKafkaConsumer = original
