"""The HTTP side of the pipeline, one application for its three audiences.

Inputs: the services, a readiness callback and (from `safeguard up`) a consumer-lag provider.
Outputs: an ``aiohttp`` application with the operators' routes (``streams/web/operators.py``), the
health flag lookup (``health.py``), the school inbox (``schools.py``) and the dashboard's static
files. Guarantees: security headers on every response; personal data leaves only through
authenticated, audited endpoints.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from aiohttp import web

from streams.services import Services
from streams.web import health, operators, schools

STATIC = Path(__file__).with_name("static")
SECURITY_HEADERS = {"X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY", "Referrer-Policy": "no-referrer",
                    "Content-Security-Policy": "default-src 'self'; script-src 'self' 'unsafe-inline'; "
                                               "style-src 'self' 'unsafe-inline'; img-src 'self' data:"}


def build_web_app(services: Services, is_ready: Callable[[], tuple[bool, str]],
                  lag: Callable[[], dict[str, int]] | None = None) -> web.Application:
    @web.middleware
    async def security_headers(request: web.Request, handler):  # type: ignore[no-untyped-def]
        response = await handler(request)
        if not isinstance(response, web.StreamResponse) or response.prepared:
            return response
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        return response

    services.setup_sinks()
    app = web.Application(middlewares=[security_headers])
    app.add_routes([*operators.routes(services, is_ready, lag), *health.routes(services), *schools.routes(services)])
    app.router.add_static("/static/", STATIC, show_index=False)
    return app
