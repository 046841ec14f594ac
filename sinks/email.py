"""The e-mail sink: plain-text messages to safeguarding leads over SMTP.

Inputs: ``EmailMessage`` objects already rendered (no personal data in headers), the SMTP server
and credentials (from settings, never from the repo). Outputs: messages handed to the server.
Guarantee: a message is either accepted by the server or ``write`` raises ``SinkBackpressure`` with
the reason, so the caller keeps it pending and retries; ``Message-ID`` is the caller's stable id, so
a resend after a crash can be recognised by mail systems.
"""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Sequence
from email.message import EmailMessage

from sinks.contract import Sink, SinkBackpressure, UnitOfWork

SMTP_TIMEOUT_SECONDS = 15


class SmtpSink(Sink[EmailMessage]):
    name = "email"

    def __init__(self, host: str, port: int = 587, starttls: bool = True, username: str | None = None,
                 password: str | None = None, retry_after_seconds: float = 30.0) -> None:
        self.host, self.port, self.starttls = host, port, starttls
        self.username, self.password = username, password
        self.retry_after_seconds = retry_after_seconds

    def setup(self) -> None:
        """Refuse a configuration that could never send, before the first notice waits on it."""
        if not self.host or not 0 < self.port < 65536:
            raise ValueError(f"SMTP sink: host {self.host!r} and port {self.port} cannot be used")

    def write(self, batch: Sequence[EmailMessage], unit: UnitOfWork) -> int:
        """Send every message over one connection; any failure raises ``SinkBackpressure``."""
        if not batch:
            return 0
        try:
            with smtplib.SMTP(self.host, self.port, timeout=SMTP_TIMEOUT_SECONDS) as client:
                if self.starttls:
                    client.starttls(context=ssl.create_default_context())
                if self.username and self.password:
                    client.login(self.username, self.password)
                for message in batch:
                    client.send_message(message)
        except (OSError, smtplib.SMTPException) as exc:
            raise SinkBackpressure(self.retry_after_seconds, f"{type(exc).__name__}: {str(exc)[:300]}") from exc
        return len(batch)
