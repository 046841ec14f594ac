"""Crash suite: kill -9 at random points under a steady load of keyed events; a database outage.

The expected outcome comes from running the same events through the same units of work in this
process on a clean store: deliveries are identified by deterministic ids, so the running pipeline,
however often it is killed, must end with exactly the reference's deliveries (none lost, none
twice) and the same state rows (nothing double-counted). ``SAFEGUARD_LONG_TESTS=1`` runs more
events and more kills.
"""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import threading
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
from kafka import KafkaProducer
from sqlalchemy import create_engine, text
from sqlalchemy.pool import StaticPool

from schemas import parse_event
from sinks.store import migrate
from streams.identity.keys import partition_key
from streams.kafka.broker_quirks import producer_settings
from streams.kafka.topics import Topology
from streams.runtime.demo import nhs_number
from streams.services import build_services
from tests.clock import TEST_CLOCK, example, now
from tests.integration.conftest import Instance, signed, wait_for
from tests.unit.helpers import run

pytestmark = pytest.mark.integration

LONG = os.environ.get("SAFEGUARD_LONG_TESTS") == "1"
GIVEN = ["Cerys", "Osian", "Ffion", "Tomos", "Elin", "Gruffydd", "Nia", "Harri", "Lowri", "Cai", "Seren", "Ioan"]
STATE_TABLES = ("intake_event", "referral", "register_flag", "missing_episode", "deadline", "identity_record")


def steady_events(children: int, seed: int) -> tuple[list[dict], list[dict]]:
    """Registrations of every third child (flags to health and police), then per child: a PPN, a
    missing report and the return (for a registered child the key worker is told of each). Times
    are just past, so no deadline falls due while the test runs. The registrations go first and are
    routed before the rest is sent: which of two topics is read first is not ordered, and nothing
    here may depend on it, so that the reference run is the truth."""
    rng = random.Random(seed)
    start = now() - timedelta(minutes=30)
    registrations, events = [], []
    for index in range(children):
        child = {"source_person_id": f"CRASH-{seed}-{index}", "given_names": GIVEN[index % len(GIVEN)],
                 "family_name": f"Prosser{index}", "date_of_birth": f"{start.year - 17 + index % 14}-0{1 + index % 9}-1{index % 9}",
                 "sex": "female" if index % 2 else "male", "nhs_number": nhs_number(rng),
                 "address": {"lines": [f"{index + 1} Heol y Castell"], "postcode": "LD1 5LG"}, "role": "subject"}
        at = (start + timedelta(seconds=index)).isoformat()
        episode = f"MISS-CRASH-{seed}-{index}"
        events.append(example("ppn.submitted", persons=[child], ppn_reference=f"PPN-CRASH-{seed}-{index}", occurred_at=at,
                              recorded_at=at))
        events.append(example("missing.reported", child=child, episode_reference=episode, occurred_at=at, recorded_at=at))
        events.append(example("missing.returned", child=child, episode_reference=episode, occurred_at=at, recorded_at=at))
        if index % 3 == 0:
            registrations.append(example("cpr.registered", child=child, occurred_at=at, recorded_at=at,
                                         plan_reference=f"CASPP-{seed}-{index}", registered_on=at[:10]))
    return registrations, events


def reference(events: list[dict], settings) -> tuple[Counter, dict[str, int]]:
    """What a pipeline that never crashed delivers and stores for ``events``."""
    engine = create_engine("sqlite://", connect_args={"check_same_thread": False}, poolclass=StaticPool)
    migrate(engine)
    run(build_services(settings, engine=engine, clock=TEST_CLOCK), events)
    with engine.connect() as conn:
        return _deliveries(conn), _state(conn)


def _deliveries(conn) -> Counter:
    rows = conn.execute(text("select delivery_id, sink, rule from delivery")).all()
    return Counter(rows)


def _state(conn) -> dict[str, int]:
    counts = {table: conn.execute(text(f"select count(*) from {table}")).scalar_one() for table in STATE_TABLES}
    counts["master persons"] = conn.execute(text("select count(distinct person_id) from identity_record")).scalar_one()
    return counts


class SteadyPublisher(threading.Thread):
    """Publishes ``events`` at ``rate`` per second with acks from every replica, keyed as producers must."""

    def __init__(self, broker: str, events: list[dict], rate: float, data_dir: Path) -> None:
        super().__init__(daemon=True)
        self.producer = KafkaProducer(bootstrap_servers=broker, **producer_settings())
        self.data_dir = data_dir
        self.events, self.interval = events, 1.0 / rate
        self.topology = Topology.from_settings(_default_settings())
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            for event in self.events:
                raw = json.dumps(event).encode()
                self.producer.send(self.topology.topic_for(event["event_type"]).name, key=partition_key(parse_event(raw, now())),
                                   value=raw, headers=signed(self.data_dir, raw))
                time.sleep(self.interval)
            self.producer.flush()
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            self.error = exc


def _default_settings():
    from streams.settings import Settings

    return Settings(_env_file=None)


def test_random_kills_under_steady_load_lose_and_duplicate_nothing(tmp_path, settings):
    """Five (long: twelve) kill -9s of the worker at random moments — mid-batch, mid-delivery,
    mid-commit, whatever the moment holds — while events keep arriving; every restart resumes."""
    seed = random.randrange(1_000_000)
    rng = random.Random(seed)
    registrations, steady = steady_events(240 if LONG else 110, seed)
    events = registrations + steady
    expected, expected_state = reference(events, settings)
    running = Instance(tmp_path / "var").start()
    db = running.data_dir / "safeguard.db"

    def processed() -> int:
        with sqlite3.connect(db, timeout=30) as conn:
            return conn.execute("select count(*) from intake_event where status = 'processed'").fetchone()[0]

    try:
        first = SteadyPublisher(running.runtime["broker"], registrations, rate=200, data_dir=running.data_dir)
        first.run()
        assert first.error is None, first.error
        wait_for(lambda: processed() == len(registrations), what="the registrations")
        publisher = SteadyPublisher(running.runtime["broker"], steady, rate=25, data_dir=running.data_dir)
        publisher.start()
        kills = 12 if LONG else 5
        for _ in range(kills):
            time.sleep(rng.uniform(1.0, 4.0))
            [worker] = running.runtime["worker_pids"]
            os.kill(worker, signal.SIGKILL)
            wait_for(lambda: running.runtime["worker_pids"] not in ([worker], []), timeout=60,
                     what="the worker to be restarted")
        publisher.join(timeout=300)
        assert publisher.error is None, publisher.error
        wait_for(lambda: processed() == len(events), timeout=300, interval=1,
                 what=f"all {len(events)} events processed (seed {seed})")
        engine = create_engine(f"sqlite:///{db}")
        with engine.connect() as conn:
            actual, state = _deliveries(conn), _state(conn)
        engine.dispose()
        lost = expected - actual
        duplicated = {key: n for key, n in actual.items() if n > 1}
        extra = actual - expected
        per_sink = Counter(sink for _id, sink, _rule in lost)
        assert not lost and not duplicated and not extra, \
            f"seed {seed}: lost {dict(per_sink)}, duplicated {len(duplicated)}, unexpected {len(extra)}"
        assert state == expected_state, f"seed {seed}: state differs (double-counted or missing)"
    finally:
        running.stop()


def test_a_database_outage_stalls_then_recovers_without_loss(tmp_path, settings):
    """PostgreSQL stops for a while under load: units of work fail and are retried (the partitions
    stall, nothing is skipped); when it is back, every event is delivered exactly once."""
    import shutil
    import tempfile
    from pathlib import Path

    from tests.postgres import PostgresServer

    base = Path(tempfile.mkdtemp(prefix="safeguard-pg-outage-"))  # not under pytest's root-private tmp dir
    server = PostgresServer(base).start()
    try:
        url = server.create_database("outage")
        registrations, events = steady_events(60, 7)  # no registrations: nothing depends on topic order
        expected, expected_state = reference(events, settings)
        running = Instance(tmp_path / "var", extra_env={"SAFEGUARD_DATABASE_URL": url}).start()
        try:
            publisher = SteadyPublisher(running.runtime["broker"], events, rate=20, data_dir=running.data_dir)
            publisher.start()
            engine = create_engine(url)

            def processed() -> int:
                with engine.connect() as conn:
                    return conn.execute(text("select count(*) from intake_event where status = 'processed'")).scalar_one()

            # The outage must hit a worker that is routing (on a busy machine it may still be starting).
            wait_for(lambda: processed() >= 5, timeout=120, interval=0.5, what="the worker routing before the outage")
            engine.dispose()
            server.stop()
            time.sleep(8)  # events keep arriving on the broker; the workers retry their units of work
            server.resume()
            publisher.join(timeout=300)
            assert publisher.error is None, publisher.error
            engine = create_engine(url)

            def settled():
                try:
                    return processed() == len(events)
                except Exception:  # noqa: BLE001 - the server is still coming back
                    return False

            wait_for(settled, timeout=300, interval=1, what="all events processed after the outage")
            with engine.connect() as conn:
                actual, state = _deliveries(conn), _state(conn)
            engine.dispose()
            assert actual == expected and state == expected_state
            logs = "".join(p.read_text() for p in (running.data_dir / "logs").glob("worker-*.log"))
            assert "unit_of_work.failed" in logs, "the outage was not noticed: the test did not test anything"
        finally:
            running.stop()
    finally:
        server.stop()
        shutil.rmtree(base, ignore_errors=True)
