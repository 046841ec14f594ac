"""The master person index the pipeline uses: the resolver's state kept as a log in SQL.

Inputs: each event's persons, inside the router's unit of work; operators' decisions (confirm or
reject a review, un-merge). Outputs: a master person id per person of the event; the log tables
``identity_record`` (append-only) and ``identity_change`` (merges, un-merges, "two people"
decisions); ``identity_review`` rows for the uncertain band; deliveries whose ``master_person_id``
follows every merge and un-merge; a ``person.merged`` / ``person.unmerged`` notice to operators.

Guarantees: one index for all workers: the records, their persons and blocking keys are in the store
(``identity_member``, ``identity_block``, ``identity_nhs``, written in the same unit of work as the
log; see ``stored.py``), and a worker holds in memory only the name statistics and operators'
decisions, so memory does not grow with the index nor multiply with workers. A starting worker loads
them from the newest snapshot (``identity_statistics``, taken in a unit of work every
``SNAPSHOT_EVERY`` log entries; ``statistics.py``) and replays only the log after it. Resolution is
serialised across workers by updating the ``identity_sequence`` row first in the unit of work (a
row lock on PostgreSQL, the write lock on SQLite) and each worker replays the log's new entries into
its statistics before resolving, so two workers never make two masters for one new child; should
anything get past the lock, the unique ``seq`` of the log refuses the second writer's unit of work,
which is retried. A redelivered event reuses its stored records
(idempotent). If the unit of work fails, the caller calls ``discard`` and the statistics are
loaded afresh (snapshot, then the log after it). A store whose log predates the stored index is
indexed once, by the first worker to take the lock. Logs carry identifiers only.
"""

from __future__ import annotations

import hashlib
import heapq
import json
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from itertools import chain, islice

import structlog
from sqlalchemy import and_, delete, func, insert, or_, text, update
from sqlmodel import Session, select

from schemas.events import RegisterEntry
from schemas.person import PersonRef
from sinks.audit import AuditEntry, AuditSink
from sinks.contract import PlannedDelivery, UnitOfWork
from sinks.models import (
    DeliveryRecord,
    IdentityBlock,
    IdentityChange,
    IdentityMember,
    IdentityNhs,
    IdentityRecord,
    IdentityReview,
    IdentitySequence,
    IdentityStatistics,
)
from sinks.store import insert_ignoring_duplicates, stage_insert
from streams.identity.keys import children_of, person_key
from streams.identity.resolver import MATCH_THRESHOLD, Decision, Record, Resolver
from streams.identity.statistics import SnapshotUnreadable, restore, snapshot_of
from streams.identity.stored import IS_ORIGINAL, RECORD_COLUMNS, StoredResolver, fingerprint_hash, record_from_row, stable_hash
from streams.sharing.policy import Policy

log = structlog.get_logger("safeguard.identity")

INDEXING_BATCH = 5_000  # rows per INSERT when an older log is indexed
# A unit of work that ends this many log entries past the newest snapshot of the statistics writes a new
# one, so a starting worker replays at most about this many entries (a few tenths of a second).
SNAPSHOT_EVERY = 20_000
RECORD_FIELDS = ("given_name", "family_name", "sex", "nhs_number", "postcode", "address_line", "town")


class IdentityRefused(ValueError):
    """An operator's request the index cannot carry out (unknown review, already decided, ...)."""


@dataclass(frozen=True)
class Review:
    """A record the resolver could not decide on: possibly ``candidate_person_id`` (identifiers only)."""

    review_id: str
    record_key: str
    subject_key: str
    candidate_person_id: str
    score: float


@dataclass(frozen=True)
class Resolution:
    masters: dict[str, str]  # subject key -> master person id
    notices: list[PlannedDelivery]  # person.merged notices for operators
    subject: str | None = None  # the event's only child, for deliveries about the whole event
    reviews: tuple[Review, ...] = ()  # records of this event queued for an operator: maybe an existing person

    def master_for(self, subject_key: str | None) -> str | None:
        key = subject_key or self.subject
        return self.masters.get(key) if key else None


def persons_of(event) -> list[PersonRef]:  # type: ignore[no-untyped-def]
    """Every person an event names, in a stable order (the position is part of the record key)."""
    found: list[PersonRef] = []
    for name in ("child", "persons", "children", "adults"):
        value = event.__dict__.get(name)  # a field, when this type has it (getattr's miss is slow on models)
        for item in value if isinstance(value, list) else [value]:
            item = item.child if isinstance(item, RegisterEntry) else item  # a register entry names its child
            if isinstance(item, PersonRef):
                found.append(item)
    return found


def record_from_person(record_key: str, person: PersonRef, source: str) -> Record:
    address = person.address
    sex = person.sex.value[:1] if person.sex is not None and person.sex.value in ("female", "male") else ""
    return Record.from_raw(
        record_key, source=source, given_name=person.given_names, family_name=person.family_name,
        date_of_birth=person.date_of_birth.isoformat() if person.date_of_birth else None, sex=sex,
        nhs_number=person.nhs_number, postcode=address.postcode if address else None,
        address_line=address.lines[0] if address and address.lines else None, town=address.town if address else None)


class IdentityIndex:
    """One per worker (and one per CLI command), all consulting one index in the store; see the module
    docstring for the guarantees."""

    def __init__(self, policy: Policy, audit: AuditSink, clock: Callable[[], datetime],
                 match_threshold: float = MATCH_THRESHOLD) -> None:
        self.policy = policy
        self.audit = audit
        self.clock = clock
        self.match_threshold = match_threshold
        self.resolver: StoredResolver | None = None
        self.last_seq = 0  # the name statistics are the log's up to here
        self._batch_seq: int | None = None  # set while a unit of work resolves
        self._snapshot_seq = 0  # the newest snapshot of the statistics this worker knows of
        self._unreadable_snapshot: int | None = None  # the newest could not be read: replaced at the next finish

    def discard(self) -> None:
        """The unit of work failed: what the statistics learnt in it may not be in the log."""
        self.resolver, self.last_seq, self._batch_seq = None, 0, None

    # -- the pipeline ----------------------------------------------------------------------------
    def resolve_event(self, session: Session, event) -> Resolution:  # type: ignore[no-untyped-def]
        """The event's persons resolved inside the caller's unit of work; the first call takes the lock
        and brings the statistics up to the log, ``finish`` advances the log (call it before committing)."""
        people = persons_of(event)
        if not people:
            return Resolution({}, [])
        organisation, source = event.source.organisation_code, event.source.agency.value
        records = [(record_from_person(f"{event.event_id}:{position}", person, source), person_key(person, organisation))
                   for position, person in enumerate(people)]
        resolution = self.resolve_records(session, str(event.event_id), records)
        children = children_of(event)  # a delivery about the whole event names its child when it has one
        return replace(resolution, subject=person_key(children[0], organisation) if len(children) == 1 else None)

    def resolve_records(self, session: Session, source_event_id: str, records: list[tuple[Record, str]]) -> Resolution:
        """One source event's records (each with the subject key its deliveries carry) resolved, logged and
        indexed inside the caller's unit of work. A record already logged keeps its person (a redelivery)."""
        self.begin(session)
        resolver = self.resolver
        assert resolver is not None and self._batch_seq is not None
        now = self.clock()
        masters: dict[str, str] = {}
        notices: list[PlannedDelivery] = []
        reviews: list[Review] = []
        for record, subject in records:
            record_key = record.record_id
            if resolver.knows(record_key):  # the event again: the same answer, nothing new
                masters[subject] = resolver.person_for(record_key)
                continue
            decision = resolver.decide(record)
            self._batch_seq += 1
            insert_ignoring_duplicates(session, IdentityRecord, [{
                **logged_row(record), "seq": self._batch_seq, "source_event_id": source_event_id,
                "subject_key": subject, "resolved_at": now, "person_id": decision.person_id}], ["record_key"])
            moved = resolver.apply(record, decision, seq=self._batch_seq)
            for absorbed, record_ids in moved.items():
                self._batch_seq += 1
                notices.append(self._merged(session, resolver, self._batch_seq, decision.person_id, absorbed, record_ids,
                                            f"record {record_key}", "safeguard.resolver", now))
            if decision.action == "review" and decision.candidate:
                reviews.append(Review(self._queue(session, record_key, decision, now), record_key, subject,
                                      decision.candidate, round(decision.score, 2)))
            masters[subject] = resolver.person_for(record_key)
            log.info("identity.resolved", record_key=record_key, person_id=decision.person_id, action=decision.action,
                     score=round(decision.score, 1), absorbed=list(decision.absorbed))
        return Resolution(masters, notices, None, tuple(reviews))

    def begin(self, session: Session) -> None:
        """Take the lock and bring the statistics up to the log now, before the unit of work reads
        anything (the router does, so that its whole unit of work is serialised with every other worker's)."""
        if self._batch_seq is None:
            _, self._batch_seq = self._lock_and_sync(session)

    def finish(self, session: Session) -> None:
        """Advance the log past what this unit of work resolved (before the commit)."""
        if self._batch_seq is None:
            return
        if self._unreadable_snapshot is not None or self._batch_seq - self._snapshot_seq >= SNAPSHOT_EVERY:
            self._take_snapshot(session, self._batch_seq)
        self._advance(session, self._batch_seq)
        self.last_seq, self._batch_seq = self._batch_seq, None

    # -- one child's records, by any of its keys (inside a unit of work: the index's session) -----------
    def master_of(self, subject_key: str) -> str | None:
        """The master person a subject key's records belong to now, or None if the index has not seen it."""
        if self.resolver is None or self.resolver.session is None:
            return None
        return self.resolver.person_of_subject(subject_key)

    def keys_like(self, subject_key: str) -> set[str]:
        """Every subject key of the person ``subject_key`` belongs to now (itself included)."""
        person = self.master_of(subject_key)
        if person is None:
            return {subject_key}
        return {subject_key, *(subject for _, subject in self._records_of_person(person))}

    def events_like(self, subject_key: str) -> set[str]:
        """The source event ids of every record of the person ``subject_key`` belongs to now."""
        person = self.master_of(subject_key)
        if person is None:
            return set()
        return {record.rsplit(":", 1)[0] for record, _ in self._records_of_person(person)}

    def events_of_person(self, person_id: str) -> set[str]:
        """The source event ids of every record of a person now (after merges and un-merges)."""
        if self.resolver is None or self.resolver.session is None:
            return set()
        return {record.rsplit(":", 1)[0] for record, _ in self._records_of_person(self.resolver.survivor_of(person_id))}

    def keys_of_person(self, person_id: str) -> set[str]:
        """Every subject key of a person's records."""
        if self.resolver is None or self.resolver.session is None:
            return set()
        return {subject for _, subject in self._records_of_person(self.resolver.survivor_of(person_id))}

    def _records_of_person(self, person: str) -> list[tuple[str, str]]:
        """(record key, subject key) of its records, and of those kept as exact duplicates of them."""
        assert self.resolver is not None
        return self.resolver.records_of_person(person)

    def current(self, person_id: str | None) -> str | None:
        """Where a person's records are now: a person merged later in the same batch lives on in its survivor."""
        if person_id is None or self.resolver is None:
            return person_id
        return self.resolver.survivor_of(person_id)

    # -- operators -------------------------------------------------------------------------------
    def reviews(self, session: Session, status: str | None = "open") -> list[IdentityReview]:
        query = select(IdentityReview).order_by(IdentityReview.created_at)  # type: ignore[arg-type]
        if status:
            query = query.where(IdentityReview.status == status)
        return list(session.exec(query))

    def confirm(self, session: Session, review_id: str, actor: str) -> PlannedDelivery:
        """The record's person and the candidate are one: merged into the candidate."""
        review = self._open_review(session, review_id)
        resolver, seq = self._lock_and_sync(session)
        absorbed = resolver.person_for(review.record_key)
        survivor = self._current(resolver, review.candidate_person_id)
        if absorbed == survivor:
            raise IdentityRefused(f"review {review_id}: already one person ({survivor})")
        resolver.read_persons([absorbed, survivor])
        for a in resolver.members[absorbed]:
            for b in resolver.members[survivor]:
                first, second = resolver.records[a], resolver.records[b]
                if first.nhs_number and second.nhs_number and first.nhs_number != second.nhs_number:
                    raise IdentityRefused(f"review {review_id}: the two persons have different NHS numbers; "
                                          "a valid NHS number identifies one person")
        now = self.clock()
        record_ids = resolver.merge(absorbed, survivor)
        notice = self._merged(session, resolver, seq + 1, survivor, absorbed, record_ids, f"review {review_id}", actor, now)
        self._decide_review(session, review, "confirmed", actor, now)
        self._advance(session, seq + 1)
        return notice

    def reject(self, session: Session, review_id: str, actor: str) -> None:
        """Two people: kept apart, and never merged automatically from now on."""
        review = self._open_review(session, review_id)
        resolver, seq = self._lock_and_sync(session)
        person, candidate = resolver.person_for(review.record_key), self._current(resolver, review.candidate_person_id)
        now = self.clock()
        resolver.keep_apart(person, candidate)
        session.add(IdentityChange(seq=seq + 1, kind="apart", survivor_person_id=candidate, absorbed_person_id=person,
                                   record_keys_json="[]", cause=f"review {review_id}", actor=actor, at=now))
        self._decide_review(session, review, "rejected", actor, now)
        self._advance(session, seq + 1)

    def unmerge(self, session: Session, change_seq: int, actor: str) -> PlannedDelivery:
        """Undo merge ``change_seq``: the records it moved go back to the absorbed person, every
        delivery about them follows, and the two are kept apart from now on."""
        resolver, seq = self._lock_and_sync(session)
        change = session.get(IdentityChange, change_seq)
        if change is None or change.kind != "merge":
            raise IdentityRefused(f"change {change_seq}: no such merge")
        if change.undone_by_seq is not None:
            raise IdentityRefused(f"merge {change_seq} was already undone by change {change.undone_by_seq}")
        record_ids = json.loads(change.record_keys_json)
        now = self.clock()
        restored = change.absorbed_person_id
        resolver.read_records(record_ids)
        # Where the records are now (the survivor, or a person it was merged into since): kept apart from
        # the restored person, as the replay of the log will (the unmerge entry itself names the survivor).
        holders = {resolver.person_of[r] for r in record_ids if r in resolver.person_of} - {restored, change.survivor_person_id}
        resolver.unmerge(record_ids, restored)
        resolver.keep_apart(change.survivor_person_id, restored)
        session.add(IdentityChange(seq=seq + 1, kind="unmerge", survivor_person_id=change.survivor_person_id,
                                   absorbed_person_id=restored, record_keys_json=change.record_keys_json,
                                   cause=f"un-merge of change {change_seq}", actor=actor, at=now))
        change.undone_by_seq = seq + 1
        session.add(change)
        last = seq + 1
        for holder in sorted(holders):
            last += 1
            session.add(IdentityChange(seq=last, kind="apart", survivor_person_id=holder, absorbed_person_id=restored,
                                       record_keys_json="[]", cause=f"un-merge of change {change_seq}", actor=actor, at=now))
        followed = _follow(session, self._about(session, resolver, record_ids), change.survivor_person_id, restored)
        self._audit(session, "identity_unmerged", actor, now, restored,
               {"change_seq": change_seq, "survivor_person_id": change.survivor_person_id, "records": len(record_ids)})
        self._advance(session, last)
        log.info("identity.unmerged", change_seq=change_seq, restored=change.absorbed_person_id,
                 from_person=change.survivor_person_id, records=len(record_ids), deliveries=followed)
        return self._notice("person.unmerged", seq + 1, change.survivor_person_id, change.absorbed_person_id,
                            len(record_ids), f"un-merge of change {change_seq}")

    def person(self, session: Session, person_id: str) -> list[IdentityRecord]:
        """The source records of a person now (after merges; exact duplicates of them aside)."""
        resolver, _ = self._lock_and_sync(session, lock=False)
        survivor = self._current(resolver, person_id)
        return list(session.exec(select(IdentityRecord).join(IdentityMember, IdentityMember.record_key == IdentityRecord.record_key)
                                 .where(IdentityMember.person_id == survivor, IS_ORIGINAL)
                                 .order_by(IdentityRecord.seq)))

    # -- the log ---------------------------------------------------------------------------------
    def _lock_and_sync(self, session: Session, lock: bool = True) -> tuple[StoredResolver, int]:
        insert_ignoring_duplicates(session, IdentitySequence, [{"id": 1, "last_seq": 0, "indexed_seq": 0}], ["id"])
        if lock:
            self._lock(session)
        latest, indexed = self._sequence(session)
        if indexed < latest:
            if not lock:  # a reader (``person``) does not hold everyone up to index the log and throw it away
                raise IdentityRefused("the person index is behind its log (a store from before migration 0013): "
                                      "the first worker to start indexes it; try again then")
            latest = self._index_log(session, latest)
        if self.resolver is None:
            self.resolver, self.last_seq = self._restored(session, latest)
        if latest > self.last_seq:
            self._replay_statistics(session, self.resolver, self.last_seq, latest)
            self.last_seq = latest
        self.resolver.begin(session)
        return self.resolver, latest

    def _restored(self, session: Session, upto: int) -> tuple[StoredResolver, int]:
        """A fresh resolver holding the newest snapshot of the statistics at or before ``upto``, and the
        log entry it is of (0: none, or one that cannot be read, so the whole log is replayed)."""
        resolver = StoredResolver(self.match_threshold)
        newest = session.exec(select(IdentityStatistics).where(IdentityStatistics.seq <= upto)
                              .order_by(IdentityStatistics.seq.desc()).limit(1)).first()  # type: ignore[union-attr]
        if newest is None:
            self._snapshot_seq = 0
            return resolver, 0
        try:
            restore(resolver, newest.body)
        except SnapshotUnreadable as problem:
            log.warning("identity.snapshot_unreadable", snapshot_seq=newest.seq, reason=str(problem))
            self._snapshot_seq, self._unreadable_snapshot = 0, newest.seq
            return StoredResolver(self.match_threshold), 0
        self._snapshot_seq, self._unreadable_snapshot = newest.seq, None
        return resolver, newest.seq

    def _take_snapshot(self, session: Session, seq: int, resolver: Resolver | None = None) -> None:
        """The statistics as they stand at log entry ``seq`` (this worker's, or ``resolver``'s), written in
        the unit of work, unless another worker wrote one recently (or replaced the one this worker could not
        read); older snapshots are dropped."""
        newest = session.exec(select(func.max(IdentityStatistics.seq))).one() or 0
        if resolver is None and newest != self._unreadable_snapshot and seq - newest < SNAPSHOT_EVERY:
            self._snapshot_seq, self._unreadable_snapshot = newest, None
            return
        source = resolver or self.resolver
        assert source is not None
        session.exec(delete(IdentityStatistics))  # type: ignore[call-overload]
        session.add(IdentityStatistics(seq=seq, taken_at=self.clock(), body=snapshot_of(source)))
        session.flush()
        self._snapshot_seq, self._unreadable_snapshot = seq, None
        log.info("identity.snapshot_taken", snapshot_seq=seq)

    @staticmethod
    def _lock(session: Session) -> None:
        """Updating the row takes the lock that serialises resolution until the commit."""
        session.exec(update(IdentitySequence).where(IdentitySequence.id == 1)  # type: ignore[call-overload]
                     .values(last_seq=IdentitySequence.last_seq))

    @staticmethod
    def _sequence(session: Session) -> tuple[int, int]:
        latest, indexed = session.exec(select(IdentitySequence.last_seq, IdentitySequence.indexed_seq)
                                       .where(IdentitySequence.id == 1)).one()
        return latest, indexed

    @staticmethod
    def _replay_statistics(session: Session, resolver: Resolver, after: int, upto: int) -> None:
        """What the index keeps in memory, brought up to the log: the name statistics (every record but an
        exact duplicate), the persons numbered so far, where merged persons went, the pairs kept apart."""
        rows = session.execute(select(IdentityRecord.given_name, IdentityRecord.family_name, IdentityRecord.person_id,
                                      IdentityMember.duplicate_of_seq)
                               .join(IdentityMember, IdentityMember.record_key == IdentityRecord.record_key)
                               .where(IdentityRecord.seq > after, IdentityRecord.seq <= upto).order_by(IdentityRecord.seq)
                               .execution_options(yield_per=INDEXING_BATCH))
        for given_name, family_name, person_id, duplicate_of_seq in rows:
            if duplicate_of_seq is None:
                resolver.count_names(given_name, family_name)
            resolver.saw_person(person_id)
        for change in session.exec(select(IdentityChange).where(IdentityChange.seq > after, IdentityChange.seq <= upto)
                                   .order_by(IdentityChange.seq)):  # type: ignore[arg-type]
            if change.kind == "merge":
                resolver.absorbed_into[change.absorbed_person_id] = change.survivor_person_id
            elif change.kind == "unmerge":
                resolver.absorbed_into.pop(change.absorbed_person_id, None)
                resolver.keep_apart(change.survivor_person_id, change.absorbed_person_id)
            elif change.kind == "apart":
                resolver.keep_apart(change.survivor_person_id, change.absorbed_person_id)

    def _index_log(self, session: Session, upto: int) -> int:
        """A log written before the index was kept in the store (or only partly indexed): replayed in full
        and its index written, once, under the lock. This once, the worker holds the whole index in memory
        (as every worker did before: about 1.2 GiB at a million persons). The persons an older un-merge kept
        apart without saying so in the log (where the records were by then: the replay worked it out) are
        logged as "apart" entries. Returns the log's new last sequence."""
        for table in (IdentityMember, IdentityBlock, IdentityNhs):
            session.exec(delete(table))  # type: ignore[call-overload]
        resolver = Resolver(self.match_threshold)
        seq_of = self._replay(session, resolver, 0, upto)
        members = chain(({"record_key": key, "seq": seq_of[key], "person_id": person, "duplicate_of_seq": None,
                          "fingerprint": fingerprint_hash(resolver.records[key])} for key, person in resolver.person_of.items()),
                        ({"record_key": key, "seq": seq_of[key], "person_id": resolver.person_for(key),
                          "duplicate_of_seq": seq_of[earlier], "fingerprint": None} for key, earlier in resolver.same_as.items()))
        blocks = ({"key_hash": key_hash, "seq": seq_of[key]} for key, record in resolver.records.items()
                  for key_hash in sorted({stable_hash(k) for k in resolver._keys(record, indexing=True)}))
        nhs = ({"nhs_number": number, "person_id": person} for number, person in resolver.nhs_person.items())
        for table, rows in ((IdentityMember, members), (IdentityBlock, blocks), (IdentityNhs, nhs)):
            while chunk := list(islice(rows, INDEXING_BATCH)):
                session.execute(insert(table), chunk)
        stated = {frozenset((change.survivor_person_id, change.absorbed_person_id)) for change in session.exec(
            select(IdentityChange).where(IdentityChange.kind.in_(("unmerge", "apart")), IdentityChange.seq <= upto))}  # type: ignore[attr-defined]
        now = self.clock()
        for pair in sorted(sorted(pair) for pair in resolver.apart - stated):
            upto += 1
            session.add(IdentityChange(seq=upto, kind="apart", survivor_person_id=pair[0], absorbed_person_id=pair[1],
                                       record_keys_json="[]", cause="un-merge (indexing an older log)",
                                       actor="safeguard.resolver", at=now))
        session.flush()
        self._take_snapshot(session, upto, resolver)
        self._advance(session, upto)
        for table in ("identity_member", "identity_block", "identity_nhs"):  # planners' figures, after a bulk load
            session.execute(text(f"ANALYZE {table}"))
        log.info("identity.log_indexed", upto_seq=upto, records=len(seq_of), persons=len(resolver.members))
        return upto

    @staticmethod
    def _replay(session: Session, resolver: Resolver, after: int, upto: int) -> dict[str, int]:
        """The log replayed into an in-memory resolver, read as a stream; returns each record's place in it."""
        records = session.execute(select(*RECORD_COLUMNS, IdentityRecord.seq, IdentityRecord.person_id)
                                  .where(IdentityRecord.seq > after, IdentityRecord.seq <= upto)
                                  .order_by(IdentityRecord.seq).execution_options(yield_per=INDEXING_BATCH))
        changes = list(session.exec(select(IdentityChange).where(IdentityChange.seq > after, IdentityChange.seq <= upto)
                                    .order_by(IdentityChange.seq)))  # type: ignore[arg-type]
        seq_of: dict[str, int] = {}
        for entry in heapq.merge(records, changes, key=lambda entry: entry.seq):
            if not isinstance(entry, IdentityChange):
                resolver.add_resolved(record_from_row(entry), entry.person_id)
                seq_of[entry.record_key] = entry.seq
            elif entry.kind == "merge":
                resolver.absorbed_into[entry.absorbed_person_id] = entry.survivor_person_id
                resolver.move([k for k in json.loads(entry.record_keys_json) if k in resolver.person_of],
                              entry.survivor_person_id)
            elif entry.kind == "unmerge":
                resolver.unmerge(json.loads(entry.record_keys_json), entry.absorbed_person_id)
                resolver.keep_apart(entry.survivor_person_id, entry.absorbed_person_id)
            elif entry.kind == "apart":
                resolver.keep_apart(entry.survivor_person_id, entry.absorbed_person_id)
        return seq_of

    @staticmethod
    def _advance(session: Session, seq: int) -> None:
        session.exec(update(IdentitySequence).where(IdentitySequence.id == 1)  # type: ignore[call-overload]
                     .values(last_seq=seq, indexed_seq=seq))

    def _merged(self, session: Session, resolver: StoredResolver, seq: int, survivor: str, absorbed: str,
                record_ids: list[str], cause: str, actor: str, now: datetime) -> PlannedDelivery:
        session.add(IdentityChange(seq=seq, kind="merge", survivor_person_id=survivor, absorbed_person_id=absorbed,
                                   record_keys_json=json.dumps(record_ids), cause=cause, actor=actor, at=now))
        followed = _follow(session, self._about(session, resolver, record_ids), absorbed, survivor)
        log.info("identity.merged", change_seq=seq, survivor=survivor, absorbed=absorbed, records=len(record_ids),
                 deliveries=followed, cause=cause)
        return self._notice("person.merged", seq, survivor, absorbed, len(record_ids), cause)

    def _notice(self, event_type: str, seq: int, survivor: str, absorbed: str, records: int, cause: str) -> PlannedDelivery:
        return self.policy.plan_operational("person_merged", f"{event_type}|{seq}", {
            "alert": "two person records are one person" if event_type == "person.merged"
            else "a merge was undone: two people again", "event_type": event_type, "survivor_person_id": survivor,
            "absorbed_person_id": absorbed, "records_moved": records, "cause": cause, "change_seq": seq})

    @staticmethod
    def _about(session: Session, resolver: StoredResolver, record_ids: list[str]) -> list[tuple[str, str]]:
        """(source event id, subject key) of these records and of every later record just like them."""
        keys = resolver.with_duplicates(record_ids)
        subjects: dict[str, str] = {}
        for start in range(0, len(keys), INDEXING_BATCH):
            subjects.update(session.execute(select(IdentityRecord.record_key, IdentityRecord.subject_key)
                                            .where(IdentityRecord.record_key.in_(keys[start:start + INDEXING_BATCH]))).all())  # type: ignore[attr-defined,arg-type]
        return [(key.rsplit(":", 1)[0], subjects[key]) for key in keys if key in subjects]

    @staticmethod
    def _queue(session: Session, record_key: str, decision: Decision, now: datetime) -> str:
        review_id = hashlib.sha256(record_key.encode()).hexdigest()[:16]
        stage_insert(session, IdentityReview, {
            "review_id": review_id, "record_key": record_key, "person_id": decision.person_id,
            "candidate_person_id": decision.candidate, "score": round(decision.score, 2), "status": "open",
            "created_at": now, "decided_at": None, "decided_by": None}, ["review_id"])
        return review_id

    @staticmethod
    def _open_review(session: Session, review_id: str) -> IdentityReview:
        review = session.get(IdentityReview, review_id)
        if review is None:
            raise IdentityRefused(f"review {review_id}: no such review")
        if review.status != "open":
            raise IdentityRefused(f"review {review_id}: already {review.status} by {review.decided_by}")
        return review

    def _decide_review(self, session: Session, review: IdentityReview, status: str, actor: str, now: datetime) -> None:
        review.status, review.decided_by, review.decided_at = status, actor, now
        session.add(review)
        self._audit(session, f"identity_review_{status}", actor, now, review.candidate_person_id,
               {"review_id": review.review_id, "person_id": review.person_id, "candidate_person_id": review.candidate_person_id})

    @staticmethod
    def _current(resolver: Resolver, person_id: str) -> str:
        """The person's survivor, refused when there is no such person."""
        survivor = resolver.survivor_of(person_id)
        if not resolver.has_records(survivor):
            raise IdentityRefused(f"person {person_id}: no such person")
        return survivor

    def _audit(self, session: Session, action: str, actor: str, now: datetime, person_id: str, detail: dict) -> None:
        """An operator's identity decision in the tamper-evident audit trail (identifiers only)."""
        text = json.dumps(detail, sort_keys=True)
        self.audit.write([AuditEntry(audit_id=f"identity:{action}:{hashlib.sha256(text.encode()).hexdigest()[:24]}",
                                     action=action, master_person_id=person_id, detail=text)],
                         UnitOfWork(session, actor[:80], now))


def logged_row(record: Record) -> dict:
    """The record as the log holds it (``identity_record`` columns but its place, person and source event)."""
    values = {name: getattr(record, name) for name in RECORD_FIELDS}  # text fields are "" when unknown
    values["date_of_birth"] = record.date_of_birth.isoformat() if record.date_of_birth else None
    values["record_key"], values["source"] = record.record_id, record.source[:40]
    return values


def _follow(session: Session, about: list[tuple[str, str]], previous: str, person_id: str) -> int:
    """Every delivery about these records (source event id, subject key) now names ``person_id`` as its
    master person: those keyed to the record's subject, and those about the whole event that named
    ``previous`` (its child)."""
    changed = 0
    for event_id, subject in about:
        condition = or_(DeliveryRecord.subject_key == subject,
                        and_(DeliveryRecord.subject_key.is_(None), DeliveryRecord.master_person_id == previous))  # type: ignore[union-attr]
        result = session.exec(update(DeliveryRecord)  # type: ignore[call-overload]
                              .where(DeliveryRecord.source_event_id == event_id, condition)
                              .values(master_person_id=person_id))
        changed += result.rowcount or 0
    return changed
