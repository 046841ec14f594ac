"""Producers no one here wrote: a librdkafka client (confluent-kafka), as non-Python police and health
systems use, with each compression codec a Kafka client may choose."""

from __future__ import annotations

import json

import pytest

from tests.clock import example
from tests.integration.conftest import export, wait_for

pytestmark = pytest.mark.integration
CODECS = ("none", "gzip", "snappy", "lz4", "zstd")


class TestLibrdkafkaProducer:
    def test_every_compression_codec_is_decoded_and_delivered(self, instance):
        """One PPN per codec from confluent-kafka with its usual settings (acks=all, compression on):
        each is validated and delivered; none stops the worker (an lz4 batch once crash-looped it)."""
        from confluent_kafka import Producer

        sent = {}
        for codec in CODECS:
            producer = Producer({"bootstrap.servers": instance.runtime["broker"], "acks": "all", "compression.type": codec,
                                 "linger.ms": 5, "client.id": f"librdkafka-{codec}"})
            event = example("ppn.submitted", ppn_reference=f"PPN-CODEC-{codec}")
            producer.produce("safeguarding.ppn", key=b"nhs:9434765919", value=json.dumps(event).encode())
            assert producer.flush(30) == 0, f"{codec}: not acknowledged"
            sent[event["event_id"]] = codec
        delivered = wait_for(lambda: (ids := {line["source_event_id"] for line in export("childrens_services", instance.data_dir)})
                             >= set(sent) and ids, what="a delivery for every codec")
        assert set(sent) <= delivered
        assert all(pid for pid in instance.runtime["worker_pids"])
