"""End to end on the real embedded broker, driven only through the command-line contract."""

from __future__ import annotations

import json
import signal
from collections import Counter
from datetime import timedelta

import pytest
from kafka import KafkaProducer

from schemas import examples
from tests.clock import example
from tests.integration.conftest import cli, export, many_ppns, wait_for

pytestmark = pytest.mark.integration

SINKS = ("health", "education", "childrens_services", "police", "alerts")
CONTRACT_FIELDS = {"delivery_id", "sink", "recipient", "rule", "policy_version", "source_event_id", "source_event_type",
                   "master_person_id", "delivered_at", "content"}


def delivery_keys(data_dir) -> Counter:
    return Counter((line["source_event_id"], line["rule"], line["recipient"], line.get("subject_key"))
                   for sink in SINKS for line in export(sink, data_dir))


class TestPublishAndExport:
    def test_examples_reach_every_sink_with_contract_fields(self, instance):
        """Every example event is published; each sink's export shows its deliveries with the contract's fields."""
        events = [example(t) for t in ("cpr.registered", "ppn.submitted", "domestic_abuse.reported", "missing.reported",
                                       "referral.outcome")]
        events.append(example("referral.outcome", referral_reference="PPN-NEVER-SEEN"))
        result = instance.publish(events)
        assert result.returncode == 0, result.stdout + result.stderr
        wait_for(lambda: all(export(sink, instance.data_dir) for sink in SINKS), what="a delivery in every sink")
        for sink in SINKS:
            for line in export(sink, instance.data_dir):
                assert CONTRACT_FIELDS <= set(line) and line["sink"] == sink
        audit = export("audit", instance.data_dir)
        assert len(audit) == sum(len(export(sink, instance.data_dir)) for sink in SINKS)
        [notice] = export("education", instance.data_dir)
        assert notice["recipient"] == "6662005" and "adults" not in notice["content"]
        verified = wait_for(lambda: (r := cli("audit", "verify", data_dir=instance.data_dir)).returncode == 0
                            and " 0 not sealed" in r.stdout and r, what="the workers to seal the audit trail")
        assert f"{len(audit)} sealed record(s) verified" in verified.stdout

    def test_publishing_the_same_file_twice_delivers_nothing_twice(self, instance):
        """The second publication of the same events adds no delivery."""
        events = [example("ppn.submitted"), example("domestic_abuse.reported")]
        assert instance.publish(events, "same.jsonl").returncode == 0
        # Six, and the two "school unreachable" alerts: no school directory is loaded here.
        first = wait_for(lambda: (keys := delivery_keys(instance.data_dir)) and sum(keys.values()) == 8 and keys,
                         what="eight deliveries")
        assert instance.publish(events, "same.jsonl").returncode == 0
        marker = example("referral.outcome", referral_reference="PPN-MARKER")  # arrives after the repeats
        assert instance.publish([marker]).returncode == 0
        wait_for(lambda: [line for line in export("alerts", instance.data_dir) if "PPN-MARKER" in json.dumps(line)],
                 what="the marker alert")
        again = delivery_keys(instance.data_dir)
        assert max(again.values()) == 1
        assert sum(again.values()) == sum(first.values()) + 1

    def test_broken_lines_are_rejected_with_line_numbers_and_the_rest_published(self, instance):
        """Bad lines are reported one per line with the reason, the exit status is non-zero, good lines still go."""
        bad_nhs = example("unscheduled_care.attended")
        bad_nhs["child"]["nhs_number"] = "9434765910"
        lines = [example("ppn.submitted"), "{not json", example("missing.reported", risk_level="low"), bad_nhs]
        result = instance.publish(lines)
        assert result.returncode != 0
        rejected = result.stdout.splitlines()
        assert len(rejected) == 3
        assert rejected[0].startswith("line 2: rejected") and "not valid JSON" in rejected[0]
        assert rejected[1].startswith("line 3: rejected") and "never graded low risk" in rejected[1]
        assert rejected[2].startswith("line 4: rejected") and "child.nhs_number" in rejected[2]
        wait_for(lambda: len(export("childrens_services", instance.data_dir)) == 1, what="the good PPN delivered")


class TestDeadLetters:
    def test_raw_broken_messages_are_parked_listed_alerted_and_the_pipeline_goes_on(self, instance):
        """Bytes a faulty producer sends straight to the broker are parked with reasons; later events still flow."""
        producer = KafkaProducer(bootstrap_servers=instance.runtime["broker"], acks="all")
        wrong_topic = json.dumps(example("cpr.registered")).encode()
        for value in (b"\xff\xfe not utf-8", b'{"event_type": "ppn.submitted"', wrong_topic):
            producer.send("safeguarding.ppn", value=value)
        producer.flush()
        producer.close()
        assert instance.publish([example("ppn.submitted")]).returncode == 0
        parked = wait_for(lambda: (rows := [json.loads(l) for l in cli("dlq", "list", data_dir=instance.data_dir).stdout.splitlines()])
                          and len(rows) == 3 and rows, what="three dead letters")
        reasons = " | ".join(row["reason"] for row in parked)
        assert "UTF-8" in reasons and "not valid JSON" in reasons and "does not belong on topic safeguarding.ppn" in reasons
        wait_for(lambda: len(export("alerts", instance.data_dir)) == 3, what="three dead-letter alerts")
        wait_for(lambda: len(export("childrens_services", instance.data_dir)) == 1, what="the next PPN delivered")

    def test_replay_sends_a_parked_message_back_through_intake(self, instance):
        """`dlq replay` re-publishes the original bytes; a still-broken message is parked again under a new offset."""
        producer = KafkaProducer(bootstrap_servers=instance.runtime["broker"], acks="all")
        producer.send("safeguarding.missing", value=b"[]")
        producer.flush()
        producer.close()
        [row] = wait_for(lambda: [json.loads(l) for l in cli("dlq", "list", data_dir=instance.data_dir).stdout.splitlines()],
                         what="one dead letter")
        result = cli("dlq", "replay", row["dead_letter_id"], data_dir=instance.data_dir)
        assert result.returncode == 0, result.stderr
        rows = wait_for(lambda: (r := [json.loads(l) for l in cli("dlq", "list", data_dir=instance.data_dir).stdout.splitlines()])
                        and len(r) == 2 and r, what="the replayed message parked again")
        assert rows[0]["replayed_at"] is not None


class TestTopics:
    def test_every_declared_topic_exists_with_its_partitions(self, instance):
        """`safeguard topics` lists inbound, accepted and dead-letter topics, all created with 6 partitions."""
        lines = cli("topics", data_dir=instance.data_dir, check=True).stdout.splitlines()
        assert len(lines) == 14
        assert all("6 partitions" in line for line in lines)
        assert any(line.startswith("safeguarding.ppn.dlq:") for line in lines)

    def test_drift_check_passes_then_reports_a_missing_topic(self, instance):
        """`topics --check` exits 0 when the cluster matches, 1 naming the topic when one is missing."""
        from streams.kafka.admin import admin_client
        from streams.kafka.connection import KafkaConnection

        assert cli("topics", "--check", data_dir=instance.data_dir).returncode == 0
        admin = admin_client(KafkaConnection(instance.runtime["broker"]))
        admin.delete_topics(["safeguarding.missing.dlq"])
        admin.close()
        result = wait_for(lambda: (r := cli("topics", "--check", data_dir=instance.data_dir)).returncode == 1 and r,
                          what="drift to be reported")
        assert "drift: safeguarding.missing.dlq: missing" in result.stdout


class TestDurability:
    def test_killing_the_worker_mid_stream_loses_and_duplicates_nothing(self, instance):
        """kill -9 of the worker during a stream of 400 PPNs: after its restart every event is delivered exactly once."""
        events = many_ppns(400)
        assert instance.publish(events).returncode == 0
        wait_for(lambda: export("childrens_services", instance.data_dir), interval=0.1, what="processing to start")
        for _ in range(2):
            [worker] = instance.runtime["worker_pids"]
            import os

            os.kill(worker, signal.SIGKILL)
            wait_for(lambda: instance.runtime["worker_pids"] != [worker], what="the worker to be restarted")
        keys = wait_for(lambda: (k := delivery_keys(instance.data_dir)) and sum(k.values()) >= 800 and k,
                        timeout=120, what="800 deliveries")
        assert sum(keys.values()) == 800, "lost or extra deliveries"
        assert max(keys.values()) == 1, "a delivery was duplicated"
        assert len(export("audit", instance.data_dir)) == 800

    def test_stopping_and_starting_again_replays_accepted_events(self, tmp_path):
        """kill -9 of the whole instance (broker included) mid-stream: on restart, every accepted event is routed once."""
        from tests.integration.conftest import Instance

        data_dir = tmp_path / "var"
        first = Instance(data_dir).start()
        try:
            assert first.publish(many_ppns(600)).returncode == 0
            wait_for(lambda: export("childrens_services", data_dir), interval=0.05, what="routing to start")
        finally:
            first.kill()
        import sqlite3

        with sqlite3.connect(data_dir / "safeguard.db") as db:
            accepted, unprocessed = db.execute(
                "select count(*), sum(status = 'accepted') from intake_event").fetchone()
        second = Instance(data_dir).start()
        try:
            keys = wait_for(lambda: (k := delivery_keys(data_dir)) and sum(k.values()) >= 2 * accepted and k,
                            timeout=120, what=f"deliveries for all {accepted} accepted events")
            assert sum(keys.values()) == 2 * accepted and max(keys.values()) == 1
            with sqlite3.connect(data_dir / "safeguard.db") as db:
                assert db.execute("select count(*) from intake_event where status != 'processed'").fetchone()[0] == 0
        finally:
            second.stop()
        print(f"accepted before the kill: {accepted}, of which unprocessed and replayed: {unprocessed}")


class TestPostgres:
    def test_the_pipeline_runs_end_to_end_on_postgresql(self, tmp_path, postgres):
        """With --database pointing at PostgreSQL, events flow to the sinks and a repeat delivers nothing twice."""
        from tests.integration.conftest import Instance

        url = postgres.create_database("e2e_pipeline")
        running = Instance(tmp_path / "var", extra_env={"SAFEGUARD_DATABASE_URL": url}).start()
        try:
            assert running.runtime["database"] == url
            registration = [example("cpr.registered")]
            assert running.publish(registration, "register.jsonl").returncode == 0
            wait_for(lambda: len(export("police", running.data_dir)) == 1, what="the registration on PostgreSQL")
            incident = [example("domestic_abuse.reported")]
            assert running.publish(incident, "incident.jsonl").returncode == 0
            assert running.publish(incident, "incident.jsonl").returncode == 0
            wait_for(lambda: len(export("education", running.data_dir)) == 1, what="the incident on PostgreSQL")
            keys = delivery_keys(running.data_dir)
            # registration: health flag + police marker; incident: full, no-school notice, school notice,
            # health visiting, and the key worker told that a registered child was involved.
            assert max(keys.values()) == 1 and sum(keys.values()) == 2 + 5 + 2  # + "school unreachable" alerts
        finally:
            running.stop()


class TestScaleOut:
    def test_three_workers_share_partitions_and_survive_losing_one(self, tmp_path):
        """Three workers in one group; one is killed mid-stream; every event is delivered exactly once."""
        import os
        import sqlite3

        from tests.integration.conftest import Instance

        running = Instance(tmp_path / "var", workers=3).start()
        try:
            events = many_ppns(900)
            assert running.publish(events).returncode == 0
            wait_for(lambda: len(export("childrens_services", running.data_dir)) > 50, interval=0.1, what="routing to start")
            victim = running.runtime["worker_pids"][1]
            os.kill(victim, signal.SIGKILL)
            keys = wait_for(lambda: (k := delivery_keys(running.data_dir)) and sum(k.values()) >= 1800 and k,
                            timeout=180, what="1,800 deliveries")
            assert sum(keys.values()) == 1800 and max(keys.values()) == 1
            with sqlite3.connect(running.data_dir / "safeguard.db") as db:
                assert db.execute("select count(*) from intake_event where status = 'processed'").fetchone()[0] == 900
                assert db.execute("select count(*) from referral").fetchone()[0] == 900
                assert db.execute("select count(*) from audit_record").fetchone()[0] == 1800
                # The 900 PPNs name one child (same name, date of birth and address; no NHS number, a
                # different police person id each, so spread over every partition and worker):
                # resolution is serialised, so the three workers made exactly one master person.
                masters = db.execute("select distinct master_person_id from delivery where sink = 'childrens_services'")
                assert [row[0] is not None for row in masters.fetchall()] == [True]
            logs = [(running.data_dir / "logs" / f"worker-{i}.log").read_text() for i in range(3)]
            busy = [log.count('"event": "router.batch"') > 0 for log in logs]
            assert busy.count(True) >= 2, "the partitions were not shared between workers"
        finally:
            running.stop()


class TestTimeIsAnInput:
    def test_a_year_ahead_the_pipeline_delivers_exactly_what_a_reference_run_does(self, tmp_path):
        """The whole pipeline on a clock 52 weeks ahead of the tests' clock, fed the examples as they stand to
        that clock: it delivers exactly the delivery ids an in-process run at that instant plans, and no
        deadline breaches (a process reading the wall clock would see the events as a year in the future
        and refuse them, or see deadlines in the wrong year)."""
        from streams.clock import FixedClock
        from streams.services import build_services
        from streams.settings import Settings
        from tests.clock import OFFSET, now
        from tests.integration.conftest import Instance
        from tests.unit.helpers import deliveries, run

        ahead = timedelta(weeks=52)
        later = now() + ahead
        events = [examples.example(t, now=later) for t in ("cpr.registered", "ppn.submitted", "domestic_abuse.reported",
                                                            "missing.reported", "unscheduled_care.attended")]
        reference = build_services(Settings(_env_file=None, data_dir=tmp_path / "reference"), clock=FixedClock(later))
        # The registration first, then the rest, here and below: across topics arrival order is not fixed.
        run(reference, events[:1])
        run(reference, events[1:])
        expected = {d.delivery_id for d in deliveries(reference.engine)}
        running = Instance(tmp_path / "var", extra_env={
            "SAFEGUARD_CLOCK_OFFSET_SECONDS": f"{(OFFSET + ahead).total_seconds():.3f}"}).start()
        try:
            for batch in (events[:1], events[1:]):
                result = running.publish(batch)
                assert result.returncode == 0, result.stdout + result.stderr
                wait_for(lambda: {line["source_event_id"] for line in export("health", running.data_dir)}
                         >= {batch[0]["event_id"]}, what="the batch to be routed")
            delivered = wait_for(lambda: (ids := {line["delivery_id"] for sink in SINKS
                                                  for line in export(sink, running.data_dir)}) >= expected and ids,
                                 what="the reference run's deliveries")
            assert delivered == expected
            alerts = export("alerts", running.data_dir)
            assert not [a for a in alerts if a["content"].get("status") == "breached"]
        finally:
            running.stop()
