"""Minimisation proof: over many generated events of every type, no delivery carries a field or value
outside its recipient's allow-list. `SAFEGUARD_LONG_TESTS=1` runs the 100,000-event variant."""

from __future__ import annotations

import json
import os
import random
from typing import Any

from schemas import EVENT_TYPES, parse_event
from schemas.examples import example
from streams.identity.keys import children_of
from streams.sharing.policy import FULL_VIEW, Policy

EVENTS = 100_000 if os.environ.get("SAFEGUARD_LONG_TESTS") == "1" else 12_000
SECRET = "ZZSECRET"  # every adult's name carries it: it must never reach schools or health
NARRATIVE = "ZZNARRATIVE"  # the PPN narrative and the home conditions: health may read the PPN summary, schools nothing


class GeneratedContext:
    """A routing context with no store: flags, referrers and schools decided by the generator."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def area_recipient(self, which: str) -> str:
        return {"local_authority": "W06000023", "health_board": "7A7", "police_force": "DPP"}[which]

    def register_change_is_current(self, event) -> bool:  # type: ignore[no-untyped-def]
        return self.rng.random() < 0.8

    def flag_for(self, child) -> dict | None:  # type: ignore[no-untyped-def]
        if self.rng.random() < 0.5:
            return None
        return {"local_authority": {"code": "W06000023"}, "key_worker": {"name": "Key Worker"}, "plan_reference": "CASPP-1"}

    def referrer_of(self, reference: str) -> tuple[str, str] | None:
        return self.rng.choice([None, ("police", "DPP"), ("health", "7A7"), ("education", "6662005")])

    def corrections(self, event) -> list:  # type: ignore[no-untyped-def]
        return []

    def reconciliation_report(self, event) -> dict | None:  # type: ignore[no-untyped-def]
        return {"differences": 0}

    def school_for(self, child) -> dict | None:  # type: ignore[no-untyped-def]
        if child.home_educated or child.school is None:
            return None
        return {"code": child.school.code}

    def encompass_settings(self) -> tuple[int, tuple[str, ...]]:
        return 3, ("exploitation",)


def generate(rng: random.Random, index: int) -> dict:
    event_type = rng.choice(EVENT_TYPES)
    event = example(event_type)
    secret_adult = {"source_person_id": f"A{index}", "given_names": f"{SECRET}Adult{index}", "family_name": f"{SECRET}Fam",
                    "role": rng.choice(["parent_carer", "victim", "alleged_perpetrator"]), "date_of_birth": "1985-01-01"}
    if "persons" in event:
        event["persons"] = event["persons"][:1] + [secret_adult]
        event["summary"] = f"{NARRATIVE} {index}"
        event["category"] = rng.choice(["domestic_abuse", "child_concern", "missing_child", "exploitation", "other"])
        event["risk_level"] = rng.choice(["high", "medium", "standard"])
    if "adults" in event:
        event["adults"] = [secret_adult]
        event["risk_level"] = rng.choice(["high", "medium", "standard"])
        for child in event["children"]:
            child["date_of_birth"] = f"{rng.randint(2009, 2025)}-0{rng.randint(1, 9)}-1{rng.randint(0, 9)}"
            child["home_educated"] = rng.random() < 0.1
            if rng.random() < 0.3:
                child.pop("school", None)
    if "voice_of_child" in event and event["voice_of_child"]:
        event["voice_of_child"]["environment"] = f"{NARRATIVE} home conditions"
    if event_type in ("missing.reported", "missing.returned"):
        event["source"] = rng.choice([example("ppn.submitted")["source"], example("missing.reported")["source"],
                                      {"agency": "education", "organisation": "School", "organisation_code": "6662005"}])
    return event


def check(policy: Policy, event: Any, deliveries: list) -> None:
    for delivery in deliveries:
        rule = next(r for r in policy.rules if r.id == delivery.rule)
        text = json.dumps(delivery.content)
        if rule.view is not FULL_VIEW:
            assert set(delivery.content) <= rule.view.allowed_keys(), (rule.id, set(delivery.content))
            if "child" in delivery.content:
                assert set(delivery.content["child"]) <= set(rule.view.child_fields), rule.id
        if delivery.sink in ("education", "health"):
            assert SECRET not in text, f"{rule.id} leaked an adult's name"
        if delivery.sink == "education":
            assert NARRATIVE not in text, f"{rule.id} leaked narrative to a school"
            assert not {"risk_level", "summary", "adults", "persons", "nhs_number", "address"} & set(delivery.content), rule.id
            child = delivery.content.get("child", {})
            assert not {"nhs_number", "address", "sex", "ethnicity", "religion"} & set(child), rule.id
    subjects = {d.subject_key for d in deliveries if d.subject_key}
    known = {f"nhs:{c.nhs_number}" if c.nhs_number else f"src:{event.source.organisation_code}:{c.source_person_id}"
             for c in children_of(event)}
    assert subjects <= known, "a delivery names a person the event is not about"


class TestMinimisationProof:
    def test_generated_events_never_exceed_their_allow_lists(self, policy):
        """Over generated events of every type, deliveries carry only allow-listed fields; schools and health never
        see adults' names; schools never see narrative."""
        rng = random.Random(20261122)
        context = GeneratedContext(rng)
        planned = 0
        for index in range(EVENTS):
            event = parse_event(generate(rng, index))
            deliveries = policy.plan(event, context)
            check(policy, event, deliveries)
            planned += len(deliveries)
        assert planned > EVENTS  # the generator really exercised the sharing rules
