"""Builds the Faust app, and nothing else: the services and the broker address in, one configured
app with its agents out.

Inputs: ``Services`` (built once by ``streams.services.build_services``) and the broker address in
force. Outputs: a ``Pipeline`` holding the ``faust.App`` and the services, with the intake and
router agents and the deadline timer registered explicitly. Guarantee: no autodiscovery, so an
import error in an agent module fails start-up instead of silently dropping the agent.
"""

from __future__ import annotations

from dataclasses import dataclass

import faust

from streams.kafka import broker_quirks, undecodable
from streams.kafka.connection import KafkaConnection
from streams.services import Services
from streams.settings import Settings


@dataclass
class Pipeline:
    app: faust.App
    services: Services


def create_pipeline(services: Services, broker: str) -> Pipeline:
    """A configured app with every agent registered; ``broker`` is ``host:port[,host:port]``."""
    services.setup_sinks()
    undecodable.install()  # a record batch the consumer cannot decode is skipped and parked, never a crash loop
    pipeline = Pipeline(app=create_app(services.settings, broker), services=services)
    from streams.runtime.agents import deadlines, intake, router

    intake.register(pipeline)
    router.register(pipeline)
    deadlines.register(pipeline)
    return pipeline


def create_app(settings: Settings, broker: str) -> faust.App:
    """The Faust app with the pipeline's client settings (broker quirks, acks, offsets) and no agents."""
    connection = KafkaConnection.from_settings(settings, broker)
    return faust.App(
        settings.app_id,
        broker=connection.faust_broker_urls(),
        broker_credentials=connection.faust_credentials(),
        store="memory://",
        autodiscover=False,
        web_enabled=False,
        topic_allow_declare=False,
        topic_disable_leader=True,
        consumer_auto_offset_reset="earliest",
        producer_acks=-1,
        blocking_timeout=settings.blocking_timeout_seconds,
        **broker_quirks.faust_settings(settings),
    )


EXPECTED_AGENTS = ("safeguard.intake", "safeguard.router")
