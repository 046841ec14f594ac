"""structlog configuration, done once at each entry point.

Inputs: settings (level, JSON or console). Outputs: configured structlog and stdlib logging.
Guarantee: JSON lines when stderr is not a terminal; callers log identifiers (event ids,
types, offsets, rule ids), never a child's personal data.
"""

from __future__ import annotations

import logging
import sys

import structlog

from streams.settings import Settings


def configure(settings: Settings, *, process: str) -> None:
    json_logs = settings.log_json if settings.log_json is not None else not sys.stderr.isatty()
    level = logging.getLevelName(settings.log_level.upper())
    renderer = structlog.processors.JSONRenderer() if json_logs else structlog.dev.ConsoleRenderer(colors=False)
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.dict_tracebacks if json_logs else structlog.dev.set_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(level if isinstance(level, int) else logging.INFO),
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
        cache_logger_on_first_use=True,
    )
    structlog.contextvars.bind_contextvars(process=process)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    # kafka-python logs a cancelled metadata refresh as an ERROR whenever a short-lived admin or
    # probe client closes; real failures reach us as exceptions, so only its criticals are shown.
    logging.getLogger("kafka").setLevel(logging.CRITICAL)
