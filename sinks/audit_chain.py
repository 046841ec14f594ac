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
from datetime import timezone
from dataclasses import dataclass, field

from sqlalchemy import Engine, update
from sqlmodel import Session, select

from sinks.models import AuditChainHead, AuditRecord

GENESIS = "0" * 64
SEAL_BATCH = 5000
HASHED_FIELDS = ("sequence", "audit_id", "recorded_at", "action", "actor", "sink", "recipient", "rule", "policy_version",
                 "source_event_id", "subject_key", "master_person_id", "delivery_id", "detail")


def record_hash(previous: str, record: AuditRecord) -> str:
    data = record.model_dump(mode="json", include=set(HASHED_FIELDS))
    # SQLite keeps timestamps without their offset; hash the UTC wall time so both stores agree.
    recorded = record.recorded_at
    data["recorded_at"] = (recorded.astimezone(timezone.utc) if recorded.tzinfo else recorded).replace(tzinfo=None).isoformat()
    canonical = json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256((previous + canonical).encode()).hexdigest()


def seal(engine: Engine) -> int:
    """Chain every unsealed record; returns how many were sealed."""
    with Session(engine) as session:
        # Taking the head row's write lock first serialises sealers across processes (SQLite and PostgreSQL).
        locked = session.exec(update(AuditChainHead).where(AuditChainHead.id == 1).values(id=1))  # type: ignore[call-overload]
        if locked.rowcount == 0:
            session.add(AuditChainHead(id=1, last_sequence=0, last_hash=GENESIS))
            session.flush()
        head = session.get(AuditChainHead, 1)
        pending = session.exec(select(AuditRecord).where(AuditRecord.sequence > head.last_sequence)
                               .order_by(AuditRecord.sequence).limit(SEAL_BATCH)).all()  # type: ignore[arg-type,operator]
        previous = head.last_hash
        for record in pending:
            record.previous_hash = previous
            record.record_hash = previous = record_hash(previous, record)
            session.add(record)
        if pending:
            head.last_sequence, head.last_hash = pending[-1].sequence, previous
            session.add(head)
        session.commit()
        return len(pending)


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
