"""Record batches the consumer cannot decode are skipped and reported, never a crash loop.

Inputs: the record batches aiokafka (under Faust) fetches. Outputs: the records of every batch that
passes its CRC check and decompresses, as before; for a batch that does not, nothing is yielded, the
consumer's position moves past it, and an ``Undecodable`` (topic, partition, offsets, reason) is queued
for ``take_undecodable`` (the worker's timer parks each as a dead letter and alerts operators).
Guarantees: installed once per process by ``install()`` (idempotent), replacing
``aiokafka.consumer.fetcher.PartitionRecords._unpack_records`` with the same loop plus the skip; the
loop follows aiokafka 0.14.0 (pinned), and ``tests/security/test_undecodable.py`` feeds it a corrupt
batch through aiokafka's own record classes, so an upgrade that changes them fails that test.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass

from aiokafka.consumer import fetcher

_QUEUE: deque[Undecodable] = deque(maxlen=10_000)
_LOCK = threading.Lock()
_INSTALLED = False


@dataclass(frozen=True)
class Undecodable:
    topic: str
    partition: int
    first_offset: int
    last_offset: int
    reason: str


def take_undecodable() -> list[Undecodable]:
    """Every batch skipped since the last call (oldest first)."""
    with _LOCK:
        found = list(_QUEUE)
        _QUEUE.clear()
    return found


def install() -> None:
    global _INSTALLED
    if not _INSTALLED:
        fetcher.PartitionRecords._unpack_records = _unpack_records  # type: ignore[method-assign]
        _INSTALLED = True


def _decoded(records: fetcher.PartitionRecords, batch) -> tuple[list | None, str]:  # type: ignore[no-untyped-def, type-arg]
    """The batch's records, or None and why (checked CRC, then every record decompressed and parsed)."""
    try:
        if records._check_crcs and not batch.validate_crc():
            return None, "invalid CRC (the batch is corrupt)"
        return list(batch), ""
    except Exception as exc:  # noqa: BLE001 - any decoding failure: unknown codec, broken frame, bad varint
        return None, f"{type(exc).__name__}: {str(exc)[:200]}"


def _unpack_records(self):  # type: ignore[no-untyped-def]
    """aiokafka 0.14.0's loop (``PartitionRecords._unpack_records``), with an undecodable batch skipped."""
    tp, records = self._tp, self._records
    while records.has_next():
        next_batch = records.next_batch()
        if self._isolation_level == fetcher.READ_COMMITTED and next_batch.producer_id is not None:
            self._consume_aborted_up_to(next_batch.base_offset)
            if next_batch.is_control_batch and self._contains_abort_marker(next_batch):
                self._aborted_producers.discard(next_batch.producer_id)
            if next_batch.is_transactional and next_batch.producer_id in self._aborted_producers:
                self.next_fetch_offset = next_batch.next_offset
                continue
        if next_batch.is_control_batch:
            self.next_fetch_offset = next_batch.next_offset
            continue
        decoded, reason = _decoded(self, next_batch)
        if decoded is None:
            with _LOCK:
                _QUEUE.append(Undecodable(tp.topic, tp.partition, next_batch.base_offset, next_batch.next_offset - 1, reason))
            self.next_fetch_offset = next_batch.next_offset
            continue
        for record in decoded:
            if record.offset < self.next_fetch_offset:
                continue
            consumer_record = self._consumer_record(tp, record)
            self.next_fetch_offset = record.offset + 1
            yield consumer_record
        self.next_fetch_offset = next_batch.next_offset
