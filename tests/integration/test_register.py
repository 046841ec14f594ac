"""CPR flags on the real pipeline: lookups over HTTP, police markers, reconciliation, access notifications."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest

from schemas.examples import EXAMPLES, example
from tests.integration.conftest import cli, export, wait_for

pytestmark = pytest.mark.integration
NHS = "9434765919"
FLAG_DEADLINE_SECONDS = 60  # EVENTS.md: a CPR change reaches health and police within 60 s


def get(url: str, token: str | None = None) -> tuple[int, dict]:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if token else {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


def issue(instance, org: str, role: str) -> str:
    return cli("token", "issue", "--org", org, "--role", role, data_dir=instance.data_dir, check=True).stdout.strip()


def lookup(instance, nhs: str, token: str | None) -> tuple[int, dict]:
    return get(f"{instance.runtime['web_url']}api/v1/health/flags/{nhs}", token)


def police_actions(instance) -> list[str]:
    return [line["content"]["register_action"] for line in export("police", instance.data_dir)]


class TestFlags:
    def test_register_deregister_and_a_stale_amendment(self, instance):
        """Register: visible in the lookup and police within 60 s; de-register: gone from both; stale amendment: stays gone."""
        token = issue(instance, "7A7-MIU", "view_only")
        assert instance.publish([example("cpr.registered")]).returncode == 0
        wait_for(lambda: lookup(instance, NHS, token)[0] == 200 and police_actions(instance) == ["set"],
                 timeout=FLAG_DEADLINE_SECONDS, what="flag in health lookup and police marker")
        status, body = lookup(instance, NHS, token)
        assert body["local_authority"]["office_phone"] == "01597 827666" and body["categories"] == ["emotional", "neglect"]

        assert instance.publish([example("cpr.deregistered")]).returncode == 0
        wait_for(lambda: lookup(instance, NHS, token)[0] == 404 and police_actions(instance) == ["set", "remove"],
                 timeout=FLAG_DEADLINE_SECONDS, what="flag removed from health lookup and police")

        assert instance.publish([example("cpr.amended")]).returncode == 0  # sequence 2, older than the de-registration
        marker = example("referral.outcome", referral_reference="PPN-MARKER-R")
        assert instance.publish([marker]).returncode == 0
        wait_for(lambda: export("alerts", instance.data_dir), what="the marker event after the stale amendment")
        assert lookup(instance, NHS, token)[0] == 404
        assert police_actions(instance) == ["set", "remove"]
        health = [line["content"]["register_action"] for line in export("health", instance.data_dir)]
        assert health == ["set", "remove"]

    def test_snapshot_with_differences_produces_exactly_those_corrections(self, instance):
        """A snapshot missing one flagged child and adding another: one removal, one set, and a report."""
        assert instance.publish([example("cpr.registered")]).returncode == 0
        wait_for(lambda: police_actions(instance) == ["set"], what="registration")
        other = dict(EXAMPLES["cpr.registered"]["child"], source_person_id="WCCIS-90001", nhs_number="4010232137",
                     given_names="Gruffydd")
        snap = example("cpr.snapshot", children=[{"child": other, "categories": ["physical"]}])
        assert instance.publish([snap]).returncode == 0
        reports = wait_for(lambda: [json.loads(l) for l in cli("reconciliation", data_dir=instance.data_dir).stdout.splitlines()],
                           what="a reconciliation report")
        assert reports[0]["differences"] == 2
        assert sorted((c["difference"], c["child_key"]) for c in reports[0]["corrections"]) == [
            ("flag_missing", "nhs:4010232137"), ("flag_stale", "nhs:9434765919")]
        wait_for(lambda: sorted(police_actions(instance)) == ["remove", "set", "set"], what="police corrections")


class TestAccess:
    def test_flagged_attendance_notifies_key_worker_and_unflagged_does_not(self, instance):
        """A flagged child's MIU visit reaches the key worker; an unflagged child's reaches nobody."""
        assert instance.publish([example("cpr.registered")]).returncode == 0
        wait_for(lambda: police_actions(instance) == ["set"], what="registration")
        unflagged = example("unscheduled_care.attended", attendance_reference="ATT-2")
        unflagged["child"]["nhs_number"] = "4010232137"
        assert instance.publish([example("unscheduled_care.attended"), unflagged]).returncode == 0
        notices = wait_for(lambda: [l for l in export("childrens_services", instance.data_dir)
                                    if l["rule"] == "unscheduled_care.childrens_services.access_notification"],
                           timeout=60, what="the key worker notified")
        assert len(notices) == 1 and notices[0]["content"]["register_key_worker"]["key_worker"]["name"] == "Gwenllian Price"
        assert notices[0]["subject_key"] == f"nhs:{NHS}"
        everything = [l for sink in ("health", "education", "childrens_services", "police", "alerts")
                      for l in export(sink, instance.data_dir)]
        assert not [l for l in everything if "4010232137" in json.dumps(l)]

    def test_request_without_a_valid_token_is_401_and_audited(self, instance):
        """No token or a wrong token: 401, and the audit trail shows the refused lookup."""
        assert lookup(instance, NHS, None)[0] == 401
        assert lookup(instance, NHS, "sgt_wrong")[0] == 401
        refused = [l for l in export("audit", instance.data_dir) if l["action"] == "health_flag_lookup"]
        assert [(l["actor"], l["detail"]["status"]) for l in refused] == [("anonymous", 401), ("anonymous", 401)]
