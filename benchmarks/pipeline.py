"""Pipeline benchmark on the embedded broker, against a raw aiokafka passthrough of the same events.

Run: ``.venv/bin/python -m benchmarks.pipeline [--events 3000] [--rate 1000] [--latency-events 3000]
[--workers 1,2,3] [--postgres] [--backfill 0] [--backfill-workers 1]``

In one run: (a) a raw aiokafka consume -> produce passthrough of the same PPN bytes (6 partitions,
acks=all, batches of up to 500) on an embedded Tansu broker: the ceiling; (a') the same through a
plain Faust agent (``benchmarks.faust_passthrough``): what the framework alone allows; (b) the full pipeline
(`safeguard up`: validate, record, resolve persons, route, deliver to SQLite sinks with audit lines)
with 1, 2 and 3 workers; (c) the same on a throw-away PostgreSQL 15 server (``--postgres``). For each
it publishes ``--events`` distinct PPNs (distinct children) at once and times until every one is
routed and delivered, then publishes ``--latency-events`` paced at ``--rate``/s and reports publish ->
children's-services delivery p50/p95/p99, worker CPU seconds and peak resident memory.
``--backfill N`` also times a backlog of N events published at once to a fresh instance (a backfill).
(d) compares, on one instance, a burst of fresh PPNs with a burst dated ``--past-days`` ago (every
deadline they open is already due, as in a replay or a producer's backlog). Events are dated relative
to the clock's now (never to a fixed calendar date). Figures depend on the machine; the README records
those measured here.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import KafkaAdminClient, NewTopic
from sqlalchemy import create_engine, text

from benchmarks.synthetic_people import make_people
from schemas import parse_event
from schemas.examples import example
from streams.access.credentials import ProducerKeys
from streams.clock import Clock
from streams.identity.keys import partition_key
from streams.kafka.broker_quirks import producer_settings
from streams.kafka.embedded_broker import EmbeddedBroker
from streams.settings import Settings


def make_events(count: int, tag: str, age: timedelta = timedelta(0)) -> list[tuple[str, bytes, bytes]]:
    """PPNs about ``count`` distinct synthetic children (``benchmarks.synthetic_people``: common Welsh and
    English names, siblings and twins at one address), each named by one police record without an NHS
    number, so the identity index does its full blocking and scoring work; recorded ``age`` before the
    clock's now (a few hours at most when ``age`` is zero). The same tag gives the same children."""
    now = Clock().now() - age
    rng = random.Random(tag)
    children: list[dict] = []
    while len(children) < count:
        children += [p for p in make_people(rng, 2 * (count - len(children)) + 10) if p["dob"].year >= 2009]
    out = []
    for index, person in enumerate(children[:count]):
        event = example("ppn.submitted", now=now, ppn_reference=f"PPN-{tag}-{index:07d}")
        child = {k: v for k, v in event["persons"][0].items() if k != "nhs_number"}
        child.update(source_person_id=f"{tag}-{index}", given_names=person["given"], family_name=person["family"],
                     date_of_birth=person["dob"].isoformat(),
                     address={"lines": [person["street"]], "postcode": person["postcode"]})
        event["persons"] = [child]
        raw = json.dumps(event).encode()
        out.append((event["event_id"], partition_key(parse_event(raw)), raw))
    return out


# -- (a) the raw broker --------------------------------------------------------------------------

async def _passthrough(broker: str, values: list[tuple[bytes, bytes]]) -> float:
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

    consumer = AIOKafkaConsumer("bench.in", bootstrap_servers=broker, group_id="bench-raw", auto_offset_reset="earliest",
                                enable_auto_commit=False, fetch_max_wait_ms=100)
    producer = AIOKafkaProducer(bootstrap_servers=broker, acks="all", linger_ms=5)  # Tansu refuses aiokafka idempotence
    await consumer.start()
    await producer.start()
    try:
        while not consumer.assignment():
            await consumer.getmany(timeout_ms=100)
        publisher = KafkaProducer(bootstrap_servers=broker, **producer_settings())
        start = time.monotonic()
        for key, value in values:
            publisher.send("bench.in", key=key, value=value)
        publisher.flush()
        moved = 0
        while moved < len(values):
            batches = await consumer.getmany(timeout_ms=200, max_records=500)
            sends = [await producer.send("bench.out", key=m.key, value=m.value) for msgs in batches.values() for m in msgs]
            await asyncio.gather(*sends)
            await consumer.commit()
            moved += len(sends)
        elapsed = time.monotonic() - start
        publisher.close()
        return len(values) / elapsed
    finally:
        await consumer.stop()
        await producer.stop()


def raw_passthrough(count: int) -> float:
    with tempfile.TemporaryDirectory(prefix="safeguard-raw-") as directory, EmbeddedBroker(Path(directory)) as broker:
        admin = KafkaAdminClient(bootstrap_servers=broker.address)
        admin.create_topics([NewTopic("bench.in", 6, 1), NewTopic("bench.out", 6, 1)])
        admin.close()
        values = [(key, raw) for _id, key, raw in make_events(count, "raw")]
        return asyncio.run(_passthrough(broker.address, values))


def faust_passthrough(count: int) -> float:
    """(a') events/s through a plain Faust agent A -> B (``benchmarks.faust_passthrough``), after a warm-up."""
    with tempfile.TemporaryDirectory(prefix="safeguard-faust-") as directory, EmbeddedBroker(Path(directory)) as broker:
        admin = KafkaAdminClient(bootstrap_servers=broker.address)
        admin.create_topics([NewTopic("bench.in", 6, 1), NewTopic("bench.out", 6, 1)])
        admin.close()
        worker = subprocess.Popen([sys.executable, "-m", "benchmarks.faust_passthrough", broker.address],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        publisher = KafkaProducer(bootstrap_servers=broker.address, **producer_settings())
        # From the start of the log: counting from "latest" could miss what the worker forwards before the first poll.
        reader = KafkaConsumer(bootstrap_servers=broker.address, enable_auto_commit=False, check_crcs=False,
                               auto_offset_reset="earliest")
        reader.assign([TopicPartition("bench.out", p) for p in range(6)])
        try:
            moved = 0

            def forward(values: list[tuple[bytes, bytes]]) -> float:
                nonlocal moved
                start, target = time.monotonic(), moved + len(values)
                for key, value in values:
                    publisher.send("bench.in", key=key, value=value)
                publisher.flush()
                while moved < target:
                    if worker.poll() is not None:
                        raise SystemExit("the Faust passthrough worker exited")
                    moved += sum(len(records) for records in reader.poll(timeout_ms=200).values())
                return time.monotonic() - start

            forward([(key, raw) for _id, key, raw in make_events(200, "faust-warm")])
            return count / forward([(key, raw) for _id, key, raw in make_events(count, "raw")])
        finally:
            reader.close()
            publisher.close()
            os.killpg(worker.pid, signal.SIGTERM)
            worker.wait(timeout=60)


# -- (b) and (c) the pipeline --------------------------------------------------------------------

@dataclass
class Figures:
    label: str
    throughput: float
    p50: float
    p95: float
    p99: float
    cpu: float
    peak_mib: int
    backfill: tuple[int, float] | None = None


class Running:
    def __init__(self, workers: int, database: str | None) -> None:
        self.data_dir = Path(tempfile.mkdtemp(prefix="safeguard-bench-"))
        env = {k: v for k, v in os.environ.items() if not k.startswith("SAFEGUARD_")} | {"SAFEGUARD_LOG_LEVEL": "WARNING"}
        command = [sys.executable, "-m", "streams.cli", "up", "--data-dir", str(self.data_dir), "--port", "0",
                   "--workers", str(workers)] + (["--database", database] if database else [])
        self.process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                        start_new_session=True)
        runtime_file = self.data_dir / "runtime.json"
        while not runtime_file.exists():
            if self.process.poll() is not None:
                raise SystemExit("safeguard up exited; see its data directory")
            time.sleep(0.2)
        self.runtime = json.loads(runtime_file.read_text())
        self.engine = create_engine(database or f"sqlite:///{self.data_dir / 'safeguard.db'}")
        self.producer = KafkaProducer(bootstrap_servers=self.runtime["broker"], **producer_settings())
        self.keys = ProducerKeys.from_settings(Settings(_env_file=None, data_dir=self.data_dir))  # signed, as producers must

    def send(self, key: bytes, raw: bytes) -> None:
        self.producer.send("safeguarding.ppn", key=key, value=raw, headers=self.keys.sign_as_claimed(raw))

    def publish(self, events: list[tuple[str, bytes, bytes]]) -> None:
        for _id, key, raw in events:
            self.send(key, raw)
        self.producer.flush()

    def processed(self) -> int:
        with self.engine.connect() as conn:
            return conn.execute(text("select count(*) from intake_event where status = 'processed'")).scalar_one()

    def wait_processed(self, target: int, timeout: float = 7200, report_every: int = 0, since: float | None = None) -> float:
        """Monotonic time at which ``target`` events were processed; with ``report_every``, prints progress
        each time that many more were (count, minutes since ``since``, rate over the last stretch)."""
        start = time.monotonic() if since is None else since
        # Counting a million intake rows every 50 ms would take CPU from the worker being measured.
        interval = 0.05 if target < 20_000 else 2.0
        reported, reported_at = 0, start
        while (done := self.processed()) < target:
            now = time.monotonic()
            if now - start > timeout:
                raise SystemExit(f"timed out: {done}/{target} processed")
            if report_every and done >= reported + report_every:
                print(f"  backfill: {done:,} delivered after {(now - start) / 60:.1f} min"
                      f" ({(done - reported) / (now - reported_at):,.0f} events/s since {reported:,})", flush=True)
                reported, reported_at = done, now
            time.sleep(interval)
        return time.monotonic()

    def delivered_at(self) -> list[tuple[str, datetime]]:
        with self.engine.connect() as conn:
            rows = conn.execute(text("select source_event_id, delivered_at from delivery "
                                     "where rule = 'ppn.childrens_services.full'")).all()
        return [(event_id, _utc(at)) for event_id, at in rows]

    def worker_figures(self) -> tuple[float, int]:
        pids = json.loads((self.data_dir / "runtime.json").read_text())["worker_pids"]
        figures = [proc_figures(pid) for pid in pids]
        return sum(cpu for cpu, _ in figures), max(peak for _, peak in figures)

    def stop(self) -> None:
        self.producer.close()
        self.engine.dispose()
        os.killpg(self.process.pid, signal.SIGTERM)
        self.process.wait(timeout=180)


def measure(label: str, workers: int, database: str | None, events: int, rate: float, latency_events: int) -> Figures:
    running = Running(workers, database)
    try:
        warm = make_events(200, f"warm{workers}")
        running.publish(warm)
        running.wait_processed(len(warm))
        burst = make_events(events, f"burst{workers}")
        start = time.monotonic()
        running.publish(burst)
        throughput = len(burst) / (running.wait_processed(len(warm) + len(burst)) - start)
        paced = make_events(latency_events, f"paced{workers}")
        sent_at: dict[str, float] = {}
        start_at = time.time()
        for index, (event_id, key, raw) in enumerate(paced):
            delay = start_at + index / rate - time.time()
            if delay > 0:
                time.sleep(delay)
            running.send(key, raw)
            sent_at[event_id] = time.time()
        running.producer.flush()
        running.wait_processed(len(warm) + len(burst) + len(paced))
        latencies = sorted((at.timestamp() - sent_at[event_id]) * 1000 for event_id, at in running.delivered_at()
                           if event_id in sent_at)
        q = statistics.quantiles(latencies, n=100)
        cpu, peak = running.worker_figures()
        return Figures(label, throughput, q[49], q[94], q[98], cpu, peak)
    finally:
        running.stop()


def dated_bursts(workers: int, events: int, past_days: int) -> tuple[float, float]:
    """(fresh, past-dated) events/s on one instance: a burst of fresh PPNs, then one dated ``past_days`` ago."""
    running = Running(workers, None)
    try:
        warm = make_events(200, f"dwarm{workers}")
        running.publish(warm)
        running.wait_processed(len(warm))
        done, rates = len(warm), []
        for tag, age in (("fresh", timedelta(0)), ("past", timedelta(days=past_days))):
            burst = make_events(events, f"{tag}{workers}", age)
            start = time.monotonic()
            running.publish(burst)
            done += len(burst)
            rates.append(len(burst) / (running.wait_processed(done) - start))
        return rates[0], rates[1]
    finally:
        running.stop()


def backfill(count: int, database: str | None, workers: int = 1) -> tuple[int, float]:
    """``count`` events published at once to a fresh instance: seconds until all are delivered."""
    running = Running(workers, database)
    try:
        start = time.monotonic()
        for offset in range(0, count, 20_000):
            running.publish(make_events(min(20_000, count - offset), f"fill{offset}"))
        return count, running.wait_processed(count, report_every=100_000 if count >= 200_000 else 0, since=start) - start
    finally:
        running.stop()


def proc_figures(pid: int) -> tuple[float, int]:
    """(CPU seconds, peak RSS in MiB) of one process, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    cpu = (int(fields[11]) + int(fields[12])) / ticks
    peak = next(int(line.split()[1]) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if line.startswith("VmHWM"))
    return cpu, peak // 1024


def _utc(value: datetime | str) -> datetime:
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace(" ", "T"))
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)  # SQLite keeps no offset: stored as UTC


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=3000)
    parser.add_argument("--rate", type=float, default=1000.0)
    parser.add_argument("--latency-events", type=int, default=3000)
    parser.add_argument("--workers", default="1,2,3", help="worker counts to measure, e.g. 1,2,3 (0: none, e.g. a backfill alone)")
    parser.add_argument("--postgres", action="store_true", help="also on a throw-away PostgreSQL 15 server")
    parser.add_argument("--backfill", type=int, default=0, help="also time a backlog of this many events")
    parser.add_argument("--backfill-workers", type=int, default=1, help="workers for the backfill")
    parser.add_argument("--past-days", type=int, default=30, help="(d): how old the past-dated burst is (0: skip (d))")
    args = parser.parse_args()
    counts = [int(n) for n in args.workers.split(",") if int(n) > 0]

    raw = raw_passthrough(args.events)
    print(f"pipeline benchmark: embedded Tansu broker, {os.cpu_count()} cores, {args.events:,} PPNs per burst,"
          f" latency at {args.rate:,.0f}/s over {args.latency_events:,} PPNs")
    print(f"(a) raw aiokafka passthrough: {raw:,.0f} events/s", flush=True)
    plain_faust = faust_passthrough(args.events)
    print(f"(a') plain Faust agent A -> B, batched like the pipeline's agents: {plain_faust:,.0f} events/s"
          f" ({plain_faust / raw:.2f} of (a))", flush=True)
    header = f"{'configuration':<34}{'events/s':>9}{'(b)/(a)':>8}{'p50 ms':>8}{'p95 ms':>8}{'p99 ms':>8}{'CPU s':>7}{'peak MiB':>9}"
    print(header)
    rows: list[Figures] = []
    server = None
    databases: list[tuple[str, str | None]] = [("SQLite", None)]
    if args.postgres:
        from tests.postgres import PostgresServer

        server = PostgresServer(Path(tempfile.mkdtemp(prefix="safeguard-pg-"))).start()
        databases.append(("PostgreSQL", None))
    try:
        for name, _ in databases:
            for workers in counts:
                url = server.create_database(f"bench_{workers}_{int(time.time())}") if name == "PostgreSQL" and server else None
                figures = measure(f"({'b' if name == 'SQLite' else 'c'}) {name}, {workers} worker(s)", workers, url,
                                  args.events, args.rate, args.latency_events)
                rows.append(figures)
                print(f"{figures.label:<34}{figures.throughput:>9,.0f}{figures.throughput / raw:>8.2f}{figures.p50:>8,.0f}"
                      f"{figures.p95:>8,.0f}{figures.p99:>8,.0f}{figures.cpu:>7,.0f}{figures.peak_mib:>9,}", flush=True)
        if args.past_days:
            for workers in counts:
                fresh, past = dated_bursts(workers, args.events, args.past_days)
                print(f"(d) SQLite, {workers} worker(s): fresh burst {fresh:,.0f} events/s, burst dated {args.past_days} days ago"
                      f" (every deadline already due) {past:,.0f} events/s ({past / fresh:.2f} of fresh)", flush=True)
        if args.backfill:
            count, seconds = backfill(args.backfill, None, args.backfill_workers)
            print(f"backfill: {count:,} PPNs on SQLite with {args.backfill_workers} worker(s) delivered in {seconds:,.0f} s"
                  f" ({count / seconds:,.0f}/s)")
    finally:
        if server is not None:
            server.stop()


if __name__ == "__main__":
    main()
