"""Tamper-evident audit: every audit record is chained to the one before it by SHA-256.

Inputs: the store. Outputs: ``seal`` (hashes every record written since the last seal, in
sequence order, under the chain-head row lock) and ``verify`` (walks the whole trail). Guarantee:
once sealed, editing, removing or reordering any record (or the chain head) is detected by
``verify``, which names the first sequence that breaks. Records are sealed within seconds of being
written (a worker timer calls ``seal``); ``verify`` reports how many are not sealed yet.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timezone
from typing import Any

from sqlalchemy import Engine, bindparam, update
from sqlmodel import Session, select

from sinks.models import AuditChainHead, AuditRecord

GENESIS = "0" * 64
SEAL_BATCH = 5000
HASHED_FIELDS = ("sequence", "audit_id", "recorded_at", "action", "actor", "sink", "recipient", "rule", "policy_version",
                 "source_event_id", "subject_key", "master_person_id", "delivery_id", "detail")


def record_hash(previous: str, record: AuditRecord | Mapping[str, Any]) -> str:
    """The hash chaining ``record`` (a row or its column values) to the hash before it."""
    values = record if isinstance(record, Mapping) else {name: getattr(record, name) for name in HASHED_FIELDS}
    data = {name: values[name] for name in HASHED_FIELDS}
    # SQLite keeps timestamps without their offset; hash the UTC wall time so both stores agree.
    recorded = values["recorded_at"]
    data["recorded_at"] = (recorded.astimezone(timezone.utc) if recorded.tzinfo else recorded).replace(tzinfo=None).isoformat()
    canonical = json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256((previous + canonical).encode()).hexdigest()


def seal(engine: Engine) -> int:
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
            current = record_hash(previous, row)
            seals.append({"sealed_sequence": row["sequence"], "previous": previous, "current": current})
            previous = current
        if seals:
            connection.execute(update(table).where(table.c.sequence == bindparam("sealed_sequence"))
                               .values(previous_hash=bindparam("previous"), record_hash=bindparam("current")), seals)
            head.last_sequence, head.last_hash = seals[-1]["sealed_sequence"], previous
            session.add(head)
        session.commit()
        return len(seals)


@dataclass
class Verification:
    sealed: int = 0
    unsealed: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def verify(engine: Engine) -> Verification:
    """Walk the trail from the first record; report every break in the chain."""
    result = Verification()
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
            elif record_hash(previous, record) != record.record_hash:
                result.problems.append(f"sequence {record.sequence}: content changed after sealing")
            previous, last_sealed = record.record_hash, record.sequence
            result.sealed += 1
        if head is not None and (head.last_sequence != last_sealed or head.last_hash != previous):
            result.problems.append("chain head does not match the last sealed record: records removed from the end or the head edited")
    return result
