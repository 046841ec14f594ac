"""Rules on the child behind every agency's records, judged at the time things happened, whatever order
the events arrive in: register flags through the master person index, late registrations re-evaluating
earlier events."""

from __future__ import annotations

import json
from datetime import timedelta
from itertools import permutations

from sqlalchemy.pool import StaticPool
from sqlmodel import Session, create_engine, select

from schemas.examples import EXAMPLES, EXAMPLES_NOW, example
from sinks.store import migrate
from streams.clock import FixedClock
from streams.services import build_services
from tests.unit.helpers import deliveries, run

ACCESS_NOTICE = "unscheduled_care.childrens_services.access_notification"
ACCESS_HISTORY = "unscheduled_care.health.access_history"
INCIDENT_NOTICE = "watch.childrens_services.incident_for_registered_child"


def fresh(settings):
    engine = create_engine("sqlite://", connect_args={"check_same_thread": False}, poolclass=StaticPool)
    migrate(engine)
    return build_services(settings, engine=engine, clock=FixedClock(EXAMPLES_NOW))


def delivered(services) -> set[tuple[str, str, str]]:
    return {(d.delivery_id, d.rule, d.source_event_id) for d in deliveries(services.engine)}


def rules_for(services, event: dict) -> set[str]:
    return {d.rule for d in deliveries(services.engine) if d.source_event_id == event["event_id"]}


class TestLateRegistration:
    def test_a_registration_received_after_an_attendance_it_covers_notifies_the_key_worker(self, settings):
        """Registered on the 18th, attended on the 21st, the registration received last: the key worker is told and the
        attendance joins the access history, with the same delivery ids as in the natural order."""
        registration, attendance = example("cpr.registered"), example("unscheduled_care.attended")
        natural, late = fresh(settings), fresh(settings)
        run(natural, [registration])
        run(natural, [attendance])
        run(late, [attendance])
        assert ACCESS_NOTICE not in rules_for(late, attendance)  # nothing known yet
        run(late, [registration])
        assert {ACCESS_NOTICE, ACCESS_HISTORY} <= rules_for(late, attendance)
        assert delivered(late) == delivered(natural)

    def test_an_attendance_before_the_registration_date_notifies_nobody_in_either_order(self, settings):
        """Attended on the 10th, registered from the 18th: no access notification, whichever arrives first."""
        registration = example("cpr.registered")
        attendance = example("unscheduled_care.attended", attended_at="2026-11-10T09:00:00+00:00")
        for order in permutations([registration, attendance]):
            services = fresh(settings)
            for event in order:
                run(services, [event])
            assert ACCESS_NOTICE not in rules_for(services, attendance)


class TestDeregistration:
    def test_a_deregistration_never_retracts_what_was_due_while_on_the_register(self, settings):
        """Registered on the 18th, de-registered on the 21st: an attendance on the 20th notifies even when it arrives
        after the de-registration; in event order, one on the 22nd does not."""
        registration, deregistration = example("cpr.registered"), example("cpr.deregistered")
        during = example("unscheduled_care.attended", attendance_reference="ATT-20", attended_at="2026-11-20T10:00:00+00:00")
        after = example("unscheduled_care.attended", attendance_reference="ATT-22", attended_at="2026-11-22T10:00:00+00:00",
                        occurred_at="2026-11-22T10:00:00+00:00", recorded_at="2026-11-22T10:05:00+00:00")
        services = fresh(settings)
        run(services, [registration])
        run(services, [deregistration])
        run(services, [during])
        assert ACCESS_NOTICE in rules_for(services, during)
        in_order = fresh(settings)
        for event in (registration, during, deregistration, after):
            run(in_order, [event])
        assert ACCESS_NOTICE in rules_for(in_order, during) and ACCESS_NOTICE not in rules_for(in_order, after)


    def test_a_deregistration_dated_before_an_attendance_already_notified_recalls_the_notice(self, settings):
        """Registered on the 18th; an attendance on the 22nd arrives before the de-registration dated the 21st: the
        key worker was told on what was known then; the de-registration sends the authority a recall naming that
        delivery, tells operators, and takes the attendance out of the access history. Its redelivery recalls
        nothing more, and what stands (delivered, not recalled) is what event-time order delivers."""
        from streams.pipeline.rejudge import recalled_ids
        from streams.register.state import recent_accesses

        registration, deregistration = example("cpr.registered"), example("cpr.deregistered")
        after = example("unscheduled_care.attended", attendance_reference="ATT-22", attended_at="2026-11-22T10:00:00+00:00",
                        occurred_at="2026-11-22T10:00:00+00:00", recorded_at="2026-11-22T10:05:00+00:00")
        late = fresh(settings)
        run(late, [registration])
        run(late, [after])
        [notice] = [d for d in deliveries(late.engine) if d.rule == ACCESS_NOTICE]
        run(late, [deregistration])
        recalls = {d.rule: d for d in deliveries(late.engine) if d.source_event_type == "delivery.recalled"}
        to_authority = recalls["recall.childrens_services.disregard"]
        assert to_authority.recipient == notice.recipient and to_authority.subject_key == notice.subject_key
        assert json.loads(to_authority.content_json)["recalls_delivery_id"] == notice.delivery_id
        assert f"register change {deregistration['event_id']}" == json.loads(to_authority.content_json)["reason"]
        assert recalls["recall.alerts.operators"].recipient == "operators"
        assert "recall.health.disregard" in recalls  # the access history line sent to health is withdrawn too
        with Session(late.engine) as session:
            assert recent_accesses(session, after["child"]["nhs_number"]) == []
        in_order = fresh(settings)
        for event in (registration, deregistration, after):
            run(in_order, [event])
        with Session(late.engine) as session:
            withdrawn = recalled_ids(session, late.policy)
        standing = {d[0] for d in delivered(late) if d[0] not in withdrawn and not d[1].startswith("recall.")}
        assert standing == {d[0] for d in delivered(in_order)}
        before = delivered(late)
        late.clock.at += timedelta(minutes=5)
        run(late, [dict(deregistration, event_id="5b0f8a52-5a0e-4c8e-9e55-3c1f0b7a9d99", sequence=4)])  # said again
        assert {d for d in delivered(late) - before if d[1].startswith("recall.")} == set()
        assert notice.delivery_id in withdrawn and notice.delivery_id not in {d[0] for d in delivered(in_order)}


class TestThroughTheMasterPerson:
    def test_a_ppn_without_an_nhs_number_about_a_registered_child_notifies_the_key_worker(self, settings):
        """The PPN names the child by the police record only (same name, date of birth and postcode as the
        registration): the master person links them, so the register flag applies."""
        siân = {k: v for k, v in EXAMPLES["ppn.submitted"]["persons"][0].items() if k != "nhs_number"}
        ppn = example("ppn.submitted", persons=[dict(siân, source_person_id="NICHE-P-5555")])
        for order in ([example("cpr.registered"), ppn], [ppn, example("cpr.registered")]):
            services = fresh(settings)
            for event in order:
                run(services, [event])
            assert INCIDENT_NOTICE in rules_for(services, ppn), f"order {[e['event_type'] for e in order]}"

    def test_three_missing_episodes_under_three_records_of_one_child_escalate(self, settings):
        """Reported by police under two person ids (no NHS number) and by a care provider with the NHS number, in
        any order: the third episode in 90 days escalates once, keyed by the third in event time."""
        base = {k: v for k, v in EXAMPLES["missing.reported"]["child"].items() if k != "nhs_number"}
        police = {"agency": "police", "organisation": "Dyfed-Powys Police", "organisation_code": "DPP"}
        reports = [
            example("missing.reported", episode_reference="EP-A", child=dict(base, source_person_id="NICHE-1"), source=police,
                    occurred_at="2026-09-01T20:00:00+00:00", recorded_at="2026-09-01T20:10:00+00:00",
                    last_seen_at="2026-09-01T18:00:00+00:00", ppn_reference="PPN-A"),
            example("missing.reported", episode_reference="EP-B", child=dict(base, source_person_id="NICHE-2"), source=police,
                    occurred_at="2026-10-01T20:00:00+00:00", recorded_at="2026-10-01T20:10:00+00:00",
                    last_seen_at="2026-10-01T18:00:00+00:00", ppn_reference="PPN-B"),
            example("missing.reported", episode_reference="EP-C", ppn_reference="PPN-C",
                    occurred_at="2026-11-01T20:00:00+00:00", recorded_at="2026-11-01T20:10:00+00:00",
                    last_seen_at="2026-11-01T18:00:00+00:00"),
        ]
        seen = set()
        for order in permutations(reports):
            services = fresh(settings)
            for report in order:
                run(services, [report])
            alerts = [(d.delivery_id, d.content_json) for d in deliveries(services.engine, "alerts")
                      if '"repeat_missing"' in d.content_json]
            assert len(alerts) == 1 and "EP-C" in alerts[0][1], f"order {[r['episode_reference'] for r in order]}"
            seen.add(alerts[0][0])
        assert len(seen) == 1  # the same alert, whatever the order


class TestOneNoticePerIncident:
    def test_a_domestic_abuse_report_and_its_ppn_give_each_child_one_school_notice(self, settings):
        """The notification and a domestic-abuse PPN about the same incident, in either order or in one batch:
        the child's school gets one notice, with one acknowledgement deadline."""
        from sqlmodel import Session, select

        from sinks.models import Deadline, EncompassNotice

        report = example("domestic_abuse.reported")
        child = report["children"][0]
        ppn = example("ppn.submitted", category="domestic_abuse", incident_reference=report["incident_reference"],
                      persons=[{k: v for k, v in child.items() if k not in ("present_at_incident", "where_present")}])
        for batches in ([[report], [ppn]], [[ppn], [report]], [[report, ppn]]):
            services = fresh(settings)
            for batch in batches:
                run(services, batch)
            notices = [d for d in deliveries(services.engine, "education") if d.recipient == child["school"]["code"]]
            assert len(notices) == 1, batches
            with Session(services.engine) as session:
                assert len(session.exec(select(EncompassNotice)).all()) == 1
                assert len([d for d in session.exec(select(Deadline)) if d.rule == "encompass_acknowledgement"]) == 1


FFION = {"source_person_id": "WCCIS-7001", "given_names": "Ffion", "family_name": "Cadwaladr", "date_of_birth": "2015-03-04",
         "sex": "female", "role": "subject",
         "address": {"lines": ["12 Heol y Castell"], "town": "Llandrindod Wells", "postcode": "LD1 5LG"}}
MAYBE_FFION = dict(FFION, source_person_id="NICHE-P-7002", date_of_birth="2015-04-03",
                   address={"lines": ["3 Stryd Fawr"], "town": "Haverfordwest", "postcode": "SA61 1TP"})


class TestUncertainMatchToAFlaggedChild:
    def test_the_flag_holding_authority_is_asked_to_review_urgently(self, settings):
        """A registered child (no NHS number), then a missing report whose child may be her (date of birth with day and
        month swapped, another address): not merged, but her authority gets an urgent review item naming both records."""
        services = fresh(settings)
        run(services, [example("cpr.registered", child=FFION)])
        run(services, [example("missing.reported", child=MAYBE_FFION)])
        [item] = [d for d in deliveries(services.engine, "childrens_services")
                  if d.rule == "identity.childrens_services.possible_flagged_child"]
        content = json.loads(item.content_json)
        assert item.recipient == "W06000023" and content["urgency"] == "urgent"
        assert content["record_subject_key"] == "src:CP-0193:NICHE-P-7002"
        assert "src:W06000023:WCCIS-7001" in content["candidate_subject_keys"]
        assert "Ffion" not in item.content_json and "2015" not in item.content_json  # identifiers only

    def test_an_uncertain_match_to_an_unflagged_child_only_queues_the_review(self, settings):
        """The same pair with no registration: the operators' queue only, no notice to an authority."""
        services = fresh(settings)
        run(services, [example("missing.reported", child=dict(FFION, source_person_id="NICHE-P-7001"), episode_reference="EP-1")])
        run(services, [example("missing.reported", child=MAYBE_FFION, episode_reference="EP-2")])
        assert not [d for d in deliveries(services.engine) if d.rule == "identity.childrens_services.possible_flagged_child"]

    def test_confirming_the_match_notifies_the_key_worker_and_undoing_it_recalls_the_notice(self, settings):
        """The operator confirms the pair: the missing report is now known to be about a registered child, so her key
        worker is told. The merge is then found wrong and undone: that notice is recalled (to the authority, and
        operators told), with who decided in the audit trail."""
        from sinks.models import AuditRecord, IdentityChange
        from streams.pipeline.rejudge import after_identity_decision

        services = fresh(settings)
        run(services, [example("cpr.registered", child=FFION)])
        missing = example("missing.reported", child=MAYBE_FFION)
        run(services, [missing])
        assert INCIDENT_NOTICE not in rules_for(services, missing)
        index = services.identity
        with Session(services.engine) as session:
            notice = index.confirm(session, index.reviews(session)[0].review_id, "operator:a.jones")
            after_identity_decision(session, services, notice, "operator:a.jones")
            session.commit()
        [told] = [d for d in deliveries(services.engine) if d.rule == INCIDENT_NOTICE]
        assert told.source_event_id == missing["event_id"] and told.recipient == "W06000023"
        with Session(services.engine) as session:
            change = session.exec(select(IdentityChange.seq).where(IdentityChange.kind == "merge")).one()
            after_identity_decision(session, services, index.unmerge(session, change, "operator:b.evans"), "operator:b.evans")
            session.commit()
        recalls = [json.loads(d.content_json) | {"recipient": d.recipient} for d in deliveries(services.engine)
                   if d.rule == "recall.childrens_services.disregard"]
        assert recalls == [{"notification": recalls[0]["notification"], "recalls_delivery_id": told.delivery_id,
                            "recalled_rule": INCIDENT_NOTICE, "recalled_source_event_id": missing["event_id"],
                            "reason": f"person.unmerged change {change + 1} by operator:b.evans",
                            "subject_key": told.subject_key, "event_type": "delivery.recalled", "recipient": "W06000023",
                            "notice": recalls[0]["notice"]}]
        assert told.delivery_id in recalls[0]["notice"]["text"] and recalls[0]["notice"]["language"] == "cy+en"
        with Session(services.engine) as session:
            recalled_by = {a.actor for a in session.exec(select(AuditRecord)) if a.rule == "recall.alerts.operators"}
        assert recalled_by == {"operator:b.evans"}

    def test_a_confirmed_match_that_makes_a_third_episode_escalates_and_its_undoing_recalls_the_escalation(self, settings):
        """Two episodes of Ffion, and a third under a record that may be hers (the review band): no escalation until the
        operator confirms; then the third in 90 days escalates; undoing the merge recalls that escalation."""
        from sinks.models import IdentityChange
        from streams.pipeline.rejudge import after_identity_decision, recalled_ids

        police = {"agency": "police", "organisation": "Dyfed-Powys Police", "organisation_code": "DPP"}
        services = fresh(settings)
        for n, (child, day) in enumerate([(FFION, "2026-09-01"), (FFION, "2026-10-01"), (MAYBE_FFION, "2026-11-01")]):
            run(services, [example("missing.reported", episode_reference=f"EP-{n}", ppn_reference=f"PPN-{n}", source=police,
                                   child=dict(child, source_person_id=f"NICHE-{child['source_person_id']}"),
                                   occurred_at=f"{day}T20:00:00+00:00", recorded_at=f"{day}T20:10:00+00:00",
                                   last_seen_at=f"{day}T18:00:00+00:00")])

        def escalations() -> set[str]:
            return {d.delivery_id for d in deliveries(services.engine, "alerts") if '"repeat_missing"' in d.content_json}

        assert escalations() == set()
        index = services.identity
        with Session(services.engine) as session:
            notice = index.confirm(session, index.reviews(session)[0].review_id, "operator:test")
            after_identity_decision(session, services, notice, "operator:test")
            session.commit()
        escalated = escalations()
        assert len(escalated) == 1
        with Session(services.engine) as session:
            change = session.exec(select(IdentityChange.seq).where(IdentityChange.kind == "merge")).one()
            after_identity_decision(session, services, index.unmerge(session, change, "operator:test"), "operator:test")
            session.commit()
        with Session(services.engine) as session:
            assert recalled_ids(session, services.policy) == escalated
