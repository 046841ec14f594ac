"""The schools audience: each school's Operation Encompass inbox and acknowledgements.

Inputs: ``GET /api/v1/schools/{school_code}/notices`` and
``POST /api/v1/schools/{school_code}/notices/{notice_id}/acknowledge`` with that school's token.
Outputs: the school's own notices (minimised views), acknowledgements. Guarantees: a school token
reads and acknowledges only its own school's notices (403 for another inbox, 404 for another
school's notice id); every access, refused or not, is audited; no database call on the event loop.
"""

from __future__ import annotations

import asyncio

from aiohttp import web

from streams.encompass.notices import acknowledge, audit_school_access, list_notices
from streams.services import Services
from streams.web.auth import BEARER_CHALLENGE, caller_of


def routes(services: Services) -> list[web.RouteDef]:
    async def school_caller(request: web.Request) -> tuple[web.Response | None, str]:
        school_code = request.match_info["school_code"]
        caller = await caller_of(services, request.headers.get("Authorization"))
        if caller is None:
            return web.json_response({"error": "a valid bearer token is required"}, status=401,
                                     headers=BEARER_CHALLENGE), "anonymous"
        if caller.role != "school" or caller.organisation_code != school_code:
            return web.json_response({"error": "this token may not read this school's notices"}, status=403), caller.organisation_code
        return None, caller.organisation_code

    async def audit(school_code: str, who: str, action: str, status: int, notice_id: str | None) -> None:
        await asyncio.to_thread(audit_school_access, services.engine, services.audit, school_code, who, action, status,
                                notice_id, services.clock.now())

    async def school_notices(request: web.Request) -> web.Response:
        refused, who = await school_caller(request)
        school_code = request.match_info["school_code"]
        if refused is not None:
            await audit(school_code, who, "school_inbox_list", refused.status, None)
            return refused
        notices = await asyncio.to_thread(list_notices, services.engine, services.policy, school_code, services.clock.now())
        await audit(school_code, who, "school_inbox_list", 200, None)
        return web.json_response({"school_code": school_code, "notices": notices}, headers={"Cache-Control": "no-store"})

    async def school_acknowledge(request: web.Request) -> web.Response:
        refused, who = await school_caller(request)
        school_code, notice_id = request.match_info["school_code"], request.match_info["notice_id"]
        if refused is not None:
            await audit(school_code, who, "school_acknowledge", refused.status, notice_id)
            return refused
        status, body = await asyncio.to_thread(acknowledge, services.engine, services.watch, services.sinks, school_code,
                                               notice_id, who, services.clock.now())
        await audit(school_code, who, "school_acknowledge", status, notice_id)
        return web.json_response(body, status=status)

    return [web.get("/api/v1/schools/{school_code}/notices", school_notices),
            web.post("/api/v1/schools/{school_code}/notices/{notice_id}/acknowledge", school_acknowledge)]
