"""How much recall the resolver's safety rules leave on the table: the highest pairwise recall (and F1 at
precision 1) that any resolver keeping them could reach on each benchmark set, beside what ours reaches.

Run: ``.venv/bin/python -m benchmarks.identity_ceiling`` (FEBRL needs the benchmark extra, as
``benchmarks.identity`` does). Prints figures; asserts nothing.

The rules (``streams/identity/resolver.py``) refuse an automatic join, however strong the rest, of
- **no name**: a record with no given name, or an initial that is no name (which of a family's children
  born that day is it? an operator's question: the review queue);
- **another date**: two dates of birth that cannot be one date mistyped (a day, a month or a year out, or
  day and month swapped): a parent and a child of one name at one address;
- **twins**: two different real given names at one family name, date of birth and address.
One NHS number on both records overrides all three, as in the resolver.

The ceiling joins every true pair no rule refuses, and through them every pair they connect (a record
joined to two others joins those two): a resolver that misses nothing else. It is an upper bound up to one
rare case: the resolver weighs a record against a person's records together, so it may join a record
whose name only a nameless-agreeing member's sibling record carries (one member's name, another's date).
Each rule is also lifted alone, to show what it costs. Whether a name is real is the resolver's own
reading after it has resolved the set (its name statistics), so the ceiling moves with the rules.
"""

from __future__ import annotations

import argparse
import random
from collections import defaultdict
from collections.abc import Callable, Iterable
from itertools import combinations

from benchmarks.identity import _groups, febrl_sets, pairs, resolved_by, score
from streams.identity.resolver import Record, Resolver, _is_initial, _twins, dates_may_agree, fingerprint_of

RULES = ("no name", "another date", "twins")


def refusal(a: Record, b: Record, real_name: Callable[[str], bool], rules: Iterable[str] = RULES) -> str | None:
    """The first of ``rules`` that refuses joining a and b automatically, or None. Exact duplicates (one
    record sent twice) and two records with one NHS number (the resolver's strongest evidence) are never
    refused."""
    if fingerprint_of(a) == fingerprint_of(b) or (a.nhs_number and a.nhs_number == b.nhs_number):
        return None
    if "no name" in rules and (_is_initial(a.given_name, real_name) or _is_initial(b.given_name, real_name)):
        return "no name"
    if ("another date" in rules and a.date_of_birth and b.date_of_birth and a.date_of_birth != b.date_of_birth
            and not dates_may_agree(a.date_of_birth, b.date_of_birth)):
        return "another date"
    if "twins" in rules and _twins(a, b, real_name):
        return "twins"
    return None


def recall_ceiling(records: list[Record], truth: dict[str, int], real_name: Callable[[str], bool],
                   rules: Iterable[str] = RULES) -> tuple[float, dict[str, int]]:
    """The share of true pairs joined through pairs no rule refuses; and how many true pairs each rule refused."""
    rules = tuple(rules)
    by_person: dict[int, list[Record]] = defaultdict(list)
    for record in records:
        by_person[truth[record.record_id]].append(record)
    true_pairs = joined = 0
    refused: dict[str, int] = defaultdict(int)
    for members in by_person.values():
        true_pairs += len(members) * (len(members) - 1) // 2
        parent = list(range(len(members)))

        def root(i: int) -> int:
            while parent[i] != i:
                parent[i] = parent[parent[i]]
                i = parent[i]
            return i

        for i, j in combinations(range(len(members)), 2):
            rule = refusal(members[i], members[j], real_name, rules)
            if rule is None:
                parent[root(i)] = root(j)
            else:
                refused[rule] += 1
        sizes: dict[int, int] = defaultdict(int)
        for i in range(len(members)):
            sizes[root(i)] += 1
        joined += sum(size * (size - 1) // 2 for size in sizes.values())
    return (joined / true_pairs if true_pairs else 1.0), dict(refused)


def ours(records: list[Record], truth: dict[str, int]) -> tuple[Resolver, float, float]:
    """The resolver over the set in order: itself (its name statistics) and its pairwise precision and recall."""
    resolver = Resolver()
    labels = resolved_by(resolver, records)
    precision, recall, _ = score(pairs(_groups(labels, records)),
                                 pairs(_groups({key: str(person) for key, person in truth.items()}, records)))
    return resolver, precision, recall


def f1_at_full_precision(recall: float) -> float:
    return 2 * recall / (1 + recall)


def datasets(seed: int, households: int, people: int) -> Iterable[tuple[str, list[Record], dict[str, int]]]:
    from benchmarks.corrupted_people import CorruptedPeople
    from benchmarks.synthetic_people import make_people, observations

    rng = random.Random(seed)
    seen = observations(rng, make_people(rng, people))
    yield (f"synthetic families, seed {seed}", [Record.from_raw(str(i), **raw) for i, (raw, _) in enumerate(seen)],
           {str(i): person for i, (_, person) in enumerate(seen)})
    for generator_seed in (seed, seed + 4):
        seen, _ = CorruptedPeople(generator_seed).records(households)
        yield (f"second generator, seed {generator_seed}", [Record.from_raw(str(i), **raw) for i, (raw, _) in enumerate(seen)],
               {str(i): person for i, (_, person) in enumerate(seen)})
    for number, records, truth in febrl_sets():
        yield f"FEBRL{number}", records, truth


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--households", type=int, default=4_000, help="households of the second generator")
    parser.add_argument("--people", type=int, default=11_000, help="synthetic people")
    args = parser.parse_args()
    print(f"{'set':<30}{'ours P':>8}{'ours R':>8}{'ceiling R':>10}{'F1 ceil.':>9}"
          f"{'without no name':>17}{'without another date':>22}{'twins only':>12}  true pairs refused (all rules)")
    for name, records, truth in datasets(args.seed, args.households, args.people):
        resolver, precision, recall = ours(records, truth)
        ceiling, refused = recall_ceiling(records, truth, resolver.real_name)
        lifted = [recall_ceiling(records, truth, resolver.real_name, [rule for rule in RULES if rule != dropped])[0]
                  for dropped in ("no name", "another date")]
        twins_only, _ = recall_ceiling(records, truth, resolver.real_name, ["twins"])
        print(f"{name:<30}{precision:>8.4f}{recall:>8.4f}{ceiling:>10.4f}{f1_at_full_precision(ceiling):>9.4f}"
              f"{lifted[0]:>17.4f}{lifted[1]:>22.4f}{twins_only:>12.4f}  "
              + ", ".join(f"{rule} {refused.get(rule, 0):,}" for rule in RULES), flush=True)
    print("ceiling R: the highest recall any resolver keeping every rule could reach (F1 ceil.: at precision 1);"
          " the next three columns: the ceiling with a rule lifted, or with the twin rule alone.")


if __name__ == "__main__":
    main()
