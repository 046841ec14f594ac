"""A pipeline worker process: the Faust app with the intake and router agents.

Inputs: settings from the environment (``SAFEGUARD_BROKER_URL`` must name the broker).
Outputs: a running Faust worker in the app's consumer group. Guarantee: at-least-once
processing with idempotent writes; several workers share the partitions of every topic.
"""

from __future__ import annotations

import sys

import faust

from streams.kafka import broker_quirks
from streams.runtime import logs
from streams.runtime.app import create_pipeline
from streams.services import build_services
from streams.settings import Settings


def broker_address(url: str) -> str:
    """``kafka://h1:p1,h2:p2`` -> ``h1:p1,h2:p2``."""
    return url.removeprefix("kafka://")


def main() -> None:
    settings = Settings()
    if not settings.broker_url:
        sys.exit("SAFEGUARD_BROKER_URL is not set: workers are started by `safeguard up` or pointed at a broker")
    logs.configure(settings, process="worker")
    broker_quirks.shorten_fetch_wait(settings.consumer_fetch_max_wait_ms)
    pipeline = create_pipeline(build_services(settings), broker_address(settings.broker_url))
    make_worker(pipeline.app, settings).execute_from_commandline()


def make_worker(app: faust.App, settings: Settings) -> faust.Worker:
    """A Faust worker logging at the configured level, without Faust's terminal spinner.

    The spinner's log handler sets the root logger to DEBUG, so every debug line of aiokafka (several per
    produced and fetched batch) would become a log record only to be dropped: a tenth of a busy worker's CPU.
    """
    worker = faust.Worker(app, loglevel=settings.log_level.upper(), quiet=True, redirect_stdouts=False)
    worker.spinner = None
    return worker


if __name__ == "__main__":
    main()
