"""Incremental identity resolution, record by record, in the Fellegi-Sunter style.

Inputs: person records (names, date of birth, sex, NHS number, postcode, address). Outputs: for
each record, the person it belongs to: an existing person (``match``), a new person (``new``),
or a new person with the closest candidate queued for a human (``review``). Guarantees: a
valid NHS number dominates (equal: same person; different: different people); an invalid one is
ignored and reported; twins (one family name, perhaps spelt another way or missing from one record,
date of birth and address, two different real given names: neither a form, a consonant spelt another
way, nor a typing error of the other, where a spelling one source repeats in several families is
still a typing error beside a far commoner name; also read across a person's records, whose initials
and short forms stand for either twin; one twin's date may be mistyped) never merge, nor does a
record join a person none of whose dates of birth (or sexes) agree with its own (parent and child of the same name); a
record with no given name, or a person known only without one, and a different real name at the
same family name and date of birth but another address are for an operator, never merged
automatically (which of a family's children born that day is it?) unless by NHS number, and a
person known only without a given name does not hold a named record back from its match; a date
a day, a month or a year out, or with day and month swapped, is weaker evidence, not a veto, and so
is a given name that is no name, read as the other mistyped at one home (Owhan / Owain); a shared
common surname is weak evidence and a rare one strong (term-frequency adjustment). A false merge is
worse than a missed one: the thresholds are set for precision.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from sys import intern
from typing import Protocol

from rapidfuzz import fuzz, process
from rapidfuzz.distance import OSA, JaroWinkler

from schemas.validators import nhs_number_problem, normalise_postcode
from streams.identity.names import (
    first_given,
    fold,
    known_given_name,
    may_be_a_name,
    name_forms,
    named_somewhere,
    nearest_given_names,
    one_name,
    one_sound,
    parse_date,
    phonetic,
    same_name_group,
    surname_parts,
    transposed,
    typing_slip,
)


class WeightTable(Protocol):
    """Weights other than the curated ones (the benchmark's EM experiment, benchmarks/learnt_weights.py):
    ``level`` maps a field's curated level weight, ``exact`` gives two equal names' weight from the name's frequency."""

    def level(self, field: int, curated: float) -> float: ...

    def exact(self, field: int, frequency: float) -> float: ...

# Log2 evidence needed to merge. 14 meets precision >= 0.995 with recall >= 0.95 on the benchmark's
# families (15: precision 0.9965, recall 0.947); a deployment may raise it (SAFEGUARD_IDENTITY_MATCH_THRESHOLD).
MATCH_THRESHOLD = 14.0
REVIEW_THRESHOLD = 9.0
AMBIGUITY_MARGIN = 3.0
# A given name borne in this many families of the index is a real name, even if no curated list has it.
# Families, not records: a misspelling kept by one source system comes back on every record it sends.
KNOWN_IN_INDEX = 5
# ... unless it is a typing error after all: a curated name it may be a mistyping of, from the same first
# letter, is this many times as common in the index, and common itself (Dielan in 22 records beside Dylan's
# 342: one source's habit). Only for spellings this long: Ria beside Mia, Kaja beside Maja, Ula beside
# Ola or Li beside Lily are names of their own, however rare.
TYPING_ERROR_RATIO = 10
COMMON_NAME_RECORDS = 50
DWARFED_MIN_LETTERS = 5
YEAR_SLIP_MAX = 10  # a year one digit out (1983 / 1993) is read as mistyped only this close: a parent is further off
KEY_LIMIT = 500  # records under one blocking key beyond which it is skipped
LOOSE_KEY_LIMIT = 40
SIMILAR_SPELLING = 0.8  # Jaro-Winkler: a spelling that is no name, this close to a name, is that name mistyped
DIFFERENT_GIVEN_NAMES = -6.0
# Two given names that differ beyond the graded levels, where one is a real name and the other none, at most
# three edits from it, and the twin rule reads it as the real one mistyped, the dates of birth and family
# names agreeing at one home: second generator recall 0.861 -> 0.865 at the same precision, no twin merged.
GIVEN_NAME_READ_AS_MISTYPED = -2.0


@dataclass(slots=True)
class Record:
    record_id: str
    source: str = ""
    given_name: str = ""
    family_name: str = ""
    date_of_birth: date | None = None
    sex: str = ""
    nhs_number: str | None = None
    postcode: str = ""
    address_line: str = ""
    town: str = ""
    problems: tuple[str, ...] = ()

    @classmethod
    def from_raw(cls, record_id: str, **raw: str | None) -> Record:
        problems = []
        nhs = "".join((raw.get("nhs_number") or "").split())
        if nhs:
            problem = nhs_number_problem(nhs)
            if problem:
                problems.append(f"nhs_number ignored: {problem}")
                nhs = ""
        dob_text = raw.get("date_of_birth") or ""
        dob = parse_date(dob_text)
        if dob_text and dob is None:
            problems.append("date_of_birth ignored: not a recognised date")
        postcode = raw.get("postcode") or ""
        try:
            postcode = normalise_postcode(postcode) if postcode else ""
        except ValueError:
            problems.append("postcode is not a UK postcode: compared as written")
            postcode = " ".join(postcode.upper().split())
        sex = fold(raw.get("sex"))[:1]
        # Interned: a million records share a few thousand names, streets and towns, each held once.
        return cls(record_id=record_id, source=intern(raw.get("source") or ""),
                   given_name=intern(first_given(raw.get("given_name"))), family_name=intern(fold(raw.get("family_name"))),
                   date_of_birth=dob, sex=sex if sex in ("f", "m") else "", nhs_number=nhs or None,
                   postcode=intern(postcode), address_line=intern(fold(raw.get("address_line"))),
                   town=intern(fold(raw.get("town"))), problems=tuple(problems))


@dataclass(frozen=True)
class Decision:
    person_id: str
    action: str  # match | new | review
    score: float
    candidate: str | None = None
    absorbed: tuple[str, ...] = ()  # persons this record proved to be the same as person_id, merged into it
    duplicate_of: str | None = None  # an earlier record with exactly the same details


class Resolver:
    """An in-memory master person index; ``resolve`` assigns each record to a person."""

    def __init__(self, match_threshold: float = MATCH_THRESHOLD, weights: WeightTable | None = None) -> None:
        if match_threshold < REVIEW_THRESHOLD:
            raise ValueError(f"match_threshold {match_threshold} is below the review band ({REVIEW_THRESHOLD})")
        self.match_threshold = match_threshold
        self.weights = weights  # None (the service): the curated weights
        self.records: dict[str, Record] = {}
        self.person_of: dict[str, str] = {}
        self.members: dict[str, list[str]] = defaultdict(list)
        # A blocking key's hash (a number takes half the memory of the key; two keys sharing one only add
        # candidates) -> the records filed under it: one record id alone (most keys), else a list of them.
        self.blocks: dict[int, str | list[str]] = {}
        self.nhs_person: dict[str, str] = {}
        self.family_counts: Counter[str] = Counter()
        self.given_counts: Counter[str] = Counter()
        self.given_families: dict[str, set[str]] = {}  # up to KNOWN_IN_INDEX family names per given name
        self.common_given_names: list[str] = []  # curated given names in COMMON_NAME_RECORDS records or more
        self.total = 0
        self.reviews: list[tuple[str, str, float]] = []
        self.apart: set[frozenset[str]] = set()
        self.absorbed_into: dict[str, str] = {}
        self.by_fingerprint: dict[int, str] = {}  # the hash of a record's details -> the first record with them
        self.same_as: dict[str, str] = {}  # record id -> the earlier record with the same details
        self.duplicates: dict[str, list[str]] = defaultdict(list)
        self._next = 0

    # -- public --------------------------------------------------------------------------------
    def resolve(self, record: Record) -> Decision:
        decision = self.decide(record)
        self.apply(record, decision)
        return decision

    def decide(self, record: Record) -> Decision:
        """The decision for ``record`` against the index as it stands; nothing is changed."""
        earlier = self.same_details(record)
        if earlier is not None:  # a child named in many events is indexed once, not once per event
            return Decision(self.person_of[earlier], "match", 99.0, duplicate_of=earlier)
        return self._decide(record)

    def same_details(self, record: Record) -> str | None:
        """An earlier record with exactly the same details, if any."""
        details = fingerprint_of(record)
        earlier = self.by_fingerprint.get(hash(details))
        # Keyed by the hash (a tuple per record would cost 130 MB at a million): checked, never trusted.
        return earlier if earlier is not None and fingerprint_of(self.records[earlier]) == details else None

    def person_for(self, record_id: str) -> str:
        return self.person_of[self.same_as.get(record_id, record_id)]

    def with_duplicates(self, record_ids: list[str]) -> list[str]:
        """The records and every later record with the same details (all follow a merge)."""
        return [*record_ids, *(d for r in record_ids for d in self.duplicates.get(r, ()))]

    def _alias(self, record_id: str, earlier: str) -> None:
        self.same_as[record_id] = earlier
        self.duplicates[earlier].append(record_id)

    def knows(self, record_id: str) -> bool:
        return record_id in self.person_of or record_id in self.same_as

    def apply(self, record: Record, decision: Decision) -> dict[str, list[str]]:
        """Carry out ``decision``: merges first, then the record joins its person. Returns the record
        ids each absorbed person gave up (what an un-merge moves back)."""
        if decision.duplicate_of is not None:
            self._alias(record.record_id, decision.duplicate_of)
            return {}
        moved = {absorbed: self.merge(absorbed, decision.person_id) for absorbed in decision.absorbed}
        self._add(record, decision.person_id)
        if decision.action == "review" and decision.candidate:
            self.reviews.append((record.record_id, decision.candidate, decision.score))
        return moved

    def add_resolved(self, record: Record, person_id: str) -> None:
        """A record whose person is already known (an index being loaded): no decision is made."""
        earlier = self.same_details(record)
        if earlier is not None and self.person_of[earlier] == person_id:
            self._alias(record.record_id, earlier)
            return
        self._add(record, person_id)
        self.saw_person(person_id)

    def merge(self, absorbed: str, survivor: str) -> list[str]:
        """Every record of ``absorbed`` now belongs to ``survivor`` (the records themselves are kept);
        returns the record ids moved."""
        self.absorbed_into[absorbed] = survivor
        return self.move(list(self.members.get(absorbed, [])), survivor)

    def unmerge(self, record_ids: list[str], restored: str) -> list[str]:
        """The records a merge moved go back to their person, and the two are kept apart from now on."""
        survivors = {self.person_of[r] for r in record_ids if r in self.person_of}
        self.absorbed_into.pop(restored, None)
        moved = self.move([r for r in record_ids if r in self.person_of], restored)
        for survivor in survivors - {restored}:
            self.keep_apart(survivor, restored)
        return moved

    def move(self, record_ids: list[str], person: str) -> list[str]:
        for record_id in record_ids:
            previous = self.person_of[record_id]
            if previous == person:
                continue
            self.members[previous].remove(record_id)
            if not self.members[previous]:
                del self.members[previous]
            self.person_of[record_id] = person
            self.members[person].append(record_id)
            nhs = self.records[record_id].nhs_number
            if nhs and self.nhs_person.get(nhs) == previous:
                self.nhs_person[nhs] = person
        return record_ids

    def survivor_of(self, person_id: str) -> str:
        """Where a person's records are now: a person absorbed by a merge lives on in its survivor."""
        seen = {person_id}
        while not self.has_records(person_id) and person_id in self.absorbed_into:
            person_id = self.absorbed_into[person_id]
            if person_id in seen:
                break
            seen.add(person_id)
        return person_id

    def has_records(self, person_id: str) -> bool:
        """Whether the person holds records now (not absorbed by a merge)."""
        return person_id in self.members

    def keep_apart(self, person_a: str, person_b: str) -> None:
        """An operator said these are two people: never merged automatically."""
        self.apart.add(frozenset((person_a, person_b)))

    def compatible(self, person_a: str, person_b: str, bridge: Record | None = None, alike: bool = True) -> bool:
        """Two persons may be one: no member of one contradicts a member of the other, and (``alike``) their
        closest records (counting a bridging record with ``person_a``) look alike: review band or more."""
        if frozenset((person_a, person_b)) in self.apart:
            return False
        members_a = [self.records[m] for m in self.members[person_a]] + ([bridge] if bridge else [])
        members_b = [self.records[m] for m in self.members[person_b]]
        if any(self._contradicts(b, a) for b in members_b for a in members_a) or self._disagree(members_a, members_b):
            return False
        if any(self._twin_of_household(b, members_a) for b in members_b) or any(self._twin_of_household(a, members_b) for a in members_a):
            return False
        return not alike or max(self.score(b, a) for b in members_b for a in members_a) >= REVIEW_THRESHOLD

    # -- decision ------------------------------------------------------------------------------
    def _decide(self, record: Record) -> Decision:
        by_person: dict[str, list[str]] = defaultdict(list)
        dob = record.date_of_birth
        records, person_of = self.records, self.person_of
        for candidate_id in self._candidates(record):
            other = records[candidate_id].date_of_birth
            if dob and other and dob != other and not dates_may_agree(dob, other):
                continue  # another date of birth: another person (parent and child), not even for review
            by_person[person_of[candidate_id]].append(candidate_id)
        best = {person: self.score_person(record, self.members[person]) for person in by_person}
        # Ties broken by person id, not by the order the candidates came in (which follows string hashing,
        # different in every process).
        ranked = sorted(best.items(), key=lambda item: (-item[1], item[0]))
        if record.nhs_number and record.nhs_number in self.nhs_person:
            person = self.nhs_person[record.nhs_number]
            return Decision(person, "match", 99.0, absorbed=self._bridged(record, person, ranked))
        if not ranked:
            return Decision(self._new_person(), "new", 0.0)
        # A person known only without a given name is never joined automatically (``_may_join``): for a
        # named record it is no contender either, so a nameless record seen first does not hold the child's
        # other records apart.
        contenders = [(other, other_score) for other, other_score in ranked
                      if other_score > self.match_threshold - AMBIGUITY_MARGIN]  # the others decide nothing here
        if not _is_initial(record.given_name, self.real_name):
            contenders = [(other, other_score) for other, other_score in contenders
                          if not self._only_initials([self.records[member] for member in self.members[other]])]
        if contenders:
            person, score = contenders[0]
            if score >= self.match_threshold and self._may_join(record, person):
                # Another person matched almost as well but not merged with this one: ambiguous.
                close = [other for other, other_score in contenders[1:] if other_score > score - AMBIGUITY_MARGIN]
                absorbed = self._bridged(record, person, ranked)
                if all(other in absorbed for other in close):
                    return Decision(person, "match", score, absorbed=absorbed)
        person, score = ranked[0]
        if score >= REVIEW_THRESHOLD:
            return Decision(self._new_person(), "review", score, candidate=person)
        return Decision(self._new_person(), "new", score)

    def _only_initials(self, members: list[Record]) -> bool:
        """A person known only without a given name, or by an initial that is no name."""
        return all(_is_initial(member.given_name, self.real_name) for member in members)

    def _bridged(self, record: Record, person: str, ranked: list[tuple[str, float]]) -> tuple[str, ...]:
        """Other persons the record also matches strongly: the same person, seen before without the
        evidence this record bridges. Merged only when nothing in any of them contradicts the record,
        the person or each other. Two of them need not look alike themselves: the record matches each."""
        strong = [other for other, score in ranked if other != person and score >= self.match_threshold
                  and self._may_join(record, other) and self.compatible(person, other, record)]
        return tuple(other for other in strong
                     if all(self.compatible(other, kept, alike=False) for kept in strong if kept != other))

    def _may_join(self, record: Record, person: str) -> bool:
        """Whether the record may join this person (or bridge it to another) without an operator. Not when
        it cannot be this person: a member with a different valid NHS number or who is its twin, or a date
        of birth (or sex) that no member with one agrees with (parent and child of one name; one member's
        mistyped date does not veto a record that agrees with the others). Nor when only an operator can
        weigh the evidence, however strong the rest: no given name (or an initial that is no name: Z, Rh)
        on the record, or on every one of the person's records (which of a family's children born that day
        is it?); or another real given name than every one of the person's at one family name and date of
        birth, at any address (a twin at the same one; elsewhere, a twin in foster care or a renamed child)."""
        members = [self.records[member_id] for member_id in self.members[person]]
        if any(self._contradicts(record, member) for member in members) or self._disagree([record], members):
            return False
        if _is_initial(record.given_name, self.real_name) or self._only_initials(members):
            return False  # an initial says no more than no name
        return not self._twin_of_household(record, members, anywhere=True)

    def _twin_of_household(self, record: Record, members: list[Record], anywhere: bool = False) -> bool:
        """The twin rule across a person's records: the family name on one, the given name on another (a
        record with no family name, one with no given name), the date and address on any (``anywhere``:
        any address); the record is a twin when its given name and every given name of the person are two
        different real names. A short form beside a fuller name of the person (T or Sam beside Samantha) is
        not one of them: it may stand for either twin (Tolu's record is not Tobi's for his "T")."""
        if not (record.given_name and record.family_name and record.date_of_birth):
            return False
        givens = self._full_names({member.given_name for member in members if member.given_name})
        if not givens or not any(_born_together(member.date_of_birth, record.date_of_birth) for member in members):
            return False
        if not any(_one_household_name(member.family_name, record.family_name) for member in members):
            return False
        if not anywhere and not any(_same_place(record, member) for member in members):
            return False
        return all(_two_real_names(record.given_name, given, self.real_name) for given in givens)

    def _full_names(self, givens: set[str]) -> set[str]:
        """The given names that are not an initial, nor a shorter form of another of ``givens`` (Sam, Bella
        beside Samantha, Isabella): the names a person is known by, which a twin's name is weighed against."""
        return {name for name in givens if not _is_initial(name, self.real_name) and not any(
            len(other) > len(name) and (_abbreviation(name, other) or _one_given_name(name, other)) for other in givens)}

    def _contradicts(self, a: Record, b: Record) -> bool:
        """Two records that are never one person, whoever else shares their person."""
        return bool(a.nhs_number and b.nhs_number and a.nhs_number != b.nhs_number) or _twins(a, b, self.real_name)

    def _disagree(self, group_a: list[Record], group_b: list[Record]) -> bool:
        """No date of birth in one group agrees with any in the other (the same, or a date a day, a
        month or a year out, or transposed), or no sex does: two people."""
        dates_a = {r.date_of_birth for r in group_a if r.date_of_birth}
        dates_b = {r.date_of_birth for r in group_b if r.date_of_birth}
        if dates_a and dates_b and all(self._date_weight(x, y) < 0 for x in dates_a for y in dates_b):
            return True
        sexes_a, sexes_b = {r.sex for r in group_a if r.sex}, {r.sex for r in group_b if r.sex}
        return bool(sexes_a and sexes_b and not sexes_a & sexes_b)

    def score(self, a: Record, b: Record) -> float:
        """Fellegi-Sunter log2 weight of the evidence that a and b are the same person."""
        parts = self._evidence(a, b)
        return parts if isinstance(parts, float) else _total(parts)

    def _evidence(self, a: Record, b: Record) -> float | tuple[float | None, ...]:
        """A decisive weight (NHS numbers, twins), or the weights of each field (``FIELDS``): None
        where either record lacks it."""
        if a.nhs_number and b.nhs_number:
            return 40.0 if a.nhs_number == b.nhs_number else -40.0
        if _twins(a, b, self.real_name):
            return -40.0
        date = self._dates(a, b)
        given, family, swapped = self._names(a, b, date)
        given_names, family_names = ((a.given_name, b.family_name), (a.family_name, b.given_name)) if swapped else \
            ((a.given_name, b.given_name), (a.family_name, b.family_name))
        # the same address, allowing for typing errors and words in another order
        address = (1.5 if fuzz.token_sort_ratio(a.address_line, b.address_line) >= 90 else 0.0) if a.address_line and b.address_line else None
        town = (1.0 if JaroWinkler.similarity(a.town, b.town) >= 0.9 else 0.0) if a.town and b.town else None
        parts = (date, given if all(given_names) else None, family if all(family_names) else None,
                 (0.5 if a.sex == b.sex else -10.0) if a.sex and b.sex else None,
                 _postcode_weight(a.postcode, b.postcode) if a.postcode and b.postcode else None, address, town)
        if self.weights is None:
            return parts
        level = self.weights.level  # names were weighed by their own functions, with their frequency
        return tuple(part if part is None or field in (1, 2) else level(field, part) for field, part in enumerate(parts))

    def _names(self, a: Record, b: Record, date: float | None) -> tuple[float, float, bool]:
        """The given and family name weights, and whether b's names were read the wrong way round; ``date``:
        the weight of their dates of birth (None: one lacks it)."""
        born_at_one_home = date is not None and date > 0 and _same_place(a, b)
        given, family = self._name_weights(a.given_name, a.family_name, b.given_name, b.family_name, born_at_one_home)
        if a.date_of_birth and a.date_of_birth == b.date_of_birth and given + family < 8.0:
            # Perhaps written the wrong way round: considered only with the same date of birth.
            swapped_given, swapped_family = self._name_weights(a.given_name, a.family_name, b.family_name, b.given_name,
                                                               born_at_one_home)
            if swapped_given + swapped_family - 1.0 > given + family:
                return swapped_given - 1.0, swapped_family - 1.0, True
        return given, family, False

    def real_name(self, name: str) -> bool:
        """A given name people are really called (curated data, or borne in several families of this index
        and not dwarfed by a curated name it may be a mistyping of), not a typing error. Two names only the
        index knows, or of like frequency (Tolu / Tola in five families each), stay two names. A spelling
        with no vowel (Nn, Brtn) is no name, whatever the data says (Jr, Mc)."""
        if known_given_name(name):
            return may_be_a_name(name)
        if len(self.given_families.get(name, ())) < KNOWN_IN_INDEX or not may_be_a_name(name):
            return False
        if len(name) < DWARFED_MIN_LETTERS:
            return True
        dwarfed_below = max(COMMON_NAME_RECORDS, TYPING_ERROR_RATIO * self.given_counts[name])
        near = process.extract(name, self.common_given_names, scorer=OSA.distance, score_cutoff=2, limit=None)
        return not any(common[0] == name[0] and self.given_counts[common] >= dwarfed_below and _mistyped(name, common)
                       for common, _, _ in near)

    def score_person(self, record: Record, member_ids: list[str]) -> float:
        """The evidence that ``record`` is this person: for each field, the best agreement among the
        person's records that have it (one may carry the date of birth, another the current postcode).
        A record lacking a field says nothing of it: a record with no given name does not hide another
        member's different one."""
        if len(member_ids) == 1:  # most persons: one record
            parts = self._evidence(record, self.records[member_ids[0]])
            return parts if isinstance(parts, float) else _total(parts)
        best: list[float | None] | None = None
        decisive = -math.inf
        for member_id in member_ids:
            parts = self._evidence(record, self.records[member_id])
            if isinstance(parts, float):
                decisive = max(decisive, parts)
            elif best is None:
                best = list(parts)
            else:
                best = [y if x is None else x if y is None else max(x, y) for x, y in zip(best, parts)]
        profile = _total(best) if best is not None else -math.inf
        return max(decisive, profile)

    def _dates(self, a: Record, b: Record) -> float | None:
        """The weight of two records' dates of birth; None where one lacks it."""
        return self._date_weight(a.date_of_birth, b.date_of_birth) if a.date_of_birth and b.date_of_birth else None

    @staticmethod
    def _date_weight(a: date | None, b: date | None) -> float:
        if a is None or b is None:
            return 0.0  # missing: no evidence either way (a date no member agrees with vetoes, see _may_join)
        if a == b:
            return 10.0
        if transposed(a) == b:
            return 5.0
        if abs((a - b).days) == 1:
            return 3.0  # a day out, across the end of a month too
        differing = (a.year != b.year) + (a.month != b.month) + (a.day != b.day)
        if differing == 1 and (a.year == b.year or abs(a.year - b.year) == 1 or _one_digit_apart(a.year, b.year)):
            return 3.0 if a.year == b.year else 1.5
        return -12.0

    def _name_weights(self, given_a: str, family_a: str, given_b: str, family_b: str,
                      born_at_one_home: bool = False) -> tuple[float, float]:
        family = self._family_weight(family_a, family_b)
        return self._given_weight(given_a, given_b, read_mistyped=born_at_one_home and family > 0), family

    def _frequency(self, counts: Counter[str], name: str) -> float:
        return (counts[name] + 1) / (self.total + 50)

    def _tf_weight(self, counts: Counter[str], name: str, cap: float) -> float:
        return max(1.0, min(cap, math.log2(0.95 / self._frequency(counts, name))))

    def _given_weight(self, a: str, b: str, read_mistyped: bool = False) -> float:
        """``read_mistyped``: the dates of birth and the family names agree at one home (what the twin rule
        looks at), so a spelling that is no name is worth reading as the other name mistyped. Elsewhere a
        different given name is for an operator, not weighed up (asked of few pairs: the reading is dear)."""
        if not a or not b:
            return -0.5
        if a == b:
            if self.weights is not None:
                return self.weights.exact(1, self._frequency(self.given_counts, a))
            return self._tf_weight(self.given_counts, a, 8.0)
        weight = _given_agreement(a, b)
        if read_mistyped and weight == DIFFERENT_GIVEN_NAMES and self._read_as_mistyped(a, b):
            weight = GIVEN_NAME_READ_AS_MISTYPED
        return weight if self.weights is None else self.weights.level(1, weight)

    def _read_as_mistyped(self, a: str, b: str) -> bool:
        """Two given names weighed below every graded level (so neither a form, a slip, the start nor an
        initial of the other): one is a real name and the other no name at all, three edits at most from it,
        which the twin rule reads as it mistyped (Owhan: Owain). Two spellings that are no names (Chidi,
        Chika: names the curated data lacks) are not read so, nor are two real ones. Cheap tests first;
        whether each is a real name is asked once."""
        if (known_given_name(a) and known_given_name(b)) or OSA.distance(a, b) > 3:
            return False
        real_a, real_b = self.real_name(a), self.real_name(b)
        return real_a != real_b and not _two_names_as_read(a, b, real_a, real_b)

    def _family_weight(self, a: str, b: str) -> float:
        if not a or not b:
            return -0.5
        if a == b:
            if self.weights is not None:
                return self.weights.exact(2, self._frequency(self.family_counts, a))
            return self._tf_weight(self.family_counts, a, 9.0)
        weight = _family_agreement(a, b)
        return weight if self.weights is None else self.weights.level(2, weight)

    # -- index ---------------------------------------------------------------------------------
    def _keys(self, record: Record, indexing: bool = False) -> set[str]:
        """Blocking keys to look a record up by (``indexing``: to file it under)."""
        keys: set[str] = set()
        dob = record.date_of_birth
        given, family = record.given_name, record.family_name
        if record.nhs_number:
            keys.add(f"n:{record.nhs_number}")
        dates = [d for d in (dob, transposed(dob) if dob else None) if d]
        for day in dates:
            for name in filter(None, (family, given)):
                keys.add(f"df:{day}:{phonetic(name)[:3]}")
            if record.postcode:
                keys.add(f"dp:{day}:{record.postcode}")
        if given and family:
            given_code, family_code = phonetic(given), phonetic(family)
            # Names with the date less one field (year-month, year-day, month-day): a date with one
            # field mistyped still shares a key, while a common name's key stays small.
            partial_dates = (f"{dob.year}-{dob.month}-", f"{dob.year}--{dob.day}", f"-{dob.month}-{dob.day}") if dob else ("",)
            for partial in partial_dates:
                keys.add(f"gf:{given_code}:{family_code}:{partial}")
                if not indexing:
                    keys.add(f"gf:{family_code}:{given_code}:{partial}")  # written the wrong way round
                if dob:  # a given name mistyped or replaced and one field of the date: the family name still meets
                    keys.add(f"fd:{family_code}:{partial}")
            parts = surname_parts(family)
            # Filed only for double surnames (Parry-Jones under Parry and Jones); every record looks
            # them up. A single surname filed here too would make "Jones, initial C" huge.
            if len(parts) > 1 or not indexing:
                for part in parts:
                    keys.add(f"fp:{part}:{given[:1]}:{dob.year if dob else ''}")
        if record.postcode and given:
            keys.add(f"pg:{record.postcode}:{phonetic(given)[:3]}")
        return keys

    def _candidates(self, record: Record) -> set[str]:
        found: set[str] = set()
        blocks = self.blocks
        for key in self._keys(record):
            bucket = blocks.get(hash(key))
            if bucket is None:
                continue
            if type(bucket) is str:
                found.add(bucket)
            # A key shared by hundreds is no evidence: skip it. The family name with part of a date is
            # looser: skipped from a few dozen, so a large index keeps its pace.
            elif len(bucket) <= (LOOSE_KEY_LIMIT if key[:3] == "fd:" else KEY_LIMIT):
                found.update(bucket)
        return found

    def _add(self, record: Record, person: str) -> None:
        self._file(record, person)
        self.count_names(record.given_name, record.family_name)

    def _file(self, record: Record, person: str) -> None:
        """The record in the index: its person, its details, its blocking keys, its NHS number."""
        self.by_fingerprint.setdefault(hash(fingerprint_of(record)), record.record_id)
        self.records[record.record_id] = record
        self.person_of[record.record_id] = person
        self.members[person].append(record.record_id)
        self._file_under_keys(record)
        if record.nhs_number:
            self.nhs_person.setdefault(record.nhs_number, person)

    def _file_under_keys(self, record: Record) -> None:
        blocks, record_id = self.blocks, record.record_id
        for key in map(hash, self._keys(record, indexing=True)):
            bucket = blocks.get(key)
            if bucket is None:
                blocks[key] = record_id  # a list per key would cost a million lists at a million persons
            elif type(bucket) is str:
                blocks[key] = [bucket, record_id]
            else:
                bucket.append(record_id)

    def count_names(self, given_name: str, family_name: str) -> None:
        """One more record in the name statistics (every record but an exact duplicate of an earlier one)."""
        if family_name:
            self.family_counts[family_name] += 1
        if given_name:
            self.given_counts[given_name] += 1
            if self.given_counts[given_name] == COMMON_NAME_RECORDS and known_given_name(given_name):
                self.common_given_names.append(given_name)
            families = self.given_families.setdefault(given_name, set())
            if family_name and len(families) < KNOWN_IN_INDEX:
                families.add(family_name)
        self.total += 1

    def saw_person(self, person_id: str) -> None:
        """A person id in use: new persons are numbered after it."""
        if person_id[:1] == "P" and person_id[1:].isdigit():
            self._next = max(self._next, int(person_id[1:]))

    @property
    def last_person_number(self) -> int:
        """The number of the last person id given (new persons are numbered after it)."""
        return self._next

    def _new_person(self) -> str:
        self._next += 1
        return f"P{self._next:08d}"


# Two different names compare the same way whatever the index holds: cached, since names repeat.
@lru_cache(maxsize=1 << 20)
def _given_agreement(a: str, b: str) -> float:
    if same_name_group(a, b):
        return 4.0
    if one_name(a, b) or (a[0] == b[0] and JaroWinkler.similarity(a, b) >= 0.93):
        return 3.0
    if phonetic(a) == phonetic(b):
        return 2.0
    if min(len(a), len(b)) >= 5 and OSA.distance(a, b) <= (2 if min(len(a), len(b)) >= 7 else 1):
        return 2.0  # a typing error: letters swapped, dropped or doubled
    if a[0] == b[0] and (a.startswith(b) or b.startswith(a)):
        return 1.0  # an abbreviation such as Dafydd / Daf
    return DIFFERENT_GIVEN_NAMES


@lru_cache(maxsize=1 << 20)
def _family_agreement(a: str, b: str) -> float:
    if surname_parts(a) & surname_parts(b):
        return 3.0  # hyphenated or double surname sharing a part
    if typing_slip(a, b) or JaroWinkler.similarity(a.replace(" ", ""), b.replace(" ", "")) >= 0.94:
        return 3.0
    if phonetic(a) == phonetic(b) or (min(len(a), len(b)) >= 5 and OSA.distance(a, b) <= 1):
        return 1.5
    if min(len(a), len(b)) >= 6 and OSA.distance(a, b) <= 2:
        return 0.5  # two slips in one surname (Nicolle / Ncille): weak evidence, not evidence against
    return -5.0


@lru_cache(maxsize=1 << 20)
def _one_given_name(a: str, b: str) -> bool:
    """One given name as written (``one_name``), for the twin rule. Two names the curated data knows are
    one only as forms of each other, with a letter doubled (Ana / Anna) or a consonant spelt another way
    (Cathleen / Kathleen): a letter dropped or two letters swapped between two real names gives another
    real name (Elain and Elan, Maria and Mara are twins)."""
    if known_given_name(a) and known_given_name(b):
        return same_name_group(a, b) or one_sound(a, b) or _letter_doubled(a, b)
    return one_name(a, b)


def _letter_doubled(a: str, b: str) -> bool:
    shorter, longer = sorted((a, b), key=len)
    return len(longer) == len(shorter) + 1 and any(
        longer[i] == longer[i - 1] and longer[:i] + longer[i + 1:] == shorter for i in range(1, len(longer)))


# The fields compared, in the order ``_evidence`` gives them.
FIELDS = ("date_of_birth", "given_name", "family_name", "sex", "postcode", "address_line", "town")


def _total(parts: tuple[float | None, ...] | list[float | None]) -> float:
    """The fields' weights summed in order; a field a record lacks (None) weighs nothing, save a missing
    given or family name (-0.5). Written out: the resolver's hottest sum."""
    date_of_birth, given, family, sex, postcode, address, town = parts
    return (0 + (0.0 if date_of_birth is None else date_of_birth) + (-0.5 if given is None else given)
            + (-0.5 if family is None else family) + (0.0 if sex is None else sex)
            + (0.0 if postcode is None else postcode) + (0.0 if address is None else address)
            + (0.0 if town is None else town))


def names_swapped(resolver: Resolver, a: Record, b: Record) -> bool:
    """Whether the resolver reads b's names the wrong way round against a (weighed by that rule)."""
    return resolver._names(a, b, resolver._dates(a, b))[2]


def fingerprint_of(r: Record) -> tuple:
    """A record's details: two records with the same are one record sent twice (a duplicate)."""
    return (r.given_name, r.family_name, r.date_of_birth, r.sex, r.nhs_number, r.postcode, r.address_line, r.town)


def _twins(a: Record, b: Record, real_name: Callable[[str], bool]) -> bool:
    """Same family name (or spelt another way, Price / Pryce, or missing from one record), date of birth
    (one may be mistyped) and address, and two different real given names: twins (also checked with one
    record's names read the other way round). Forms of one name (Josh / Joshua) are not twins, nor is a
    typing error: a close spelling that is not itself a real name (Megn / Megan); two close real names
    (Ella / Bella) are two children."""
    if not (_born_together(a.date_of_birth, b.date_of_birth) and _same_place(a, b)):
        return False  # most candidates: decided before any name is read
    # A record with no family name, born that day at that home, is of the household too (Molly, no surname).
    return ((bool(a.given_name and b.given_name) and not (a.family_name and b.family_name)
             and _two_real_names(a.given_name, b.given_name, real_name))
            or _twin_names(a.given_name, a.family_name, b.given_name, b.family_name, real_name)
            or _twin_names(a.given_name, a.family_name, b.family_name, b.given_name, real_name)
            or _twin_names(a.family_name, a.given_name, b.given_name, b.family_name, real_name))


def _twin_names(given_a: str, family_a: str, given_b: str, family_b: str, real_name: Callable[[str], bool]) -> bool:
    return (bool(given_a and given_b) and _one_household_name(family_a, family_b)
            and _two_real_names(given_a, given_b, real_name))


def _one_household_name(a: str, b: str) -> bool:
    """One family name, with a typing slip (Pawliszyn / Paywliszyn) or spelt another way (Price / Pryce,
    Ahmed / Ahmad, Chowdhury / Choudhury): perhaps one household's, as far as the twin rule is concerned."""
    return bool(a and b and (a == b or _family_agreement(a, b) >= 1.5))


def _same_place(a: Record, b: Record) -> bool:
    """One home: the postcode (or one character off) or the address (allowing typing errors and word order)."""
    return bool((a.postcode and b.postcode and OSA.distance(a.postcode, b.postcode) <= 1)
                or (a.address_line and b.address_line and fuzz.token_sort_ratio(a.address_line, b.address_line) >= 90))


def _two_real_names(a: str, b: str, real_name: Callable[[str], bool]) -> bool:
    """Two different given names, not one name written two ways. Two real names are two children (Ella
    / Bella; Jo / Joy; Tolu / Tola, known only to the index). A spelling that is no real name is the other
    name mistyped when it is close to, alike, the start of, or a scanner's reading of a form of it (Megn /
    Megan, Tses / Theresa's Tess, Dielan / Dylan, Rnanon / Manon); otherwise it is read as the real names
    it may be a typing error of (Ceciklia: Cecilia, so another child than Iestyn), or as itself when a name
    somewhere (Olimpia is not Olivia; ``named_somewhere``). A spelling near no name
    counts as a different name, unless alike the other: refusing a merge is the safe error (Nkechi and
    Chiamaka, unknown to the curated data, are two children). An initial that is no name is not another
    child (Z / Zofia, Rh / Rhodri); two different initials are."""
    if _one_given_name(a, b) or _abbreviation(a, b) or _initial_of(a, b, real_name):
        return False
    real_a, real_b = real_name(a), real_name(b)
    return real_a and real_b or _two_names_as_read(a, b, real_a, real_b)


# Whether a name is real is the index's to say (``real_name``); the rest depends on the names alone: cached.
@lru_cache(maxsize=1 << 16)
def _two_names_as_read(a: str, b: str, real_a: bool, real_b: bool) -> bool:
    if real_a or real_b:  # one real name: is the other spelling near a form of it (Tses: Tess, Theresa's)?
        real, spelling = (a, b) if real_a else (b, a)
        forms = name_forms(real)
        if any(_mistyped(spelling, form) for form in forms):
            return False
        if all(OSA.distance(spelling, form) > 3 for form in forms):
            return True  # nothing it may be a typing error of is a typing slip of a form of the other
    elif OSA.distance(a, b) <= 1 or _misread(a, b):
        # Two spellings that are no names, one letter apart or as a scanner reads them: one name mistyped.
        # Not two letters apart: Chidi and Chika, Nkechi and Nkemdi, names the curated data lacks, are twins.
        return False
    # A name somewhere (Olimpia, Chika) is read as itself, not as the names two letters from it (Olivia).
    readings_a = {a} if real_a or named_somewhere(a) else nearest_given_names(a)
    readings_b = {b} if real_b or named_somewhere(b) else nearest_given_names(b)
    return not any(_one_given_name(x, y) or _abbreviation(x, y) for x in readings_a for y in readings_b)


def _is_initial(name: str, real_name: Callable[[str], bool]) -> bool:
    """One letter, or two that are no name (Rh, Gw): Jo and Al are names, not initials."""
    return len(name) < 2 or (len(name) == 2 and not real_name(name))


def _initial_of(a: str, b: str, real_name: Callable[[str], bool]) -> bool:
    """An initial that begins the other name (Z / Zofia, Rh / Rhodri): perhaps that name, not another."""
    shorter, longer = sorted((a, b), key=len)
    return _is_initial(shorter, real_name) and longer.startswith(shorter)


def _mistyped(spelling: str, name: str) -> bool:
    """A spelling that is no real name is this name mistyped: close (Megn / Megan), cut short
    (Jac / Jacob), misread by a scanner (Clylan / Dylan), or alike, from the same first letter and two
    edits at most (Dielan / Dylan), unless a name somewhere (Chika, a name the dictionary gives for other
    countries, is not Chiara mistyped: twins Chiara and Chika stay two children)."""
    return (_close_spelling(spelling, name) or _abbreviation(spelling, name) or _misread(spelling, name)
            or (spelling[:1] == name[:1] and JaroWinkler.similarity(spelling, name) >= SIMILAR_SPELLING
                and OSA.distance(spelling, name) <= 2 and not named_somewhere(spelling)))


def _abbreviation(a: str, b: str) -> bool:
    """One name cut short (Jac / Jacob, Soph / Sophie): three letters or more, the start of the other."""
    shorter, longer = sorted((a, b), key=len)
    return len(shorter) >= 3 and longer.startswith(shorter)


@lru_cache(maxsize=1 << 20)
def _close_spelling(a: str, b: str) -> bool:
    """Near enough to be one name mistyped: one edit (two for names of seven letters or more)."""
    shorter = min(len(a), len(b))
    return shorter >= 3 and OSA.distance(a, b) <= (2 if shorter >= 7 else 1)


# Letter pairs a scanner (OCR) reads as one letter, and the letter: the classic confusions of GeCo's OCR model.
_SCANNED_AS_ONE = (("rn", "m"), ("cl", "d"), ("vv", "w"))


def _misread(a: str, b: str) -> bool:
    """One name as a scanner may read it: Rnanon / Manon, Clylan / Dylan."""
    return a != b and _as_scanned(a) == _as_scanned(b)


def _as_scanned(name: str) -> str:
    for pair, letter in _SCANNED_AS_ONE:
        name = name.replace(pair, letter)
    return name


def _born_together(a: date | None, b: date | None) -> bool:
    """One date of birth, as written or mistyped on one record (a day out, one field off, or day and
    month swapped): what a twin's record may carry."""
    return bool(a and b and (a == b or dates_may_agree(a, b)))


def dates_may_agree(a: date, b: date) -> bool:
    """Two different dates that may be one date of birth mistyped: what ``_date_weight`` does not
    count against (day and month swapped, a day out, or one field off), decided cheaply (the resolver
    asks it of every candidate: the day-out test, the dearest, only where it can hold)."""
    if a.year == b.year:
        if a.day == b.day or a.month == b.month or (a.day == b.month and a.month == b.day):
            return True
    elif a.day == b.day and a.month == b.month:
        return abs(a.year - b.year) == 1 or _one_digit_apart(a.year, b.year)
    elif abs(a.year - b.year) != 1:
        return False  # a day apart across years: the last of one year and the first of the next
    return abs(a.toordinal() - b.toordinal()) == 1


def _postcode_weight(a: str, b: str) -> float:
    if a == b:
        return 4.0
    if OSA.distance(a, b) == 1:
        return 1.5  # one character mistyped (or the next street): weak evidence for
    return 1.0 if a.split()[0] == b.split()[0] else -2.5


def _one_digit_apart(x: int, y: int) -> bool:
    """A year with one digit mistyped (2013 / 2018), not one a generation away (2003 / 2023: a parent and a
    child born on one day of the year)."""
    return abs(x - y) <= YEAR_SLIP_MAX and sum(c != d for c, d in zip(str(x), str(y))) == 1
