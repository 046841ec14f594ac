"""The resolver with its index in the store: one index every worker consults, none holds.

Inputs: a session inside the caller's unit of work, which holds the identity lock (``IdentityIndex``),
so nothing else changes the index while it runs; records to decide on, and their place in the log.
Outputs: the decisions the in-memory ``Resolver`` makes on the same log (the same rules run on the
records read from the store: tested side by side); the index's rows, written in that unit of work:
``identity_member`` (each record's person now, and which records are exact duplicates of which),
``identity_block`` (the blocking keys each record is filed under) and ``identity_nhs``.

Guarantees: what memory holds does not grow with the index: the name statistics (one count per
distinct name), the operators' "two people" pairs and where merged persons went, loaded from a
snapshot and the log after it (``index.py``); plus, for one unit of work only, the persons it read.
``begin`` forgets those, so another worker's changes are always read afresh. A person is read whole
(every record of it) or not at all, so the rules see each candidate as the in-memory index would.
Blocking keys are filed under a stable hash (the same in every process), unlike the in-memory index's.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import date
from hashlib import blake2b
from sys import intern

from sqlalchemy import Connection, bindparam, func, insert, or_, select, update
from sqlmodel import Session

from sinks.models import IdentityBlock, IdentityMember, IdentityNhs, IdentityRecord
from sinks.store import insert_ignoring_duplicates
from streams.identity.resolver import (
    KEY_LIMIT,
    LOOSE_KEY_LIMIT,
    MATCH_THRESHOLD,
    Decision,
    Record,
    Resolver,
    dates_may_agree,
    fingerprint_of,
)

LOOKUP_CHUNK = 500  # identifiers per IN (...) list: well inside every database's limit on parameters

# The statements, built once (built per call, SQLAlchemy spent more time on them than the database did).
_member, _block, _nhs, _record = (model.__table__ for model in (IdentityMember, IdentityBlock, IdentityNhs, IdentityRecord))  # type: ignore[attr-defined]
# Not a duplicate of an earlier record. Written so no planner searches by it (SQLite would walk every
# original record through the duplicate_of_seq index rather than use the person's or fingerprint's).
IS_ORIGINAL = func.coalesce(_member.c.duplicate_of_seq, 0) == 0
RECORD_COLUMNS = (_record.c.record_key, _record.c.source, _record.c.given_name, _record.c.family_name,
                  _record.c.date_of_birth, _record.c.sex, _record.c.nhs_number, _record.c.postcode,
                  _record.c.address_line, _record.c.town)
_ON_RECORD = _record.c.record_key == _member.c.record_key
RECORDS_OF_PERSONS = (select(*RECORD_COLUMNS, _member.c.seq, _member.c.person_id).join(_member, _ON_RECORD)
                      .where(_member.c.person_id.in_(bindparam("persons", expanding=True)), IS_ORIGINAL)
                      .order_by(_member.c.seq))
MEMBERSHIP = select(_member.c.record_key, _member.c.seq, _member.c.person_id, _member.c.duplicate_of_seq).where(
    _member.c.record_key.in_(bindparam("keys", expanding=True)))
NHS_PERSON = select(_nhs.c.person_id).where(_nhs.c.nhs_number == bindparam("nhs"))
KNOWN = select(_member.c.seq).where(_member.c.record_key == bindparam("key"))
HOLDS_RECORDS = select(_member.c.seq).where(_member.c.person_id == bindparam("person")).limit(1)
DUPLICATES = (select(_member.c.record_key).where(_member.c.duplicate_of_seq.in_(bindparam("seqs", expanding=True)))
              .order_by(_member.c.seq))
SUBJECTS_OF_PERSON = (select(_record.c.record_key, _record.c.subject_key).join(_member, _ON_RECORD)
                      .where(_member.c.person_id == bindparam("person")).order_by(_member.c.seq))
PERSON_OF_SUBJECT = (select(_member.c.person_id).join(_record, _ON_RECORD)
                     .where(_record.c.subject_key == bindparam("subject")).order_by(_record.c.seq.desc()).limit(1))
SAME_DETAILS = (select(_member.c.record_key).where(_member.c.fingerprint == bindparam("fingerprint"), IS_ORIGINAL)
                .order_by(_member.c.seq).limit(1))
KEY_SIZES = (select(_block.c.key_hash, func.count()).where(_block.c.key_hash.in_(bindparam("hashes", expanding=True)))
             .group_by(_block.c.key_hash))
FILED_UNDER = (select(_member.c.record_key, _member.c.person_id, _record.c.date_of_birth).distinct()
               .join(_block, _block.c.seq == _member.c.seq).join(_record, _ON_RECORD)
               .where(_block.c.key_hash.in_(bindparam("hashes", expanding=True))))
ADD_MEMBER = insert(_member)
FILE_UNDER = insert(_block)
MOVE_RECORD = (update(_member).where(or_(_member.c.record_key == bindparam("b_key"),
                                         _member.c.duplicate_of_seq == bindparam("b_seq")))
               .values(person_id=bindparam("b_person")))
MOVE_NHS = (update(_nhs).where(_nhs.c.nhs_number == bindparam("b_nhs"), _nhs.c.person_id == bindparam("b_previous"))
            .values(person_id=bindparam("b_person")))


def stable_hash(text: str) -> int:
    """A signed 63-bit hash of ``text``, the same in every process (Python's ``hash`` of a string is not)."""
    return int.from_bytes(blake2b(text.encode(), digest_size=8).digest(), "big", signed=True)


def fingerprint_hash(record: Record) -> int:
    return stable_hash("\x1f".join("" if value is None else str(value) for value in fingerprint_of(record)))


def record_from_row(row) -> Record:  # type: ignore[no-untyped-def]
    """A logged record as the resolver holds it: its text interned as ``Record.from_raw`` does (the
    database returns a new string for every value; a million records share a few thousand names)."""
    return Record(record_id=row.record_key, source=intern(row.source), given_name=intern(row.given_name),
                  family_name=intern(row.family_name),
                  date_of_birth=date.fromisoformat(row.date_of_birth) if row.date_of_birth else None, sex=intern(row.sex),
                  nhs_number=row.nhs_number, postcode=intern(row.postcode), address_line=intern(row.address_line),
                  town=intern(row.town))


def _may_be_born(dob: date, logged: str) -> bool:
    other = date.fromisoformat(logged)
    return other == dob or dates_may_agree(dob, other)


def _chunks(values: Iterable, size: int = LOOKUP_CHUNK) -> Iterable[list]:
    values = list(values)
    for start in range(0, len(values), size):
        yield values[start:start + size]


class StoredResolver(Resolver):
    """See the module docstring. Call ``begin`` with the unit of work's session before anything else."""

    def __init__(self, match_threshold: float = MATCH_THRESHOLD) -> None:
        super().__init__(match_threshold)
        self._filing_seq: int | None = None
        self.begin(None)

    def begin(self, session: Session | None) -> None:
        """A new unit of work: what was read in the last one may have changed since."""
        self.session = session
        self._connection: Connection | None = session.connection() if session is not None else None
        self.records, self.person_of, self.members = {}, {}, defaultdict(list)
        self.blocks, self.nhs_person, self.by_fingerprint = {}, {}, {}
        self.same_as, self.duplicates, self.reviews = {}, defaultdict(list), []
        self._seq_of: dict[str, int] = {}
        self._key_of_seq: dict[int, str] = {}
        self._whole: set[str] = set()  # persons read whole (or made) in this unit of work
        self._nhs_read: set[str] = set()
        self._changed()

    def _changed(self) -> None:
        """The index changed: answers about subjects and persons read before may not hold."""
        self._person_of_subject: dict[str, str | None] = {}
        self._subjects_of_person: dict[str, list[tuple[str, str]]] = {}

    @property
    def _db(self) -> Connection:
        if self._connection is None:
            raise RuntimeError("the stored index is used outside a unit of work (call begin first)")
        return self._connection

    # -- reading -----------------------------------------------------------------------------------
    def read_persons(self, persons: Iterable[str]) -> None:
        """Every record of these persons (exact duplicates aside), unless read already."""
        wanted = set(persons) - self._whole
        for chunk in _chunks(sorted(wanted)):
            for row in self._db.execute(RECORDS_OF_PERSONS, {"persons": chunk}).all():
                if row.record_key not in self.records:
                    self._hold(record_from_row(row), row.seq, row.person_id)
        self._whole |= wanted

    def read_records(self, record_ids: Iterable[str]) -> None:
        """These records, with their persons (a duplicate: with the record it repeats)."""
        missing = [key for key in record_ids if key not in self.person_of and key not in self.same_as]
        for chunk in _chunks(missing):
            rows = list(self._db.execute(MEMBERSHIP, {"keys": chunk}))
            self.read_persons({row.person_id for row in rows})
            for row in rows:
                if row.duplicate_of_seq is not None and row.record_key not in self.same_as:
                    earlier = self._key_of_seq.get(row.duplicate_of_seq)
                    if earlier is not None:
                        self._seq_of[row.record_key] = row.seq
                        super()._alias(row.record_key, earlier)

    def _hold(self, record: Record, seq: int, person: str) -> None:
        key = record.record_id
        self.records[key], self.person_of[key] = record, person
        self.members[person].append(key)
        self._seq_of[key], self._key_of_seq[seq] = seq, key

    def _read_nhs(self, nhs_number: str) -> None:
        if nhs_number in self._nhs_read:
            return
        self._nhs_read.add(nhs_number)
        person = self._db.execute(NHS_PERSON, {"nhs": nhs_number}).scalar()
        if person is not None:
            self.nhs_person[nhs_number] = person

    def knows(self, record_id: str) -> bool:
        return super().knows(record_id) or self._db.execute(KNOWN, {"key": record_id}).first() is not None

    def person_for(self, record_id: str) -> str:
        self.read_records([record_id])
        return super().person_for(record_id)

    def has_records(self, person_id: str) -> bool:
        if person_id in self._whole:
            return bool(self.members.get(person_id))
        return self._db.execute(HOLDS_RECORDS, {"person": person_id}).first() is not None

    def with_duplicates(self, record_ids: list[str]) -> list[str]:
        self.read_records(record_ids)
        later: list[str] = []
        for chunk in _chunks([self._seq_of[key] for key in record_ids if key in self._seq_of]):
            later += self._db.execute(DUPLICATES, {"seqs": chunk}).scalars()
        return [*record_ids, *later]

    def records_of_person(self, person_id: str) -> list[tuple[str, str]]:
        """(record key, subject key) of every record of a person now, exact duplicates included."""
        if person_id not in self._subjects_of_person:
            self._subjects_of_person[person_id] = [
                (row.record_key, row.subject_key) for row in self._db.execute(SUBJECTS_OF_PERSON, {"person": person_id})]
        return self._subjects_of_person[person_id]

    def person_of_subject(self, subject_key: str) -> str | None:
        """The person the latest record with this subject key belongs to now, or None if none has it."""
        if subject_key not in self._person_of_subject:
            self._person_of_subject[subject_key] = self._db.execute(PERSON_OF_SUBJECT, {"subject": subject_key}).scalar()
        return self._person_of_subject[subject_key]

    # -- deciding: the in-memory rules, on the records read from the store ----------------------------
    def decide(self, record: Record) -> Decision:
        if record.nhs_number:
            self._read_nhs(record.nhs_number)
            if record.nhs_number in self.nhs_person:
                self.read_persons([self.nhs_person[record.nhs_number]])
        return super().decide(record)

    def same_details(self, record: Record) -> str | None:
        details = fingerprint_of(record)
        earlier = self._db.execute(SAME_DETAILS, {"fingerprint": fingerprint_hash(record)}).scalar()
        if earlier is None:
            return None
        self.read_records([earlier])
        return earlier if fingerprint_of(self.records[earlier]) == details else None

    def _candidates(self, record: Record) -> set[str]:
        hashes: dict[int, str] = {stable_hash(key): key for key in self._keys(record)}
        # A key shared by hundreds is no evidence: skipped, as the in-memory index does.
        wanted = [key_hash for key_hash, size in self._db.execute(KEY_SIZES, {"hashes": list(hashes)})
                  if size <= (LOOSE_KEY_LIMIT if hashes[key_hash][:3] == "fd:" else KEY_LIMIT)]
        if not wanted:
            return set()
        # Only records whose date may be this record's are candidates (``Resolver._decide`` passes over the
        # others: a parent and a child): at a million persons the rest are most of what a key finds.
        dob = record.date_of_birth
        rows = [row for row in self._db.execute(FILED_UNDER, {"hashes": wanted}).all()
                if dob is None or row.date_of_birth is None or _may_be_born(dob, row.date_of_birth)]
        self.read_persons({row.person_id for row in rows})
        return {row.record_key for row in rows}

    def compatible(self, person_a: str, person_b: str, bridge: Record | None = None, alike: bool = True) -> bool:
        self.read_persons([person_a, person_b])
        return super().compatible(person_a, person_b, bridge, alike)

    # -- writing -------------------------------------------------------------------------------------
    def apply(self, record: Record, decision: Decision, seq: int | None = None) -> dict[str, list[str]]:
        """As ``Resolver.apply``; ``seq``: the record's place in the log (``identity_record.seq``)."""
        if seq is None:
            raise ValueError("seq: the stored index files every record under its place in the log")
        self._filing_seq = seq
        try:
            return super().apply(record, decision)
        finally:
            self._filing_seq = None

    def _file(self, record: Record, person: str) -> None:
        seq = self._filing_seq
        assert seq is not None
        if record.nhs_number:
            self._read_nhs(record.nhs_number)
        super()._file(record, person)
        self._changed()
        self._seq_of[record.record_id], self._key_of_seq[seq] = seq, record.record_id
        self._whole.add(person)  # a new person, or one read whole to be matched
        self._db.execute(ADD_MEMBER, {"record_key": record.record_id, "seq": seq, "person_id": person,
                                      "duplicate_of_seq": None, "fingerprint": fingerprint_hash(record)})
        if record.nhs_number:
            assert self.session is not None
            insert_ignoring_duplicates(self.session, IdentityNhs, [{"nhs_number": record.nhs_number, "person_id": person}],
                                       ["nhs_number"])

    def _file_under_keys(self, record: Record) -> None:
        seq = self._filing_seq
        hashes = sorted({stable_hash(key) for key in self._keys(record, indexing=True)})
        if hashes:  # a record with a family name alone has no key to be found by
            self._db.execute(FILE_UNDER, [{"key_hash": key_hash, "seq": seq} for key_hash in hashes])

    def _alias(self, record_id: str, earlier: str) -> None:
        seq = self._filing_seq
        super()._alias(record_id, earlier)
        if seq is None:  # read from the store, not new
            return
        self._seq_of[record_id] = seq
        self._changed()
        self._db.execute(ADD_MEMBER, {"record_key": record_id, "seq": seq, "person_id": self.person_of[earlier],
                                      "duplicate_of_seq": self._seq_of[earlier], "fingerprint": None})

    def merge(self, absorbed: str, survivor: str) -> list[str]:
        self.read_persons([absorbed, survivor])
        return super().merge(absorbed, survivor)

    def unmerge(self, record_ids: list[str], restored: str) -> list[str]:
        self.read_records(record_ids)
        self.read_persons([restored])
        return super().unmerge(record_ids, restored)

    def move(self, record_ids: list[str], person: str) -> list[str]:
        self.read_persons([person])
        self._changed()
        for record_id in record_ids:
            previous = self.person_of[record_id]
            if previous == person:
                continue
            self._db.execute(MOVE_RECORD, {"b_key": record_id, "b_seq": self._seq_of[record_id], "b_person": person})
            nhs = self.records[record_id].nhs_number
            if nhs:
                self._db.execute(MOVE_NHS, {"b_nhs": nhs, "b_previous": previous, "b_person": person})
        return super().move(record_ids, person)
