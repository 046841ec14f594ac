"""The audit trail's unit of work: seal what was written, and now and then write a signed checkpoint.

Inputs: the services (store, audit key, checkpoint file, clock). Outputs: records sealed into the MAC
chain; a checkpoint line (sequence, head MAC, time, signature) appended to the checkpoint file when the
head has moved and ``audit_checkpoint_seconds`` have passed since this process's last one.
Guarantees: appends only (one ``write`` of one short line to a file opened for appending, so several
workers may share the file); a checkpoint never names a head that is not committed.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import structlog

from sinks.audit_chain import Checkpoint, checkpoint, seal
from streams.services import Services

log = structlog.get_logger("safeguard.audit")


@dataclass
class CheckpointState:
    """One process's last checkpoint (its time on the clock, and the sequence it named)."""

    at: float = float("-inf")
    sequence: int = 0


def seal_and_checkpoint(services: Services, state: CheckpointState) -> int:
    sealed = seal(services.engine, services.audit_key)
    now = services.clock.now()
    if now.timestamp() - state.at >= services.settings.audit_checkpoint_seconds:
        mark = checkpoint(services.engine, services.audit_key, now)
        if mark is not None and mark.sequence > state.sequence:
            append_checkpoint(services, mark)
            state.sequence = mark.sequence
        state.at = now.timestamp()
    return sealed


def append_checkpoint(services: Services, mark: Checkpoint) -> None:
    path = services.settings.checkpoint_file
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        os.write(descriptor, (mark.line() + "\n").encode())
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
    log.info("audit.checkpoint", sequence=mark.sequence, file=str(path))


def read_checkpoint_lines(services: Services) -> list[str]:
    path = services.settings.checkpoint_file
    return path.read_text().splitlines() if path.exists() else []
