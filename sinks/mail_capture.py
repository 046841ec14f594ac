"""The embedded default's mail server: captures Operation Encompass e-mails on this machine.

Inputs: a data directory. Outputs: an SMTP server on 127.0.0.1 (aiosmtpd) that accepts every message and
writes it, as received, to ``DATA_DIR/mail/<number>-<id>.eml`` (numbered in arrival order) (the directory 0700, each file 0600); the
list of captured messages and one message's text, for the record-viewer role on the dashboard's API.
Guarantees: used only when no SMTP host is configured (`safeguard up` on the embedded defaults), so a
newcomer sees notices delivered end to end; it never relays anything off this machine.
"""

from __future__ import annotations

import os
import re
import socket
import uuid
from email import message_from_bytes, policy
from pathlib import Path

from aiosmtpd.controller import Controller

from sinks.store import private_directory

MAIL_DIRECTORY = "mail"
READER_HEADERS = ("From", "To", "Subject", "Content-Language", "Date")
CAPTURED_NAME = re.compile(r"^[0-9]{10}-[0-9a-f]{32}\.eml$")


class _Capture:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.number = max((int(p.name[:10]) for p in directory.glob("*.eml") if CAPTURED_NAME.match(p.name)), default=0)

    async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def]  # noqa: N802 - aiosmtpd's hook
        self.number += 1
        name = f"{self.number:010d}-{uuid.uuid4().hex}.eml"
        descriptor = os.open(self.directory / name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(envelope.content)
        return "250 OK (captured on this machine)"


class MailCapture:
    def __init__(self, data_dir: Path) -> None:
        self.directory = data_dir / MAIL_DIRECTORY
        private_directory(self.directory)
        self._controller: Controller | None = None

    def start(self) -> int:
        """Start listening on 127.0.0.1; returns the port."""
        port = free_port()
        self._controller = Controller(_Capture(self.directory), hostname="127.0.0.1", port=port)
        self._controller.start()
        return port

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def captured(data_dir: Path) -> list[dict[str, str]]:
    """The captured messages, newest first: name, recipient and subject (never a body)."""
    directory = data_dir / MAIL_DIRECTORY
    found = []
    for path in sorted(directory.glob("*.eml"), reverse=True) if directory.is_dir() else []:
        message = message_from_bytes(path.read_bytes(), policy=policy.default)
        found.append({"name": path.name, "to": str(message["To"] or ""), "subject": str(message["Subject"] or "")})
    return found


def captured_text(data_dir: Path, name: str) -> str | None:
    """One captured message as its reader sees it (its addressing headers, then the decoded text), or None (a name
    not of the capture's own form is never opened)."""
    path = data_dir / MAIL_DIRECTORY / name
    if not CAPTURED_NAME.match(name) or not path.is_file():
        return None
    message = message_from_bytes(path.read_bytes(), policy=policy.default)
    headers = "".join(f"{header}: {message[header]}\n" for header in READER_HEADERS if message[header])
    body = message.get_body(preferencelist=("plain",))
    return headers + "\n" + (body.get_content() if body is not None else "")
