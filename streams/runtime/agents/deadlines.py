"""Deadline timer: every few seconds, breach due deadlines and raise their alerts, and send the
Operation Encompass e-mails that are due (first attempts and back-off retries), and seal new
audit records into the hash chain.

Consumes: nothing (a Faust timer on every worker). Produces: alert deliveries for deadlines
whose time has passed. Guarantee: each breach alerts once however many workers run the timer:
the breach is claimed by a conditional status update in the same transaction as its alerts.
"""

from __future__ import annotations

from datetime import datetime, timezone

from sinks.audit_chain import seal
from streams.encompass.notices import dispatch_emails
from streams.pipeline.units import fire_deadlines
from streams.runtime.retry import until_done


def register(pipeline) -> None:  # type: ignore[no-untyped-def]
    @pipeline.app.timer(interval=pipeline.settings.watch_interval_seconds, name="safeguard.deadlines")
    async def deadline_timer() -> None:
        now = datetime.now(timezone.utc)
        await until_done("deadlines", fire_deadlines, pipeline.engine, pipeline.sinks, pipeline.watch, now)
        await until_done("audit seal", seal, pipeline.engine)
        await until_done("encompass e-mail", dispatch_emails, pipeline.engine, pipeline.settings, pipeline.policy,
                         pipeline.sinks, now)
