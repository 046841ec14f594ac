"""The HTTP side of `safeguard up`: health probes, metrics and the operator dashboard.

Inputs: the store engine and a readiness callback from the supervisor. Outputs: ``/healthz``,
``/readyz``, ``/metrics`` (Prometheus text), ``/api/v1/summary`` (JSON), ``/`` (a page that
refreshes itself) and the health flag lookup. Guarantee: the dashboard and metrics carry counts,
identifiers and rule names only; personal data leaves only through the authenticated lookup.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

from aiohttp import web
from sqlalchemy import Engine

from sinks.destinations import build_sinks
from streams import figures
from streams.lookup import lookup_flag
from streams.policy import Policy
from streams.settings import Settings

DASHBOARD_HTML = Path(__file__).with_name("dashboard.html")


def build_web_app(engine: Engine, is_ready: Callable[[], tuple[bool, str]], settings: Settings) -> web.Application:
    policy = Policy.load(settings.policy_file)
    sinks = build_sinks(policy)

    async def healthz(_request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def readyz(_request: web.Request) -> web.Response:
        ready, detail = is_ready()
        return web.json_response({"ready": ready, "detail": detail}, status=200 if ready else 503)

    async def summary(_request: web.Request) -> web.Response:
        return web.json_response(await asyncio.to_thread(figures.collect, engine))

    async def metrics(_request: web.Request) -> web.Response:
        text = figures.prometheus_text(await asyncio.to_thread(figures.collect, engine))
        return web.Response(text=text, content_type="text/plain", charset="utf-8",
                            headers={"X-Content-Type-Options": "nosniff"})

    async def dashboard(_request: web.Request) -> web.Response:
        return web.Response(text=DASHBOARD_HTML.read_text(), content_type="text/html",
                            headers={"Content-Security-Policy": "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'unsafe-inline'"})

    async def health_flag(request: web.Request) -> web.Response:
        status, body = await asyncio.to_thread(lookup_flag, engine, policy, sinks, settings,
                                               request.headers.get("Authorization"), request.match_info["nhs_number"])
        headers = {"Cache-Control": "no-store"}
        if status == 401:
            headers["WWW-Authenticate"] = 'Bearer realm="safeguard"'
        return web.json_response(body, status=status, headers=headers)

    app = web.Application()
    app.add_routes([web.get("/healthz", healthz), web.get("/readyz", readyz), web.get("/metrics", metrics),
                    web.get("/api/v1/summary", summary), web.get("/", dashboard),
                    web.get("/api/v1/health/flags/{nhs_number}", health_flag)])
    return app
