"""Who is calling an HTTP endpoint, without blocking the event loop.

Inputs: the services and a request. Outputs: the ``Caller`` behind its bearer token (header), or the
operator behind a dashboard session cookie (a random id, never the token), or ``None``. Guarantee: the token check (a database read) runs in a
thread, never on the event loop.
"""

from __future__ import annotations

import asyncio

from aiohttp import web

from streams.access.tokens import Caller, authenticate, authenticate_digest
from streams.services import Services
from streams.web.guard import Sessions

OPERATOR_COOKIE = "safeguard_operator"
OPERATOR_ROLES = ("operator", "record_viewer")
BEARER_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="safeguard"'}


async def caller_of(services: Services, authorization: str | None) -> Caller | None:
    return await asyncio.to_thread(authenticate, services.engine, services.settings, authorization, services.clock.now())


async def operator_of(services: Services, request: web.Request, sessions: Sessions) -> Caller | None:
    """An operator signed in by bearer header or by a dashboard session (whose token is re-checked), else ``None``."""
    header = request.headers.get("Authorization")
    if header:
        caller = await caller_of(services, header)
    elif (hashed := sessions.token_of(request.cookies.get(OPERATOR_COOKIE))) is not None:
        caller = await asyncio.to_thread(authenticate_digest, services.engine, services.settings, hashed, services.clock.now())
    else:
        caller = None
    return caller if caller is not None and caller.role in OPERATOR_ROLES else None
