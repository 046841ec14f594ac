"""The relay process: the outbox relay and the webhook dispatcher, in a loop.

Inputs: settings from the environment (``SAFEGUARD_BROKER_URL`` names the broker). Outputs: deliveries
published to their outbound topics (``streams/pipeline/relay.py``) and POSTed to webhooks
(``streams/pipeline/webhooks.py``) every ``relay_interval_seconds``. Guarantee: a failing round is logged
and retried with back-off, never skipped; killed at any moment, a restarted relay neither loses nor
repeats a delivery on its topic. `safeguard up` runs one and restarts it if it dies.
"""

from __future__ import annotations

import signal
import sys
import threading
import time

import structlog

from streams.kafka.connection import KafkaConnection
from streams.kafka.outbound import KafkaOutbound
from streams.pipeline.relay import relay_once
from streams.pipeline.webhooks import dispatch_webhooks
from streams.runtime import logs
from streams.runtime.worker import broker_address
from streams.services import build_services
from streams.settings import Settings

log = structlog.get_logger("safeguard.relay")
MAX_BACKOFF_SECONDS = 5.0


def main() -> None:
    settings = Settings()
    if not settings.broker_url:
        sys.exit("SAFEGUARD_BROKER_URL is not set: the relay is started by `safeguard up` or pointed at a broker")
    logs.configure(settings, process="relay")
    services = build_services(settings)
    outbound = KafkaOutbound(KafkaConnection.from_settings(settings, broker_address(settings.broker_url)),
                             settings.partitions, settings.replication_factor)
    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
    threading.Thread(target=_webhooks, args=(services, stopping), name="webhooks", daemon=True).start()
    backoff = 0.0
    while not stopping:
        try:
            published = relay_once(services, outbound).published
            backoff = 0.0
        except Exception as exc:  # noqa: BLE001 - a broker or store outage: retried, never skipped
            backoff = min(max(backoff * 2, 0.2), MAX_BACKOFF_SECONDS)
            log.error("relay.failed", error=type(exc).__name__, detail=str(exc)[:300], retry_in_seconds=backoff)
            outbound.close()
            published = 0
        if not published:
            time.sleep(backoff or settings.relay_interval_seconds)
    outbound.close()


def _webhooks(services, stopping: list) -> None:  # type: ignore[no-untyped-def]
    """Webhook rounds in their own thread: a slow receiver never holds up the outbound topics."""
    while not stopping:
        try:
            dispatch_webhooks(services)
        except Exception as exc:  # noqa: BLE001 - logged and retried next round
            log.error("webhooks.failed", error=type(exc).__name__, detail=str(exc)[:300])
        time.sleep(services.settings.relay_interval_seconds)


if __name__ == "__main__":
    main()
