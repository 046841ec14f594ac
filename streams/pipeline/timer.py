"""The timer's unit of work: deadlines that have passed are breached and their alerts written.

Inputs: the services and the clock's now. Outputs: alert deliveries (written with audit lines);
the number written. Guarantee: each breach alerts once however many workers run the timer: the
breach is claimed by a conditional status update in the same transaction as its alerts, and alert
ids derive from the deadline. At most ``BREACH_BATCH`` deadlines per transaction, so a large backlog
of overdue deadlines never holds the store's write lock for long.
"""

from __future__ import annotations

from collections import defaultdict

import structlog
from sqlmodel import Session

from sinks.contract import PlannedDelivery, UnitOfWork
from streams.services import Services

log = structlog.get_logger("safeguard.watch")
BREACH_BATCH = 200


def fire_deadlines(services: Services) -> int:
    """Breach every deadline due by now, in transactions of at most ``BREACH_BATCH``; returns alerts written."""
    written = 0
    while True:
        now = services.clock.now()
        with Session(services.engine) as session:
            alerts, more = services.watch.fire_due(session, now, limit=BREACH_BATCH)
            by_sink: dict[str, list[PlannedDelivery]] = defaultdict(list)
            for alert in alerts:
                by_sink[alert.sink].append(alert)
            unit = UnitOfWork(session, "safeguard.watch", now)
            written += sum(services.sinks[name].write(batch, unit) for name, batch in by_sink.items())
            session.commit()
        services.flush_sinks(by_sink)
        for alert in alerts:
            log.warning("deadline.breached", delivery_id=alert.delivery_id, rule=alert.content.get("watch_rule"),
                        recipient=alert.recipient)
        if not more:
            return written
