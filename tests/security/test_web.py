"""Probes of the tokens and the web service, each re-run as a test."""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlmodel import Session, select

from schemas.examples import EXAMPLES_NOW
from sinks.models import AuditRecord, DeliveryRecord
from streams.access import tokens
from streams.clock import FixedClock
from streams.services import build_services
from streams.settings import ConfiguredToken, Settings
from streams.web.app import build_web_app

NHS = "9434765919"


@pytest.fixture
def served(tmp_path):
    def make(host: str = "127.0.0.1", **settings) -> tuple[TestClient, object]:
        services = build_services(Settings(_env_file=None, data_dir=tmp_path, web_host=host, **settings),
                                  clock=FixedClock(EXAMPLES_NOW))
        return TestClient(TestServer(build_web_app(services, lambda: (True, "ok")))), services
    return make


def loopback(host: str = "127.0.0.1") -> dict:
    return {"Host": f"{host}:8765"}


class TestTokens:
    async def test_an_issued_token_expires(self, served):
        """The probe: tokens never expired. An issued token now stops working at the end of its lifetime."""
        client, services = served()
        _, token = tokens.issue(services.engine, "7A7", "view_only", EXAMPLES_NOW, timedelta(hours=1))
        async with client:
            headers = {"Authorization": f"Bearer {token}"}
            assert (await client.get(f"/api/v1/health/flags/{NHS}", headers=headers)).status == 404  # valid: not flagged
            services.clock.at = EXAMPLES_NOW + timedelta(hours=1, seconds=1)
            assert (await client.get(f"/api/v1/health/flags/{NHS}", headers=headers)).status == 401

    def test_a_lifetime_is_parsed_or_refused_naming_the_option(self):
        assert tokens.parse_lifetime("90d") == timedelta(days=90) and tokens.parse_lifetime("30m") == timedelta(minutes=30)
        with pytest.raises(ValueError, match="expires: 'soon'"):
            tokens.parse_lifetime("soon")

    async def test_a_configured_token_can_be_revoked(self, served):
        """The probe: tokens from settings could not be revoked. `token revoke` now refuses them from then on."""
        token = "sgt_configured_for_the_test"
        configured = [ConfiguredToken(organisation_code="7A7", role="view_only",
                                      token_sha256=hashlib.sha256(token.encode()).hexdigest())]
        client, services = served(api_tokens=configured)
        async with client:
            headers = {"Authorization": f"Bearer {token}"}
            assert (await client.get(f"/api/v1/health/flags/{NHS}", headers=headers)).status == 404
            assert tokens.revoke(services.engine, services.settings, token, EXAMPLES_NOW) == 1
            assert (await client.get(f"/api/v1/health/flags/{NHS}", headers=headers)).status == 401


class TestThrottle:
    async def test_a_flood_of_wrong_tokens_is_throttled_alerted_once_and_audited_in_bounds(self, served):
        """The probe: 300 wrong tokens in 9 s drew no throttling and 300 audit rows. Now 429 after 20 refusals,
        one operator alert, and the audit trail grows by the 20 refusals and one line for the flood."""
        client, services = served()
        async with client:
            statuses = [(await client.get(f"/api/v1/health/flags/{NHS}",
                                          headers={"Authorization": f"Bearer wrong-{n}"})).status for n in range(300)]
        assert statuses[:20] == [401] * 20 and set(statuses[20:]) == {429}
        with Session(services.engine) as session:
            rows = session.exec(select(AuditRecord)).all()
            alerts = session.exec(select(DeliveryRecord).where(DeliveryRecord.rule == "web.alerts.refusals_throttled")).all()
        actions = [r.action for r in rows]
        assert actions.count("health_flag_lookup") == 20 and actions.count("requests_throttled") == 1
        assert len(rows) == 22  # and the alert's own disclosure line
        assert len(alerts) == 1 and json.loads(alerts[0].content_json)["refusals"] == 20


class TestDashboardSignIn:
    async def test_the_token_never_travels_in_a_url_nor_sits_in_the_cookie(self, served):
        """The probe: the cookie was the raw long-lived token, sent in the /login URL. Now the URL form is
        refused, sign-in is by POST, and the cookie is a random session id ending with the token's revocation."""
        client, services = served("0.0.0.0")
        token_id, token = tokens.issue(services.engine, "OPS", "operator", EXAMPLES_NOW)
        async with client:
            assert (await client.get(f"/login?token={token}")).status == 400
            signed_in = await client.post("/login", data={"token": token}, allow_redirects=False)
            cookie = signed_in.headers["Set-Cookie"]
            assert signed_in.status == 303 and token not in cookie
            assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Strict" in cookie
            session = {"Cookie": cookie.split(";")[0].split(":", 1)[-1].strip()}  # the test client is plain HTTP
            assert (await client.get("/api/v1/summary", headers=session)).status == 200
            assert (await client.get("/api/v1/summary", headers={"Cookie": f"safeguard_operator={token}"})).status == 401
            tokens.revoke(services.engine, services.settings, token_id, EXAMPLES_NOW)
            assert (await client.get("/api/v1/summary", headers=session)).status == 401

    async def test_hsts_off_loopback_and_a_csp_without_inline_code(self, served):
        client, _ = served("0.0.0.0")
        async with client:
            page = await client.get("/login")
        assert page.headers["Strict-Transport-Security"].startswith("max-age=")
        policy = page.headers["Content-Security-Policy"]
        assert "'unsafe-inline'" not in policy and "script-src 'self'" in policy and "style-src 'self'" in policy

    async def test_the_dashboard_page_has_no_inline_script_or_style(self, served):
        client, _ = served()
        async with client:
            html = await (await client.get("/", headers=loopback())).text()
        assert "<script>" not in html and "<style>" not in html and " style=" not in html


class TestExposure:
    async def test_metrics_need_an_operator_off_loopback(self, served):
        """The probe: /metrics was open without sign-in off loopback."""
        client, services = served("0.0.0.0")
        operator = tokens.issue(services.engine, "OPS", "operator", EXAMPLES_NOW)[1]
        async with client:
            assert (await client.get("/metrics")).status == 401
            assert (await client.get("/metrics", headers={"Authorization": f"Bearer {operator}"})).status == 200

    async def test_a_loopback_service_answers_only_to_loopback_host_names(self, served):
        """The probe: no Host check on loopback (DNS rebinding: a web page's name resolving to 127.0.0.1)."""
        client, _ = served()
        async with client:
            assert (await client.get("/healthz", headers={"Host": "attacker.example:8765"})).status == 421
            assert (await client.get("/healthz", headers=loopback("localhost"))).status == 200
            assert (await client.get("/healthz", headers=loopback())).status == 200
