"""Pipeline benchmark on the embedded broker: throughput, and publish-to-delivery latency at a fixed rate.

Run: ``.venv/bin/python -m benchmarks.pipeline [--events 5000] [--rate 1000] [--latency-events 3000] [--workers 1]``

It starts a real `safeguard up` (embedded Tansu broker, SQLite, N workers) in a temporary directory,
then (1) publishes ``--events`` PPNs as fast as the producer can and times until every one is routed
and delivered; (2) publishes ``--latency-events`` PPNs paced at ``--rate`` per second and reports the
time from each send to its children's-services delivery (p50/p95/p99); and prints worker CPU time and
peak resident memory. Figures depend on the machine; the README records those measured here.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

from kafka import KafkaProducer

from schemas import parse_event
from schemas.examples import example
from streams.broker_quirks import producer_settings
from streams.keys import partition_key


def make_events(count: int, tag: str) -> list[tuple[str, bytes, bytes]]:
    out = []
    for index in range(count):
        event = example("ppn.submitted", ppn_reference=f"PPN-{tag}-{index:07d}")
        child = {k: v for k, v in event["persons"][0].items() if k != "nhs_number"}
        child["source_person_id"] = f"{tag}-{index}"
        event["persons"] = [child]
        raw = json.dumps(event).encode()
        out.append((event["event_id"], partition_key(parse_event(raw)), raw))
    return out


def processed(db: Path) -> int:
    with sqlite3.connect(db, timeout=30) as conn:
        return conn.execute("select count(*) from intake_event where status = 'processed'").fetchone()[0]


def wait_processed(db: Path, target: int, timeout: float = 1800) -> float:
    start = time.monotonic()
    while processed(db) < target:
        if time.monotonic() - start > timeout:
            raise SystemExit(f"timed out: {processed(db)}/{target} processed")
        time.sleep(0.05)
    return time.monotonic()


def proc_figures(pid: int) -> tuple[float, int]:
    """(CPU seconds, peak RSS in MiB) of one process, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    cpu = (int(fields[11]) + int(fields[12])) / ticks
    peak = next(int(line.split()[1]) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if line.startswith("VmHWM"))
    return cpu, peak // 1024


def _utc(text: str) -> datetime:
    value = datetime.fromisoformat(text.replace(" ", "T"))
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=5000)
    parser.add_argument("--rate", type=float, default=1000.0)
    parser.add_argument("--latency-events", type=int, default=3000)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    data_dir = Path(tempfile.mkdtemp(prefix="safeguard-bench-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("SAFEGUARD_")} | {"SAFEGUARD_LOG_LEVEL": "WARNING"}
    up = subprocess.Popen([sys.executable, "-m", "streams.cli", "up", "--data-dir", str(data_dir), "--port", "0",
                           "--workers", str(args.workers)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                          start_new_session=True)
    try:
        runtime_file = data_dir / "runtime.json"
        while not runtime_file.exists():
            time.sleep(0.2)
        runtime = json.loads(runtime_file.read_text())
        db = data_dir / "safeguard.db"
        producer = KafkaProducer(bootstrap_servers=runtime["broker"], **producer_settings())
        warm = make_events(200, "warm")
        for _id, key, raw in warm:
            producer.send("safeguarding.ppn", key=key, value=raw)
        producer.flush()
        wait_processed(db, len(warm))

        burst = make_events(args.events, "burst")
        start = time.monotonic()
        for _id, key, raw in burst:
            producer.send("safeguarding.ppn", key=key, value=raw)
        producer.flush()
        end = wait_processed(db, len(warm) + len(burst))
        throughput = len(burst) / (end - start)

        paced = make_events(args.latency_events, "paced")
        sent_at: dict[str, float] = {}
        interval = 1.0 / args.rate
        start = time.time()
        for index, (event_id, key, raw) in enumerate(paced):
            target = start + index * interval
            delay = target - time.time()
            if delay > 0:
                time.sleep(delay)
            producer.send("safeguarding.ppn", key=key, value=raw)
            sent_at[event_id] = time.time()
        producer.flush()
        wait_processed(db, len(warm) + len(burst) + len(paced))
        with sqlite3.connect(db) as conn:
            rows = conn.execute("select source_event_id, delivered_at from delivery where rule = 'ppn.childrens_services.full'").fetchall()
        # delivered_at is stored as UTC (SQLite keeps no offset).
        latencies = sorted((_utc(at).timestamp() - sent_at[event_id]) * 1000 for event_id, at in rows if event_id in sent_at)
        cpu_mem = [proc_figures(pid) for pid in json.loads(runtime_file.read_text())["worker_pids"]]
        quantiles = statistics.quantiles(latencies, n=100)
        print(f"pipeline benchmark (embedded broker, SQLite, {args.workers} worker(s), {os.cpu_count()} cores)")
        print(f"  throughput, {len(burst)} PPNs published at once : {throughput:,.0f} events/s routed and delivered")
        print(f"  latency at {args.rate:,.0f} events/s over {len(latencies)} events (publish -> delivery):"
              f" p50 {quantiles[49]:.0f} ms, p95 {quantiles[94]:.0f} ms, p99 {quantiles[98]:.0f} ms")
        for index, (cpu, peak) in enumerate(cpu_mem):
            print(f"  worker {index}: {cpu:.1f} s CPU, peak RSS {peak} MiB")
    finally:
        os.killpg(up.pid, signal.SIGTERM)
        up.wait(timeout=120)


if __name__ == "__main__":
    main()
