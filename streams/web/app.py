"""The HTTP side of the pipeline, one application for its three audiences.

Inputs: the services, a readiness callback and (from `safeguard up` and `safeguard serve`) a consumer-lag
provider and a way to publish to the broker (the dashboard's dead-letter replay).
Outputs: an ``aiohttp`` application with the operators' routes (``streams/web/operators.py``), the
health flag lookup (``health.py``), the school inbox (``schools.py``) and the dashboard's static
files. Guarantees: security headers on every response (a CSP with no inline script or style; HSTS off
loopback); a Host check (no DNS rebinding of a loopback service); clients refused again and again are
throttled (429) with one alert and one audit line; personal data leaves only through authenticated,
audited endpoints.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path

from aiohttp import web
from sqlmodel import Session

from sinks.audit import AuditEntry
from sinks.contract import UnitOfWork
from streams.pipeline.operator_actions import Publish
from streams.services import Services
from streams.web import health, operators, schools
from streams.web.guard import LOOPBACK_HOSTS, Sessions, Throttle, allowed_host

STATIC = Path(__file__).with_name("static")
SECURITY_HEADERS = {"X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY", "Referrer-Policy": "no-referrer",
                    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; "
                                               "img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; "
                                               "form-action 'self'"}
HSTS = "max-age=31536000; includeSubDomains"


def build_web_app(services: Services, is_ready: Callable[[], tuple[bool, str]],
                  lag: Callable[[], dict[str, int]] | None = None, publish: Publish | None = None) -> web.Application:
    settings = services.settings
    exposed = settings.web_host not in LOOPBACK_HOSTS
    throttle = Throttle(settings.web_refusal_limit, settings.web_refusal_window_seconds)
    sessions = Sessions(settings.web_session_minutes * 60)

    @web.middleware
    async def host_check(request: web.Request, handler):  # type: ignore[no-untyped-def]
        if not allowed_host(request.host, settings.web_host, settings.web_allowed_hosts):
            return web.json_response({"error": "unexpected Host header"}, status=421)
        return await handler(request)

    @web.middleware
    async def refusal_throttle(request: web.Request, handler):  # type: ignore[no-untyped-def]
        client = request.remote or "unknown"
        retry = throttle.retry_after(client)
        if retry is not None:
            return web.json_response({"error": "too many refused requests; try again later"}, status=429,
                                     headers={"Retry-After": str(max(1, int(retry + 0.999)))})
        response = await handler(request)
        if response.status in (401, 403) and throttle.refused(client):
            await asyncio.to_thread(_throttled, services, client)
        return response

    @web.middleware
    async def security_headers(request: web.Request, handler):  # type: ignore[no-untyped-def]
        try:
            response = await handler(request)
        except web.HTTPException as raised:  # redirects and refusals carry the headers too
            response = raised
        if not isinstance(response, web.StreamResponse) or response.prepared:
            return response
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        if exposed or _https(request, settings.web_forwarded_proto):
            response.headers.setdefault("Strict-Transport-Security", HSTS)
        if isinstance(response, web.HTTPException):
            raise response
        return response

    services.setup_sinks()
    app = web.Application(middlewares=[security_headers, host_check, refusal_throttle])
    app.add_routes([*operators.routes(services, is_ready, lag, sessions, publish), *health.routes(services), *schools.routes(services)])
    app.router.add_static("/static/", STATIC, show_index=False)
    return app


def _https(request: web.Request, trust_forwarded: bool) -> bool:
    return request.secure or (trust_forwarded and request.headers.get("X-Forwarded-Proto", "").lower() == "https")


def _throttled(services: Services, client: str) -> None:
    """One alert and one audit line for a client that was just blocked (not one per refused request)."""
    now = services.clock.now()
    settings = services.settings
    values = {"alert": "a client was refused again and again and is throttled", "client": client,
              "refusals": settings.web_refusal_limit, "window_seconds": settings.web_refusal_window_seconds,
              "event_type": "web.refusals_throttled"}
    key = f"{client}|{int(now.timestamp() // settings.web_refusal_window_seconds)}"
    with Session(services.engine) as session:
        unit = UnitOfWork(session, "safeguard.web", now)
        services.sinks["alerts"].write([services.policy.plan_operational("access_refusals_alert", key, values)], unit)
        services.audit.write([AuditEntry(audit_id=f"throttled:{key}"[:80], action="requests_throttled",
                                         detail=json.dumps({"client": client, "refusals": settings.web_refusal_limit,
                                                            "window_seconds": settings.web_refusal_window_seconds}))], unit)
        session.commit()
    services.flush_sinks(["alerts"])
