"""The tamper-evident audit trail: sealed records cannot be edited, removed or reordered unnoticed."""

import pytest
from sqlalchemy import text

from schemas.examples import example
from sinks.audit_chain import seal, verify
from tests.unit.helpers import run

KEY = b"k" * 32  # the services' own audit key in the security tests; any key here


@pytest.fixture
def trail(engine, services):
    from sqlmodel import Session

    from sinks.models import School

    with Session(engine) as session:  # a school the notice can be e-mailed to: no "unreachable school" alerts
        session.add(School(school_code="6662005", name="Ysgol Cefnllys", dsl_email="dsl@cefnllys.example"))
        session.commit()
    run(services, [example("domestic_abuse.reported"), example("ppn.submitted")])
    assert seal(engine, KEY) == 6
    return engine


def tamper(engine, statement: str) -> None:
    with engine.begin() as connection:
        connection.execute(text(statement))


class TestAuditChain:
    def test_sealed_trail_verifies_and_new_records_seal_onto_it(self, trail, services, policy, sinks, settings):
        """A sealed trail verifies; records written later are reported unsealed, then sealed onto the chain."""
        assert verify(trail, KEY).ok and verify(trail, KEY).sealed == 6
        run(services, [example("missing.reported")])
        pending = verify(trail, KEY)
        assert pending.ok and pending.unsealed == 2
        assert seal(trail, KEY) == 2 and verify(trail, KEY).sealed == 8
        assert seal(trail, KEY) == 0

    def test_an_edited_record_is_detected(self, trail):
        """Changing who received a disclosure breaks the chain at that record."""
        tamper(trail, "UPDATE audit_record SET recipient = 'SOMEONE-ELSE' WHERE sequence = 3")
        result = verify(trail, KEY)
        assert not result.ok and result.problems[0].startswith("sequence 3: content changed")

    def test_a_removed_record_is_detected(self, trail):
        """Deleting a record from the middle leaves a gap and a broken link."""
        tamper(trail, "DELETE FROM audit_record WHERE sequence = 2")
        problems = verify(trail, KEY).problems
        assert any("sequence 2: missing" in p for p in problems) and any("sequence 3: does not follow" in p for p in problems)

    def test_a_removed_last_record_is_detected(self, trail):
        """Deleting the newest sealed record is caught by the chain head."""
        tamper(trail, "DELETE FROM audit_record WHERE sequence = 6")
        assert any("chain head" in p for p in verify(trail, KEY).problems)

    def test_reordered_records_are_detected(self, trail):
        """Swapping two records' places breaks the chain."""
        tamper(trail, "UPDATE audit_record SET sequence = 100 WHERE sequence = 4")
        tamper(trail, "UPDATE audit_record SET sequence = 4 WHERE sequence = 5")
        tamper(trail, "UPDATE audit_record SET sequence = 5 WHERE sequence = 100")
        assert not verify(trail, KEY).ok

    def test_a_rehashed_record_does_not_fool_verify(self, trail):
        """Editing a record and recomputing its own hash still breaks the next link."""
        from sqlmodel import Session, select

        from sinks.audit_chain import record_hash
        from sinks.models import AuditRecord

        with Session(trail) as session:
            record = session.exec(select(AuditRecord).where(AuditRecord.sequence == 2)).one()
            record.recipient = "SOMEONE-ELSE"
            record.record_hash = record_hash(record.previous_hash, record, KEY)
            session.add(record)
            session.commit()
        problems = verify(trail, KEY).problems
        assert any(p.startswith("sequence 3: does not follow") for p in problems)
