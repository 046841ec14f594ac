"""Tamper-evident audit: every audit record is chained to the one before it by a keyed MAC.

Inputs: the store and the audit key (kept outside the database: ``SAFEGUARD_AUDIT_KEY`` or a private
file under the data directory). Outputs: ``seal`` (MACs every record written since the last seal, in
sequence order, under the chain-head row lock), ``checkpoint`` (a signed line naming the chain head,
for a file an operator ships to write-once storage) and ``verify`` (walks the whole trail, checks every
disclosure against the delivery it records, and the chain against the latest checkpoint).
Guarantees: without the key, editing, removing, reordering or re-chaining sealed records, or editing a
delivery's content, recipient, sink or rule, is detected and named; with a checkpoint, so are wiping
the trail and truncating it below the checkpoint. Records written after the latest checkpoint can
still be truncated unnoticed by someone who can write the database; anyone holding the key can forge.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import Engine, bindparam, update
from sqlmodel import Session, select

from sinks.models import AuditChainHead, AuditRecord, DeliveryRecord

GENESIS = "0" * 64
SEAL_BATCH = 5000
HASHED_FIELDS = ("sequence", "audit_id", "recorded_at", "action", "actor", "sink", "recipient", "rule", "policy_version",
                 "source_event_id", "subject_key", "master_person_id", "delivery_id", "detail")


def content_digest(content: Mapping[str, Any]) -> str:
    """SHA-256 of a delivery's content in canonical JSON (what a disclosure's audit line records)."""
    return hashlib.sha256(json.dumps(content, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()).hexdigest()


def record_hash(previous: str, record: AuditRecord | Mapping[str, Any], key: bytes) -> str:
    """The MAC chaining ``record`` (a row or its column values) to the one before it, under the audit key."""
    values = record if isinstance(record, Mapping) else {name: getattr(record, name) for name in HASHED_FIELDS}
    data = {name: values[name] for name in HASHED_FIELDS}
    # SQLite keeps timestamps without their offset; hash the UTC wall time so both stores agree.
    recorded = values["recorded_at"]
    data["recorded_at"] = (recorded.astimezone(timezone.utc) if recorded.tzinfo else recorded).replace(tzinfo=None).isoformat()
    canonical = json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hmac.new(key, (previous + canonical).encode(), hashlib.sha256).hexdigest()


def seal(engine: Engine, key: bytes) -> int:
    """Chain every unsealed record; returns how many were sealed."""
    table = AuditRecord.__table__  # type: ignore[attr-defined]
    with Session(engine) as session:
        # Taking the head row's write lock first serialises sealers across processes (SQLite and PostgreSQL).
        locked = session.exec(update(AuditChainHead).where(AuditChainHead.id == 1).values(id=1))  # type: ignore[call-overload]
        if locked.rowcount == 0:
            session.add(AuditChainHead(id=1, last_sequence=0, last_hash=GENESIS))
            session.flush()
        head = session.get(AuditChainHead, 1)
        # Plain rows and one executemany: sealing runs beside routing and must cost little per record.
        connection = session.connection()
        pending = connection.execute(select(*(table.c[name] for name in HASHED_FIELDS))
                                     .where(table.c.sequence > head.last_sequence)
                                     .order_by(table.c.sequence).limit(SEAL_BATCH)).mappings().all()
        previous, seals = head.last_hash, []
        for row in pending:
            current = record_hash(previous, row, key)
            seals.append({"sealed_sequence": row["sequence"], "previous": previous, "current": current})
            previous = current
        if seals:
            connection.execute(update(table).where(table.c.sequence == bindparam("sealed_sequence"))
                               .values(previous_hash=bindparam("previous"), record_hash=bindparam("current")), seals)
            head.last_sequence, head.last_hash = seals[-1]["sealed_sequence"], previous
            session.add(head)
        session.commit()
        return len(seals)


@dataclass(frozen=True)
class Checkpoint:
    """The chain head at one moment, signed with the audit key: kept outside the database."""

    sequence: int
    hash: str
    at: str
    mac: str

    def line(self) -> str:
        return json.dumps({"sequence": self.sequence, "hash": self.hash, "at": self.at, "mac": self.mac}, sort_keys=True)


def _checkpoint_mac(key: bytes, sequence: int, head: str, at: str) -> str:
    return hmac.new(key, f"audit-checkpoint|{sequence}|{head}|{at}".encode(), hashlib.sha256).hexdigest()


def checkpoint(engine: Engine, key: bytes, at: datetime) -> Checkpoint | None:
    """A signed checkpoint of the chain head now (None before anything is sealed)."""
    with Session(engine) as session:
        head = session.get(AuditChainHead, 1)
        if head is None or head.last_sequence == 0:
            return None
        stamp = at.astimezone(timezone.utc).isoformat()
        return Checkpoint(head.last_sequence, head.last_hash, stamp, _checkpoint_mac(key, head.last_sequence, head.last_hash, stamp))


def read_checkpoints(lines: Iterable[str], key: bytes) -> tuple[Checkpoint | None, list[str]]:
    """The latest checkpoint whose signature holds, and a problem for every line that does not."""
    latest, problems = None, []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
            found = Checkpoint(int(data["sequence"]), str(data["hash"]), str(data["at"]), str(data["mac"]))
        except (ValueError, KeyError, TypeError):
            problems.append(f"checkpoint line {number}: unreadable")
            continue
        if not hmac.compare_digest(found.mac, _checkpoint_mac(key, found.sequence, found.hash, found.at)):
            problems.append(f"checkpoint line {number}: signature does not hold (forged or edited)")
            continue
        if latest is None or found.sequence >= latest.sequence:
            latest = found
    return latest, problems


@dataclass
class Verification:
    sealed: int = 0
    unsealed: int = 0
    disclosures: int = 0
    checkpoint: Checkpoint | None = None
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def verify(engine: Engine, key: bytes, checkpoints: Iterable[str] = ()) -> Verification:
    """Walk the trail from the first record; report every break in the chain, every disclosure whose delivery
    was edited or removed, and any disagreement with the latest signed checkpoint."""
    result = Verification()
    result.checkpoint, result.problems = read_checkpoints(checkpoints, key)
    hashes: dict[int, str] = {}
    with Session(engine) as session:
        head = session.get(AuditChainHead, 1)
        previous, expected_sequence, last_sealed = GENESIS, None, 0
        for record in session.exec(select(AuditRecord).order_by(AuditRecord.sequence)):  # type: ignore[arg-type]
            if expected_sequence is not None and record.sequence != expected_sequence:
                result.problems.append(f"sequence {expected_sequence}: missing (next present is {record.sequence}): removed")
            expected_sequence = record.sequence + 1
            if record.record_hash is None:
                result.unsealed += 1
                continue
            if result.unsealed:
                result.problems.append(f"sequence {record.sequence}: sealed after an unsealed record")
            if record.previous_hash != previous:
                result.problems.append(f"sequence {record.sequence}: does not follow the record before it: removed or reordered")
            elif not hmac.compare_digest(record_hash(previous, record, key), record.record_hash):
                result.problems.append(f"sequence {record.sequence}: content changed after sealing, or sealed without the key")
            previous, last_sealed = record.record_hash, record.sequence
            hashes[record.sequence] = record.record_hash
            result.sealed += 1
        if head is not None and (head.last_sequence != last_sealed or head.last_hash != previous):
            result.problems.append("chain head does not match the last sealed record: records removed from the end or the head edited")
        mark = result.checkpoint
        if mark is not None and hashes.get(mark.sequence) != mark.hash:
            what = "is missing" if mark.sequence not in hashes else "differs"
            result.problems.append(f"checkpoint of {mark.at} (sequence {mark.sequence}): that record {what}: the trail was "
                                   "truncated, wiped or re-chained since")
        result.problems += _disclosures_match_deliveries(session, result)
    return result


def _disclosures_match_deliveries(session: Session, result: Verification) -> list[str]:
    """Every disclosure line names the delivery it records: its sink, recipient, rule and content hash."""
    problems = []
    disclosures = session.exec(select(AuditRecord).where(AuditRecord.action == "disclosed")).all()
    ids = [record.delivery_id for record in disclosures if record.delivery_id]
    deliveries = {}
    for start in range(0, len(ids), 1000):
        deliveries.update({row.delivery_id: row for row in session.exec(
            select(DeliveryRecord).where(DeliveryRecord.delivery_id.in_(ids[start:start + 1000])))})  # type: ignore[attr-defined]
    for record in disclosures:
        delivery = deliveries.get(record.delivery_id)
        result.disclosures += 1
        if delivery is None:
            problems.append(f"sequence {record.sequence}: delivery {record.delivery_id} was removed")
            continue
        recorded = json.loads(record.detail).get("content_sha256") if record.detail else None
        changed = [name for name in ("sink", "recipient", "rule") if getattr(delivery, name) != getattr(record, name)]
        if recorded is not None and content_digest(json.loads(delivery.content_json)) != recorded:
            changed.append("content")
        if changed:
            problems.append(f"sequence {record.sequence}: delivery {record.delivery_id} edited ({', '.join(changed)})")
    return problems
