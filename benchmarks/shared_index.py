"""One identity index for all workers, at scale: what a worker on the stored index takes to start, holds
in memory and resolves per second, with several workers on one store.

Run: ``.venv/bin/python -m benchmarks.shared_index --people 1000000`` (SQLite under a temporary
directory); ``--postgres``: on a throw-away PostgreSQL 15 server instead (``initdb`` on PATH), or
``--database-url`` for one you started.

Steps, each worker in a fresh process so that its memory is its own:
1. the log of ``--people`` persons (one record each, from the synthetic generator) written to a new
   store as a store older than the stored index holds it;
2. the first worker to start indexes it (the one-time upgrade path): seconds and peak MiB;
3. one worker starts on it (it loads the name statistics: start-up seconds, resident MiB) and resolves
   half of ``--probes`` new records of those people (police, school and local-authority views) in units
   of work of ``--batch`` records: records/s, resident MiB at the end; then ``--workers`` workers start
   and take turns (the identity lock) on the other half. Indexing ends with a snapshot of the statistics,
   so the first worker loads it and replays nothing; the later workers replay what the first resolved.
4. apart, a snapshot of the statistics at a population's vocabulary: its size, and the seconds to write
   and to load it.
Prints figures; asserts nothing. Time is an input: the records' dates are fixed, never today's.
"""

from __future__ import annotations

import argparse
import multiprocessing
import random
import shutil
import string
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import func, insert, update
from sqlmodel import Session, select

from benchmarks.identity import peak_mib, resident_mib
from benchmarks.synthetic_people import make_people, observe
from sinks.audit import AuditSink
from sinks.models import IdentityBlock, IdentityRecord, IdentitySequence
from sinks.store import insert_ignoring_duplicates, make_engine
from streams.identity.index import IdentityIndex, logged_row
from streams.identity.resolver import Record, Resolver
from streams.identity.statistics import restore, snapshot_of
from streams.runtime.logs import configure
from streams.services import load_policy
from streams.settings import Settings

RESOLVED_AT = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
CHUNK = 5_000


def fill_log(url: str, people_count: int, seed: int) -> float:
    """The log of ``people_count`` persons, not yet indexed (indexed_seq 0). Returns seconds taken."""
    started = time.perf_counter()
    rng = random.Random(seed)
    people = make_people(rng, people_count)
    engine = make_engine(url)
    with Session(engine) as session:
        rows = []
        for seq, person in enumerate(people, start=1):
            raw, truth = observe(rng, person, "health", 0)
            record = Record.from_raw(f"log-{truth}:0", **raw)
            rows.append({**logged_row(record), "seq": seq, "source_event_id": f"log-{truth}", "subject_key": f"bench:{truth}",
                         "resolved_at": RESOLVED_AT, "person_id": f"P{seq:08d}"})
            if len(rows) == CHUNK:
                session.execute(insert(IdentityRecord), rows)
                rows = []
        if rows:
            session.execute(insert(IdentityRecord), rows)
        insert_ignoring_duplicates(session, IdentitySequence, [{"id": 1, "last_seq": 0, "indexed_seq": 0}], ["id"])
        session.exec(update(IdentitySequence).values(last_seq=len(people), indexed_seq=0))  # type: ignore[call-overload]
        session.commit()
    engine.dispose()
    return time.perf_counter() - started


def _index() -> IdentityIndex:
    configure(Settings(log_level="warning", log_json=False), process="benchmark")  # a line per record is no figure
    return IdentityIndex(load_policy(Settings()), AuditSink(), lambda: RESOLVED_AT)


def first_start(url: str) -> tuple[float, float, int]:
    """The first worker indexes the log: (seconds, peak MiB, blocking-key rows)."""
    engine = make_engine(url)
    started = time.perf_counter()
    with Session(engine) as session:
        _index().begin(session)
        session.commit()
    elapsed = time.perf_counter() - started
    with Session(engine) as session:
        blocks = session.exec(select(func.count()).select_from(IdentityBlock)).one()
    return elapsed, peak_mib(), blocks


def worker(url: str, records: list[Record], turn: int, workers: int, batch: int,
           ready: multiprocessing.Barrier) -> tuple[float, float, float, float, int]:  # type: ignore[valid-type]
    """One worker: starts (statistics replayed), then resolves its share of units of work, taking turns with
    the others through the store's lock. Returns (start-up s, MiB after start-up, resolving s, MiB at the end,
    records resolved)."""
    engine = make_engine(url)
    index = _index()
    started = time.perf_counter()
    with Session(engine) as session:
        index.begin(session)
        index.finish(session)
        session.commit()
    start_up, after_start = time.perf_counter() - started, resident_mib()
    ready.wait()
    units = [records[i:i + batch] for i in range(0, len(records), batch)][turn::workers]
    started = time.perf_counter()
    for unit in units:
        with Session(engine) as session:
            index.begin(session)
            for record in unit:
                index.resolve_records(session, record.record_id.split(":")[0], [(record, record.record_id)])
            index.finish(session)
            session.commit()
    resolving = time.perf_counter() - started
    return start_up, after_start, resolving, resident_mib(), sum(len(unit) for unit in units)


def probes(people_count: int, count: int, seed: int) -> list[Record]:
    rng = random.Random(seed)
    people = make_people(rng, people_count)
    for person in people:
        observe(rng, person, "health", 0)  # the same draws as the log, so the probes are new views of its people
    sample = [observe(rng, person, rng.choice(["police", "school", "la"]), 0) for person in rng.sample(people, count)]
    return [Record.from_raw(f"probe-{i}:0", **raw) for i, (raw, _) in enumerate(sample)]


def snapshot_at_a_population_vocabulary(seed: int) -> tuple[float, float, float]:
    """The statistics snapshot at a population's vocabulary (the generator's pool of names is small):
    100,000 given and 300,000 family names of made-up letters, 10,000 merges, 2,000 pairs kept apart.
    Returns (MiB of the body, seconds to write it, seconds to load it)."""
    rng = random.Random(seed)

    def made_up() -> str:
        return "".join(rng.choice(string.ascii_lowercase) for _ in range(rng.randint(3, 10)))

    resolver = Resolver()
    given, family = [made_up() for _ in range(100_000)], [made_up() for _ in range(300_000)]
    resolver.given_counts = Counter({name: rng.randint(1, 500) for name in given})
    resolver.family_counts = Counter({name: rng.randint(1, 500) for name in family})
    resolver.given_families = {name: set(rng.sample(family, 5)) for name in given}
    resolver.common_given_names = given[:3_000]
    resolver.total = max(sum(resolver.given_counts.values()), sum(resolver.family_counts.values()))
    resolver.saw_person("P01000000")
    resolver.absorbed_into = {f"P{i:08d}": f"P{i + 1:08d}" for i in range(0, 20_000, 2)}
    resolver.apart = {frozenset((f"P{i:08d}", f"P{i + 7:08d}")) for i in range(2_000)}
    started = time.perf_counter()
    body = snapshot_of(resolver)
    written = time.perf_counter() - started
    started = time.perf_counter()
    restore(Resolver(), body)
    return len(body.encode()) / 2**20, written, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=100_000)
    parser.add_argument("--probes", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--batch", type=int, default=50, help="records per unit of work")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--database-url", help="default: SQLite in a new temporary directory")
    parser.add_argument("--postgres", action="store_true", help="on a throw-away PostgreSQL 15 server")
    args = parser.parse_args()
    directory = tempfile.mkdtemp(prefix="safeguard-shared-index-")
    url = args.database_url or f"sqlite:///{Path(directory) / 'store.db'}"
    server, server_directory = None, Path(tempfile.mkdtemp(prefix="safeguard-pg-"))
    try:
        size, written, loaded = snapshot_at_a_population_vocabulary(args.seed)
        print(f"statistics snapshot at a population's vocabulary: {size:,.1f} MiB, written in {written:,.1f} s, "
              f"loaded in {loaded:,.1f} s")
        if args.postgres:
            from tests.postgres import PostgresServer

            server = PostgresServer(server_directory).start()
            url = server.create_database("shared_index")
        measure(url, directory, args)
    finally:
        if server is not None:
            server.stop()
        for scratch in (directory, server_directory):  # a million persons take 1.6 GB on disk
            shutil.rmtree(scratch, ignore_errors=True)


def measure(url: str, directory: str, args: argparse.Namespace) -> None:
    spawn = multiprocessing.get_context("spawn")

    filled = fill_log(url, args.people, args.seed)
    print(f"log of {args.people:,} persons written in {filled:,.0f} s ({url.split(':')[0]})")
    with spawn.Pool(1) as pool:
        indexed, peak, blocks = pool.apply(first_start, (url,))
    print(f"first worker indexed the log once in {indexed:,.0f} s (peak {peak:,.0f} MiB: the in-memory replay of "
          f"the upgrade path), {blocks:,} blocking-key rows")
    if url.startswith("sqlite"):
        size = sum(f.stat().st_size for f in Path(directory).glob("store.db*"))
        print(f"store on disk: {size / 2**20:,.0f} MiB")

    records = probes(args.people, args.probes, args.seed)
    half = len(records) // 2
    for workers, share in ((1, records[:half]), (args.workers, records[half:])):
        ready = spawn.Manager().Barrier(workers)
        with spawn.Pool(workers) as pool:
            results = pool.starmap(worker, [(url, share, turn, workers, args.batch, ready) for turn in range(workers)])
        resolved = sum(r[4] for r in results)
        slowest = max(r[2] for r in results)
        for turn, (start_up, started_mib, resolving, end_mib, count) in enumerate(results):
            print(f"worker {turn + 1} of {workers}: started in {start_up:,.1f} s holding {started_mib:,.0f} MiB; "
                  f"resolved {count:,} records in {resolving:,.0f} s; {end_mib:,.0f} MiB at the end")
        print(f"{workers} worker(s): {resolved:,} records at {resolved / slowest:,.0f} records/s together (units of work"
              f" of {args.batch}); workers' memory together {sum(r[3] for r in results):,.0f} MiB")

if __name__ == "__main__":
    main()
