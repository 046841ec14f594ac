"""Who is calling an HTTP endpoint, without blocking the event loop.

Inputs: the services and a request. Outputs: the ``Caller`` behind its bearer token (header, or the
operator's dashboard cookie), or ``None``. Guarantee: the token check (a database read) runs in a
thread, never on the event loop.
"""

from __future__ import annotations

import asyncio

from aiohttp import web

from streams.access.tokens import Caller, authenticate
from streams.services import Services

OPERATOR_COOKIE = "safeguard_operator"
OPERATOR_ROLES = ("operator", "record_viewer")
BEARER_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="safeguard"'}


async def caller_of(services: Services, authorization: str | None) -> Caller | None:
    return await asyncio.to_thread(authenticate, services.engine, services.settings, authorization)


async def operator_of(services: Services, request: web.Request) -> Caller | None:
    """An operator signed in by header or dashboard cookie, else ``None``."""
    header = request.headers.get("Authorization") or (
        f"Bearer {request.cookies[OPERATOR_COOKIE]}" if OPERATOR_COOKIE in request.cookies else None)
    caller = await caller_of(services, header)
    return caller if caller is not None and caller.role in OPERATOR_ROLES else None
