"""Incremental identity resolution, record by record, in the Fellegi-Sunter style.

Inputs: person records (names, date of birth, sex, NHS number, postcode, address). Outputs: for
each record, the person it belongs to: an existing person (``match``), a new person (``new``),
or a new person with the closest candidate queued for a human (``review``). Guarantees: a
valid NHS number dominates (equal: same person; different: different people); an invalid one is
ignored and reported; twins (same family name, date of birth and address, different given
names) and people with different dates of birth (parent and child of the same name) never merge;
a sex conflict is strong evidence against; a shared common surname is weak evidence and a rare
one strong (term-frequency adjustment). A false merge is worse than a missed one: the
thresholds are set for precision.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date

from rapidfuzz.distance import OSA, JaroWinkler

from schemas.validators import nhs_number_problem, normalise_postcode
from streams.identity.names import first_given, fold, parse_date, phonetic, same_name_group, surname_parts, transposed

MATCH_THRESHOLD = 15.0
REVIEW_THRESHOLD = 9.0
AMBIGUITY_MARGIN = 3.0


@dataclass
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
    problems: list[str] = field(default_factory=list)

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
            problems.append("postcode ignored: not a UK postcode")
            postcode = ""
        sex = fold(raw.get("sex"))[:1]
        return cls(record_id=record_id, source=raw.get("source") or "", given_name=first_given(raw.get("given_name")),
                   family_name=fold(raw.get("family_name")), date_of_birth=dob, sex=sex if sex in ("f", "m") else "",
                   nhs_number=nhs or None, postcode=postcode, address_line=fold(raw.get("address_line")),
                   town=fold(raw.get("town")), problems=problems)


@dataclass(frozen=True)
class Decision:
    person_id: str
    action: str  # match | new | review
    score: float
    candidate: str | None = None


class Resolver:
    """An in-memory master person index; ``resolve`` assigns each record to a person."""

    def __init__(self) -> None:
        self.records: dict[str, Record] = {}
        self.person_of: dict[str, str] = {}
        self.members: dict[str, list[str]] = defaultdict(list)
        self.blocks: dict[str, list[str]] = defaultdict(list)
        self.nhs_person: dict[str, str] = {}
        self.family_counts: Counter[str] = Counter()
        self.given_counts: Counter[str] = Counter()
        self.total = 0
        self.reviews: list[tuple[str, str, float]] = []
        self._next = 0

    # -- public --------------------------------------------------------------------------------
    def resolve(self, record: Record) -> Decision:
        decision = self._decide(record)
        self._add(record, decision.person_id)
        if decision.action == "review" and decision.candidate:
            self.reviews.append((record.record_id, decision.candidate, decision.score))
        return decision

    # -- decision ------------------------------------------------------------------------------
    def _decide(self, record: Record) -> Decision:
        if record.nhs_number and record.nhs_number in self.nhs_person:
            return Decision(self.nhs_person[record.nhs_number], "match", 99.0)
        best: dict[str, float] = {}
        for candidate_id in self._candidates(record):
            candidate = self.records[candidate_id]
            person = self.person_of[candidate_id]
            score = self.score(record, candidate)
            if score > best.get(person, -math.inf):
                best[person] = score
        if not best:
            return Decision(self._new_person(), "new", 0.0)
        ranked = sorted(best.items(), key=lambda item: item[1], reverse=True)
        person, score = ranked[0]
        runner_up = ranked[1][1] if len(ranked) > 1 else -math.inf
        if score >= MATCH_THRESHOLD and score - runner_up >= AMBIGUITY_MARGIN and not self._conflicts(record, person):
            return Decision(person, "match", score)
        if score >= REVIEW_THRESHOLD:
            return Decision(self._new_person(), "review", score, candidate=person)
        return Decision(self._new_person(), "new", score)

    def _conflicts(self, record: Record, person: str) -> bool:
        """Any member that contradicts the record vetoes the merge, so no record can bridge two people:
        a different valid NHS number, a twin, a clearly different date of birth, a different sex."""
        for member_id in self.members[person]:
            member = self.records[member_id]
            if record.nhs_number and member.nhs_number and record.nhs_number != member.nhs_number:
                return True
            if _twins(record, member):
                return True
            if record.date_of_birth and member.date_of_birth and self._date_weight(record.date_of_birth, member.date_of_birth) < 0:
                return True
            if record.sex and member.sex and record.sex != member.sex:
                return True
        return False

    def score(self, a: Record, b: Record) -> float:
        """Fellegi-Sunter log2 weight of the evidence that a and b are the same person."""
        if a.nhs_number and b.nhs_number:
            return 40.0 if a.nhs_number == b.nhs_number else -40.0
        if _twins(a, b):
            return -40.0
        total = self._date_weight(a.date_of_birth, b.date_of_birth)
        given, family = self._name_weights(a.given_name, a.family_name, b.given_name, b.family_name)
        swapped_given, swapped_family = self._name_weights(a.given_name, a.family_name, b.family_name, b.given_name)
        if swapped_given + swapped_family - 1.0 > given + family and a.date_of_birth == b.date_of_birth:
            given, family = swapped_given - 1.0, swapped_family - 1.0  # written the wrong way round: only with the same DOB
        total += given + family
        if a.sex and b.sex:
            total += 0.5 if a.sex == b.sex else -10.0
        if a.postcode and b.postcode:
            total += 4.0 if a.postcode == b.postcode else (1.0 if a.postcode.split()[0] == b.postcode.split()[0] else -2.5)
        if a.address_line and b.address_line and JaroWinkler.similarity(a.address_line, b.address_line) > 0.93:
            total += 1.5
        return total

    @staticmethod
    def _date_weight(a: date | None, b: date | None) -> float:
        if a is None or b is None:
            return -4.0  # without a date of birth, names and address alone only ever reach review
        if a == b:
            return 10.0
        if transposed(a) == b:
            return 5.0
        differing = (a.year != b.year) + (a.month != b.month) + (a.day != b.day)
        if differing == 1 and (a.year == b.year or abs(a.year - b.year) == 1 or _one_digit_apart(a.year, b.year)):
            return 3.0 if a.year == b.year else 1.5
        return -12.0

    def _name_weights(self, given_a: str, family_a: str, given_b: str, family_b: str) -> tuple[float, float]:
        return self._given_weight(given_a, given_b), self._family_weight(family_a, family_b)

    def _tf_weight(self, counts: Counter[str], name: str, cap: float) -> float:
        frequency = (counts[name] + 1) / (self.total + 50)
        return max(1.0, min(cap, math.log2(0.95 / frequency)))

    def _given_weight(self, a: str, b: str) -> float:
        if not a or not b:
            return -0.5
        if a == b:
            return self._tf_weight(self.given_counts, a, 8.0)
        if same_name_group(a, b):
            return 4.0
        similarity = JaroWinkler.similarity(a, b)
        if similarity >= 0.93:
            return 3.0
        if phonetic(a) == phonetic(b):
            return 2.0
        if min(len(a), len(b)) >= 5 and OSA.distance(a, b) <= (2 if min(len(a), len(b)) >= 7 else 1):
            return 2.0  # a typing error: letters swapped, dropped or doubled
        if a[0] == b[0] and (a.startswith(b) or b.startswith(a)):
            return 1.0  # an abbreviation such as Dafydd / Daf
        return -6.0

    def _family_weight(self, a: str, b: str) -> float:
        if not a or not b:
            return -0.5
        if a == b:
            return self._tf_weight(self.family_counts, a, 9.0)
        parts_a, parts_b = surname_parts(a), surname_parts(b)
        if parts_a & parts_b:
            return 3.0  # hyphenated or double surname sharing a part
        similarity = JaroWinkler.similarity(a.replace(" ", ""), b.replace(" ", ""))
        if similarity >= 0.94:
            return 3.0
        if phonetic(a) == phonetic(b):
            return 1.5
        if min(len(a), len(b)) >= 5 and OSA.distance(a, b) <= 1:
            return 1.5
        return -5.0

    # -- index ---------------------------------------------------------------------------------
    def _keys(self, record: Record) -> set[str]:
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
            keys.add(f"gf:{phonetic(given)}:{phonetic(family)}:{dob.year if dob else ''}")
            keys.add(f"gf:{phonetic(family)}:{phonetic(given)}:{dob.year if dob else ''}")  # swapped names
            for part in surname_parts(family):
                keys.add(f"fp:{part}:{given[:1]}:{dob.year if dob else ''}")
        if record.postcode and given:
            keys.add(f"pg:{record.postcode}:{phonetic(given)[:3]}")
        return keys

    def _candidates(self, record: Record) -> set[str]:
        found: set[str] = set()
        for key in self._keys(record):
            bucket = self.blocks.get(key, ())
            if len(bucket) <= 500:  # a key shared by hundreds is no evidence: skip it
                found.update(bucket)
        return found

    def _add(self, record: Record, person: str) -> None:
        self.records[record.record_id] = record
        self.person_of[record.record_id] = person
        self.members[person].append(record.record_id)
        for key in self._keys(record):
            self.blocks[key].append(record.record_id)
        if record.nhs_number:
            self.nhs_person.setdefault(record.nhs_number, person)
        if record.family_name:
            self.family_counts[record.family_name] += 1
        if record.given_name:
            self.given_counts[record.given_name] += 1
        self.total += 1

    def _new_person(self) -> str:
        self._next += 1
        return f"P{self._next:08d}"


def _twins(a: Record, b: Record) -> bool:
    """Same family name, date of birth and address, but given names that are not one name: twins
    (also checked with one record's names read the other way round). A typing error in a given name
    at the same address and date of birth looks the same and is kept apart too: precision first."""
    return _twins_as_written(a, b) or _twins_as_written(a, _swap(b)) or _twins_as_written(_swap(a), b)


def _swap(r: Record) -> Record:
    return Record(record_id=r.record_id, given_name=r.family_name, family_name=r.given_name,
                  date_of_birth=r.date_of_birth, postcode=r.postcode, address_line=r.address_line)


def _twins_as_written(a: Record, b: Record) -> bool:
    if not (a.date_of_birth and a.date_of_birth == b.date_of_birth and a.family_name and a.family_name == b.family_name):
        return False
    same_place = (a.postcode and a.postcode == b.postcode) or (a.address_line and a.address_line == b.address_line)
    if not same_place or not a.given_name or not b.given_name:
        return False
    return a.given_name != b.given_name and not same_name_group(a.given_name, b.given_name) \
        and JaroWinkler.similarity(a.given_name, b.given_name) < 0.93


def _one_digit_apart(x: int, y: int) -> bool:
    return sum(c != d for c, d in zip(str(x), str(y))) == 1
