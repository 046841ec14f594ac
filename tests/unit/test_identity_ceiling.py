"""The recall ceiling of the safety rules (``benchmarks/identity_ceiling.py``): each rule refuses the pairs it
names, joins run through the pairs no rule refuses, and the resolver never passes the ceiling."""

import random

from benchmarks.identity_ceiling import RULES, ours, recall_ceiling, refusal
from benchmarks.synthetic_people import make_people, observations
from streams.identity.resolver import Record, Resolver

real_name = Resolver().real_name


def record(record_id: str, given: str, dob: str, family: str = "Pritchard", nhs: str = "", postcode: str = "LL57 2DG",
           address: str = "3 Ffordd Penrhos") -> Record:
    return Record.from_raw(record_id, given_name=given, family_name=family, date_of_birth=dob, sex="f", nhs_number=nhs,
                           postcode=postcode, address_line=address)


def test_each_rule_refuses_what_it_names_and_nothing_else():
    megan = record("a", "Megan", "2015-03-14")
    assert refusal(megan, record("b", "Megn", "2015-03-14"), real_name) is None  # a typing error
    assert refusal(megan, record("b", "", "2015-03-14"), real_name) == "no name"
    assert refusal(megan, record("b", "M", "2015-03-14"), real_name) == "no name"
    assert refusal(megan, record("b", "Megan", "1988-07-02"), real_name) == "another date"
    assert refusal(megan, record("b", "Megan", "2015-03-15"), real_name) is None  # a day out: one date mistyped
    assert refusal(megan, record("b", "Seren", "2015-03-14"), real_name) == "twins"
    assert refusal(megan, record("b", "Seren", "2015-03-14"), real_name, rules=["no name"]) is None


def test_an_nhs_number_or_an_exact_duplicate_is_never_refused():
    nameless = record("a", "", "2015-03-14", nhs="9434765919")
    assert refusal(nameless, record("b", "Megan", "2015-03-14", nhs="9434765919"), real_name) is None
    assert refusal(nameless, record("b", "", "2015-03-14", nhs="9434765919"), real_name) is None
    assert refusal(record("a", "", "2015-03-14"), record("b", "", "2015-03-14"), real_name) is None


def test_pairs_no_rule_refuses_join_what_they_connect():
    # Megan's dates a month and a year out of the middle record's, so two years and a month apart from each other.
    chain = [record("a", "Megan", "2014-02-14"), record("b", "Megan", "2015-02-14"), record("c", "Megan", "2015-03-14")]
    assert refusal(chain[0], chain[2], real_name) == "another date"
    truth = {"a": 1, "b": 1, "c": 1}
    assert recall_ceiling(chain, truth, real_name) == (1.0, {"another date": 1})
    # Without the middle record, the two ends are never joined.
    assert recall_ceiling([chain[0], chain[2]], {"a": 1, "c": 1}, real_name) == (0.0, {"another date": 1})


def test_a_record_no_rule_joins_stays_apart_and_lifting_a_rule_joins_it():
    records = [record("a", "Megan", "2015-03-14"), record("b", "Megn", "2015-03-14"), record("c", "", "2015-03-14")]
    truth = {"a": 1, "b": 1, "c": 1}
    recall, refused = recall_ceiling(records, truth, real_name)
    assert (round(recall, 4), refused) == (round(1 / 3, 4), {"no name": 2})
    assert recall_ceiling(records, truth, real_name, [rule for rule in RULES if rule != "no name"])[0] == 1.0


def test_the_resolver_keeps_under_the_ceiling_of_its_own_rules():
    rng = random.Random(5)
    seen = observations(rng, make_people(rng, 1500))
    records = [Record.from_raw(str(i), **raw) for i, (raw, _) in enumerate(seen)]
    truth = {str(i): person for i, (_, person) in enumerate(seen)}
    resolver, precision, recall = ours(records, truth)
    ceiling, refused = recall_ceiling(records, truth, resolver.real_name)
    assert precision > 0.98 and 0.5 < recall <= ceiling < 1.0
    assert set(refused) <= set(RULES) and sum(refused.values()) > 0
