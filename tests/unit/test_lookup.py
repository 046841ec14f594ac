"""The health flag lookup and its bearer tokens, as plain functions on the store."""

import json

import pytest
from sqlmodel import Session, select

from schemas.examples import EXAMPLES_NOW, example
from sinks.models import ApiToken, AuditRecord
from streams.access import tokens
from streams.register.lookup import lookup_flag
from streams.settings import Settings
from tests.unit.helpers import deliveries, run


@pytest.fixture
def flagged(services):
    run(services, [example("cpr.registered")])
    return "9434765919"


def lookup(services, authorization: str | None, nhs: str) -> tuple[int, dict]:
    """The lookup as the web handler makes it: the caller authenticated first, on the services' clock."""
    caller = tokens.authenticate(services.engine, services.settings, authorization, services.clock.now())
    return lookup_flag(services.engine, services.policy, services.sinks, services.audit, caller, nhs, services.clock.now())


def bearer(engine, role: str, org: str = "7A7-MIU") -> str:
    return "Bearer " + tokens.issue(engine, org, role, EXAMPLES_NOW)[1]


def audit_details(engine) -> list[dict]:
    with Session(engine) as session:
        return [json.loads(a.detail) | {"actor": a.actor, "subject": a.subject_key}
                for a in session.exec(select(AuditRecord).where(AuditRecord.action == "health_flag_lookup"))]


class TestLookup:
    def test_flagged_child_is_shown_with_contacts_and_accesses(self, engine, policy, sinks, settings, flagged, services):
        """200 with the authority's phone numbers, categories, key worker and recent accesses."""
        run(services, [example("unscheduled_care.attended")])
        status, body = lookup(services, bearer(engine, "view_only"), "943 476 5919")
        assert status == 200 and body["flagged"] is True
        assert body["local_authority"]["emergency_duty_phone"] == "0345 054 4847"
        assert body["categories"] == ["emotional", "neglect"] and body["key_worker"]["name"] == "Gwenllian Price"
        assert [a["site"]["type"] for a in body["recent_accesses"]] == ["MIU"]

    def test_unflagged_child_is_404(self, engine, policy, sinks, settings, services):
        """A child not on the register gets 404 and nothing else."""
        status, body = lookup(services, bearer(engine, "view_only"), "4010232137")
        assert status == 404 and body == {"nhs_number": "4010232137", "flagged": False}

    def test_deregistered_child_is_404(self, engine, policy, sinks, settings, flagged, services):
        """After de-registration the flag is gone from the lookup."""
        run(services, [example("cpr.deregistered")])
        assert lookup(services, bearer(engine, "view_only"), flagged)[0] == 404

    def test_view_only_does_not_notify_but_view_and_notify_does(self, engine, policy, sinks, settings, flagged, services):
        """Only the view-and-notify role records an access and notifies the key worker."""
        before = len(deliveries(engine, "childrens_services"))
        lookup(services, bearer(engine, "view_only"), flagged)
        assert len(deliveries(engine, "childrens_services")) == before
        status, body = lookup(services, bearer(engine, "view_and_notify"), flagged)
        [notice] = deliveries(engine, "childrens_services")[before:]
        assert status == 200 and notice.recipient == "W06000023"
        assert json.loads(notice.content_json)["looked_up_by"] == "7A7-MIU"
        assert lookup(services, bearer(engine, "view_only"), flagged)[1]["recent_accesses"][0]["site"]["type"] == "lookup"

    @pytest.mark.parametrize("header", [None, "Bearer nonsense", "Basic dXNlcjpwYXNz"])
    def test_missing_or_invalid_token_is_401_and_audited(self, engine, policy, sinks, settings, flagged, header, services):
        """No flag is shown without a valid token, and the refusal is in the audit trail."""
        status, body = lookup(services, header, flagged)
        assert status == 401 and "flagged" not in body
        [entry] = audit_details(engine)
        assert entry["status"] == 401 and entry["actor"] == "anonymous" and entry["subject"] == f"nhs:{flagged}"

    def test_wrong_role_is_403(self, engine, policy, sinks, settings, flagged, services):
        """A school token cannot look up register flags."""
        assert lookup(services, bearer(engine, "school", "6662005"), flagged)[0] == 403

    def test_revoked_token_stops_working(self, engine, policy, sinks, settings, flagged, services):
        """Revoking a token (by id) makes the next request 401."""
        token_id, token = tokens.issue(engine, "7A7", "view_only", EXAMPLES_NOW)
        assert lookup(services, f"Bearer {token}", flagged)[0] == 200
        assert tokens.revoke(engine, settings, token_id, EXAMPLES_NOW) == 1
        assert lookup(services, f"Bearer {token}", flagged)[0] == 401

    def test_every_lookup_is_audited_with_who_which_child_and_role(self, engine, policy, sinks, settings, flagged, services):
        """Each request leaves one audit line naming organisation, child and role."""
        lookup(services, bearer(engine, "view_and_notify"), flagged)
        lookup(services, bearer(engine, "view_only", "7A7-OOH"), "4010232137")
        entries = sorted(audit_details(engine), key=lambda e: e["status"])
        assert [(e["status"], e["actor"], e["role"], e["subject"]) for e in entries] == [
            (200, "7A7-MIU", "view_and_notify", f"nhs:{flagged}"), (404, "7A7-OOH", "view_only", "nhs:4010232137")]
        assert entries[0]["notified_key_worker"] is True

    def test_malformed_nhs_number_is_400_with_the_reason(self, engine, policy, sinks, settings, services):
        """A mistyped NHS number says why instead of a misleading 404."""
        status, body = lookup(services, bearer(engine, "view_only"), "9434765910")
        assert status == 400 and "modulus-11" in body["error"]


class TestTokens:
    def test_tokens_are_stored_only_as_hashes(self, engine):
        """The database holds the SHA-256 of a token, never the token."""
        _token_id, token = tokens.issue(engine, "7A7", "view_only", EXAMPLES_NOW)
        with Session(engine) as session:
            [row] = session.exec(select(ApiToken)).all()
        assert row.token_sha256 == tokens.digest(token) and token not in json.dumps(row.model_dump(mode="json"))

    def test_unknown_role_is_refused(self, engine):
        """Only the defined roles can be issued."""
        with pytest.raises(ValueError, match="role must be one of"):
            tokens.issue(engine, "7A7", "superuser", EXAMPLES_NOW)

    def test_tokens_from_settings_authenticate(self, engine, tmp_path):
        """A token configured by its hash in settings is accepted with its organisation and role."""
        configured = Settings(_env_file=None, data_dir=tmp_path, api_tokens=[
            {"organisation_code": "7A7", "role": "view_only", "token_sha256": tokens.digest("sgt_from_settings")}])
        caller = tokens.authenticate(engine, configured, "Bearer sgt_from_settings", EXAMPLES_NOW)
        assert caller is not None and caller.role == "view_only"
