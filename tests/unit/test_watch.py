"""The deadline watch with a clock the tests set: each rule fires once when due, never when met in time."""

import json
from datetime import datetime, timedelta, timezone

import pytest

from schemas.examples import EXAMPLES, example
from tests.unit.helpers import deliveries, fire_at, run

T0 = datetime(2026, 6, 1, 10, 0, tzinfo=timezone.utc)  # a Monday (11:00 in Wales, summer time)


def at(hours: float) -> str:
    return (T0 + timedelta(hours=hours)).isoformat()


@pytest.fixture(autouse=True)
def clock_at_t0(clock):
    """Events arrive as they are recorded, from T0 on."""
    clock.at = T0


def alerts(engine, rule: str | None = None) -> list[dict]:
    found = [json.loads(d.content_json) | {"recipient": d.recipient}
             for d in deliveries(engine, "alerts") if d.rule == "watch.alerts.deadline"]
    return [a for a in found if rule is None or a["watch_rule"] == rule]


def missing(reference: str = "MISS-1", hours: float = 0, **changes) -> dict:
    return example("missing.reported", episode_reference=reference, occurred_at=at(hours), recorded_at=at(hours),
                   last_seen_at=at(hours - 1), **changes)


def tick(services, hours: float) -> int:
    return fire_at(services, T0 + timedelta(hours=hours))


class TestMissingWithoutPpn:
    def test_fires_once_after_24_hours_to_the_police(self, engine, policy, sinks, settings, services):
        """No PPN: nothing at 23 h, one alert to the force at 24 h, nothing more on later ticks."""
        run(services, [missing()])
        assert tick(services, 23) == 0
        assert tick(services, 24.1) == 1
        assert tick(services, 30) == 0
        [alert] = alerts(engine, "missing_without_ppn")
        assert alert["recipient"] == "DPP" and alert["reference"] == "MISS-1" and alert["status"] == "breached"
        assert alert["due_at"] == at(24)

    def test_ppn_naming_the_episode_in_time_prevents_the_alert(self, engine, policy, sinks, settings, services):
        """A PPN that names the episode within 24 h meets the deadline."""
        run(services, [missing()])
        run(services, [example("ppn.submitted", category="missing_child", missing_episode_reference="MISS-1",
                                                      occurred_at=at(5), recorded_at=at(5))])
        tick(services, 48)
        assert alerts(engine, "missing_without_ppn") == []

    def test_ppn_that_arrives_first_is_linked(self, engine, policy, sinks, settings, services):
        """A missing-child PPN about the same child published before the report links to it."""
        run(services, [example("ppn.submitted", category="missing_child", occurred_at=at(-2), recorded_at=at(-2))])
        run(services, [missing()])
        tick(services, 48)
        assert alerts(engine, "missing_without_ppn") == []

    def test_late_ppn_resolves_the_alert(self, engine, policy, sinks, settings, services):
        """A PPN after the breach resolves it with a second, resolving alert."""
        run(services, [missing()])
        tick(services, 25)
        run(services, [example("ppn.submitted", category="missing_child", missing_episode_reference="MISS-1",
                                                      occurred_at=at(26), recorded_at=at(26))])
        assert sorted(a["status"] for a in alerts(engine, "missing_without_ppn")) == ["breached", "resolved"]


class TestReturnInterviewAndRepeats:
    def test_return_interview_due_72_hours_after_return(self, engine, policy, sinks, settings, services):
        """Returned, no interview: alert to children's services at 72 h; a recorded interview prevents it."""
        run(services, [
            missing("MISS-A", ppn_reference="PPN-X"),
            example("missing.returned", episode_reference="MISS-A", returned_at=at(3), occurred_at=at(3), recorded_at=at(3)),
            missing("MISS-B", hours=1, ppn_reference="PPN-Y"),
            example("missing.returned", episode_reference="MISS-B", returned_at=at(4), occurred_at=at(4), recorded_at=at(4)),
            example("return_interview.completed", episode_reference="MISS-B", completed_at=at(40), occurred_at=at(40),
                    recorded_at=at(40)),
        ])
        assert tick(services, 74) == 0
        tick(services, 76)
        [alert] = alerts(engine, "return_interview")
        assert alert["reference"] == "MISS-A" and alert["recipient"] == "W06000023"

    def test_third_missing_episode_in_90_days_escalates_once(self, engine, policy, sinks, settings, services):
        """Episodes on days 0, 30 and 60 escalate on the third; a fourth on day 160 (alone in its window) does not."""
        run(services, [missing(f"MISS-{d}", hours=d * 24, ppn_reference=f"P{d}") for d in (0, 30, 60)])
        [alert] = alerts(engine, "repeat_missing")
        assert alert["evidence"]["episodes_in_window"] == ["MISS-0", "MISS-30", "MISS-60"]
        run(services, [missing("MISS-160", hours=160 * 24, ppn_reference="P160")])
        assert len(alerts(engine, "repeat_missing")) == 1

    def test_third_standard_ppn_in_three_months_escalates(self, engine, policy, sinks, settings, services):
        """Two standard PPNs do nothing; the third within 91 days alerts children's services."""
        ppns = [example("ppn.submitted", risk_level="standard", ppn_reference=f"PPN-S{i}", occurred_at=at(i * 24 * 20),
                        recorded_at=at(i * 24 * 20)) for i in range(3)]
        run(services, ppns[:2])
        assert alerts(engine, "repeat_standard_ppn") == []
        run(services, ppns[2:])
        [alert] = alerts(engine, "repeat_standard_ppn")
        assert alert["evidence"]["standard_ppns_in_window"] == ["PPN-S0", "PPN-S1", "PPN-S2"]


class TestReferralsAndTriage:
    def test_no_outcome_after_seven_working_days_alerts_referrer_and_childrens_services(self, engine, policy, sinks, settings, services):
        """A PPN on Monday 1 June: the outcome alert is due Wednesday 10 June, to police and children's services."""
        run(services, [example("ppn.submitted", risk_level="high", occurred_at=at(0), recorded_at=at(0))])
        assert fire_at(services, datetime(2026, 6, 10, 9, 0, tzinfo=timezone.utc)) == 1  # triage only
        fire_at(services, datetime(2026, 6, 10, 10, 1, tzinfo=timezone.utc))
        outcome_alerts = alerts(engine, "referral_outcome")
        assert sorted(a["recipient"] for a in outcome_alerts) == ["DPP", "W06000023"]
        assert outcome_alerts[0]["due_at"] == "2026-06-10T10:00:00+00:00"

    def test_high_grade_triage_is_due_in_four_working_hours(self, engine, policy, sinks, settings, services):
        """A high-grade PPN at 16:00 Friday is due 12:00 Monday (weekend skipped)."""
        friday = datetime(2026, 11, 20, 16, 0, tzinfo=timezone.utc)
        run(services, [example("ppn.submitted", risk_level="high", occurred_at=friday.isoformat(),
                                                      recorded_at=friday.isoformat())])
        assert fire_at(services, datetime(2026, 11, 23, 11, 59, tzinfo=timezone.utc)) == 0
        fire_at(services, datetime(2026, 11, 23, 12, 1, tzinfo=timezone.utc))
        [alert] = alerts(engine, "ppn_triage")
        assert alert["due_at"] == "2026-11-23T12:00:00+00:00"

    def test_outcome_in_time_meets_both_deadlines_even_if_it_arrives_first(self, engine, policy, sinks, settings, services):
        """The outcome (even published before its PPN) means no triage and no outcome alert."""
        run(services, [example("referral.outcome", decided_at=at(2), occurred_at=at(2), recorded_at=at(2))])
        run(services, [example("ppn.submitted", occurred_at=at(0), recorded_at=at(0))])
        fire_at(services, T0 + timedelta(days=30))
        assert alerts(engine) == []


class TestRegisteredChildIncident:
    def test_new_incident_for_a_registered_child_notifies_the_key_worker(self, engine, policy, sinks, settings, services):
        """A PPN about a child on the register tells the key worker so the plan is reviewed."""
        run(services, [example("cpr.registered")])
        run(services, [example("ppn.submitted")])
        [notice] = [json.loads(d.content_json) for d in deliveries(engine, "childrens_services")
                    if d.rule == "watch.childrens_services.incident_for_registered_child"]
        assert notice["register_key_worker"]["key_worker"]["name"] == EXAMPLES["cpr.registered"]["key_worker"]["name"]
        assert notice["incident_type"] == "ppn.submitted"


class TestOutcomeBeforeReferral:
    def test_outcome_published_before_its_ppn_reaches_the_referrer_when_the_ppn_arrives(self, engine, policy, sinks, settings, services):
        """Whichever arrives first, the referring force receives the outcome of its PPN, once."""
        run(services, [example("referral.outcome")])
        assert deliveries(engine, "police") == []
        run(services, [example("ppn.submitted")])
        [outcome] = deliveries(engine, "police")
        assert outcome.rule == "referral.police.outcome_to_referrer" and outcome.recipient == "DPP"
        run(services, [example("ppn.submitted", ppn_reference="PPN-OTHER")])
        assert len(deliveries(engine, "police")) == 1

    def test_outcome_before_its_ppn_in_one_batch_reaches_the_referrer(self, engine, policy, sinks, settings, services):
        """The same when both arrive in one routing batch, outcome first."""
        run(services, [example("referral.outcome"), example("ppn.submitted")])
        [outcome] = deliveries(engine, "police")
        assert outcome.rule == "referral.police.outcome_to_referrer" and outcome.recipient == "DPP"


class TestUnbornFlagLapse:
    def test_unborn_flag_is_removed_from_health_and_police_after_its_delete_date(self, engine, policy, sinks, settings, services):
        """Registered unborn (due 1 Oct): nothing before 29 Oct; then both health and police get a removal, once."""
        unborn = example("cpr.registered", expected_due_date="2026-10-01", registered_on="2026-06-01",
                         occurred_at=at(0), recorded_at=at(0))
        run(services, [unborn])
        assert fire_at(services, datetime(2026, 10, 28, 23, 0, tzinfo=timezone.utc)) == 0
        assert fire_at(services, datetime(2026, 10, 29, 0, 1, tzinfo=timezone.utc)) == 2
        assert fire_at(services, datetime(2026, 11, 1, tzinfo=timezone.utc)) == 0
        removals = [(d.sink, json.loads(d.content_json)["register_action"]) for d in deliveries(engine)
                    if d.rule.startswith("watch.") and "lapsed" in d.rule]
        assert sorted(removals) == [("health", "remove"), ("police", "remove")]

    def test_a_birth_deregistration_first_means_no_lapse_delivery(self, engine, policy, sinks, settings, services):
        """If the authority de-registers the unborn flag (birth registered) the lapse does nothing."""
        unborn = example("cpr.registered", expected_due_date="2026-10-01", registered_on="2026-06-01",
                         occurred_at=at(0), recorded_at=at(0))
        born = example("cpr.deregistered", deregistered_on="2026-10-02", occurred_at="2026-10-02T09:00:00+00:00",
                       recorded_at="2026-10-02T09:00:00+00:00")
        run(services, [unborn])
        run(services, [born])
        assert fire_at(services, datetime(2026, 11, 1, tzinfo=timezone.utc)) == 0


class TestRulesData:
    def test_titles_and_recipients_come_from_the_rules_data(self, tmp_path, policy, clock):
        """Renaming a rule's title or changing who it alerts is a data change: the watch uses what the file says."""
        from streams.deadlines.watch import RULES_FILE, Watch, WatchRules

        text = RULES_FILE.read_text().replace('title = "missing child report with no PPN linked"',
                                              'title = "Adroddiad plentyn coll heb PPN"')
        text = text.replace('alert = ["area_police_force"]\n\n[return_interview]',
                            'alert = ["area_police_force", "area_local_authority"]\n\n[return_interview]')
        changed = tmp_path / "rules.toml"
        changed.write_text(text)
        rules = WatchRules.load(changed)
        assert rules.titles["missing_without_ppn"] == "Adroddiad plentyn coll heb PPN"
        assert rules.alert_roles["missing_without_ppn"] == ("area_police_force", "area_local_authority")
        watch = Watch(rules, policy, clock)

        class Area:
            def area_recipient(self, which: str) -> str:
                return {"police_force": "DPP", "local_authority": "W06000023", "health_board": "7A7"}[which]

        assert watch.recipients("missing_without_ppn", Area()) == ["DPP", "W06000023"]
        assert watch.recipients("referral_outcome", Area(), referrer="GWP") == ["GWP", "W06000023"]

    def test_an_unknown_role_is_refused_with_its_name(self, tmp_path):
        """A typo in a role stops the watch from loading, naming the role."""
        from streams.deadlines.watch import RULES_FILE, WatchRules

        broken = tmp_path / "rules.toml"
        broken.write_text(RULES_FILE.read_text().replace('alert = ["area_local_authority"]\n\n[repeat_missing]',
                                                         'alert = ["area_local_authorty"]\n\n[repeat_missing]'))
        with pytest.raises(ValueError, match="area_local_authorty"):
            WatchRules.load(broken)
