"""The policy file: loading, refusing mistakes, and minimisation over generated incidents."""

import json
import string

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from schemas.examples import EXAMPLES_NOW, example
from streams.sharing.policy import Policy, PolicyError
from tests.unit.helpers import contents, run


class TestLoading:
    def test_default_policy_loads_with_a_version(self, policy):
        """The shipped policy has a version and a rule for every event type that shares anything."""
        assert policy.version
        covered = {t for rule in policy.rules for t in rule.event_types}
        assert covered == {"ppn.submitted", "domestic_abuse.reported", "cpr.registered", "cpr.amended", "cpr.deregistered",
                           "cpr.snapshot", "missing.reported", "missing.returned", "unscheduled_care.attended", "referral.outcome"}

    @pytest.mark.parametrize("mutation, message", [
        (lambda t: t.replace('sink = "health"', 'sink = "newspaper"', 1), "unknown sink 'newspaper'"),
        (lambda t: t.replace('when = ["child_under_5"]', 'when = ["child_is_nice"]'), "unknown condition 'child_is_nice'"),
        (lambda t: t.replace('view = "encompass_notice"', 'view = "everything"'), "unknown view 'everything'"),
        (lambda t: t.replace('version = "2026.12-3"', ''), "'version'"),
        (lambda t: t.replace("[operations.recall_health]", "[operations.recall_newspaper]"), r"\[operations.recall_health\]"),
    ])
    def test_mistakes_are_refused_naming_the_problem(self, tmp_path, mutation, message):
        """A policy naming an unknown sink, condition or view, with no version, or unable to recall a delivery that
        re-judging may withdraw, does not load."""
        from streams.settings import DEFAULT_POLICY_FILE

        broken = tmp_path / "policy.toml"
        broken.write_text(mutation(DEFAULT_POLICY_FILE.read_text()))
        with pytest.raises(PolicyError, match=message):
            Policy.load(broken)

    def test_delivery_ids_are_deterministic(self, policy, settings, engine):
        """Planning the same event twice gives the same delivery ids (what makes replays idempotent)."""
        from sqlmodel import Session

        from schemas import parse_event
        from streams.register.state import StoreContext

        event = parse_event(example("domestic_abuse.reported"))
        with Session(engine) as session:
            context = StoreContext(session, settings, EXAMPLES_NOW)
            first = [d.delivery_id for d in policy.plan(event, context)]
            second = [d.delivery_id for d in policy.plan(event, context)]
        assert first == second and len(set(first)) == len(first)


names = st.text(alphabet=string.ascii_letters, min_size=4, max_size=12).map(lambda s: "Zq" + s)


@st.composite
def incidents(draw):
    event = example("domestic_abuse.reported")
    adult_names = [draw(names) for _ in range(2)]
    event["adults"][0]["given_names"], event["adults"][1]["family_name"] = adult_names
    narrative = draw(names)
    event["voice_of_child"]["environment"] = narrative
    event["risk_level"] = draw(st.sampled_from(["standard", "medium", "high"]))
    children = []
    for index in range(draw(st.integers(1, 4))):
        child = dict(example("domestic_abuse.reported")["children"][0], source_person_id=f"C{index}")
        child["date_of_birth"] = f"{draw(st.integers(2009, 2025))}-0{draw(st.integers(1, 9))}-1{draw(st.integers(0, 9))}"
        if draw(st.booleans()):
            child["school"] = {"code": draw(st.sampled_from(["6662005", "6664031", "8882040"])), "name": "School"}
        else:
            child.pop("school", None)
        child["home_educated"] = draw(st.booleans())
        children.append(child)
    event["children"] = children
    return event, adult_names + [narrative]


class TestMinimisation:
    @hsettings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(incidents())
    def test_no_forbidden_field_or_value_reaches_a_school(self, engine, policy, sinks, settings, services, generated):
        """Over generated incidents, school notices carry only allowed fields and never adults, narrative or grade."""
        event, secrets = generated
        run(services, [event])
        allowed = {"occurred_at", "attended_at", "child", "school", "police_reference", "voice_of_child_line", "police_contact"}
        allowed_child = {"given_names", "family_name", "date_of_birth", "upn", "present_at_incident", "where_present",
                         "preferred_language"}  # the child's language, so the school can make the Active Offer
        for notice in contents(engine, "education"):
            assert set(notice) <= allowed
            assert set(notice["child"]) <= allowed_child
            text = json.dumps(notice)
            assert not any(secret in text for secret in secrets)
            assert event["risk_level"] not in json.dumps({k: v for k, v in notice.items() if k != "voice_of_child_line"})
