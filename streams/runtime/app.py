"""Builds the Faust app, and nothing else: one settings object in, one configured app out.

Inputs: ``Settings`` and the broker address in force. Outputs: a ``Pipeline`` holding the
``faust.App``, the topology, the store engine, the policy and the sinks, with the intake and
router agents and the deadline timer registered explicitly. Guarantee: no autodiscovery, so an import error in an
agent module fails start-up instead of silently dropping the agent.
"""

from __future__ import annotations

from dataclasses import dataclass

import faust
from sqlalchemy import Engine

from sinks.destinations import Sink, build_sinks
from sinks.store import make_engine
from streams.kafka import broker_quirks
from streams.kafka.connection import KafkaConnection
from streams.identity.index import IdentityIndex
from streams.sharing.policy import Policy
from streams.settings import Settings
from streams.kafka.topics import Topology
from streams.deadlines.school_calendar import Calendars
from streams.deadlines.watch import Watch, WatchRules


@dataclass
class Pipeline:
    app: faust.App
    settings: Settings
    topology: Topology
    engine: Engine
    policy: Policy
    sinks: dict[str, Sink]
    watch: Watch
    calendars: Calendars
    identity: IdentityIndex


def create_pipeline(settings: Settings, broker: str) -> Pipeline:
    """A configured app with every agent registered; ``broker`` is ``host:port[,host:port]``."""
    app = create_app(settings, broker)
    policy = Policy.load(settings.policy_file)
    pipeline = Pipeline(app=app, settings=settings, topology=Topology.from_settings(settings),
                        engine=make_engine(settings.database), policy=policy, sinks=build_sinks(policy),
                        watch=Watch(WatchRules.load(settings.watch_rules_file), policy),
                        calendars=Calendars(settings.school_calendars_file), identity=IdentityIndex(policy, settings.identity_match_threshold))
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
