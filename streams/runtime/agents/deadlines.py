"""Deadline timer: every few seconds, breach due deadlines and raise their alerts, seal new audit
records into the MAC chain (and now and then write a signed checkpoint of it), and send the Operation Encompass e-mails that are due (first attempts
and back-off retries).

Consumes: nothing (a Faust timer on every worker). Produces: alert deliveries for deadlines whose
time has passed, e-mails. Guarantee: each breach alerts once however many workers run the timer: the
breach is claimed by a conditional status update in the same transaction as its alerts.
"""

from __future__ import annotations

from streams.encompass.email import dispatch_emails
from streams.kafka.undecodable import take_undecodable
from streams.pipeline.audit_trail import CheckpointState, seal_and_checkpoint
from streams.pipeline.intake import park_undecodable
from streams.pipeline.timer import fire_deadlines
from streams.runtime.retry import until_done


def register(pipeline) -> None:  # type: ignore[no-untyped-def]
    services = pipeline.services
    checkpoints = CheckpointState()

    @pipeline.app.timer(interval=services.settings.watch_interval_seconds, name="safeguard.deadlines")
    async def deadline_timer() -> None:
        await until_done("deadlines", fire_deadlines, services)
        if skipped := take_undecodable():  # record batches the consumer could not decode: parked, operators told
            await until_done("undecodable batches", park_undecodable, services, skipped)
        await until_done("audit seal", seal_and_checkpoint, services, checkpoints)
        await until_done("encompass e-mail", dispatch_emails, services.engine, services.email, services.settings,
                         services.policy, services.sinks, services.clock.now())
