"""The child protection register: reconciliation, access history, unborn flags, transfers, data quality."""

import json
from datetime import date, datetime, timedelta, timezone

from sqlmodel import Session, select

from schemas.examples import EXAMPLES, example
from sinks.models import CareAccess, RegisterFlag
from streams.register.state import flag_is_live
from tests.unit.helpers import contents, deliveries, run

SIAN = EXAMPLES["cpr.registered"]["child"]


def child(source_id: str, nhs: str | None) -> dict:
    person = dict(SIAN, source_person_id=source_id)
    person.pop("nhs_number", None)
    if nhs:
        person["nhs_number"] = nhs
    return person


def register(source_id: str, nhs: str | None, **changes) -> dict:
    return example("cpr.registered", child=child(source_id, nhs), sequence=None, **changes)


def snapshot(entries: list[dict], as_of: str = "2026-11-21T06:00:00+00:00") -> dict:
    return example("cpr.snapshot", children=entries, as_of=as_of, occurred_at=as_of, recorded_at=as_of)


class TestReconciliation:
    def test_snapshot_corrects_exactly_the_differences(self, engine, policy, sinks, settings, services):
        """Missing flag set, stale flag removed, differing categories updated; a matching entry untouched."""
        run(services, [
            register("LA-1", "9434765919", categories=["neglect"]),       # matches the snapshot
            register("LA-2", "4010232137", categories=["physical"]),      # snapshot says emotional
            register("LA-3", "9876543210", categories=["neglect"]),       # not in the snapshot: stale
        ])
        before = len(deliveries(engine))
        run(services, [snapshot([
            {"child": child("LA-1", "9434765919"), "categories": ["neglect"]},
            {"child": child("LA-2", "4010232137"), "categories": ["emotional"]},
            {"child": child("LA-4", "9990000018"), "categories": ["sexual"], "registered_on": "2026-11-01"},  # missing
        ])])
        corrections = [d for d in deliveries(engine)[before:] if d.sink == "health"]
        found = sorted((json.loads(d.content_json)["reconciliation_difference"], json.loads(d.content_json)["register_action"],
                        d.subject_key) for d in corrections)
        assert found == [("details_differ", "update", "nhs:4010232137"), ("flag_missing", "set", "nhs:9990000018"),
                         ("flag_stale", "remove", "nhs:9876543210")]
        assert len([d for d in deliveries(engine)[before:] if d.sink == "police"]) == 3
        [report] = [c["reconciliation_report"] for c in contents(engine, "alerts")]
        assert report["differences"] == 3 and report["children_in_snapshot"] == 3 and report["active_flags_before"] == 3
        with Session(engine) as session:
            active = {f.nhs_number for f in session.exec(select(RegisterFlag)) if f.active}
        assert active == {"9434765919", "4010232137", "9990000018"}

    def test_snapshot_does_not_undo_a_change_made_after_it(self, engine, policy, sinks, settings, services):
        """A registration recorded after the snapshot's as_of is reported, not removed."""
        run(services, [register("LA-9", "9434765919", occurred_at="2026-11-21T09:00:00+00:00")])
        run(services, [snapshot([], as_of="2026-11-21T06:00:00+00:00")])
        [report] = [c["reconciliation_report"] for c in contents(engine, "alerts")]
        assert report["differences"] == 0 and report["changed_after_snapshot"] == ["nhs:9434765919"]
        assert [c["register_action"] for c in contents(engine, "health")] == ["set"]

    def test_identical_snapshot_reports_no_difference(self, engine, policy, sinks, settings, services):
        """A snapshot that matches produces a report saying so and no flag deliveries."""
        run(services, [register("LA-1", "9434765919", categories=["neglect"])])
        run(services, [snapshot([{"child": child("LA-1", "9434765919"), "categories": ["neglect"]}])])
        assert len(contents(engine, "health")) == 1
        assert contents(engine, "alerts")[0]["reconciliation_report"]["differences"] == 0


class TestAccessHistory:
    def test_only_the_25_most_recent_accesses_are_kept(self, engine, policy, sinks, settings, services):
        """Thirty attendances of a flagged child leave the latest 25."""
        run(services, [example("cpr.registered")])
        start = datetime(2026, 11, 19, tzinfo=timezone.utc)  # the child was registered on 18 November
        visits = [example("unscheduled_care.attended", attendance_reference=f"ATT-{i}",
                          attended_at=(start + timedelta(hours=i)).isoformat()) for i in range(30)]
        run(services, visits)
        with Session(engine) as session:
            kept = sorted(a.access_id for a in session.exec(select(CareAccess)))
        assert len(kept) == 25 and "7A7:ATT-0" not in kept and "7A7:ATT-29" in kept


class TestUnbornAndTransfers:
    def test_unborn_flag_lapses_after_the_due_date_grace(self):
        """An unborn child's flag (on the mother's record) stops showing 28 days after the due date."""
        flag = RegisterFlag(child_key="k", local_authority_code="W06000023", active=True, event_at=datetime.now(timezone.utc),
                            event_id="e", details_json=json.dumps({"expected_due_date": "2026-10-01"}))
        assert flag_is_live(flag, today=date(2026, 10, 20))
        assert not flag_is_live(flag, today=date(2026, 11, 2))

    def test_transfer_to_another_authority_moves_the_flag(self, engine, policy, sinks, settings, services):
        """A registration by a second authority (published by that authority) updates the child's flag to it."""
        run(services, [example("cpr.registered")])
        ceredigion = {"code": "W06000008", "name": "Ceredigion County Council", "office_phone": "01545 574000"}
        source = {"agency": "local_authority", "organisation": "Ceredigion County Council", "organisation_code": "W06000008"}
        run(services, [example("cpr.registered", local_authority=ceredigion, source=source, sequence=5,
                               occurred_at="2026-11-19T09:00:00+00:00")])
        with Session(engine) as session:
            [flag] = session.exec(select(RegisterFlag)).all()
        assert flag.local_authority_code == "W06000008"


class TestDataQuality:
    def test_registration_without_nhs_number_is_reported_to_the_authority(self, engine, policy, sinks, settings, services):
        """The local authority is told that health cannot see a flag with no NHS number."""
        run(services, [register("LA-7", None)])
        [alert] = deliveries(engine, "alerts")
        assert alert.recipient == "W06000023" and alert.rule == "cpr.alerts.no_nhs_number"
        assert "cannot see this flag" in json.loads(alert.content_json)["missing_nhs_number_alert"]
