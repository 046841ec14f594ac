"""Signed webhooks: deliveries POSTed to the systems of organisations without Kafka.

Inputs: the services (``SAFEGUARD_WEBHOOKS``: organisation, URL, secret), the queue the relay fills
(``webhook_delivery``) and an HTTP poster. Outputs: one POST per delivery of its `safeguard export` line
(JSON) with headers ``X-Safeguard-Delivery-Id``, ``X-Safeguard-Timestamp`` and ``X-Safeguard-Signature:
sha256=HEX`` (HMAC-SHA256 with the organisation's secret of ``TIMESTAMP.BODY``); a 2xx answer is recorded
as the organisation's acknowledgement; anything else is retried with exponential back-off (from
``webhook_retry_first_seconds``, at most an hour apart); after ``webhook_attempts`` the delivery is parked as
a dead letter and operators are alerted. Guarantees: at-least-once to the receiver (a receiver that
answers late may get a delivery twice: it drops repeats by delivery id); a receiver that fails is not tried
again in the same round (its timeouts never hold up another organisation's webhooks for long), and the relay
runs webhooks in their own thread, so no receiver holds up the outbound topics; the secret is never logged.
"""

from __future__ import annotations

import hashlib
import hmac
import urllib.error
import urllib.request
from collections.abc import Callable
from datetime import datetime, timedelta

import structlog
from sqlmodel import Session, select

from sinks.lines import delivery_bytes
from sinks.models import DeliveryRecord, WebhookDelivery
from streams.kafka.codec import DeadLetter, Origin
from streams.pipeline.intake import park
from streams.services import Services

log = structlog.get_logger("safeguard.webhooks")
MAX_BACKOFF = timedelta(hours=1)
DUE_PER_RUN = 50
TIMEOUT_SECONDS = 10

Poster = Callable[[str, bytes, dict[str, str]], int]  # (url, body, headers) -> HTTP status; raises OSError when unreachable


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The signature header's value: what a receiver recomputes with its secret to trust a delivery."""
    return "sha256=" + hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def post(url: str, body: bytes, headers: dict[str, str]) -> int:
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:  # noqa: S310 - configured https/http URL
            return response.status
    except urllib.error.HTTPError as refused:
        return refused.code


def dispatch_webhooks(services: Services, poster: Poster = post) -> int:
    """POST every due webhook delivery once; returns how many were acknowledged."""
    now = services.clock.now()
    targets = {hook.organisation_code: hook for hook in services.settings.webhooks}
    if not targets:
        return 0
    with Session(services.engine) as session:
        due = session.exec(select(WebhookDelivery).where(WebhookDelivery.status == "pending",
                                                         WebhookDelivery.next_attempt_at <= now)
                           .order_by(WebhookDelivery.next_attempt_at).limit(DUE_PER_RUN)).all()  # type: ignore[arg-type]
        deliveries = {row.delivery_id: row for row in session.exec(select(DeliveryRecord).where(
            DeliveryRecord.delivery_id.in_([d.delivery_id for d in due])))} if due else {}  # type: ignore[attr-defined]
    acknowledged, unreachable = 0, set()
    for owed in due:
        target, delivery = targets.get(owed.organisation_code), deliveries.get(owed.delivery_id)
        if target is None or delivery is None:
            continue  # webhook removed from settings since: stays queued until it returns
        if owed.organisation_code in unreachable:
            continue  # it just failed: its other deliveries wait for their back-off, not for its timeouts
        body, stamp = delivery_bytes(delivery), str(int(now.timestamp()))
        headers = {"Content-Type": "application/json", "X-Safeguard-Delivery-Id": owed.delivery_id,
                   "X-Safeguard-Timestamp": stamp, "X-Safeguard-Signature": sign(target.secret.get_secret_value(), stamp, body)}
        try:
            status, error = poster(target.url, body, headers), None
        except OSError as exc:
            status, error = 0, f"unreachable: {type(exc).__name__}"
        done = _record(services, owed.delivery_id, status, error, body, now)
        if not done:
            unreachable.add(owed.organisation_code)
        acknowledged += done
    return acknowledged


def _record(services: Services, delivery_id: str, status: int, error: str | None, body: bytes, now: datetime) -> int:
    settings = services.settings
    with Session(services.engine) as session:
        owed = session.get(WebhookDelivery, delivery_id)
        if owed is None or owed.status != "pending":
            return 0
        owed.attempts += 1
        if 200 <= status < 300:
            owed.status, owed.acknowledged_at, owed.last_error = "acknowledged", now, None
            session.add(owed)
            session.commit()
            return 1
        owed.last_error = (error or f"HTTP {status}")[:300]
        if owed.attempts >= settings.webhook_attempts:
            owed.status = "failed"
            park(services, session, [DeadLetter(body, Origin(f"webhook:{owed.organisation_code}"),
                                                f"webhook to {owed.organisation_code} failed {owed.attempts} times "
                                                f"(last: {owed.last_error}); delivery {delivery_id} parked",
                                                field_path="(webhook)")], now, actor="safeguard.webhooks")
            log.error("webhook.failed", delivery_id=delivery_id, organisation=owed.organisation_code, attempts=owed.attempts)
        else:
            delay = timedelta(seconds=settings.webhook_retry_first_seconds * 2 ** (owed.attempts - 1))
            owed.next_attempt_at = now + min(delay, MAX_BACKOFF)
        session.add(owed)
        session.commit()
    services.flush_sinks(["alerts"])
    return 0
