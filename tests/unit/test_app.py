"""The Faust app: the agents that must exist, and the agents driven through test_context."""

import json

import pytest
from sqlmodel import Session, select

from schemas.examples import example
from sinks.models import DeliveryRecord, IntakeEvent
from streams.runtime.app import EXPECTED_AGENTS, create_pipeline
from streams.services import build_services
from streams.settings import Settings


@pytest.fixture
def pipeline(tmp_path, clock):
    settings = Settings(_env_file=None, data_dir=tmp_path, database_url=f"sqlite:///{tmp_path / 'test.db'}")
    # The broker is never contacted: test_context runs without one.
    pipeline = create_pipeline(build_services(settings, clock=clock), "127.0.0.1:9")
    pipeline.app.finalize()
    pipeline.app.conf.store = "memory://"
    return pipeline


class TestAgents:
    def test_expected_agents_are_registered(self, pipeline):
        """Both stages are registered explicitly (no autodiscovery can drop one silently)."""
        assert sorted(pipeline.app.agents) == sorted(EXPECTED_AGENTS)

    async def test_router_agent_routes_an_accepted_event(self, pipeline):
        """An event intake accepted, put on the router agent's stream, is routed into the sinks."""
        from streams.kafka.codec import Origin
        from streams.pipeline.intake import intake

        agent = pipeline.app.agents["safeguard.router"]
        raw = json.dumps(example("ppn.submitted")).encode()
        services = pipeline.services
        [(_key, accepted)] = intake(services, [(raw, Origin("safeguarding.ppn", 0, 0,
                                                             headers=tuple(services.producer_keys.sign_as_claimed(raw))))]).forward
        async with agent.test_context() as context:
            await context.put(accepted, key=b"k")
            await _until(lambda: _count(pipeline, DeliveryRecord) == 2)
        assert _count(pipeline, DeliveryRecord) == 2

    async def test_intake_agent_records_and_forwards_the_event(self, pipeline, monkeypatch):
        """An event on an inbound topic is recorded in the intake table and forwarded to the accepted topic."""
        import asyncio

        import faust
        from faust.agents.agent import AgentTestWrapper

        sent = []

        async def fake_send(self, *, key=None, value=None, **_):
            sent.append((self.get_topic_name(), key, value))
            future = asyncio.get_running_loop().create_future()
            future.set_result(None)
            return future

        # The intake agent reads several topics; test_context needs to be told which one this message came from.
        monkeypatch.setattr(AgentTestWrapper, "_get_strtopic", lambda self, channel: "safeguarding.missing")
        monkeypatch.setattr(faust.topics.Topic, "send", fake_send)
        event = example("missing.reported")
        raw = json.dumps(event).encode()
        agent = pipeline.app.agents["safeguard.intake"]
        async with agent.test_context() as context:  # the producer's credentials travel as Kafka headers
            await context.put(raw, key=b"k", headers=pipeline.services.producer_keys.sign_as_claimed(raw))
            await _until(lambda: _count(pipeline, IntakeEvent) == 1 and sent)
        [(topic, key, value)] = sent
        assert topic == "safeguarding.accepted" and key.startswith(b"nhs:")
        assert json.loads(value)["event_id"] == event["event_id"]


def _count(pipeline, model) -> int:
    with Session(pipeline.services.engine) as session:
        return len(session.exec(select(model)).all())


async def _until(condition, timeout: float = 10.0) -> None:
    import asyncio

    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.05)
