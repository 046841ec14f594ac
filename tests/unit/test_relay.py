"""The outbox relay on an in-memory broker: every delivery on its organisation's topic exactly once, whatever
moment the relay dies at; and the signed webhooks with their retries."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from datetime import timedelta

import pytest
from sqlmodel import Session, select

from schemas.examples import example
from sinks.models import DeadLetterRecord, DeliveryRecord, WebhookDelivery
from streams.kafka.outbound import OutboundMessage
from streams.pipeline.relay import relay_once
from streams.pipeline.webhooks import dispatch_webhooks, sign
from streams.settings import WebhookTarget
from tests.unit.helpers import deliveries, run, with_settings


class Killed(Exception):
    """The relay process dying at this point."""


class MemoryOutbound:
    """Topics as lists of (key, value, delivery id) per partition; ``die`` makes the next publish stop part-way."""

    def __init__(self, partitions: int = 3) -> None:
        self.partitions = partitions
        self.topics: dict[str, dict[int, list[OutboundMessage]]] = {}
        self.die: tuple[str, int] | None = None  # ("before"|"after", messages published first)

    def ensure_topics(self, names: set[str]) -> None:
        for name in names:
            self.topics.setdefault(name, defaultdict(list))

    def publish(self, messages: list[OutboundMessage]) -> dict[tuple[str, int], int]:
        die, self.die = self.die, None
        ends = {}
        for index, message in enumerate(messages):
            if die and die[0] == "before" and index == die[1]:
                raise Killed
            partition = hash(message.key) % self.partitions
            self.topics[message.topic][partition].append(message)
            ends[(message.topic, partition)] = len(self.topics[message.topic][partition])
        if die and die[0] == "after":
            raise Killed  # acknowledged by the broker, not yet marked in the store
        return ends

    def delivery_ids_since(self, topic: str, offsets: dict[int, int]) -> tuple[set[str], dict[int, int]]:
        partitions = self.topics.get(topic, {})
        found = {m.delivery_id for p, log in partitions.items() for m in log[offsets.get(p, 0):]}
        return found, {p: len(log) for p, log in partitions.items()}

    def counts(self) -> Counter:
        return Counter(m.delivery_id for topic in self.topics.values() for log in topic.values() for m in log)


def everything(services) -> list[DeliveryRecord]:
    return deliveries(services.engine)


class TestRelay:
    def test_each_delivery_reaches_its_organisations_topic_once_keyed_by_the_master_person(self, services):
        run(services, [example("cpr.registered"), example("ppn.submitted")])
        outbound = MemoryOutbound()
        assert relay_once(services, outbound).published == len(everything(services))
        assert relay_once(services, outbound).published == 0  # nothing twice
        health = outbound.topics["safeguarding.out.health.7A7"]
        [line] = [json.loads(m.value) for log in health.values() for m in log if json.loads(m.value)["rule"] == "cpr.health.flag"]
        assert line["recipient"] == "7A7" and line["content"]["register_action"]
        assert set(line) >= {"delivery_id", "sink", "recipient", "rule", "policy_version", "source_event_id",
                             "source_event_type", "master_person_id", "delivered_at", "content"}
        keys = {m.key for log in health.values() for m in log}
        assert keys == {line["master_person_id"].encode()}
        assert "safeguarding.out.police.DPP" in outbound.topics
        assert all(row.relayed_at is not None for row in everything(services))

    @pytest.mark.parametrize("die", [("before", 0), ("before", 2), ("after", 0)])
    def test_a_relay_killed_at_any_moment_neither_loses_nor_repeats(self, services, die):
        """Killed before publishing, part-way through, or after the broker acknowledged but before the store was
        marked: the next relay reads back what is on the topics and publishes only the rest."""
        run(services, [example("cpr.registered"), example("ppn.submitted"), example("domestic_abuse.reported")])
        outbound = MemoryOutbound()
        outbound.die = die
        with pytest.raises(Killed):
            relay_once(services, outbound)
        result = relay_once(services, outbound)
        counts = outbound.counts()
        assert set(counts) == {row.delivery_id for row in everything(services)}
        assert set(counts.values()) == {1}
        assert result.recovered == (len(counts) if die[0] == "after" else die[1])

    def test_new_deliveries_after_a_crash_are_published_with_the_recovered(self, services):
        run(services, [example("cpr.registered")])
        outbound = MemoryOutbound()
        outbound.die = ("after", 0)
        with pytest.raises(Killed):
            relay_once(services, outbound)
        run(services, [example("ppn.submitted")])
        relay_once(services, outbound)
        assert set(outbound.counts().values()) == {1} and len(outbound.counts()) == len(everything(services))


class TestWebhooks:
    @pytest.fixture
    def hooked(self, services, settings):
        target = WebhookTarget(organisation_code="7A7", url="https://health-board.example/hook", secret="s3cret-of-7A7-board")
        hooked = with_settings(services, settings.model_copy(update={"webhooks": [target], "webhook_attempts": 3}))
        run(hooked, [example("cpr.registered")])
        relay_once(hooked, MemoryOutbound())
        return hooked

    def test_a_delivery_is_posted_signed_and_acknowledged(self, hooked):
        received = []

        def receiver(url, body, headers):
            stamp = headers["X-Safeguard-Timestamp"]
            assert headers["X-Safeguard-Signature"] == sign("s3cret-of-7A7-board", stamp, body)  # what the receiver checks
            received.append(json.loads(body))
            return 200

        assert dispatch_webhooks(hooked, receiver) == 1
        assert received[0]["recipient"] == "7A7" and received[0]["rule"] == "cpr.health.flag"
        assert dispatch_webhooks(hooked, receiver) == 0  # acknowledged: not sent again
        with Session(hooked.engine) as session:
            [owed] = session.exec(select(WebhookDelivery)).all()
        assert owed.status == "acknowledged" and owed.acknowledged_at is not None

    def test_a_receiver_that_is_down_gets_it_after_back_off_and_after_the_budget_it_is_parked(self, hooked):
        def down(url, body, headers):
            raise ConnectionRefusedError

        assert dispatch_webhooks(hooked, down) == 0
        assert dispatch_webhooks(hooked, down) == 0  # not due yet: backing off
        hooked.clock.at += timedelta(seconds=5)
        assert dispatch_webhooks(hooked, lambda url, body, headers: 503) == 0
        hooked.clock.at += timedelta(seconds=10)
        assert dispatch_webhooks(hooked, lambda url, body, headers: 200) == 1  # recovered: delivered
        with Session(hooked.engine) as session:
            assert session.exec(select(WebhookDelivery)).one().attempts == 3

    def test_after_the_retry_budget_the_delivery_is_parked_and_operators_alerted(self, hooked):
        for _ in range(3):
            dispatch_webhooks(hooked, lambda url, body, headers: 500)
            hooked.clock.at += timedelta(minutes=5)
        with Session(hooked.engine) as session:
            assert session.exec(select(WebhookDelivery)).one().status == "failed"
            [letter] = session.exec(select(DeadLetterRecord)).all()
        assert letter.topic == "webhook:7A7" and "failed 3 times" in letter.reason
        assert any("webhook:7A7" in d.content_json for d in deliveries(hooked.engine, "alerts"))


def test_the_dashboard_and_metrics_show_each_recipients_feed(services):
    """Per recipient: relayed, waiting and webhook states, and the age of the oldest delivery waiting."""
    from datetime import timedelta

    from streams.web import figures, metrics

    run(services, [example("cpr.registered")])
    services.clock.at += timedelta(seconds=90)  # the relay is late by a minute and a half

    def feeds() -> dict:
        return figures.collect(services.engine, services.clock.now(), services.policy.reconciliation_report_rules)["feeds"]

    before = feeds()
    assert before["waiting"] == len(everything(services)) and before["oldest_unrelayed_seconds"] == 90.0
    relay_once(services, MemoryOutbound())
    after = feeds()
    police = next(r for r in after["recipients"] if r["recipient"] == "DPP")
    assert after["waiting"] == 0 and after["oldest_unrelayed_seconds"] == 0.0 and police["relayed"] == 1
    text = metrics.exposition(figures.collect(services.engine, services.clock.now(), ())).decode()
    assert 'safeguard_feed_deliveries{recipient="DPP",state="relayed"} 1.0' in text and "safeguard_feed_waiting 0.0" in text


def test_a_webhook_must_be_https_and_its_secret_long_enough():
    """Plain http only to this machine; a short secret is refused naming the field."""
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="url"):
        WebhookTarget(organisation_code="DPP", url="http://rms.example/hook", secret="a-long-enough-secret")
    with pytest.raises(ValidationError, match="secret"):
        WebhookTarget(organisation_code="DPP", url="https://rms.example/hook", secret="short")
