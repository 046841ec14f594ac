"""A record batch the consumer cannot decode (corrupt CRC, broken compressed frame) is skipped, parked and
reported, while the batches around it are consumed: never a crash loop. Driven through aiokafka's own
record classes, so an aiokafka upgrade that changes them fails here."""

from __future__ import annotations

import json

import pytest
from aiokafka.consumer.fetcher import READ_UNCOMMITTED, PartitionRecords
from aiokafka.record.default_records import DefaultRecordBatchBuilder
from aiokafka.record.memory_records import MemoryRecords
from aiokafka.structs import TopicPartition

from streams.kafka.undecodable import install, take_undecodable
from streams.pipeline.intake import park_undecodable
from tests.unit.helpers import deliveries

GZIP = 1


def batch(base_offset: int, values: list[bytes], codec: int = 0) -> bytearray:
    builder = DefaultRecordBatchBuilder(magic=2, compression_type=codec, is_transactional=0, producer_id=-1,
                                       producer_epoch=-1, base_sequence=-1, batch_size=1 << 20)
    for delta, value in enumerate(values):
        builder.append(delta, timestamp=None, key=None, value=value, headers=[])
    raw = bytearray(builder.build())
    raw[0:8] = base_offset.to_bytes(8, "big")  # the base offset is outside the CRC
    return raw


def consume(raw: bytes, check_crcs: bool = True) -> tuple[list[bytes], int]:
    install()
    take_undecodable()
    records = PartitionRecords(TopicPartition("safeguarding.ppn", 3), MemoryRecords(raw), [], 0, None, None,
                               check_crcs, READ_UNCOMMITTED)
    return [record.value for record in records], records.next_fetch_offset


def test_a_corrupt_batch_is_skipped_and_the_next_one_consumed():
    corrupt = batch(2, [b"c"])
    corrupt[-1] ^= 0xFF
    values, position = consume(bytes(batch(0, [b"a", b"b"]) + corrupt + batch(3, [b"d"])))
    assert values == [b"a", b"b", b"d"] and position == 4
    [skipped] = take_undecodable()
    assert (skipped.topic, skipped.partition, skipped.first_offset, skipped.last_offset) == ("safeguarding.ppn", 3, 2, 2)
    assert "invalid CRC" in skipped.reason


def test_a_compressed_batch_that_does_not_decompress_is_skipped():
    broken = batch(1, [b"x" * 200, b"y" * 200], codec=GZIP)
    broken[-20:-10] = b"\x00" * 10  # inside the gzip stream (CRC unchecked here: a broken frame, not a broken CRC)
    values, position = consume(bytes(batch(0, [b"a"]) + broken), check_crcs=False)
    assert values == [b"a"] and position == 3
    [skipped] = take_undecodable()
    assert skipped.first_offset == 1 and skipped.last_offset == 2 and "Gzip" in skipped.reason


@pytest.mark.parametrize("engine", ["sqlite"], indirect=True)
def test_skipped_batches_are_parked_and_operators_alerted(services):
    corrupt = batch(0, [b"c"])
    corrupt[-1] ^= 0xFF
    consume(bytes(corrupt))
    [letter] = park_undecodable(services, take_undecodable())
    assert letter.origin.topic == "safeguarding.ppn" and letter.field_path == "(record batch)"
    assert "could not be decoded and was skipped" in letter.reason
    [alert] = deliveries(services.engine, "alerts")
    assert json.loads(alert.content_json)["dead_letter_id"] == letter.dead_letter_id
