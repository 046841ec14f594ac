"""The web app in-process: operator sign-in, security headers, dead-letter reasons, record view."""

from __future__ import annotations

import pytest
from aiohttp.test_utils import TestClient, TestServer

from schemas.examples import EXAMPLES_NOW
from streams.access import tokens
from streams.clock import FixedClock
from streams.services import build_services
from streams.settings import Settings
from streams.web.app import build_web_app


@pytest.fixture
def served(tmp_path):
    def make(host: str) -> tuple[TestClient, object]:
        services = build_services(Settings(_env_file=None, data_dir=tmp_path, web_host=host), clock=FixedClock(EXAMPLES_NOW))
        app = build_web_app(services, lambda: (True, "ok"), lambda: {"safeguarding.ppn:0": 4})
        return TestClient(TestServer(app)), services.engine
    return make


class TestOperatorAccess:
    async def test_loopback_dashboard_is_open(self, served):
        """On loopback (the embedded default) the dashboard and its figures need no sign-in."""
        client, _ = served("127.0.0.1")
        async with client:
            assert (await client.get("/")).status == 200
            figures = await (await client.get("/api/v1/summary")).json()
            assert figures["lag"] == {"safeguarding.ppn:0": 4}

    async def test_exposed_dashboard_needs_an_operator_token(self, served):
        """Off loopback: the page redirects to sign-in, figures are 401, a school token is not enough, an operator's is."""
        client, engine = served("0.0.0.0")
        operator = tokens.issue(engine, "OPS", "operator", EXAMPLES_NOW)[1]
        school = tokens.issue(engine, "6662005", "school", EXAMPLES_NOW)[1]
        async with client:
            assert (await client.get("/", allow_redirects=False)).headers["Location"] == "/login"
            assert (await client.get("/api/v1/summary")).status == 401
            assert (await client.get("/api/v1/summary", headers={"Authorization": f"Bearer {school}"})).status == 401
            assert (await client.get("/api/v1/summary", headers={"Authorization": f"Bearer {operator}"})).status == 200
            login = await client.post("/login", data={"token": operator}, allow_redirects=False)
            assert login.status == 303 and "HttpOnly" in login.headers["Set-Cookie"]
            assert (await client.get("/")).status == 200  # the cookie is kept by the client

    async def test_security_headers_and_metrics(self, served):
        """Pages carry a content security policy; /metrics is Prometheus text."""
        client, _ = served("127.0.0.1")
        async with client:
            page = await client.get("/")
            assert "default-src 'self'" in page.headers["Content-Security-Policy"]
            assert page.headers["X-Frame-Options"] == "DENY"
            metrics = await client.get("/metrics")
            assert metrics.content_type == "text/plain" and "safeguard_consumer_lag" in await metrics.text()

    async def test_unknown_dead_letter_and_record_answers(self, served):
        """A missing dead letter is 404; a record without the record_viewer role is 401/403."""
        client, engine = served("127.0.0.1")
        operator = tokens.issue(engine, "OPS", "operator", EXAMPLES_NOW)[1]
        async with client:
            assert (await client.get("/api/v1/dead-letters/nope")).status == 404
            assert (await client.get("/api/v1/records/deliveries/x")).status == 401
            assert (await client.get("/api/v1/records/deliveries/x", headers={"Authorization": f"Bearer {operator}"})).status == 403
