"""The operators' audience: probes, ``/metrics``, the dashboard with its live stream, sign-in,
dead-letter reasons and the audited single-record view.

Inputs: the services, a readiness callback and (from `safeguard up`) a consumer-lag provider.
Outputs: ``/healthz``, ``/readyz``, ``/metrics``, ``/``, ``/login``, ``/api/v1/summary``,
``/api/v1/stream`` (server-sent events), ``/api/v1/dead-letters/{id}`` and
``/api/v1/records/deliveries/{id}``. Guarantees: the dashboard, its stream and ``/metrics`` carry
counts, identifiers and rule names only; a delivery's content is shown only to the ``record_viewer``
role and every attempt is audited; operators must sign in unless the dashboard listens on loopback
only (the embedded default); no database call on the event loop.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path
from uuid import uuid4

from aiohttp import web
from sqlmodel import Session

from sinks.audit import AuditEntry
from sinks.contract import UnitOfWork
from sinks.models import DeadLetterRecord, DeliveryRecord
from streams.services import Services
from streams.web import figures, metrics
from streams.web.auth import OPERATOR_COOKIE, OPERATOR_ROLES, caller_of, operator_of

DASHBOARD_HTML = Path(__file__).with_name("dashboard.html")
STREAM_INTERVAL_SECONDS = 2.0
LOOPBACK = ("127.0.0.1", "localhost", "::1")


def routes(services: Services, is_ready: Callable[[], tuple[bool, str]],
           lag: Callable[[], dict[str, int]] | None = None) -> list[web.RouteDef]:
    settings, engine = services.settings, services.engine
    login_required = settings.dashboard_login if settings.dashboard_login is not None else settings.web_host not in LOOPBACK

    def current_figures() -> dict:
        return figures.collect(engine, services.clock.now(), services.policy.reconciliation_report_rules,
                               lag() if lag else {})

    async def needs_operator(request: web.Request) -> web.Response | None:
        if login_required and await operator_of(services, request) is None:
            return web.json_response({"error": "operators sign in at /login?token=…"}, status=401)
        return None

    async def healthz(_request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def readyz(_request: web.Request) -> web.Response:
        ready, detail = await asyncio.to_thread(is_ready)
        return web.json_response({"ready": ready, "detail": detail}, status=200 if ready else 503)

    async def summary(request: web.Request) -> web.Response:
        if (refused := await needs_operator(request)) is not None:
            return refused
        return web.json_response(await asyncio.to_thread(current_figures))

    async def stream(request: web.Request) -> web.StreamResponse:
        if (refused := await needs_operator(request)) is not None:
            return refused
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-store"})
        await response.prepare(request)
        try:
            while True:
                data = await asyncio.to_thread(current_figures)
                await response.write(f"event: figures\ndata: {json.dumps(data)}\n\n".encode())
                await asyncio.sleep(STREAM_INTERVAL_SECONDS)
        except (ConnectionResetError, asyncio.CancelledError):
            pass
        return response

    async def metrics_text(_request: web.Request) -> web.Response:
        body = metrics.exposition(await asyncio.to_thread(current_figures))
        return web.Response(body=body, headers={"Content-Type": metrics.CONTENT_TYPE})

    async def dashboard(request: web.Request) -> web.Response:
        if login_required and await operator_of(services, request) is None:
            raise web.HTTPFound("/login")
        return web.Response(text=await asyncio.to_thread(DASHBOARD_HTML.read_text), content_type="text/html")

    async def login(request: web.Request) -> web.Response:
        token = request.query.get("token", "")
        caller = await caller_of(services, f"Bearer {token}") if token else None
        if caller is None or caller.role not in OPERATOR_ROLES:
            return web.Response(text="Sign in: open /login?token=YOUR_OPERATOR_TOKEN (safeguard token issue --role operator).",
                                status=401 if token else 200)
        response = web.HTTPFound("/")
        response.set_cookie(OPERATOR_COOKIE, token, httponly=True, samesite="Strict", secure=request.secure)
        raise response

    async def dead_letter(request: web.Request) -> web.Response:
        """Why one input was parked: reason, field path and errors (never its original bytes)."""
        if (refused := await needs_operator(request)) is not None:
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
        caller = await operator_of(services, request)
        delivery_id = request.match_info["delivery_id"]
        allowed = caller is not None and caller.role == "record_viewer"

        def load_and_audit() -> dict | None:
            with Session(engine) as session:
                unit = UnitOfWork(session, caller.organisation_code if caller else "anonymous", services.clock.now())
                services.audit.write([AuditEntry(audit_id=f"record:{uuid4()}",
                                                 action="record_viewed" if allowed else "record_view_refused",
                                                 delivery_id=delivery_id,
                                                 detail=json.dumps({"role": caller.role if caller else None}))], unit)
                session.commit()
                delivery = session.get(DeliveryRecord, delivery_id) if allowed else None
                return None if delivery is None else {**delivery.model_dump(mode="json", exclude={"content_json"}),
                                                      "content": json.loads(delivery.content_json)}
        found = await asyncio.to_thread(load_and_audit)
        if not allowed:
            return web.json_response({"error": "the record_viewer role is required"}, status=401 if caller is None else 403)
        return web.json_response(found) if found else web.json_response({"error": "no such delivery"}, status=404)

    return [
        web.get("/healthz", healthz), web.get("/readyz", readyz), web.get("/metrics", metrics_text),
        web.get("/", dashboard), web.get("/login", login),
        web.get("/api/v1/summary", summary), web.get("/api/v1/stream", stream),
        web.get("/api/v1/dead-letters/{dead_letter_id}", dead_letter),
        web.get("/api/v1/records/deliveries/{delivery_id}", record),
    ]
