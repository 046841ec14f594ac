"""Deliveries leave the building: outbound topics per recipient organisation read by a librdkafka consumer,
exactly once per delivery through kills of the worker and the relay, and signed webhooks to a receiver that
is down for a while."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import random
import signal
import sqlite3
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.clock import example
from tests.integration.conftest import Instance, cli, many_ppns, wait_for

pytestmark = pytest.mark.integration


def read_topic(broker: str, topic: str, expected: int, timeout: float = 60) -> list:
    """Every message on ``topic`` with a librdkafka consumer (confluent-kafka), as a recipient's system would."""
    from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

    consumer = Consumer({"bootstrap.servers": broker, "group.id": f"recipient-{random.random()}",
                         "auto.offset.reset": "earliest", "enable.auto.commit": False})
    messages, deadline = [], time.monotonic() + timeout
    try:
        partitions = wait_for(lambda: consumer.list_topics(topic, timeout=10).topics[topic].partitions, timeout=timeout,
                              what=f"{topic} to exist (created with its organisation's first delivery)")
        consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in partitions])  # no group join: read it all
        while time.monotonic() < deadline and len(messages) < expected:
            message = consumer.poll(0.5)
            if message is not None and message.error() is None:
                messages.append(message)
        quiet = time.monotonic() + 3  # and nothing more arrives (no repeats)
        while time.monotonic() < quiet:
            message = consumer.poll(0.5)
            if message is not None and message.error() is None:
                messages.append(message)
    finally:
        consumer.close()
    return messages


def store(instance: Instance, query: str) -> list:
    with sqlite3.connect(instance.data_dir / "safeguard.db", timeout=30) as connection:
        return connection.execute(query).fetchall()


class TestOutboundTopics:
    def test_a_registration_reaches_the_health_board_and_police_force_topics(self, instance):
        """Within 60 s of publishing, each organisation's topic carries its delivery: the export line, keyed by the
        master person, the delivery id in a header."""
        assert instance.publish([example("cpr.registered")]).returncode == 0
        broker = instance.runtime["broker"]
        for topic, rule in (("safeguarding.out.health.7A7", "cpr.health.flag"), ("safeguarding.out.police.DPP", "cpr.police.marker")):
            [message] = read_topic(broker, topic, 1)
            line = json.loads(message.value())
            assert line["rule"] == rule and message.key().decode() == line["master_person_id"]
            assert dict(message.headers())["safeguard-delivery-id"].decode() == line["delivery_id"]
            exported = {row["delivery_id"]: row for sink in ("health", "police")
                        for row in json.loads(f"[{','.join(cli('export', sink, data_dir=instance.data_dir).stdout.splitlines())}]")}
            assert exported[line["delivery_id"]] == line  # exactly the `safeguard export` line
        listed = cli("topics", data_dir=instance.data_dir).stdout
        assert "safeguarding.out.police.DPP: 6 partitions, 1 messages" in listed  # provisioned like every topic

    def test_feed_replay_republishes_an_organisations_deliveries_with_the_same_ids(self, instance):
        assert instance.publish([example("cpr.registered")]).returncode == 0
        broker = instance.runtime["broker"]
        [first] = read_topic(broker, "safeguarding.out.police.DPP", 1)
        result = cli("feed", "replay", "--recipient", "DPP", data_dir=instance.data_dir)
        assert result.returncode == 0, result.stderr
        messages = read_topic(broker, "safeguarding.out.police.DPP", 2)
        assert [dict(m.headers())["safeguard-delivery-id"] for m in messages] == [dict(first.headers())["safeguard-delivery-id"]] * 2


def test_kills_of_the_worker_and_the_relay_leave_every_delivery_on_its_topic_once(tmp_path):
    """PPNs flow while the worker and the relay are each killed (kill -9) several times: in the end every
    delivery id in the store is on its organisation's topic exactly once."""
    running = Instance(tmp_path / "var").start()
    rng = random.Random(7)
    try:
        events = many_ppns(120)
        publisher = threading.Thread(target=lambda: [running.publish(events[i:i + 10], name=f"b{i}.jsonl")
                                                     for i in range(0, len(events), 10)])
        publisher.start()
        for _ in range(4):
            time.sleep(rng.uniform(1.0, 3.0))
            runtime = running.runtime
            victim = runtime["relay_pid"] if rng.random() < 0.6 else runtime["worker_pids"][0]
            try:
                os.kill(victim, signal.SIGKILL)
            except OSError:
                pass
            wait_for(lambda victim=victim: victim not in (running.runtime.get("relay_pid"), *running.runtime["worker_pids"]),
                     timeout=30, what="the killed process restarted")
        publisher.join()
        wait_for(lambda: store(running, "select count(*) from intake_event where status = 'processed'")[0][0] == len(events),
                 timeout=180, what="every event routed")
        wait_for(lambda: store(running, "select count(*) from delivery where relayed_at is null")[0][0] == 0,
                 timeout=120, what="every delivery relayed")
        expected = Counter(f"safeguarding.out.{sink}.{recipient}" for sink, recipient in
                           store(running, "select sink, recipient from delivery"))
        ids = {row[0] for row in store(running, "select delivery_id from delivery")}
        seen = Counter()
        for topic, count in expected.items():
            for message in read_topic(running.runtime["broker"], topic, count, timeout=90):
                seen[dict(message.headers())["safeguard-delivery-id"].decode()] += 1
        assert set(seen) == ids, f"missing {len(ids - set(seen))}"
        assert [d for d, n in seen.items() if n > 1] == []
    finally:
        running.stop()


class Receiver(BaseHTTPRequestHandler):
    """A recipient system's webhook endpoint that is down (503) for its first ``down_for`` requests, then checks
    every signature."""

    secret = b""
    down_for = 0
    received: dict[str, int] = {}
    bad_signatures = 0

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if Receiver.down_for > 0:
            Receiver.down_for -= 1
            self.send_response(503)
            self.end_headers()
            return
        stamp, signature = self.headers["X-Safeguard-Timestamp"], self.headers["X-Safeguard-Signature"]
        expected = "sha256=" + hmac.new(Receiver.secret, stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, signature):
            Receiver.bad_signatures += 1
            self.send_response(401)
            self.end_headers()
            return
        delivery_id = json.loads(body)["delivery_id"]
        assert delivery_id == self.headers["X-Safeguard-Delivery-Id"]
        Receiver.received[delivery_id] = Receiver.received.get(delivery_id, 0) + 1
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


def test_a_webhook_receiver_that_is_down_for_a_while_gets_every_delivery_signed(tmp_path):
    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    Receiver.secret, Receiver.down_for, Receiver.received = b"secret-of-dyfed-powys", 4, {}
    threading.Thread(target=server.serve_forever, daemon=True).start()
    hooks = json.dumps([{"organisation_code": "DPP", "url": f"http://127.0.0.1:{server.server_port}/hook",
                         "secret": "secret-of-dyfed-powys"}])
    running = Instance(tmp_path / "var", extra_env={"SAFEGUARD_WEBHOOKS": hooks, "SAFEGUARD_WEBHOOK_RETRY_FIRST_SECONDS": "1"}).start()
    try:
        assert running.publish([example("cpr.registered"), example("cpr.amended")]).returncode == 0
        wait_for(lambda: store(running, "select count(*) from delivery where recipient = 'DPP'")[0][0] >= 2,
                 what="the police deliveries")
        owed = {row[0] for row in store(running, "select delivery_id from delivery where recipient = 'DPP'")}
        wait_for(lambda: set(Receiver.received) == owed, timeout=90, what="every delivery acknowledged by the receiver")
        assert Receiver.bad_signatures == 0
        acknowledged = store(running, "select count(*) from webhook_delivery where status = 'acknowledged'")[0][0]
        assert acknowledged == len(owed)
        assert store(running, "select max(attempts) from webhook_delivery")[0][0] > 1  # it was down at first
    finally:
        running.stop()
        server.shutdown()
