"""The master person index the pipeline uses: the resolver's state kept as a log in SQL.

Inputs: each event's persons, inside the router's unit of work; operators' decisions (confirm or
reject a review, un-merge). Outputs: a master person id per person of the event; the log tables
``identity_record`` (append-only) and ``identity_change`` (merges, un-merges, "two people"
decisions); ``identity_review`` rows for the uncertain band; deliveries whose ``master_person_id``
follows every merge and un-merge; a ``person.merged`` / ``person.unmerged`` notice to operators.

Guarantees: resolution is serialised across workers by updating the ``identity_sequence`` row first
in the unit of work (a row lock on PostgreSQL, the write lock on SQLite) and each worker replays the
log up to the latest sequence before resolving, so two workers never make two masters for one new
child; should anything get past the lock, the unique ``seq`` of the log refuses the second writer's
unit of work, which is retried after replaying the log. A redelivered event reuses its stored
records (idempotent). If the unit of work fails, the
caller calls ``discard`` and the in-memory index is rebuilt from the log. Logs carry identifiers
only.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from sys import intern

import structlog
from sqlalchemy import and_, or_, update
from sqlmodel import Session, select

from schemas.events import RegisterEntry
from schemas.person import PersonRef
from sinks.audit import AuditEntry, AuditSink
from sinks.contract import PlannedDelivery, UnitOfWork
from sinks.models import DeliveryRecord, IdentityChange, IdentityRecord, IdentityReview, IdentitySequence
from sinks.store import insert_ignoring_duplicates, stage_insert
from streams.identity.keys import children_of, person_key
from streams.identity.resolver import MATCH_THRESHOLD, Decision, Record, Resolver, set_aside_long_lived
from streams.sharing.policy import Policy

log = structlog.get_logger("safeguard.identity")

LONG_LIVED_REPLAY = 50_000  # log entries replayed at once (a worker starting) after which the index is set aside
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
    """One per worker (and one per CLI command); see the module docstring for the guarantees."""

    def __init__(self, policy: Policy, audit: AuditSink, clock: Callable[[], datetime],
                 match_threshold: float = MATCH_THRESHOLD) -> None:
        self.policy = policy
        self.audit = audit
        self.clock = clock
        self.match_threshold = match_threshold
        self.resolver: Resolver | None = None
        self.last_seq = 0
        self.subject_of: dict[str, str] = {}  # record key -> the subject key deliveries carry
        self.records_of: dict[str, list[str]] = {}  # subject key -> its record keys
        self._batch_seq: int | None = None  # set while a unit of work resolves
        self._pending: list[dict] = []

    def discard(self) -> None:
        """The unit of work failed: what this index learnt in it may not be in the log."""
        self.resolver, self.last_seq, self._batch_seq, self._pending = None, 0, None, []
        self.subject_of, self.records_of = {}, {}

    # -- the pipeline ----------------------------------------------------------------------------
    def resolve_event(self, session: Session, event) -> Resolution:  # type: ignore[no-untyped-def]
        """The event's persons resolved inside the caller's unit of work; the first call takes the lock
        and replays the log, ``finish`` writes what the batch added (call it before committing)."""
        people = persons_of(event)
        if not people:
            return Resolution({}, [])
        self.begin(session)
        resolver = self.resolver
        assert resolver is not None
        now = self.clock()
        organisation = event.source.organisation_code
        masters: dict[str, str] = {}
        notices: list[PlannedDelivery] = []
        reviews: list[Review] = []
        for position, person in enumerate(people):
            record_key = f"{event.event_id}:{position}"
            subject = person_key(person, organisation)
            if resolver.knows(record_key):  # the event again: the same answer, nothing new
                masters[subject] = resolver.person_for(record_key)
                continue
            record = record_from_person(record_key, person, event.source.agency.value)
            decision = resolver.decide(record)
            moved = resolver.apply(record, decision)
            self._remember(record_key, subject)
            self._batch_seq += 1
            self._pending.append({**_stored(record), "seq": self._batch_seq, "source_event_id": str(event.event_id),
                                  "subject_key": subject, "resolved_at": now, "person_id": decision.person_id})
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
        children = children_of(event)  # a delivery about the whole event names its child when it has one
        return Resolution(masters, notices, person_key(children[0], organisation) if len(children) == 1 else None,
                          tuple(reviews))

    def begin(self, session: Session) -> None:
        """Take the lock and replay the log now, before the unit of work reads anything (the router
        does, so that its whole unit of work is serialised with every other worker's)."""
        if self._batch_seq is None:
            _, self._batch_seq = self._lock_and_sync(session)

    def finish(self, session: Session) -> None:
        """Write the records this unit of work resolved and advance the log (before the commit)."""
        if self._batch_seq is None:
            return
        if self._pending:
            insert_ignoring_duplicates(session, IdentityRecord, self._pending, ["record_key"])
        self._advance(session, self._batch_seq)
        self.last_seq, self._batch_seq, self._pending = self._batch_seq, None, []

    # -- one child's records, by any of its keys (the resolver must be in sync: inside a unit of work) --
    def master_of(self, subject_key: str) -> str | None:
        """The master person a subject key's records belong to now, or None if the index has not seen it."""
        records = self.records_of.get(subject_key)
        return self.resolver.person_for(records[-1]) if records and self.resolver is not None else None

    def keys_like(self, subject_key: str) -> set[str]:
        """Every subject key of the person ``subject_key`` belongs to now (itself included)."""
        person = self.master_of(subject_key)
        if person is None or self.resolver is None:
            return {subject_key}
        return {subject_key, *(self.subject_of[r] for r in self._records_of_person(person) if r in self.subject_of)}

    def events_like(self, subject_key: str) -> set[str]:
        """The source event ids of every record of the person ``subject_key`` belongs to now."""
        person = self.master_of(subject_key)
        if person is None or self.resolver is None:
            return set()
        return {record.rsplit(":", 1)[0] for record in self._records_of_person(person)}

    def events_of_person(self, person_id: str) -> set[str]:
        """The source event ids of every record of a person now (after merges and un-merges)."""
        if self.resolver is None:
            return set()
        return {record.rsplit(":", 1)[0]
                for record in self._records_of_person(self.resolver.survivor_of(person_id))}

    def keys_of_person(self, person_id: str) -> set[str]:
        """Every subject key of a person's records."""
        if self.resolver is None:
            return set()
        return {self.subject_of[r] for r in self._records_of_person(self.resolver.survivor_of(person_id))
                if r in self.subject_of}

    def _records_of_person(self, person: str) -> list[str]:
        """Its records, and those kept as exact duplicates of them."""
        assert self.resolver is not None
        return self.resolver.with_duplicates(list(self.resolver.members.get(person, [])))

    def _remember(self, record_key: str, subject_key: str) -> None:
        self.subject_of[record_key] = subject_key
        self.records_of.setdefault(subject_key, []).append(record_key)

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
        resolver.unmerge(record_ids, change.absorbed_person_id)
        session.add(IdentityChange(seq=seq + 1, kind="unmerge", survivor_person_id=change.survivor_person_id,
                                   absorbed_person_id=change.absorbed_person_id, record_keys_json=change.record_keys_json,
                                   cause=f"un-merge of change {change_seq}", actor=actor, at=now))
        change.undone_by_seq = seq + 1
        session.add(change)
        followed = _follow(session, self._about(resolver, record_ids), change.survivor_person_id,
                           change.absorbed_person_id)
        self._audit(session, "identity_unmerged", actor, now, change.absorbed_person_id,
               {"change_seq": change_seq, "survivor_person_id": change.survivor_person_id, "records": len(record_ids)})
        self._advance(session, seq + 1)
        log.info("identity.unmerged", change_seq=change_seq, restored=change.absorbed_person_id,
                 from_person=change.survivor_person_id, records=len(record_ids), deliveries=followed)
        return self._notice("person.unmerged", seq + 1, change.survivor_person_id, change.absorbed_person_id,
                            len(record_ids), f"un-merge of change {change_seq}")

    def person(self, session: Session, person_id: str) -> list[IdentityRecord]:
        """The source records of a person now (after merges)."""
        resolver, _ = self._lock_and_sync(session, lock=False)
        keys = resolver.members.get(self._current(resolver, person_id), [])
        return list(session.exec(select(IdentityRecord).where(IdentityRecord.record_key.in_(keys)))) if keys else []  # type: ignore[attr-defined]

    # -- the log ---------------------------------------------------------------------------------
    def _lock_and_sync(self, session: Session, lock: bool = True) -> tuple[Resolver, int]:
        insert_ignoring_duplicates(session, IdentitySequence, [{"id": 1, "last_seq": 0}], ["id"])
        if lock:  # updating the row takes the lock that serialises resolution until commit
            session.exec(update(IdentitySequence).where(IdentitySequence.id == 1)  # type: ignore[call-overload]
                         .values(last_seq=IdentitySequence.last_seq))
        latest = session.exec(select(IdentitySequence.last_seq).where(IdentitySequence.id == 1)).one()
        if self.resolver is None:
            self.resolver, self.last_seq, self.subject_of, self.records_of = Resolver(self.match_threshold), 0, {}, {}
        if latest > self.last_seq:
            self._replay(session, self.resolver, self.last_seq, latest)
            if latest - self.last_seq >= LONG_LIVED_REPLAY:
                set_aside_long_lived()
            self.last_seq = latest
        return self.resolver, latest

    def _replay(self, session: Session, resolver: Resolver, after: int, upto: int) -> None:
        records = session.exec(select(IdentityRecord).where(IdentityRecord.seq > after, IdentityRecord.seq <= upto))
        changes = session.exec(select(IdentityChange).where(IdentityChange.seq > after, IdentityChange.seq <= upto))
        entries: list[tuple[int, IdentityRecord | IdentityChange]] = [(r.seq, r) for r in records]
        entries += [(c.seq, c) for c in changes]
        for _, entry in sorted(entries, key=lambda item: item[0]):
            if isinstance(entry, IdentityRecord):
                resolver.add_resolved(_loaded(entry), entry.person_id)
                self._remember(entry.record_key, entry.subject_key)
            elif entry.kind == "merge":
                resolver.move([k for k in json.loads(entry.record_keys_json) if k in resolver.person_of],
                              entry.survivor_person_id)
            elif entry.kind == "unmerge":
                resolver.unmerge(json.loads(entry.record_keys_json), entry.absorbed_person_id)
            elif entry.kind == "apart":
                resolver.keep_apart(entry.survivor_person_id, entry.absorbed_person_id)

    @staticmethod
    def _advance(session: Session, seq: int) -> None:
        session.exec(update(IdentitySequence).where(IdentitySequence.id == 1).values(last_seq=seq))  # type: ignore[call-overload]

    def _merged(self, session: Session, resolver: Resolver, seq: int, survivor: str, absorbed: str,
                record_ids: list[str], cause: str, actor: str, now: datetime) -> PlannedDelivery:
        session.add(IdentityChange(seq=seq, kind="merge", survivor_person_id=survivor, absorbed_person_id=absorbed,
                                   record_keys_json=json.dumps(record_ids), cause=cause, actor=actor, at=now))
        followed = _follow(session, self._about(resolver, record_ids), absorbed, survivor)
        log.info("identity.merged", change_seq=seq, survivor=survivor, absorbed=absorbed, records=len(record_ids),
                 deliveries=followed, cause=cause)
        return self._notice("person.merged", seq, survivor, absorbed, len(record_ids), cause)

    def _notice(self, event_type: str, seq: int, survivor: str, absorbed: str, records: int, cause: str) -> PlannedDelivery:
        return self.policy.plan_operational("person_merged", f"{event_type}|{seq}", {
            "alert": "two person records are one person" if event_type == "person.merged"
            else "a merge was undone: two people again", "event_type": event_type, "survivor_person_id": survivor,
            "absorbed_person_id": absorbed, "records_moved": records, "cause": cause, "change_seq": seq})

    def _about(self, resolver: Resolver, record_ids: list[str]) -> list[tuple[str, str]]:
        """(source event id, subject key) of these records and of every later record just like them."""
        return [(key.rsplit(":", 1)[0], self.subject_of[key]) for key in resolver.with_duplicates(record_ids)
                if key in self.subject_of]

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
        if survivor not in resolver.members:
            raise IdentityRefused(f"person {person_id}: no such person")
        return survivor

    def _audit(self, session: Session, action: str, actor: str, now: datetime, person_id: str, detail: dict) -> None:
        """An operator's identity decision in the tamper-evident audit trail (identifiers only)."""
        text = json.dumps(detail, sort_keys=True)
        self.audit.write([AuditEntry(audit_id=f"identity:{action}:{hashlib.sha256(text.encode()).hexdigest()[:24]}",
                                     action=action, master_person_id=person_id, detail=text)],
                         UnitOfWork(session, actor[:80], now))


def _stored(record: Record) -> dict:
    values = {name: getattr(record, name) for name in RECORD_FIELDS}  # text fields are "" when unknown
    values["date_of_birth"] = record.date_of_birth.isoformat() if record.date_of_birth else None
    values["record_key"], values["source"] = record.record_id, record.source[:40]
    return values


def _loaded(row: IdentityRecord) -> Record:
    """A logged record as the resolver holds it: its text interned as ``Record.from_raw`` does (the
    database returns a new string for every value; a million records share a few thousand names)."""
    return Record(record_id=row.record_key, source=intern(row.source), given_name=intern(row.given_name),
                  family_name=intern(row.family_name),
                  date_of_birth=date.fromisoformat(row.date_of_birth) if row.date_of_birth else None, sex=intern(row.sex),
                  nhs_number=row.nhs_number, postcode=intern(row.postcode), address_line=intern(row.address_line),
                  town=intern(row.town))


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
