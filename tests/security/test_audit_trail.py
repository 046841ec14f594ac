"""Probes of the audit trail by an insider who can write the database but does not hold the audit key:
each rewrite that once left `safeguard audit verify` passing is now detected."""

from __future__ import annotations

import hashlib
import json

import pytest
from sqlalchemy import text
from sqlmodel import Session, select

from schemas.examples import example
from sinks.audit_chain import GENESIS, checkpoint, verify
from sinks.models import AuditChainHead, AuditRecord
from streams.pipeline.audit_trail import CheckpointState, read_checkpoint_lines, seal_and_checkpoint
from tests.unit.helpers import run


@pytest.fixture
def trail(services):
    """Two events routed, sealed, and a signed checkpoint written outside the database."""
    run(services, [example("domestic_abuse.reported"), example("ppn.submitted")])
    seal_and_checkpoint(services, CheckpointState())
    assert verify(services.engine, services.audit_key, read_checkpoint_lines(services)).ok
    return services


def problems(services) -> list[str]:
    return verify(services.engine, services.audit_key, read_checkpoint_lines(services)).problems


def sql(services, statement: str) -> None:
    with services.engine.begin() as connection:
        connection.execute(text(statement))


def last_sequence(services) -> int:
    with Session(services.engine) as session:
        return session.get(AuditChainHead, 1).last_sequence


class TestInsiderRewrites:
    def test_deleting_the_last_rows_and_rolling_the_head_back(self, trail):
        """The probe left verify passing: the checkpoint outside the database still names the removed head."""
        last = last_sequence(trail)
        with Session(trail.engine) as session:
            kept = session.exec(select(AuditRecord).where(AuditRecord.sequence == last - 2)).one()
            sql(trail, f"DELETE FROM audit_record WHERE sequence > {last - 2}")
            sql(trail, f"UPDATE audit_chain_head SET last_sequence = {kept.sequence}, last_hash = '{kept.record_hash}'")
        assert any(f"sequence {last}): that record is missing" in p for p in problems(trail))

    def test_wiping_the_trail_and_the_head(self, trail):
        sql(trail, "DELETE FROM audit_record")
        sql(trail, "DELETE FROM audit_chain_head")
        assert any("truncated, wiped or re-chained" in p for p in problems(trail))

    def test_deleting_a_row_and_recomputing_every_later_hash(self, trail):
        """Re-chaining with plain SHA-256 (the old scheme) or any key but the audit key fails the MAC."""
        sql(trail, "DELETE FROM audit_record WHERE sequence = 2")
        with Session(trail.engine) as session:
            previous = GENESIS
            for record in session.exec(select(AuditRecord).order_by(AuditRecord.sequence)):
                from sinks.audit_chain import record_hash

                record.previous_hash, record.record_hash = previous, record_hash(previous, record, b"guessed-key" * 3)
                previous = record.record_hash
                session.add(record)
            session.commit()
        found = problems(trail)
        assert any("sealed without the key" in p for p in found)

    def test_editing_a_deliverys_content_or_recipient(self, trail):
        """Deliveries were outside the chain; each disclosure line now records the content hash and recipient."""
        sql(trail, "UPDATE delivery SET content_json = '{\"summary\": \"edited\"}' WHERE rule = 'ppn.childrens_services.full'")
        sql(trail, "UPDATE delivery SET recipient = 'SOMEONE-ELSE' WHERE rule = 'ppn.health.summary'")
        found = problems(trail)
        assert any("edited (content)" in p for p in found) and any("edited (recipient)" in p for p in found)

    def test_deleting_a_delivery(self, trail):
        sql(trail, "DELETE FROM delivery WHERE rule = 'ppn.health.summary'")
        assert any("was removed" in p for p in problems(trail))

    def test_a_forged_checkpoint_line_is_reported(self, trail):
        line = json.dumps({"sequence": 1, "hash": hashlib.sha256(b"x").hexdigest(), "at": "2026-11-22T11:00:00+00:00",
                           "mac": "0" * 64})
        with trail.settings.checkpoint_file.open("a") as handle:
            handle.write(line + "\n")
        assert any("signature does not hold" in p for p in problems(trail))

    def test_the_untouched_trail_verifies_and_checkpoints_only_when_the_head_moves(self, trail):
        state = CheckpointState()
        seal_and_checkpoint(trail, state)
        lines = read_checkpoint_lines(trail)
        seal_and_checkpoint(trail, state)  # no new records, interval not passed: nothing appended
        assert read_checkpoint_lines(trail) == lines
        assert checkpoint(trail.engine, trail.audit_key, trail.clock.now()).sequence == last_sequence(trail)
        result = verify(trail.engine, trail.audit_key, lines)
        assert result.ok and result.checkpoint is not None and result.disclosures > 0
