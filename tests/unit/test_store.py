"""Staged inserts: deferred, but never visible late, never lost at commit, never kept after a rollback."""

from __future__ import annotations

from datetime import datetime, timezone

from sqlmodel import Session, select

from sinks.models import Deadline, ReferralRecord
from sinks.store import flush_staged, insert_ignoring_duplicates, stage_insert

AT = datetime(2026, 11, 20, 9, 0, tzinfo=timezone.utc)


def referral(reference: str, code: str = "WPOL") -> dict:
    return {"referral_reference": reference, "referrer_agency": "police", "referrer_code": code,
            "source_event_id": f"event-{reference}", "referred_at": AT}


def deadline(deadline_id: str, status: str = "open", recipients: str = '["W-LA"]') -> dict:
    rule, reference = deadline_id.split("|")
    return {"deadline_id": deadline_id, "rule": rule, "subject_key": "child", "reference": reference, "due_at": AT,
            "opened_at": AT, "status": status, "recipients_json": recipients, "evidence_json": "{}", "met_at": None,
            "breached_at": None}


def stored_referrals(engine) -> dict[str, str]:
    with Session(engine) as session:
        return {r.referral_reference: r.referrer_code for r in session.exec(select(ReferralRecord))}


def test_staged_rows_are_written_once_at_commit_and_the_first_of_one_key_stays(engine):
    with Session(engine) as session:
        assert stage_insert(session, ReferralRecord, referral("R1"), ["referral_reference"])
        assert not stage_insert(session, ReferralRecord, referral("R1", code="OTHER"), ["referral_reference"])
        assert stage_insert(session, ReferralRecord, referral("R2"), ["referral_reference"])
        assert stored_referrals(engine) == {}  # nothing written before the commit
        session.commit()
    assert stored_referrals(engine) == {"R1": "WPOL", "R2": "WPOL"}


def test_a_read_of_the_table_in_the_same_session_sees_staged_rows(engine):
    with Session(engine) as session:
        stage_insert(session, ReferralRecord, referral("R1"), ["referral_reference"])
        stage_insert(session, Deadline, deadline("ppn_triage|R1"), ["deadline_id"])
        assert session.get(ReferralRecord, "R1") is not None  # a get
        assert session.exec(select(Deadline.reference)).all() == ["R1"]  # a select of a column only
        session.commit()


def test_a_read_of_another_table_leaves_rows_staged(engine):
    with Session(engine) as session:
        stage_insert(session, ReferralRecord, referral("R1"), ["referral_reference"])
        session.exec(select(Deadline)).all()
        assert stored_referrals(engine) == {}
        session.commit()
    assert stored_referrals(engine) == {"R1": "WPOL"}


def test_staged_rows_are_dropped_with_a_rollback(engine):
    with Session(engine) as session:
        stage_insert(session, ReferralRecord, referral("R1"), ["referral_reference"])
        session.rollback()
        session.commit()
    assert stored_referrals(engine) == {}


def test_a_direct_insert_writes_the_staged_rows_of_its_table_first(engine):
    with Session(engine) as session:
        stage_insert(session, ReferralRecord, referral("R1"), ["referral_reference"])
        assert insert_ignoring_duplicates(session, ReferralRecord, [referral("R1", code="LATER")], ["referral_reference"]) == 0
        session.commit()
    assert stored_referrals(engine) == {"R1": "WPOL"}


def test_on_conflict_runs_only_for_rows_whose_key_was_already_stored(engine):
    with Session(engine) as session:
        insert_ignoring_duplicates(session, Deadline, [deadline("referral_outcome|R1", status="met", recipients="[]")],
                                   ["deadline_id"])
        session.commit()
    conflicts: list[str] = []
    with Session(engine) as session:
        for deadline_id in ("referral_outcome|R1", "referral_outcome|R2"):
            stage_insert(session, Deadline, deadline(deadline_id), ["deadline_id"],
                         on_conflict=lambda _session, row: conflicts.append(row["deadline_id"]))
        flush_staged(session)
        session.commit()
    assert conflicts == ["referral_outcome|R1"]
    with Session(engine) as session:
        assert {d.deadline_id: d.status for d in session.exec(select(Deadline))} == {
            "referral_outcome|R1": "met", "referral_outcome|R2": "open"}


def test_staged_rows_are_dropped_when_the_session_closes_without_a_commit(engine):
    session = Session(engine)
    stage_insert(session, ReferralRecord, referral("R1"), ["referral_reference"])
    session.close()
    session.commit()
    assert stored_referrals(engine) == {}
