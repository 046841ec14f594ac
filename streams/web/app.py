"""The HTTP side of the pipeline: probes, metrics, the operator dashboard and the partner APIs.

Inputs: the store engine, a readiness callback and (from `safeguard up`) a consumer-lag
provider. Outputs: ``/healthz``, ``/readyz``, ``/metrics`` (Prometheus text), the dashboard
``/`` with its live stream ``/api/v1/stream`` (server-sent events) and ``/api/v1/summary``,
dead-letter reasons, the audited single-record view for operators with the ``record_viewer``
role, the health flag lookup and the school inbox. Guarantees: the dashboard, its stream and
``/metrics`` carry counts, identifiers and rule names only; personal data leaves only through
authenticated, audited endpoints; operators must sign in with a token unless the dashboard
listens on loopback only (the embedded default).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from uuid import uuid4

from aiohttp import web
from sqlalchemy import Engine
from sqlmodel import Session

from sinks.destinations import build_sinks
from sinks.models import AuditRecord, DeadLetterRecord, DeliveryRecord
from streams.web import figures
from streams.encompass.notices import acknowledge, audit_school_access, list_notices
from streams.register.lookup import lookup_flag
from streams.sharing.policy import Policy
from streams.settings import Settings
from streams.web.tokens import Caller, authenticate
from streams.deadlines.watch import Watch, WatchRules

HERE = Path(__file__).parent
DASHBOARD_HTML = HERE / "dashboard.html"
STREAM_INTERVAL_SECONDS = 2.0
OPERATOR_ROLES = ("operator", "record_viewer")
COOKIE = "safeguard_operator"
LOOPBACK = ("127.0.0.1", "localhost", "::1")
SECURITY_HEADERS = {"X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY", "Referrer-Policy": "no-referrer",
                    "Content-Security-Policy": "default-src 'self'; script-src 'self' 'unsafe-inline'; "
                                               "style-src 'self' 'unsafe-inline'; img-src 'self' data:"}


def build_web_app(engine: Engine, is_ready: Callable[[], tuple[bool, str]], settings: Settings,
                  lag: Callable[[], dict[str, int]] | None = None) -> web.Application:
    policy = Policy.load(settings.policy_file)
    sinks = build_sinks(policy)
    watch = Watch(WatchRules.load(settings.watch_rules_file), policy)
    login_required = settings.dashboard_login if settings.dashboard_login is not None else settings.web_host not in LOOPBACK

    def current_lag() -> dict[str, int]:
        return lag() if lag else {}

    def operator(request: web.Request) -> Caller | None:
        header = request.headers.get("Authorization") or (f"Bearer {request.cookies[COOKIE]}" if COOKIE in request.cookies else None)
        caller = authenticate(engine, settings, header)
        return caller if caller is not None and caller.role in OPERATOR_ROLES else None

    def needs_operator(request: web.Request) -> web.Response | None:
        if login_required and operator(request) is None:
            return web.json_response({"error": "operators sign in at /login?token=…"}, status=401)
        return None

    async def healthz(_request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def readyz(_request: web.Request) -> web.Response:
        ready, detail = is_ready()
        return web.json_response({"ready": ready, "detail": detail}, status=200 if ready else 503)

    async def summary(request: web.Request) -> web.Response:
        if (refused := needs_operator(request)) is not None:
            return refused
        return web.json_response(await asyncio.to_thread(figures.collect, engine, current_lag()))

    async def stream(request: web.Request) -> web.StreamResponse:
        if (refused := needs_operator(request)) is not None:
            return refused
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-store"})
        await response.prepare(request)
        try:
            while True:
                data = await asyncio.to_thread(figures.collect, engine, current_lag())
                await response.write(f"event: figures\ndata: {json.dumps(data)}\n\n".encode())
                await asyncio.sleep(STREAM_INTERVAL_SECONDS)
        except (ConnectionResetError, asyncio.CancelledError):
            pass
        return response

    async def metrics(_request: web.Request) -> web.Response:
        text = figures.prometheus_text(await asyncio.to_thread(figures.collect, engine, current_lag()))
        return web.Response(text=text, content_type="text/plain", charset="utf-8")

    async def dashboard(request: web.Request) -> web.Response:
        if login_required and operator(request) is None:
            raise web.HTTPFound("/login")
        return web.Response(text=DASHBOARD_HTML.read_text(), content_type="text/html")

    async def login(request: web.Request) -> web.Response:
        token = request.query.get("token", "")
        caller = authenticate(engine, settings, f"Bearer {token}") if token else None
        if caller is None or caller.role not in OPERATOR_ROLES:
            return web.Response(text="Sign in: open /login?token=YOUR_OPERATOR_TOKEN (safeguard token issue --role operator).",
                                status=401 if token else 200)
        response = web.HTTPFound("/")
        response.set_cookie(COOKIE, token, httponly=True, samesite="Strict", secure=request.secure)
        raise response

    async def dead_letter(request: web.Request) -> web.Response:
        """Why one input was parked: reason, field path and errors (never its original bytes)."""
        if (refused := needs_operator(request)) is not None:
            return refused
        def load() -> dict | None:
            with Session(engine) as session:
                letter = session.get(DeadLetterRecord, request.match_info["dead_letter_id"])
                if letter is None:
                    return None
                return {"dead_letter_id": letter.dead_letter_id, "topic": letter.topic, "partition": letter.partition,
                        "offset": letter.offset, "event_id": letter.event_id, "event_type": letter.event_type,
                        "field_path": letter.field_path, "reason": letter.reason, "errors": json.loads(letter.errors_json),
                        "parked_at": letter.parked_at.isoformat()}
        found = await asyncio.to_thread(load)
        return web.json_response(found) if found else web.json_response({"error": "no such dead letter"}, status=404)

    async def record(request: web.Request) -> web.Response:
        """One delivery with its content, for an operator holding the record_viewer role; audited."""
        caller = operator(request)
        delivery_id = request.match_info["delivery_id"]
        allowed = caller is not None and caller.role == "record_viewer"
        def load_and_audit() -> dict | None:
            with Session(engine) as session:
                session.add(AuditRecord(audit_id=f"record:{uuid4()}", recorded_at=datetime.now(timezone.utc),
                                        action="record_viewed" if allowed else "record_view_refused",
                                        actor=caller.organisation_code if caller else "anonymous", delivery_id=delivery_id,
                                        detail=json.dumps({"role": caller.role if caller else None})))
                session.commit()
                delivery = session.get(DeliveryRecord, delivery_id) if allowed else None
                return None if delivery is None else {**delivery.model_dump(mode="json", exclude={"content_json"}),
                                                      "content": json.loads(delivery.content_json)}
        found = await asyncio.to_thread(load_and_audit)
        if not allowed:
            return web.json_response({"error": "the record_viewer role is required"}, status=401 if caller is None else 403)
        return web.json_response(found) if found else web.json_response({"error": "no such delivery"}, status=404)

    async def health_flag(request: web.Request) -> web.Response:
        status, body = await asyncio.to_thread(lookup_flag, engine, policy, sinks, settings,
                                               request.headers.get("Authorization"), request.match_info["nhs_number"])
        headers = {"Cache-Control": "no-store"}
        if status == 401:
            headers["WWW-Authenticate"] = 'Bearer realm="safeguard"'
        return web.json_response(body, status=status, headers=headers)

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

    @web.middleware
    async def security_headers(request: web.Request, handler):  # type: ignore[no-untyped-def]
        response = await handler(request)
        if not isinstance(response, web.StreamResponse) or response.prepared:
            return response
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        return response

    app = web.Application(middlewares=[security_headers])
    app.add_routes([
        web.get("/healthz", healthz), web.get("/readyz", readyz), web.get("/metrics", metrics),
        web.get("/", dashboard), web.get("/login", login),
        web.get("/api/v1/summary", summary), web.get("/api/v1/stream", stream),
        web.get("/api/v1/dead-letters/{dead_letter_id}", dead_letter),
        web.get("/api/v1/records/deliveries/{delivery_id}", record),
        web.get("/api/v1/health/flags/{nhs_number}", health_flag),
        web.get("/api/v1/schools/{school_code}/notices", school_notices),
        web.post("/api/v1/schools/{school_code}/notices/{notice_id}/acknowledge", school_acknowledge),
    ])
    app.router.add_static("/static/", HERE / "static", show_index=False)
    return app
