"""What stands between the network and the HTTP routes: dashboard sessions, the Host check, the
refusal throttle.

Inputs: requests (their client address, Host header, cookie) and the services. Outputs: ``Sessions``
(a random session id per operator sign-in, never the token, expiring after ``web_session_minutes``;
each use re-checks the token, so revoking it ends the session), ``allowed_host`` (loopback binds answer
only to loopback host names: no DNS rebinding), ``Throttle`` (a client refused ``limit`` times within
``window`` gets 429 until the window passes; operators are alerted once per window and the audit trail
gets one line for the whole flood, not one per request).
Guarantees: in memory, per web process; time from a monotonic clock (not the pipeline's clock, which may
be shifted for rehearsals).
"""

from __future__ import annotations

import secrets
import time
from collections import deque
from dataclasses import dataclass, field

from aiohttp import web

from streams.access.tokens import Caller

LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")


@dataclass
class _Session:
    caller: Caller
    token_sha256: str
    expires: float


class Sessions:
    def __init__(self, lifetime_seconds: float) -> None:
        self.lifetime = lifetime_seconds
        self._open: dict[str, _Session] = {}

    def open(self, caller: Caller, token_sha256: str) -> str:
        self._sweep()
        session_id = secrets.token_urlsafe(32)
        self._open[session_id] = _Session(caller, token_sha256, time.monotonic() + self.lifetime)
        return session_id

    def token_of(self, session_id: str | None) -> str | None:
        """The SHA-256 of the token behind a live session (re-checked by the caller), else None."""
        found = self._open.get(session_id or "")
        if found is None or found.expires <= time.monotonic():
            self._open.pop(session_id or "", None)
            return None
        return found.token_sha256

    def close(self, session_id: str | None) -> None:
        self._open.pop(session_id or "", None)

    def _sweep(self) -> None:
        now = time.monotonic()
        for session_id in [s for s, found in self._open.items() if found.expires <= now]:
            del self._open[session_id]


def allowed_host(host_header: str | None, web_host: str, allowed: list[str]) -> bool:
    """Whether a request's Host names this service: the configured names, or loopback names on a loopback bind."""
    if not host_header:
        return False
    name = host_header.rsplit(":", 1)[0] if not host_header.startswith("[") else host_header[1:].split("]", 1)[0]
    if allowed:
        return name.lower() in {a.lower() for a in allowed}
    return name.lower() in LOOPBACK_HOSTS if web_host in LOOPBACK_HOSTS else True


@dataclass
class _Client:
    refusals: deque[float] = field(default_factory=deque)
    blocked_until: float = 0.0
    throttled: int = 0  # requests answered 429 in the current block


class Throttle:
    def __init__(self, limit: int, window_seconds: float) -> None:
        self.limit, self.window = limit, window_seconds
        self._clients: dict[str, _Client] = {}

    def retry_after(self, client: str) -> float | None:
        """Seconds until ``client`` may try again, or None when it is not blocked (counts the throttled request)."""
        found = self._clients.get(client)
        if found is None or found.blocked_until <= time.monotonic():
            return None
        found.throttled += 1
        return found.blocked_until - time.monotonic()

    def refused(self, client: str) -> bool:
        """Count a 401/403 answer; True when it blocks the client (alert operators then, once)."""
        now = time.monotonic()
        found = self._clients.setdefault(client, _Client())
        while found.refusals and found.refusals[0] <= now - self.window:
            found.refusals.popleft()
        found.refusals.append(now)
        if len(found.refusals) >= self.limit and found.blocked_until <= now:
            found.blocked_until, found.throttled = now + self.window, 0
            found.refusals.clear()
            return True
        return False

    def throttled_since_block(self, client: str) -> int:
        found = self._clients.get(client)
        return found.throttled if found else 0


def same_origin(request: web.Request) -> bool:
    """A browser's state-changing request from this service's own page: its ``Origin`` (or, lacking one, its
    ``Sec-Fetch-Site``) says so. A cross-site form or script cannot act with the operator's session cookie."""
    origin = request.headers.get("Origin")
    if origin is not None:
        return origin == f"{request.scheme}://{request.host}"
    return request.headers.get("Sec-Fetch-Site") == "same-origin"
