"""Order-independence proof: for generated multi-agency scenarios about one child, every interleaving of
the topics' arrival order (each topic's own order kept) yields the same deliveries, by delivery id, as
arrival in event-time order."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from sqlalchemy.pool import StaticPool
from sqlmodel import Session, SQLModel, create_engine

from schemas.examples import EXAMPLES, example
from streams.clock import FixedClock
from streams.pipeline.rejudge import recalled_ids
from streams.services import build_services
from tests.unit.helpers import deliveries, fire_at, run

BASE = datetime(2026, 9, 1, 12, 0, tzinfo=timezone.utc)
SIAN = {k: v for k, v in EXAMPLES["ppn.submitted"]["persons"][0].items() if k != "nhs_number"}
NHS = EXAMPLES["ppn.submitted"]["persons"][0]["nhs_number"]
POLICE = {"agency": "police", "organisation": "Dyfed-Powys Police", "organisation_code": "DPP"}


def at(days: float) -> str:
    return (BASE + timedelta(days=days)).isoformat()


def siân(source_id: str, with_nhs: bool, **extra) -> dict:
    return {**SIAN, "source_person_id": source_id, **({"nhs_number": NHS} if with_nhs else {}), **extra}


@st.composite
def scenarios(draw) -> list[dict]:
    """One child as several agencies see her, over about two months: events in event-time order."""
    events: list[dict] = []
    registered = draw(st.integers(0, 40))
    events.append(example("cpr.registered", registered_on=at(registered)[:10], occurred_at=at(registered),
                          recorded_at=at(registered + 0.01)))
    latest = registered
    for n in range(draw(st.integers(0, 2))):
        day = draw(st.integers(0, 60))
        events.append(example("unscheduled_care.attended", attendance_reference=f"ATT-{n}", attended_at=at(day + 0.3),
                              occurred_at=at(day + 0.3), recorded_at=at(day + 0.31),
                              child=siân(f"WPAS-{n}", True, role="subject")))
        latest = max(latest, day)
    for n in range(draw(st.integers(0, 3))):
        day, with_nhs = draw(st.integers(0, 60)), draw(st.booleans())
        ppn = example("ppn.submitted", ppn_reference=f"PPN-{n}", risk_level="standard", occurred_at=at(day + 0.4),
                      recorded_at=at(day + 0.41), persons=[siân(f"NICHE-{n % 2}", with_nhs)])
        events.append(ppn)
        if draw(st.booleans()):
            events.append(example("referral.outcome", referral_reference=f"PPN-{n}", decided_at=at(day + 1),
                                  occurred_at=at(day + 1), recorded_at=at(day + 1.01)))
        latest = max(latest, day + 1)
    if draw(st.booleans()):
        day = draw(st.integers(0, 60))
        report = example("domestic_abuse.reported", incident_reference="DA-1", occurred_at=at(day + 0.5),
                         attended_at=at(day + 0.51), recorded_at=at(day + 0.52),
                         children=[siân("NICHE-DA", draw(st.booleans()), present_at_incident=True,
                                        school={"code": "6662005", "name": "Ysgol Cefnllys"})])
        events.append(report)
        if draw(st.booleans()):
            events.append(example("ppn.submitted", ppn_reference="PPN-DA", category="domestic_abuse", incident_reference="DA-1",
                                  occurred_at=at(day + 0.5), recorded_at=at(day + 0.53),
                                  persons=[siân("NICHE-DA", False, school={"code": "6662005", "name": "Ysgol Cefnllys"})]))
        latest = max(latest, day + 1)
    for n in range(draw(st.integers(0, 3))):
        day = draw(st.integers(0, 60))
        by_police = draw(st.booleans())
        source = {"source": POLICE, "child": siân(f"NICHE-M{n % 2}", False, role="subject")} if by_police else {}
        events.append(example("missing.reported", episode_reference=f"EP-{n}", ppn_reference=f"PPN-M{n}",
                              occurred_at=at(day + 0.6), recorded_at=at(day + 0.61), last_seen_at=at(day + 0.55), **source))
        latest = max(latest, day + 1)
    if draw(st.booleans()):  # ended at any time: what was due while registered stays due, what was not is recalled
        day = draw(st.integers(registered + 1, latest + 10))
        events.append(example("cpr.deregistered", deregistered_on=at(day)[:10], occurred_at=at(day), recorded_at=at(day + 0.01)))
    return sorted(events, key=lambda e: e["recorded_at"])


def topic_of(event: dict) -> str:
    return {"cpr.registered": "cpr", "cpr.deregistered": "cpr", "ppn.submitted": "ppn", "domestic_abuse.reported": "da",
            "unscheduled_care.attended": "care", "missing.reported": "missing", "referral.outcome": "outcome"}[event["event_type"]]


def outcome_of(settings, arrival: list[dict], end: datetime) -> set[str]:
    """Every delivery id that stands after ``arrival``, one event at a time, and the deadline timer at ``end``:
    delivered and not recalled (a notice sent on what was known then, which a de-registration dated before it
    shows was not due, is recalled by id; the recall notices themselves are not counted)."""
    engine = create_engine("sqlite://", connect_args={"check_same_thread": False}, poolclass=StaticPool)
    SQLModel.metadata.create_all(engine)
    services = build_services(settings, engine=engine, clock=FixedClock(BASE))
    for event in arrival:
        taken, routed = run(services, [event])
        assert not taken.dead_letters and not routed.parked, (taken.dead_letters, routed.parked)
    fire_at(services, end)
    with Session(engine) as session:
        withdrawn = recalled_ids(session, services.policy)
    recall_rules = services.policy.recall_rule_ids()
    return {d.delivery_id for d in deliveries(engine) if d.rule not in recall_rules and d.delivery_id not in withdrawn}


class TestArrivalOrder:
    @hsettings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                      HealthCheck.too_slow])
    @given(scenario=scenarios(), data=st.data())
    def test_every_interleaving_of_the_topics_delivers_as_event_time_order_does(self, settings, scenario, data):
        """Registrations, de-registrations, attendances, PPNs (with and without NHS numbers), a domestic-abuse
        report and its PPN, outcomes and missing episodes, arriving topic by topic in a drawn interleaving."""
        queues: dict[str, list[dict]] = {}
        for event in scenario:
            queues.setdefault(topic_of(event), []).append(event)
        turns = data.draw(st.permutations([topic_of(event) for event in scenario]), label="arrival by topic")
        arrival = [queues[topic].pop(0) for topic in turns]
        end = BASE + timedelta(days=120)
        assert outcome_of(settings, arrival, end) == outcome_of(settings, scenario, end)
