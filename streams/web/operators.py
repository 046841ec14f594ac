"""The operators' audience: probes, ``/metrics``, the dashboard with its live stream, sign-in,
dead-letter reasons and the audited single-record view, and the dashboard's actions.

Inputs: the services, a readiness callback and (from `safeguard up`) a consumer-lag provider.
Outputs: ``/healthz``, ``/readyz``, ``/metrics``, ``/``, ``/login`` (GET form, POST sign-in), ``/logout``, ``/api/v1/summary``,
``/api/v1/stream`` (server-sent events), ``/api/v1/dead-letters/{id}`` and
``/api/v1/records/deliveries/{id}``; actions: ``POST /api/v1/identity/reviews/{id}/confirm|reject``
(the ``record_viewer`` role) and ``POST /api/v1/dead-letters/{id}/replay`` (any signed-in operator, even on
loopback: who did it is recorded), ``/api/v1/whoami``.
Guarantees: an action is refused unless its request comes from the dashboard's own origin (or carries
a bearer token), and is done the command line's way (``streams/pipeline/operator_actions.py``) under
the signed-in operator's name, audited. The dashboard, its stream and ``/metrics`` carry
counts, identifiers and rule names only; a delivery's content is shown only to the ``record_viewer``
role and every attempt is audited; operators must sign in to see the dashboard (a token by POST, then
a short-lived random session id in a Secure HttpOnly cookie off loopback) unless it listens on loopback
only (the embedded default), and then ``/metrics`` needs an operator's bearer token too; no database
call on the event loop.
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
from sinks.mail_capture import captured, captured_text
from sinks.models import DeadLetterRecord, DeliveryRecord
from streams.access.tokens import Caller, digest
from streams.pipeline.operator_actions import ActionRefused, Publish, decide_review, replay_dead_letters
from streams.services import Services
from streams.web import figures, metrics
from streams.web.auth import BEARER_CHALLENGE, OPERATOR_COOKIE, OPERATOR_ROLES, caller_of, operator_of
from streams.web.guard import LOOPBACK_HOSTS, Sessions, same_origin

DASHBOARD_HTML = Path(__file__).with_name("dashboard.html")
STREAM_INTERVAL_SECONDS = 2.0
LOGIN_HTML = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Operator sign-in</title>
<link rel="stylesheet" href="/static/dashboard.css"></head>
<body><h1>Operator sign-in</h1><!--status-->
<form method="post" action="/login"><label>Operator token
<input type="password" name="token" autocomplete="off" required></label> <button type="submit">Sign in</button></form>
<p>An operator's token comes from <code>safeguard token issue --org CODE --role operator</code>.</p></body></html>
"""


def routes(services: Services, is_ready: Callable[[], tuple[bool, str]],
           lag: Callable[[], dict[str, int]] | None, sessions: Sessions, publish: Publish | None = None) -> list[web.RouteDef]:
    settings, engine = services.settings, services.engine
    exposed = settings.web_host not in LOOPBACK_HOSTS
    login_required = settings.dashboard_login if settings.dashboard_login is not None else exposed

    async def operator(request: web.Request) -> Caller | None:
        return await operator_of(services, request, sessions)

    def current_figures() -> dict:
        return figures.collect(engine, services.clock.now(), services.policy.reconciliation_report_rules,
                               lag() if lag else {})

    async def needs_operator(request: web.Request) -> web.Response | None:
        if login_required and await operator(request) is None:
            return web.json_response({"error": "operators sign in at /login, or send an operator's bearer token"},
                                     status=401, headers=BEARER_CHALLENGE)
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

    async def metrics_text(request: web.Request) -> web.Response:
        if exposed and (refused := await needs_operator(request)) is not None:  # off loopback: Prometheus sends a token
            return refused
        body = metrics.exposition(await asyncio.to_thread(current_figures))
        return web.Response(body=body, headers={"Content-Type": metrics.CONTENT_TYPE})

    async def dashboard(request: web.Request) -> web.Response:
        if login_required and await operator(request) is None:
            raise web.HTTPFound("/login")
        return web.Response(text=await asyncio.to_thread(DASHBOARD_HTML.read_text), content_type="text/html")

    async def login_form(request: web.Request) -> web.Response:
        if "token" in request.query:  # a token in a URL ends up in histories and proxy logs
            return web.Response(text="Send the token by POST from the sign-in form, never in the address.", status=400)
        return web.Response(text=LOGIN_HTML, content_type="text/html")

    async def login(request: web.Request) -> web.Response:
        """Sign in by POST: the token is checked and a short-lived random session id goes in the cookie."""
        token = str((await request.post()).get("token", "")).strip()
        caller = await caller_of(services, f"Bearer {token}") if token else None
        if caller is None or caller.role not in OPERATOR_ROLES:
            return web.Response(text=LOGIN_HTML.replace("<!--status-->", "<p>That is not a valid operator token.</p>"),
                                content_type="text/html", status=401)
        response = web.HTTPSeeOther("/")
        response.set_cookie(OPERATOR_COOKIE, sessions.open(caller, digest(token)), httponly=True, samesite="Strict",
                            secure=exposed or request.secure or (settings.web_forwarded_proto and
                                                                 request.headers.get("X-Forwarded-Proto") == "https"),
                            max_age=int(settings.web_session_minutes * 60), path="/")
        raise response

    async def logout(request: web.Request) -> web.Response:
        sessions.close(request.cookies.get(OPERATOR_COOKIE))
        response = web.HTTPSeeOther("/login")
        response.del_cookie(OPERATOR_COOKIE, path="/")
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
        caller = await operator(request)
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

    async def captured_mail(request: web.Request) -> web.Response:
        """E-mails the embedded mail capture holds (``streams/runtime/mail_capture.py``): their list, or one with its
        text, for the record_viewer role only; every access or refusal is audited."""
        caller = await operator(request)
        name = request.match_info.get("name")
        allowed = caller is not None and caller.role == "record_viewer"

        def load_and_audit() -> object:
            with Session(engine) as session:
                unit = UnitOfWork(session, caller.organisation_code if caller else "anonymous", services.clock.now())
                services.audit.write([AuditEntry(audit_id=f"mail:{uuid4()}",
                                                 action="captured_mail_viewed" if allowed else "captured_mail_refused",
                                                 detail=json.dumps({"role": caller.role if caller else None, "name": name}))], unit)
                session.commit()
            if not allowed:
                return None
            return captured_text(settings.data_dir, name) if name else captured(settings.data_dir)
        found = await asyncio.to_thread(load_and_audit)
        if not allowed:
            return web.json_response({"error": "the record_viewer role is required"}, status=401 if caller is None else 403)
        if name is None:
            return web.json_response({"captured": found})
        return web.Response(text=found, content_type="text/plain") if found else web.json_response({"error": "no such e-mail"},
                                                                                                   status=404)

    async def whoami(request: web.Request) -> web.Response:
        caller = await operator(request)
        return web.json_response({"signed_in": caller is not None, "login_required": login_required,
                                  "organisation_code": caller.organisation_code if caller else None,
                                  "role": caller.role if caller else None})

    async def acting(request: web.Request, role: str | None) -> tuple[str | None, web.Response | None]:
        """The actor's name for an action, or the refusal: wrong origin (403), not signed in (401), wrong role (403)."""
        if "Authorization" not in request.headers and not same_origin(request):
            return None, web.json_response({"error": "actions come from the dashboard's own page"}, status=403)
        caller = await operator(request)
        if caller is None:
            return None, web.json_response({"error": "sign in at /login as an operator"}, status=401, headers=BEARER_CHALLENGE)
        if role is not None and caller.role != role:
            return None, web.json_response({"error": f"the {role} role is required"}, status=403)
        return f"operator:{caller.organisation_code}:{caller.token_id}", None

    async def decide(request: web.Request) -> web.Response:
        """Confirm or reject one pair in the identity review queue (record_viewer role), as the operator, audited."""
        actor, refused = await acting(request, "record_viewer")
        if refused is not None:
            return refused
        try:
            done = await asyncio.to_thread(decide_review, services, request.match_info["review_id"],
                                           request.match_info["decision"], actor)
        except ActionRefused as exc:
            return web.json_response({"error": str(exc)}, status=409)
        return web.json_response({"result": done, "by": actor})

    async def replay(request: web.Request) -> web.Response:
        """Publish one dead letter again onto the topic it was refused from (after its cause was fixed), audited."""
        actor, refused = await acting(request, None)
        if refused is not None:
            return refused
        if publish is None:
            return web.json_response({"error": "this web service has no broker to replay onto"}, status=503)
        try:
            outcome = await asyncio.to_thread(replay_dead_letters, services, publish, [request.match_info["dead_letter_id"]],
                                              False, actor)
        except ActionRefused as exc:
            return web.json_response({"error": str(exc)}, status=409)
        return web.json_response({"replayed": outcome.replayed, "by": actor})

    return [
        web.get("/api/v1/whoami", whoami),
        web.post("/api/v1/identity/reviews/{review_id}/{decision}", decide),
        web.post("/api/v1/dead-letters/{dead_letter_id}/replay", replay),
        web.get("/api/v1/mail", captured_mail), web.get("/api/v1/mail/{name}", captured_mail),
        web.get("/healthz", healthz), web.get("/readyz", readyz), web.get("/metrics", metrics_text),
        web.get("/", dashboard), web.get("/login", login_form), web.post("/login", login), web.post("/logout", logout),
        web.get("/api/v1/summary", summary), web.get("/api/v1/stream", stream),
        web.get("/api/v1/dead-letters/{dead_letter_id}", dead_letter),
        web.get("/api/v1/records/deliveries/{delivery_id}", record),
    ]
