"""The sharing matrix, end to end through intake and routing on an in-memory store."""

import json
from datetime import timedelta

from sqlmodel import Session, select

from schemas.examples import example
from sinks.models import AuditRecord, DeadLetterRecord, IntakeEvent
from tests.unit.helpers import contents, deliveries, fire_at, run


def rules(engine):
    return sorted((d.sink, d.rule, d.recipient) for d in deliveries(engine))


class TestPpn:
    def test_ppn_goes_in_full_to_childrens_services_and_in_summary_to_health(self, engine, policy, sinks, settings, services):
        """A PPN: children's services get it all; health gets summary and child identity; schools nothing."""
        run(services, [example("ppn.submitted")])
        assert rules(engine) == [("childrens_services", "ppn.childrens_services.full", "W06000023"),
                                 ("health", "ppn.health.summary", "7A7")]
        health = contents(engine, "health")[0]
        assert health["child"]["given_names"] == "Siân"
        assert set(health) <= {"ppn_reference", "category", "risk_level", "summary", "occurred_at", "child"}
        assert "Rhian" not in json.dumps(health)  # the adult in the PPN is not shared with health


class TestDomesticAbuse:
    def test_each_child_is_routed_by_school_and_age(self, engine, policy, sinks, settings, services):
        """Siân's school gets an Encompass notice; Dafydd (3, no school) goes to children's services and health visiting."""
        run(services, [example("domestic_abuse.reported")])
        assert [r for r in rules(engine) if r[0] != "alerts"] == [
            ("childrens_services", "domestic_abuse.childrens_services.encompass_no_school", "W06000023"),
            ("childrens_services", "domestic_abuse.childrens_services.full", "W06000023"),
            ("education", "domestic_abuse.education.encompass_notice", "6662005"),
            ("health", "domestic_abuse.health.health_visiting_under_5", "7A7"),
        ]

    def test_encompass_notice_is_minimised(self, engine, policy, sinks, settings, services):
        """The school notice carries the child's details and police contact, never adults, narrative or risk grade."""
        run(services, [example("domestic_abuse.reported")])
        [notice] = contents(engine, "education")
        text = json.dumps(notice)
        assert notice["child"]["given_names"] == "Siân" and notice["child"]["upn"] == "F801200100001"
        assert notice["police_reference"] == "DA-2026-7781" and notice["voice_of_child_line"] == "I hid under the duvet"
        for forbidden in ("Rhian", "Mark", "Evans", "risk_level", "high", "adults", "nhs_number", "Dafydd", "address"):
            assert forbidden not in text

    def test_home_educated_child_goes_to_childrens_services(self, engine, policy, sinks, settings, services):
        """A home-educated child with a school on record still goes to children's services, not the school."""
        data = example("domestic_abuse.reported")
        data["children"][0]["home_educated"] = True
        run(services, [data])
        assert not deliveries(engine, "education")
        reasons = [c.get("why_not_school") for c in contents(engine, "childrens_services") if "why_not_school" in c]
        assert sorted(reasons) == ["home_educated", "no_known_school"]


class TestRegister:
    def test_registration_sets_flag_and_marker_and_deregistration_removes_them(self, engine, policy, sinks, settings, services):
        """Register then de-register: health and police each receive set then remove."""
        run(services, [example("cpr.registered"), example("cpr.deregistered")])
        health = sorted(c["register_action"] for c in contents(engine, "health"))
        police = sorted(c["register_action"] for c in contents(engine, "police"))
        assert health == police == ["remove", "set"]
        assert not deliveries(engine, "education")

    def test_stale_amendment_after_deregistration_does_not_resurrect_the_flag(self, engine, policy, sinks, settings, services):
        """An older amendment arriving after the de-registration is not delivered and leaves the child unflagged."""
        run(services, [example("cpr.registered"), example("cpr.deregistered")])
        run(services, [example("cpr.amended")])  # sequence 2 < 3
        assert sorted(c["register_action"] for c in contents(engine, "police")) == ["remove", "set"]
        run(services, [example("unscheduled_care.attended")])
        assert not [d for d in deliveries(engine) if d.source_event_type == "unscheduled_care.attended"]

    def test_order_by_event_time_when_no_sequence(self, engine, policy, sinks, settings, services):
        """Without sequences, an older event (by occurred_at) is stale."""
        registered = example("cpr.registered", sequence=None)
        deregistered = example("cpr.deregistered", sequence=None)
        run(services, [deregistered])
        run(services, [registered])  # occurred earlier than the de-registration
        assert [c["register_action"] for c in contents(engine, "health")] == ["remove"]


class TestUnscheduledCare:
    def test_flagged_child_attendance_notifies_key_worker(self, engine, policy, sinks, settings, services):
        """A flagged child's MIU attendance reaches children's services with the key worker, and health's history."""
        run(services, [example("cpr.registered")])
        run(services, [example("unscheduled_care.attended")])
        [notice] = [c for c in contents(engine, "childrens_services")]
        assert notice["register_key_worker"]["key_worker"]["name"] == "Gwenllian Price"
        assert notice["site"]["type"] == "MIU"
        assert any(d.rule == "unscheduled_care.health.access_history" for d in deliveries(engine, "health"))

    def test_unflagged_child_attendance_discloses_nothing(self, engine, policy, sinks, settings, services):
        """An unflagged child's attendance is recorded on intake but delivered to nobody."""
        taken, routed = run(services, [example("unscheduled_care.attended")])
        assert routed.processed == 1 and deliveries(engine) == []


class TestMissingAndOutcomes:
    def test_care_provider_report_is_copied_to_police(self, engine, policy, sinks, settings, services):
        """A missing report from a children's home goes to children's services and to police."""
        run(services, [example("missing.reported")])
        assert {d.sink for d in deliveries(engine)} == {"childrens_services", "police"}

    def test_police_report_is_not_copied_back_to_police(self, engine, policy, sinks, settings, services):
        """Police are the origin of their own missing report."""
        data = example("missing.reported", source=example("ppn.submitted")["source"])
        run(services, [data])
        assert {d.sink for d in deliveries(engine)} == {"childrens_services"}

    def test_outcome_goes_back_to_the_referring_force(self, engine, policy, sinks, settings, services):
        """The outcome of a PPN referral is delivered to the police force that made it."""
        run(services, [example("ppn.submitted")])
        run(services, [example("referral.outcome")])
        [outcome] = [d for d in deliveries(engine, "police")]
        assert outcome.recipient == "DPP" and json.loads(outcome.content_json)["decision"] == "care_and_support_assessment"

    def test_outcome_for_an_unknown_referral_raises_an_alert_after_the_grace(self, engine, services, clock):
        """An outcome nobody can be told about becomes an alert, not silence, once the referral has had the grace
        period (an hour by default) to arrive on its own topic."""
        run(services, [example("referral.outcome", referral_reference="PPN-NOPE")])
        assert fire_at(services, clock.now() + timedelta(minutes=59)) == 0
        assert fire_at(services, clock.now() + timedelta(minutes=2)) == 1
        [alert] = deliveries(engine, "alerts")
        content = json.loads(alert.content_json)
        assert (content["watch_rule"], content["reference"], alert.recipient) == ("unmatched_referral_outcome", "PPN-NOPE",
                                                                                 "W06000023")

    def test_a_referral_arriving_within_the_grace_raises_no_alert_and_its_referrer_is_told(self, engine, services, clock):
        """The outcome first, its PPN half an hour later: the police are told the outcome; nobody is alerted."""
        outcome = example("referral.outcome")
        run(services, [outcome])
        clock.advance(timedelta(minutes=30))
        run(services, [example("ppn.submitted")])
        assert fire_at(services, clock.now() + timedelta(hours=2)) == 0
        assert [d.rule for d in deliveries(engine, "police")] == ["referral.police.outcome_to_referrer"]

    def test_a_referral_arriving_after_the_alert_resolves_it(self, engine, services, clock):
        """Past the grace the alert stands; the PPN arriving later tells the referrer and resolves the alert."""
        run(services, [example("referral.outcome")])
        fire_at(services, clock.now() + timedelta(hours=2))
        run(services, [example("ppn.submitted")])
        statuses = sorted(json.loads(d.content_json)["status"] for d in deliveries(engine, "alerts")
                          if json.loads(d.content_json).get("watch_rule") == "unmatched_referral_outcome")
        assert statuses == ["breached", "resolved"]


class TestIdempotence:
    def test_same_event_twice_is_delivered_once(self, engine, policy, sinks, settings, services):
        """Publishing the same event again adds no delivery and no audit line."""
        event = example("domestic_abuse.reported")
        run(services, [event])
        first = sorted(d.delivery_id for d in deliveries(engine))
        taken, routed = run(services, [event, event])
        assert taken.duplicates == 2 and taken.forward == []
        assert sorted(d.delivery_id for d in deliveries(engine)) == first
        with Session(engine) as session:
            assert len(session.exec(select(AuditRecord)).all()) == len(first)

    def test_redelivered_accepted_batch_is_skipped(self, engine, policy, sinks, settings, services):
        """Routing the same accepted messages again (a crash before commit) writes nothing new."""
        from streams.kafka.codec import Origin
        from streams.pipeline.routing import route

        event = example("ppn.submitted")
        taken, _ = run(services, [event])
        count = len(deliveries(engine))
        with Session(engine) as session:
            payload = session.get(IntakeEvent, event["event_id"]).payload
        again = route(services, [(payload.encode(), Origin("safeguarding.accepted", 0, 0))])
        assert again.skipped == 1 and len(deliveries(engine)) == count

    def test_reused_event_id_with_different_content_is_parked(self, engine, policy, sinks, settings, services):
        """An event id reused for different content is refused rather than silently dropped."""
        event = example("ppn.submitted")
        run(services, [event])
        changed = dict(event, summary="something else")
        taken, _ = run(services, [changed])
        assert "already accepted with different content" in taken.dead_letters[0].reason


class TestDeadLetters:
    def test_broken_events_are_parked_and_operators_alerted_without_personal_data(self, engine, policy, sinks, settings, services):
        """Each refused input is stored with its reason and raises an alert that carries no names."""
        bad = example("unscheduled_care.attended")
        bad["child"]["nhs_number"] = "9434765910"
        taken, _ = run(services, [bad, b"{not json", example("missing.reported", risk_level="low")])
        assert len(taken.dead_letters) == 3
        with Session(engine) as session:
            parked = session.exec(select(DeadLetterRecord)).all()
        assert {p.field_path for p in parked} == {"child.nhs_number", None, "risk_level"}
        alerts = contents(engine, "alerts")
        assert len(alerts) == 3
        assert "Siân" not in json.dumps(alerts) and "Jones" not in json.dumps(alerts)
