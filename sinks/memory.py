"""An in-memory delivery sink, for unit tests: what a destination would have received, in a list.

Inputs: planned deliveries. Outputs: ``delivered`` (in write order). Guarantee: the same contract as
the SQL sinks: allow-list checked, and a delivery id written twice is kept once.
"""

from __future__ import annotations

from collections.abc import Sequence

from sinks.contract import GuardedSink, PlannedDelivery, UnitOfWork


class ListSink(GuardedSink):
    def __init__(self, name: str, allowed_keys: frozenset[str] | None = None) -> None:
        super().__init__(name, allowed_keys)
        self.delivered: list[PlannedDelivery] = []
        self._seen: set[str] = set()

    def write(self, batch: Sequence[PlannedDelivery], unit: UnitOfWork) -> int:
        for delivery in batch:
            self.check(delivery)
        new = [d for d in batch if d.delivery_id not in self._seen]
        self._seen.update(d.delivery_id for d in new)
        self.delivered += new
        return len(new)
