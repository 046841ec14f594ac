"""Producers no one here wrote: a librdkafka client (confluent-kafka), as non-Python police and health
systems use, with each compression codec a Kafka client may choose."""

from __future__ import annotations

import json

import pytest

from tests.clock import example
from tests.integration.conftest import export, signed, wait_for

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
            value = json.dumps(event).encode()
            producer.produce("safeguarding.ppn", key=b"nhs:9434765919", value=value, headers=signed(instance.data_dir, value))
            assert producer.flush(30) == 0, f"{codec}: not acknowledged"
            sent[event["event_id"]] = codec
        delivered = wait_for(lambda: (ids := {line["source_event_id"] for line in export("childrens_services", instance.data_dir)})
                             >= set(sent) and ids, what="a delivery for every codec")
        assert set(sent) <= delivered
        assert all(pid for pid in instance.runtime["worker_pids"])

    def test_a_producer_proves_itself_with_its_own_key(self, instance):
        """Unsigned, as any Kafka client sends by default: parked, naming the missing headers. Signed with the key
        `safeguard producer-key police:DPP` hands to the force's system (HMAC-SHA256 of the value, in a header):
        delivered. Signed with it, but claiming to be the council de-registering a child: parked, not entitled."""
        import hashlib
        import hmac

        from confluent_kafka import Producer

        from tests.integration.conftest import cli

        key = bytes.fromhex(cli("producer-key", "police:DPP", data_dir=instance.data_dir, check=True).stdout.strip())

        def headers(value: bytes, producer: str = "police:DPP") -> list[tuple[str, bytes]]:
            digest = hmac.new(key, value, hashlib.sha256).hexdigest()
            return [("safeguard-producer", producer.encode()), ("safeguard-signature", f"hmac-sha256={digest}".encode())]

        producer = Producer({"bootstrap.servers": instance.runtime["broker"], "acks": "all", "client.id": "force-rms"})
        unsigned = example("ppn.submitted", ppn_reference="PPN-UNSIGNED")
        signed_ppn = example("ppn.submitted", ppn_reference="PPN-SIGNED")
        forged = example("cpr.deregistered", source={"agency": "police", "organisation": "Dyfed-Powys Police",
                                                    "organisation_code": "DPP"})
        producer.produce("safeguarding.ppn", value=json.dumps(unsigned).encode())
        producer.produce("safeguarding.ppn", value=(value := json.dumps(signed_ppn).encode()), headers=headers(value))
        producer.produce("safeguarding.cpr", value=(value := json.dumps(forged).encode()), headers=headers(value))
        assert producer.flush(30) == 0
        delivered = wait_for(lambda: {line["source_event_id"] for line in export("childrens_services", instance.data_dir)}
                             & {signed_ppn["event_id"]}, what="the signed PPN delivered")
        assert unsigned["event_id"] not in delivered
        letters = wait_for(lambda: (rows := [json.loads(line) for line in cli("dlq", "list", data_dir=instance.data_dir)
                                             .stdout.splitlines()]) and len(rows) >= 2 and rows, what="two dead letters")
        reasons = {row["event_id"]: row["reason"] for row in letters}
        assert reasons[unsigned["event_id"]].startswith("unsigned")
        assert "police may not publish cpr.deregistered" in reasons[forged["event_id"]]
