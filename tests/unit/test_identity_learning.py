"""The identity benchmark's EM experiment: the estimate recovers a known model, bad input keeps the curated
weights, and the safety rules are not learnt away."""

import math
import random
from datetime import date, timedelta

from benchmarks.learnt_weights import EXACT, MATCH_THRESHOLD, _estimate, comparison_levels, learn_weights, learnt_resolver
from benchmarks.synthetic_people import make_people, observations
from streams.identity.resolver import FIELDS, Record, Resolver

# A known model: per field, level -> (m, u). Exact names are given their own u (the name frequency).
MODEL = [
    {10.0: (0.9, 0.001), 3.0: (0.07, 0.02), -12.0: (0.03, 0.979)},
    {EXACT: (0.8, 0.01), 3.0: (0.15, 0.05), -6.0: (0.05, 0.94)},
    {EXACT: (0.85, 0.02), -5.0: (0.15, 0.98)},
    {0.5: (0.98, 0.5), -10.0: (0.02, 0.5)},
    {4.0: (0.7, 0.001), -2.5: (0.3, 0.999)},
    {1.5: (0.6, 0.01), 0.0: (0.4, 0.99)},
    {1.0: (0.8, 0.1), 0.0: (0.2, 0.9)},
]


def draw(rng: random.Random, matching: bool) -> tuple:
    vector = []
    for field in MODEL:
        levels = list(field)
        weights = [field[level][0 if matching else 1] for level in levels]
        vector.append(rng.choices(levels, weights)[0])
    return tuple(vector)


def test_em_recovers_the_m_probabilities_and_share_of_a_known_model():
    rng = random.Random(3)
    candidates = [draw(rng, matching=rng.random() < 0.3) for _ in range(60_000)]
    random_pairs = [draw(rng, matching=False) for _ in range(200_000)]
    learnt = _estimate(candidates, random_pairs, [MODEL[1][EXACT][1], MODEL[2][EXACT][1]], record_count=10_000)
    assert learnt is not None
    assert abs(learnt.match_share * (10_000 * 9_999 / 2) / 60_000 - 0.3) < 0.02  # matches among the candidates
    for field, levels in enumerate(MODEL):
        for level, (m, u) in levels.items():
            if level == EXACT:
                assert abs(learnt.exact_m[field - 1] - m) < 0.03, (FIELDS[field], level)
            else:
                expected = learnt.scale * math.log2(m / u)
                assert abs(learnt.levels[field][level] - expected) < 0.35 * learnt.scale + 0.1, (FIELDS[field], level)
    assert abs(learnt.learnt_threshold * learnt.scale - MATCH_THRESHOLD) < 1e-9  # the learnt threshold lands on ours


def test_too_few_records_keep_the_curated_weights():
    records = [Record.from_raw(str(i), given_name="Nia", family_name="Jones", date_of_birth="2016-01-12") for i in range(5)]
    assert learn_weights(records) is None
    assert learnt_resolver(records).weights is None


def test_learnt_weights_do_not_learn_away_twins_or_nhs_numbers():
    rng = random.Random(5)
    seen = observations(rng, make_people(rng, 1_500))
    records = [Record.from_raw(str(i), **raw) for i, (raw, _) in enumerate(seen)]
    resolver = learnt_resolver(records)
    assert resolver.weights is not None and resolver.weights.pairs >= 1_000
    for record in records:
        resolver.resolve(record)
    ella = Record.from_raw("ella", given_name="Ella", family_name="Cadwaladr", date_of_birth="2016-01-12", postcode="LD1 5LG")
    bella = Record.from_raw("bella", given_name="Bella", family_name="Cadwaladr", date_of_birth="2016-01-12", postcode="LD1 5LG")
    assert resolver.resolve(ella).person_id != resolver.resolve(bella).person_id
    first = Record.from_raw("n1", given_name="Osian", family_name="Prydderch", date_of_birth="2015-02-03", nhs_number="9434765919")
    second = Record.from_raw("n2", given_name="Osian", family_name="Prydderch", date_of_birth="2015-02-03", nhs_number="9434765870")
    assert resolver.resolve(first).person_id != resolver.resolve(second).person_id


def test_records_that_all_carry_nhs_numbers_teach_nothing():
    """Every pair is decided by the NHS-number rule: no level to learn from, so the curated weights stay."""
    numbers = ["9434765919", "9434765870", "4010232137", "9990548609", "9876543210"]
    records = [Record.from_raw(f"{i}-{j}", given_name="Nia", family_name="Jones", date_of_birth="2016-01-12", nhs_number=number)
               for i, number in enumerate(numbers) for j in range(80)]
    assert learn_weights(records) is None


def test_names_read_the_wrong_way_round_are_not_learnt_as_a_level():
    resolver = Resolver()
    written = Record.from_raw("a", given_name="Gethin", family_name="Cadwaladr", date_of_birth="2012-07-04")
    swapped = Record.from_raw("b", given_name="Cadwaladr", family_name="Gethin", date_of_birth="2012-07-04")
    assert comparison_levels(resolver, written, swapped) is None
    assert comparison_levels(resolver, written, written)[1] == EXACT


class TestMLearntFromNhsNumbers:
    """The second experiment: m from candidate pairs whose records carry one NHS number (labelled matches)."""

    def test_m_is_the_share_of_labelled_matches_at_each_level(self):
        """Twenty records of each of forty people (one NHS number and date of birth each, each record at its own address line),
        a tenth with the date of birth a day out: the exact date is learnt as stronger evidence than a day
        out, and the share of matches among the candidates comes from the numbered pairs."""
        from benchmarks.learnt_weights import learn_from_nhs_numbers
        from streams.runtime.demo import nhs_number

        rng = random.Random(9)
        records = []
        for person in range(40):
            number = nhs_number(rng)
            born = date(2016, 1 + person % 12, 3 + 5 * (person // 12))  # each person's own date of birth
            for copy in range(20):
                day = born if rng.random() > 0.1 else born + timedelta(days=1)
                records.append(Record.from_raw(f"{person}-{copy}", given_name=f"Nia{chr(97 + person // 26)}{chr(97 + person % 26)}",
                                               family_name="Jones", date_of_birth=day.isoformat(), postcode=f"LD1 {person % 9}LG",
                                               address_line=f"Heol {chr(97 + copy)}", nhs_number=number))
        learnt = learn_from_nhs_numbers(records)
        assert learnt is not None and learnt.pairs >= 300
        assert learnt.levels[0][10.0] > learnt.levels[0][3.0]

    def test_records_without_nhs_numbers_keep_the_curated_weights(self):
        """FEBRL has none: nothing is labelled, nothing learnt."""
        from benchmarks.learnt_weights import learn_from_nhs_numbers, nhs_learnt_resolver

        rng = random.Random(5)
        seen = observations(rng, make_people(rng, 300))
        records = [Record.from_raw(str(i), **{**raw, "nhs_number": ""}) for i, (raw, _) in enumerate(seen)]
        assert learn_from_nhs_numbers(records) is None
        assert nhs_learnt_resolver(records).weights is None
