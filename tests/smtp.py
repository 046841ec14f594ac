"""A real SMTP server for the tests (aiosmtpd on loopback) that can be told to refuse for a while."""

from __future__ import annotations

from email import message_from_bytes
from email.message import Message

from aiosmtpd.controller import Controller

from streams.kafka.embedded_broker import free_port


class RecordingHandler:
    def __init__(self) -> None:
        self.messages: list[Message] = []
        self.refuse = 0  # refuse this many more messages with a temporary failure
        self.refuse_to: set[str] = set()  # refuse, for good, every message to these addresses

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
        if self.refuse_to & set(envelope.rcpt_tos):
            return "550 5.1.1 mailbox unavailable"
        if self.refuse > 0:
            self.refuse -= 1
            return "451 4.3.0 try again later"
        self.messages.append(message_from_bytes(envelope.content))
        return "250 OK"


class SmtpServer:
    def __init__(self) -> None:
        self.handler = RecordingHandler()
        self.port = free_port()
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port)

    def __enter__(self) -> SmtpServer:
        self.controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.controller.stop()
