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
from streams.encompass import acknowledge, audit_school_access, list_notices
from streams.lookup import lookup_flag
from streams.tokens import authenticate
from streams.watch import Watch, WatchRules
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

    watch = Watch(WatchRules.load(settings.watch_rules_file), policy)

    def school_caller(request: web.Request) -> tuple[web.Response | None, str]:
        school_code = request.match_info["school_code"]
        caller = authenticate(engine, settings, request.headers.get("Authorization"))
        if caller is None:
            return web.json_response({"error": "a valid bearer token is required"}, status=401,
                                     headers={"WWW-Authenticate": 'Bearer realm="safeguard"'}), "anonymous"
        if caller.role != "school" or caller.organisation_code != school_code:
            return web.json_response({"error": "this token may not read this school's notices"}, status=403), caller.organisation_code
        return None, caller.organisation_code

    async def school_notices(request: web.Request) -> web.Response:
        refused, who = school_caller(request)
        school_code = request.match_info["school_code"]
        if refused is not None:
            await asyncio.to_thread(audit_school_access, engine, school_code, who, "school_inbox_list", refused.status, None)
            return refused
        notices = await asyncio.to_thread(list_notices, engine, school_code)
        await asyncio.to_thread(audit_school_access, engine, school_code, who, "school_inbox_list", 200, None)
        return web.json_response({"school_code": school_code, "notices": notices}, headers={"Cache-Control": "no-store"})

    async def school_acknowledge(request: web.Request) -> web.Response:
        refused, who = school_caller(request)
        school_code, notice_id = request.match_info["school_code"], request.match_info["notice_id"]
        if refused is not None:
            await asyncio.to_thread(audit_school_access, engine, school_code, who, "school_acknowledge", refused.status, notice_id)
            return refused
        status, body = await asyncio.to_thread(acknowledge, engine, watch, sinks, school_code, notice_id, who)
        await asyncio.to_thread(audit_school_access, engine, school_code, who, "school_acknowledge", status, notice_id)
        return web.json_response(body, status=status)

    app = web.Application()
    app.add_routes([web.get("/healthz", healthz), web.get("/readyz", readyz), web.get("/metrics", metrics),
                    web.get("/api/v1/summary", summary), web.get("/", dashboard),
                    web.get("/api/v1/health/flags/{nhs_number}", health_flag),
                    web.get("/api/v1/schools/{school_code}/notices", school_notices),
                    web.post("/api/v1/schools/{school_code}/notices/{notice_id}/acknowledge", school_acknowledge)])
    return app
