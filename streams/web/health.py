"""The health audience: the CP-IS style child protection flag lookup.

Inputs: ``GET /api/v1/health/flags/{nhs_number}`` with a bearer token. Outputs: the lookup's status
and body (``streams/register/lookup.py``), never cached. Guarantee: every request, refused or not, is
audited by the lookup; no database call runs on the event loop.
"""

from __future__ import annotations

import asyncio

from aiohttp import web

from streams.register.lookup import lookup_flag
from streams.services import Services
from streams.web.auth import BEARER_CHALLENGE, caller_of


def routes(services: Services) -> list[web.RouteDef]:
    async def health_flag(request: web.Request) -> web.Response:
        caller = await caller_of(services, request.headers.get("Authorization"))
        status, body = await asyncio.to_thread(lookup_flag, services.engine, services.policy, services.sinks, services.audit,
                                               caller, request.match_info["nhs_number"], services.clock.now())
        headers = {"Cache-Control": "no-store", **(BEARER_CHALLENGE if status == 401 else {})}
        return web.json_response(body, status=status, headers=headers)

    return [web.get("/api/v1/health/flags/{nhs_number}", health_flag)]
