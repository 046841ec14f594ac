"""``/metrics``: the operational figures as Prometheus gauges, through ``prometheus_client``.

Inputs: the figures dict (``streams/web/figures.py``). Outputs: the Prometheus text exposition.
Guarantee: counts, identifiers and rule names only; a figure that is not known (a ratio of nothing)
is left out rather than reported as zero.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class FiguresCollector(Collector):
    def __init__(self, figures: dict) -> None:
        self.figures = figures

    def collect(self) -> Iterator[GaugeMetricFamily]:
        f = self.figures
        yield _gauge("safeguard_intake_events", "Events accepted on intake, by state.", ["state"],
                     [(["accepted"], f["intake"]["accepted"]), (["processed"], f["intake"]["processed"])])
        yield _gauge("safeguard_events_per_second", "Events accepted per second over the last minute, by topic.", ["topic"],
                     [([t], v) for t, v in f["rates"]["per_topic"].items()])
        yield _gauge("safeguard_consumer_lag", "Messages not yet committed, by topic and partition (true log end).",
                     ["topic", "partition"], [(list(k.rsplit(":", 1)), v) for k, v in f["lag"].items()])
        yield _gauge("safeguard_deliveries", "Deliveries recorded per sink.", ["sink"],
                     [([s], c) for s, c in f["deliveries"].items()])
        yield _gauge("safeguard_dead_letters", "Inputs parked on dead-letter topics.", [], [([], f["dead_letters"]["total"])])
        yield _gauge("safeguard_register_active_flags", "Children currently flagged on the register.", [],
                     [([], f["register"]["active_flags"])])
        yield _gauge("safeguard_register_flags_with_nhs_number", "Flagged children whose record carries a valid NHS number.",
                     [], [([], f["register"]["with_valid_nhs_number"])])
        yield _gauge("safeguard_encompass_notices", "Operation Encompass notices by status.", ["status"],
                     [([k], v) for k, v in f["encompass"].items()])
        yield _gauge("safeguard_deadlines", "Watched deadlines by rule and status (open, met, breached, resolved).",
                     ["rule", "status"], [([d["rule"], d["status"]], d["count"]) for d in f["deadlines"]])
        yield _gauge("safeguard_identity_review_queue", "Person pairs waiting for an operator's decision.", [],
                     [([], f["identity"]["review_open"])])
        yield _gauge("safeguard_identity_master_persons", "Master persons in the index.", [],
                     [([], f["identity"]["master_persons"])])
        yield _gauge("safeguard_identity_merges", "Person merges (automatic and confirmed), and un-merges.", ["kind"],
                     [(["merge"], f["identity"]["merges"]), (["unmerge"], f["identity"]["unmerges"])])
        feeds = f["feeds"]
        yield _gauge("safeguard_feed_deliveries", "Deliveries per recipient organisation: relayed to its outbound topic, "
                     "waiting, and acknowledged, pending or failed on its webhook (the fifty with most waiting).",
                     ["recipient", "state"],
                     [([r["recipient"], state], r[key]) for r in feeds["recipients"]
                      for state, key in (("relayed", "relayed"), ("waiting", "waiting"), ("webhook_acknowledged", "webhook_acknowledged"),
                                         ("webhook_pending", "webhook_pending"), ("webhook_failed", "webhook_failed"))])
        yield _gauge("safeguard_feed_waiting", "Deliveries not yet relayed to their outbound topics.", [], [([], feeds["waiting"])])
        yield _gauge("safeguard_feed_oldest_unrelayed_seconds", "Age of the oldest delivery not yet relayed (0: none).", [],
                     [([], feeds["oldest_unrelayed_seconds"])])
        yield _gauge("safeguard_ppns_with_voice_of_child_ratio", "Share of PPNs recording the child's voice.", [],
                     [([], f["quality"]["ppns_with_voice_of_child"])])
        yield _gauge("safeguard_persons_with_language_preference_ratio",
                     "Share of persons with a recorded language preference.", [],
                     [([], f["quality"]["persons_with_language_preference"])])


def _gauge(name: str, documentation: str, labels: list[str],
           samples: list[tuple[list[str], float | int | None]]) -> GaugeMetricFamily:
    family = GaugeMetricFamily(name, documentation, labels=labels)
    for values, value in samples:
        if value is not None:
            family.add_metric([str(v) for v in values], value)
    return family


def exposition(figures: dict) -> bytes:
    """The figures in the Prometheus text format."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(FiguresCollector(figures))
    return generate_latest(registry)
