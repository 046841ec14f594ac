"""One child behind every agency's records, whatever order the events arrive in: the same multi-agency
scenario published in its natural order and reversed, to two pipelines, delivers the same."""

from __future__ import annotations

import sqlite3

import pytest

from schemas.examples import EXAMPLES
from streams.deadlines.watch import RULES_FILE
from tests.clock import at, example
from tests.integration.conftest import Instance, export, wait_for

pytestmark = pytest.mark.integration
SINKS = ("health", "education", "childrens_services", "police", "alerts")


def scenario() -> list[dict]:
    """Siân Jones as five agencies see her: registered (NHS number), a police PPN naming her without it, a
    domestic-abuse incident reported twice (notification and PPN), missing three times under two police ids
    and once by her care home, an outcome for the PPN; de-registered on the 21st, and an attendance after it."""
    siân = {k: v for k, v in EXAMPLES["ppn.submitted"]["persons"][0].items() if k != "nhs_number"}
    police = {"agency": "police", "organisation": "Dyfed-Powys Police", "organisation_code": "DPP"}
    report = example("domestic_abuse.reported")
    da_child = report["children"][0]
    missing = []
    for n, (day, person) in enumerate([("2026-09-01", "NICHE-1"), ("2026-10-01", "NICHE-2"), ("2026-11-01", None)]):
        changes = {"child": dict(siân, source_person_id=person, role="subject"), "source": police} if person else {}
        when = at(f"{day}T20:00:00+00:00")
        missing.append(example("missing.reported", episode_reference=f"EP-{n}", ppn_reference=f"PPN-M{n}", occurred_at=when,
                               recorded_at=when, last_seen_at=at(f"{day}T18:00:00+00:00"), **changes))
    return [
        example("cpr.registered"),
        example("cpr.deregistered"),
        example("ppn.submitted", persons=[dict(siân, source_person_id="NICHE-P-5555")]),
        example("unscheduled_care.attended"),
        report,
        example("ppn.submitted", category="domestic_abuse", ppn_reference="PPN-DA", incident_reference=report["incident_reference"],
                persons=[{k: v for k, v in da_child.items() if k not in ("present_at_incident", "where_present")}]),
        *missing,
        example("referral.outcome"),
    ]


def reversed_across_topics(events: list[dict]) -> list[dict]:
    """The topics' turns reversed, each topic's own events kept in order (one source's order is guaranteed)."""
    topic = {"cpr.registered": "cpr", "cpr.deregistered": "cpr"}
    queues: dict[str, list[dict]] = {}
    for event in events:
        queues.setdefault(topic.get(event["event_type"], event["event_id"]), []).append(event)
    return [queues[turn].pop(0) for turn in [topic.get(e["event_type"], e["event_id"]) for e in events[::-1]]]


def processed(instance: Instance) -> int:
    with sqlite3.connect(instance.data_dir / "safeguard.db", timeout=30) as connection:
        return connection.execute("select count(*) from intake_event where status = 'processed'").fetchone()[0]


def delivered(instance: Instance, *options: str) -> dict[str, str]:
    """Delivery id -> rule (of two reports of one incident, the first to arrive names the school notice's rule)."""
    return {line["delivery_id"]: line["rule"] for sink in SINKS for line in export(sink, instance.data_dir, *options)}


class TestArrivalOrder:
    def test_natural_and_reversed_order_deliver_the_same(self, tmp_path):
        """What stands (`safeguard export --standing`: delivered and not recalled) is the same, by delivery id,
        whichever order the scenario arrives in: the key worker hears of the PPN that named Siân without her NHS
        number, the repeat missing alert is raised once, her school gets one Operation Encompass notice, and the
        attendance after her de-registration notifies nobody. Reversed, the register changes arrive last, after
        the key worker was told of that attendance: the notice is recalled, by its delivery id."""
        events = scenario()
        results, raw = [], []
        for name, order in (("natural", events), ("reversed", reversed_across_topics(events))):
            running = Instance(tmp_path / name, extra_env={"SAFEGUARD_WATCH_RULES_FILE": str(RULES_FILE)}).start()
            try:
                for count, event in enumerate(order, start=1):  # one at a time: each routed before the next
                    assert running.publish([event]).returncode == 0
                    wait_for(lambda count=count: processed(running) == count, what=f"{event['event_type']} routed")
                results.append(delivered(running, "--standing"))
                raw.append(delivered(running))
            finally:
                running.stop()
        natural, reversed_ = results
        assert set(natural) == set(reversed_), (f"only natural: {sorted(set(natural) - set(reversed_))}; "
                                                f"only reversed: {sorted(set(reversed_) - set(natural))}")
        rules = list(natural.values())
        assert "unscheduled_care.childrens_services.access_notification" not in rules
        assert rules.count("watch.childrens_services.incident_for_registered_child") >= 2  # both PPNs, the report
        assert len([r for r in rules if r.endswith("encompass_notice")]) == 1
        assert "referral.police.outcome_to_referrer" in rules
        assert "watch.alerts.deadline" in rules
        assert set(raw[0]) == set(natural)  # nothing to recall when the de-registration was known first
        recalled = {d for d, rule in raw[1].items() if rule == "unscheduled_care.childrens_services.access_notification"}
        assert len(recalled) == 1 and "recall.childrens_services.disregard" in raw[1].values()
