"""An experiment, measured by the identity benchmark: match weights learnt from the records by EM.

Inputs: person records. Outputs: ``LearntWeights`` for the resolver's ``weights`` hook: for every field it
compares and every level it grades (exact, a form of the name, a typing slip, a day out, one character of
the postcode...), log2 m/u, where u is how often random pairs of the records agree at that level (for two
equal names: the chance that two records share that very name, its term frequency) and m, with the share
of matches among all pairs (lambda), comes from EM over the candidate pairs the resolver itself would
weigh (Splink's recipe); the weights are scaled so that the threshold lambda implies for a posterior of
0.999 lands on the resolver's own threshold. The safety rules are not learnt (NHS numbers, twins, a date
no record of a person agrees with, the review band).

Why an experiment and not an option of the service: on FEBRL it finds more pairs at precision 1.0, but
on family data it loses recall and merges more twins, and it merges siblings born two years apart on the
same day of the same month at one address (learnt: a different given name is weak evidence, a shared
postcode strong), because a household breaks the conditional independence EM assumes. The README gives
the figures. Deterministic: the same records in the same order give the same weights.

A second experiment, ``learn_from_nhs_numbers``: no EM; m from labelled matches (the candidate pairs
whose two records carry one valid NHS number, compared without it), u as above (random pairs, compared
without NHS numbers), the share of matches from the candidate pairs whose records both carry one. It
cannot learn siblings as matches, yet it too learns a different given name as weak evidence against
(true matches do carry nicknames and typing errors the curated levels call different names), and it
loses on family data too (README).
"""

from __future__ import annotations

import math
import random
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, replace

import numpy as np

from streams.identity.resolver import FIELDS, MATCH_THRESHOLD, Record, Resolver, names_swapped

EXACT = "exact"  # the level of two equal names (its weight is u: the name's own frequency); others are named by their curated weight
MIN_PAIRS = 300  # fewer candidate pairs than this: nothing to learn from, keep the curated weights
MAX_PAIRS = 400_000
ITERATIONS = 40
RANDOM_PAIRS = 50_000
MATCH_PROBABILITY = 0.999  # the posterior a merge needs; with lambda it gives the learnt threshold


@dataclass(frozen=True)
class LearntWeights:
    """Per field (index into ``FIELDS``) and level, the learnt weight on the resolver's scale; and how it was learnt."""

    levels: tuple[dict[object, float], ...]
    exact_m: tuple[float, float]  # given, family: m of exact agreement (its u is the name's own frequency)
    scale: float  # learnt log2 m/u times this: the learnt threshold lands on the resolver's (MATCH_THRESHOLD)
    match_share: float  # lambda: the share of all record pairs that are matches
    learnt_threshold: float  # before scaling
    pairs: int

    def level(self, field: int, curated: float) -> float:
        return self.levels[field].get(curated, curated)

    def exact(self, field: int, frequency: float) -> float:
        """Two equal names: m over the chance that two records share this name (term frequency)."""
        return min(max(self.scale * math.log2(self.exact_m[field - 1] / frequency), 0.0), 12.0)

    def describe(self) -> list[str]:
        lines = [f"learnt from {self.pairs:,} candidate pairs and {RANDOM_PAIRS:,} random pairs; matches "
                 f"{self.match_share:.2e} of all pairs; learnt threshold {self.learnt_threshold:.1f}, "
                 f"scaled by {self.scale:.2f} to {MATCH_THRESHOLD:.0f}"]
        for field, levels in zip(FIELDS, self.levels):
            shown = ", ".join(f"{level}: {weight:+.1f}" for level, weight in sorted(levels.items(), key=lambda kv: -kv[1]))
            lines.append(f"  {field}: {shown}")
        return lines


def comparison_levels(resolver: Resolver, a: Record, b: Record) -> tuple[object, ...] | None:
    """The level each field agrees at (None where a record lacks it), or None for a pair decided by a
    rule (NHS numbers, twins) or weighed by one (names written the wrong way round): they teach nothing."""
    parts = resolver._evidence(a, b)
    if isinstance(parts, float):
        return None
    if names_swapped(resolver, a, b):
        return None
    given = None if parts[1] is None else EXACT if a.given_name == b.given_name else parts[1]
    family = None if parts[2] is None else EXACT if a.family_name == b.family_name else parts[2]
    return (parts[0], given, family, *parts[3:])


def learn_weights(records: list[Record], seed: int = 7) -> LearntWeights | None:
    """u from random pairs of the records, m and the share of matches by EM over the candidate pairs the
    resolver would weigh (each record against the ones before it). None when there is too little to learn from."""
    scout = Resolver()
    vectors: list[tuple[object, ...]] = []
    sampler = random.Random(seed)
    seen = 0
    filed: list[Record] = []
    for record, other in candidate_pairs(scout, records, filed):
        vector = comparison_levels(scout, record, other)
        if vector is None:
            continue
        seen += 1
        if len(vectors) < MAX_PAIRS:
            vectors.append(vector)
        elif (slot := sampler.randrange(seen)) < MAX_PAIRS:
            vectors[slot] = vector
    if len(vectors) < MIN_PAIRS or len(filed) < 2:
        return None
    random_vectors = _random_vectors(scout, filed, sampler)
    if not random_vectors:
        return None  # every random pair was decided by a rule (NHS numbers on all): nothing to learn u from
    frequencies = [_frequencies(scout.given_counts), _frequencies(scout.family_counts)]
    return _estimate(vectors, random_vectors, frequencies, len(filed), pairs_seen=seen)


def candidate_pairs(scout: Resolver, records: list[Record], filed: list[Record]) -> Iterator[tuple[Record, Record]]:
    """Each record with each earlier one the resolver would weigh it against (its candidates); every record
    is then filed on its own in ``scout`` (blocking only, no decision) and appended to ``filed``. A record
    with the same details as an earlier one is passed over, as the resolver does."""
    for record in records:
        if scout.same_details(record) is not None:
            continue
        for candidate_id in sorted(scout._candidates(record)):
            yield record, scout.records[candidate_id]
        scout._add(record, scout._new_person())
        filed.append(record)


def _level_ids(vectors: list[tuple[object, ...]]) -> list[dict[object, int]]:
    level_ids: list[dict[object, int]] = [{} for _ in FIELDS]
    for vector in vectors:
        for field, level in enumerate(vector):
            if level is not None:
                level_ids[field].setdefault(level, len(level_ids[field]))
    return level_ids


def _table(level_ids: list[dict[object, int]], sample: list[tuple[object, ...]]) -> tuple[np.ndarray, np.ndarray]:
    """Each distinct pattern of levels (-1: a field a record lacks) and how many pairs show it."""
    patterns = Counter(tuple(-1 if level is None else level_ids[f][level] for f, level in enumerate(v)) for v in sample)
    return np.array(list(patterns), dtype=np.int64), np.array(list(patterns.values()), dtype=np.float64)


def _level_shares(level_ids: list[dict[object, int]], rows: np.ndarray, counts: np.ndarray) -> list[np.ndarray]:
    """Per field, the share of the pairs (weighted by ``counts``) at each level, smoothed by half a pair."""
    shares = []
    for f in range(len(FIELDS)):
        present = rows[:, f] >= 0
        counted = np.bincount(rows[present, f], weights=counts[present], minlength=len(level_ids[f])) + 0.5
        shares.append(counted / counted.sum())
    return shares


def _u(level_ids: list[dict[object, int]], random_vectors: list[tuple[object, ...]], exact_u: list[float]) -> list[np.ndarray]:
    """u: how often random pairs agree at each level; for two equal names, the chance two records share a name."""
    u = _level_shares(level_ids, *_table(level_ids, random_vectors))
    for f, share in ((1, exact_u[0]), (2, exact_u[1])):
        if EXACT in level_ids[f]:
            u[f][level_ids[f][EXACT]] = share
    return u


def _random_vectors(scout: Resolver, filed: list[Record], sampler: random.Random,
                    without_nhs: bool = False) -> list[tuple[object, ...]]:
    """Levels of random pairs of records (``without_nhs``: compared as if neither carried its NHS number)."""
    vectors = []
    for _ in range(RANDOM_PAIRS):
        a, b = sampler.sample(filed, 2)
        if without_nhs:
            a, b = replace(a, nhs_number=None), replace(b, nhs_number=None)
        vector = comparison_levels(scout, a, b)
        if vector is not None:
            vectors.append(vector)
    return vectors


def learn_from_nhs_numbers(records: list[Record], seed: int = 7) -> LearntWeights | None:
    """m from labelled matches: the candidate pairs the resolver would weigh whose two records carry one
    valid NHS number (compared without it); u from random pairs, as for EM; the share of matches among all
    candidate pairs taken from those whose records both carry an NHS number. No EM, so siblings cannot be
    learnt as matches. None when too few labelled pairs (FEBRL has no NHS numbers)."""
    scout = Resolver()
    sampler = random.Random(seed)
    labelled: list[tuple[object, ...]] = []
    pairs = numbered_pairs = numbered_matches = 0
    filed: list[Record] = []
    for record, other in candidate_pairs(scout, records, filed):
        pairs += 1
        if not (record.nhs_number and other.nhs_number):
            continue
        numbered_pairs += 1
        if record.nhs_number == other.nhs_number:
            numbered_matches += 1
            vector = comparison_levels(scout, replace(record, nhs_number=None), replace(other, nhs_number=None))
            if vector is not None:
                labelled.append(vector)
    if len(labelled) < MIN_PAIRS or len(filed) < 2:
        return None
    random_vectors = _random_vectors(scout, filed, sampler, without_nhs=True)  # as the labelled pairs are compared
    if not random_vectors:
        return None
    level_ids = _level_ids(labelled + random_vectors)
    u = _u(level_ids, random_vectors, [_frequencies(scout.given_counts), _frequencies(scout.family_counts)])
    m = _level_shares(level_ids, *_table(level_ids, labelled))
    matches = numbered_matches / numbered_pairs * pairs
    return _weights(level_ids, m, u, matches, len(filed), len(labelled))


def _frequencies(counts: Counter[str]) -> float:
    """The chance that two records with the name both have the same one: sum of squared shares."""
    total = sum(counts.values())
    return sum((count / total) ** 2 for count in counts.values()) if total else 1.0


def _estimate(vectors: list[tuple[object, ...]], random_vectors: list[tuple[object, ...]], exact_u: list[float],
              record_count: int, pairs_seen: int | None = None) -> LearntWeights | None:
    """EM with u fixed from ``random_vectors``; ``vectors`` may be a sample of ``pairs_seen`` candidate pairs."""
    fields = len(FIELDS)
    level_ids = _level_ids(vectors + random_vectors)
    u = _u(level_ids, random_vectors, exact_u)
    rows, counts = _table(level_ids, vectors)
    m = [np.array([2.0 ** _start_weight(level) for level in ids], dtype=np.float64) for ids in level_ids]
    m = [values / values.sum() for values in m]
    share = 0.5
    for _ in range(ITERATIONS):
        log_match = np.full(len(rows), math.log(share))
        log_other = np.full(len(rows), math.log(1 - share))
        for f in range(fields):
            present = rows[:, f] >= 0
            log_match[present] += np.log(m[f][rows[present, f]])
            log_other[present] += np.log(u[f][rows[present, f]])
        match = 1.0 / (1.0 + np.exp(np.clip(log_other - log_match, -700, 700)))
        weighted = match * counts
        share = float(np.clip(weighted.sum() / counts.sum(), 1e-6, 1 - 1e-6))
        m = _level_shares(level_ids, rows, weighted)
    matches = share * (pairs_seen or counts.sum())  # scaled up from the sample to every candidate pair
    return _weights(level_ids, m, u, matches, record_count, len(vectors))


def _weights(level_ids: list[dict[object, int]], m: list[np.ndarray], u: list[np.ndarray], matches: float,
             record_count: int, pairs: int) -> LearntWeights | None:
    """log2 m/u per level, scaled so that the threshold the share of matches implies lands on the resolver's."""
    pair_share = min(max(matches / (record_count * (record_count - 1) / 2), 1e-12), 0.5)
    learnt_threshold = math.log2(MATCH_PROBABILITY / (1 - MATCH_PROBABILITY)) - math.log2(pair_share / (1 - pair_share))
    if learnt_threshold <= 0:
        return None
    scale = MATCH_THRESHOLD / learnt_threshold
    levels = tuple({level: scale * float(np.log2(m[f][i] / u[f][i])) for level, i in ids.items() if level != EXACT}
                   for f, ids in enumerate(level_ids))
    exact_m = tuple(float(m[f][level_ids[f][EXACT]]) if EXACT in level_ids[f] else 0.9 for f in (1, 2))
    if levels[0].get(10.0, 0.0) <= 0:
        return None  # matches were not found to share their date of birth: the estimate is not to be trusted
    return LearntWeights(levels=levels, exact_m=exact_m, scale=scale, match_share=pair_share,
                         learnt_threshold=learnt_threshold, pairs=pairs)


def _start_weight(level: object) -> float:
    return 6.0 if level == EXACT else float(level)  # a curated level is named by its curated weight


def learnt_resolver(records: list[Record]) -> Resolver:
    """A resolver weighing with the weights learnt from ``records`` (the curated ones if nothing could be learnt)."""
    return Resolver(weights=learn_weights(records))


def nhs_learnt_resolver(records: list[Record]) -> Resolver:
    """A resolver weighing with m learnt from NHS-agreeing pairs (the curated weights if too few)."""
    return Resolver(weights=learn_from_nhs_numbers(records))
