"""One identity index for all workers, in the store: the same decisions as the in-memory resolver,
whichever worker resolves which record, and nothing per record held in a worker's memory. Runs on
SQLite and PostgreSQL."""

import json
import random
import threading
from datetime import UTC, datetime

import pytest
from sqlalchemy import delete, update
from sqlmodel import Session, func, select

from benchmarks.identity import resolved_by
from benchmarks.synthetic_people import make_people, observations
from sinks.models import (
    IdentityBlock,
    IdentityChange,
    IdentityMember,
    IdentityNhs,
    IdentityRecord,
    IdentityReview,
    IdentitySequence,
    IdentityStatistics,
)
from streams.identity import index as index_module
from streams.identity.index import IdentityIndex, IdentityRefused
from streams.identity.resolver import Record, Resolver
from streams.identity.statistics import restore
from streams.identity.stored import stable_hash
from tests.unit.helpers import another_index


def family_records(seed: int, people: int) -> list[Record]:
    """Records of made-up families (the benchmark's generator: twins, nicknames, typos, moves)."""
    rng = random.Random(seed)
    observed = observations(rng, make_people(rng, people))
    return [Record.from_raw(f"event-{i}:0", **{k: v for k, v in raw.items() if k not in ("record_id", "person")})
            for i, (raw, _) in enumerate(observed)]


def after(records: list[Record]) -> Resolver:
    """One in-memory resolver that has resolved the records in turn."""
    resolver = Resolver()
    resolved_by(resolver, records)
    return resolver


def in_memory(records: list[Record]) -> dict[str, str]:
    return resolved_by(Resolver(), records)


def through_workers(engine, services, records: list[Record], workers: int, seed: int,
                    forget_index_at: int | None = None, restarts: bool = False) -> dict[str, str]:
    """The records resolved by ``workers`` identity indexes on one store, in units of work of 1 to 8
    records, each unit taken by a worker chosen at random. ``forget_index_at``: there, the stored index
    is dropped as if the store predated it (the next worker indexes the log again). ``restarts``: one
    unit in four goes to a worker that has just started in its place."""
    rng = random.Random(seed)
    indexes = [another_index(services) for _ in range(workers)]
    position = 0
    while position < len(records):
        if forget_index_at is not None and position >= forget_index_at:
            forget_index_at = None
            with Session(engine) as session:
                for table in (IdentityMember, IdentityBlock, IdentityNhs):
                    session.exec(delete(table))
                session.exec(update(IdentitySequence).values(indexed_seq=0))
                session.commit()
        batch = records[position:position + rng.randint(1, 8)]
        turn = rng.randrange(workers)
        if restarts and rng.random() < 0.25:
            indexes[turn] = another_index(services)
        index = indexes[turn]
        with Session(engine) as session:
            index.begin(session)
            for record in batch:
                index.resolve_records(session, record.record_id.split(":")[0], [(record, record.record_id)])
            index.finish(session)
            session.commit()
        position += len(batch)
    with Session(engine) as session:
        return dict(session.exec(select(IdentityMember.record_key, IdentityMember.person_id)).all())


def statistics(resolver: Resolver) -> tuple:
    """Everything a worker holds in memory across units of work."""
    return (resolver.given_counts, resolver.family_counts, set(resolver.common_given_names), resolver.given_families,
            resolver.total, resolver.last_person_number, resolver.absorbed_into, resolver.apart)


def replayed_from(monkeypatch) -> list[int]:
    """Where each replay of the statistics began (0: the start of the log), as workers start."""
    starts: list[int] = []
    original = IdentityIndex._replay_statistics

    def spy(session, resolver, after, upto):
        starts.append(after)
        original(session, resolver, after, upto)

    monkeypatch.setattr(IdentityIndex, "_replay_statistics", staticmethod(spy))
    return starts


def a_review_to_confirm(engine, services) -> IdentityReview:
    """An open review whose two persons are still two (later records merge some of them meanwhile)."""
    index = another_index(services)
    with Session(engine) as session:
        index.begin(session)
        resolver = index.resolver
        for review in session.exec(select(IdentityReview).where(IdentityReview.status == "open")
                                   .order_by(IdentityReview.review_id)):
            if resolver.person_for(review.record_key) != resolver.survivor_of(review.candidate_person_id):
                session.expunge(review)
                session.rollback()
                return review
    raise AssertionError("the test data must hold a review still open between two persons (change the seed)")


class TestOneIndexForAllWorkers:
    def test_three_workers_on_the_stored_index_decide_as_one_in_memory_resolver(self, engine, services):
        """Families with twins, nicknames, typos, moves and merges: every record gets the same person
        (the same id) as from the in-memory resolver, though three workers took turns at random."""
        records = family_records(seed=41, people=120)
        expected = in_memory(records)
        assert len(set(expected.values())) < len(records)  # matches were made: the test has something to compare
        assert through_workers(engine, services, records, workers=3, seed=7) == expected

    def test_crowded_blocking_keys_are_skipped_as_in_memory(self, engine, services, monkeypatch):
        """Keys shared by more records than the limits (lowered here to a few) are skipped by both indexes
        alike, counting the records filed in the same unit of work."""
        from streams.identity import resolver, stored
        records = family_records(seed=61, people=60)
        unlimited = in_memory(records)
        for module in (resolver, stored):
            monkeypatch.setattr(module, "KEY_LIMIT", 2)
            monkeypatch.setattr(module, "LOOSE_KEY_LIMIT", 1)
        expected = in_memory(records)
        assert expected != unlimited  # keys were skipped: the limits decide something here
        assert through_workers(engine, services, records, workers=2, seed=11) == expected

    @pytest.mark.parametrize("loose_limit", [40, 2])
    def test_the_looser_key_and_its_own_limit_decide_as_in_memory(self, engine, services, monkeypatch, loose_limit):
        """Jasper Huxley is Casper with the month mistyped too: only the family name with part of the date
        (the loose key) finds him. Three other Huxleys born on the 27th of 2014 crowd that key past a limit
        of 2 (not past 40): skipped by both indexes alike, so the outcome turns on the limit."""
        from streams.identity import resolver, stored

        def huxley(key: str, given: str, dob: str, postcode: str, address: str) -> Record:
            return Record.from_raw(f"event-{key}:0", given_name=given, family_name="Huxley", date_of_birth=dob,
                                   postcode=postcode, address_line=address)

        records = [huxley("c", "Casper", "2014-08-27", "NP44 9SQ", "Maes Glas"),
                   *(huxley(f"o{i}", given, f"2014-{month:02d}-27", postcode, "High Street")
                     for i, (given, month, postcode) in enumerate([("Mared", 3, "LL55 1AA"), ("Owen", 5, "SA31 2BB"),
                                                                   ("Tomos", 11, "CF44 3CC")])),
                   huxley("j", "Jasper", "2014-09-27", "NP44 9SQ", "Maes Glas")]
        for module in (resolver, stored):
            monkeypatch.setattr(module, "LOOSE_KEY_LIMIT", loose_limit)
        expected = in_memory(records)
        assert (expected["event-j:0"] == expected["event-c:0"]) == (loose_limit == 40)
        assert through_workers(engine, services, records, workers=2, seed=3) == expected

    def test_a_log_older_than_the_stored_index_is_indexed_by_the_next_worker(self, engine, services):
        """A store whose log predates the stored index (half the records here): the first worker to take
        the lock indexes it, and resolution carries on exactly as before."""
        records = family_records(seed=43, people=80)
        expected = in_memory(records)
        assert through_workers(engine, services, records, workers=2, seed=5, forget_index_at=len(records) // 2) == expected

    def test_a_worker_keeps_no_records_in_memory(self, engine, services):
        """A worker starting on a log holds its name statistics (equal to those of the worker that wrote
        the log), not its records; between units of work it holds none of the records it read."""
        records = family_records(seed=47, people=40)
        through_workers(engine, services, records, workers=1, seed=3)
        writer = after(records)
        starting = another_index(services)
        with Session(engine) as session:
            starting.begin(session)
            resolver = starting.resolver
            assert resolver.records == {} and resolver.person_of == {} and not resolver.members
            assert (resolver.given_counts, resolver.family_counts, resolver.total) == \
                (writer.given_counts, writer.family_counts, writer.total)
            assert resolver.person_for(records[-1].record_id)  # read from the store when asked
            assert resolver.records
            starting.finish(session)
            session.commit()
        with Session(engine) as session:
            starting.begin(session)
            assert starting.resolver.records == {}
            session.rollback()

    def test_blocking_keys_are_filed_under_a_hash_every_process_shares(self, engine, services):
        """The stored key is a stable hash (Python's string hash differs in every process)."""
        assert stable_hash("df:2015-03-04:CTW") == stable_hash("df:2015-03-04:CTW") != stable_hash("df:2015-03-04:CTX")
        records = family_records(seed=53, people=5)
        through_workers(engine, services, records[:1], workers=1, seed=1)
        keys = Resolver()._keys(records[0], indexing=True)
        with Session(engine) as session:
            stored = set(session.exec(select(IdentityBlock.key_hash)))
        assert stored == {stable_hash(key) for key in keys}

    def test_an_unmerge_keeps_the_same_pairs_apart_in_every_worker(self, engine, services):
        """After an operator's un-merge, a worker replaying the log keeps the same persons apart as the
        worker that did it."""
        records = family_records(seed=59, people=150)
        through_workers(engine, services, records, workers=1, seed=9)
        with Session(engine) as session:
            merge = session.exec(select(IdentityChange).where(IdentityChange.kind == "merge")
                                 .order_by(IdentityChange.seq)).first()
        if merge is None:  # the families gave no automatic merge: make one by review
            raise AssertionError("the test data must contain an automatic merge (change the seed)")
        operator = another_index(services)
        with Session(engine) as session:
            operator.unmerge(session, merge.seq, "operator@example.org")
            session.commit()
        replaying = another_index(services)
        with Session(engine) as session:
            replaying.begin(session)
            session.rollback()
        assert replaying.resolver.apart == operator.resolver.apart and operator.resolver.apart
        assert replaying.resolver.absorbed_into == operator.resolver.absorbed_into
        with Session(engine) as session:
            counted = session.exec(select(func.count()).select_from(IdentityMember)
                                   .where(IdentityMember.person_id == merge.absorbed_person_id)).one()
        assert counted >= 1  # the records went back to the absorbed person in the store

    def test_an_operator_merge_that_is_rolled_back_leaves_nothing_in_memory(self, engine, services, monkeypatch):
        """A confirmed review whose notices a sink refuses is rolled back: the worker's memory of where
        merged persons went is not left claiming the merge."""
        from sinks.contract import SinkRefused
        from streams.pipeline import operator_actions

        through_workers(engine, services, family_records(seed=59, people=150), workers=1, seed=9)
        review = a_review_to_confirm(engine, services)

        def refused(*_args, **_kwargs):
            raise SinkRefused("alerts: refused")

        monkeypatch.setattr(operator_actions, "after_identity_decision", refused)
        with pytest.raises(operator_actions.ActionRefused, match="alerts: refused"):
            operator_actions.decide_review(services, review.review_id, "confirm", "operator@example.org")
        with Session(engine) as session:
            services.identity.begin(session)
            assert review.person_id not in services.identity.resolver.absorbed_into
            assert services.identity.resolver.survivor_of(review.person_id) == review.person_id
            session.rollback()

    def test_a_record_with_no_blocking_key_is_resolved(self, engine, services):
        """A person named by family name alone has no key to be found by: a person of its own, as in memory
        (writing its empty list of keys failed the unit of work, for ever)."""
        records = [Record.from_raw("event-0:0", family_name="Jones"), Record.from_raw("event-1:0", family_name="Jones"),
                   Record.from_raw("event-2:0", given_name="Megan", family_name="Jones", date_of_birth="2015-03-04")]
        assert through_workers(engine, services, records, workers=1, seed=1) == in_memory(records)

    def test_pairs_an_older_log_kept_apart_silently_are_logged_when_it_is_indexed(self, engine, services):
        """Before the stored index an un-merge logged only the merge it undid: every worker's replay kept
        the restored person apart from wherever the records were by then. Indexing that log says so."""
        at = datetime(2026, 1, 5, tzinfo=UTC)

        def logged(seq: int, key: str, person: str) -> IdentityRecord:
            return IdentityRecord(record_key=key, seq=seq, person_id=person, source="police", source_event_id=key[:1],
                                  subject_key=key, given_name="megan", family_name="jones", date_of_birth="2015-03-04",
                                  sex="f", postcode="CF10 1AA", address_line="1 high st", town="cardiff", resolved_at=at)

        def change(seq: int, kind: str, survivor: str, absorbed: str, keys: list[str]) -> IdentityChange:
            return IdentityChange(seq=seq, kind=kind, survivor_person_id=survivor, absorbed_person_id=absorbed,
                                  record_keys_json=json.dumps(keys), cause="test", actor="test", at=at)

        with Session(engine) as session:  # P1 merged into P2, P2 into P3, then the first merge undone
            session.add(IdentitySequence(id=1, last_seq=6, indexed_seq=0))
            session.add_all([logged(1, "a:0", "P00000001"), logged(2, "b:0", "P00000002"), logged(3, "c:0", "P00000003")])
            session.add_all([change(4, "merge", "P00000002", "P00000001", ["a:0"]),
                             change(5, "merge", "P00000003", "P00000002", ["b:0", "a:0"]),
                             change(6, "unmerge", "P00000002", "P00000001", ["a:0"])])
            session.commit()
        in_memory_replay = Resolver()
        with Session(engine) as session:
            IdentityIndex._replay(session, in_memory_replay, 0, 6)
        indexing, later = another_index(services), another_index(services)
        with Session(engine) as session:
            with pytest.raises(IdentityRefused, match="behind its log"):
                indexing.person(session, "P00000001")  # a reader does not index the log
            indexing.begin(session)
            indexing.finish(session)
            session.commit()
        with Session(engine) as session:
            later.begin(session)
            session.rollback()
        assert frozenset(("P00000001", "P00000003")) in in_memory_replay.apart
        assert indexing.resolver.apart == later.resolver.apart == in_memory_replay.apart
        with Session(engine) as session:  # indexing ended with a snapshot of its statistics, at the log's end
            assert session.exec(select(IdentityStatistics.seq)).all() == [session.exec(select(IdentitySequence.last_seq)).one()]

    def test_operator_decisions_in_one_process_take_turns(self, engine, services, monkeypatch):
        """The web app runs requests in threads sharing one identity index: a second decision (here one
        refused, which discards the index's memory) waits until the first has committed."""
        from streams.pipeline import operator_actions

        through_workers(engine, services, family_records(seed=59, people=150), workers=1, seed=9)
        review = a_review_to_confirm(engine, services)
        entered, release = threading.Event(), threading.Event()
        re_judged: list[int] = []

        def slow_rejudging(session, services, notice, actor):  # the first decision, half-way
            entered.set()
            release.wait(10)
            re_judged.append(len(services.identity.keys_of_person(notice.content["survivor_person_id"])))
            return set()

        monkeypatch.setattr(operator_actions, "after_identity_decision", slow_rejudging)
        first = threading.Thread(target=operator_actions.decide_review,
                                 args=(services, review.review_id, "confirm", "first@example.org"))
        second_refused: list[str] = []

        def second() -> None:
            with pytest.raises(operator_actions.ActionRefused) as refused:
                operator_actions.decide_review(services, "no-such-review", "reject", "second@example.org")
            second_refused.append(str(refused.value))

        first.start()
        assert entered.wait(10)
        other = threading.Thread(target=second)
        other.start()
        other.join(0.5)
        assert other.is_alive()  # waiting for the first decision
        release.set()
        first.join(10)
        other.join(10)
        assert second_refused and "no such review" in second_refused[0]
        assert re_judged and re_judged[0] >= 1  # the first still saw its person's records

    def test_workers_starting_from_a_snapshot_decide_as_one_in_memory_resolver(self, engine, services, monkeypatch):
        """Snapshots of the statistics taken every few entries (lowered here), workers restarting at random:
        each starts from the newest snapshot, and every record still gets the in-memory resolver's person."""
        monkeypatch.setattr(index_module, "SNAPSHOT_EVERY", 6)
        starts = replayed_from(monkeypatch)
        records = family_records(seed=41, people=120)
        assert through_workers(engine, services, records, workers=3, seed=13, restarts=True) == in_memory(records)
        with Session(engine) as session:
            snapshots = session.exec(select(IdentityStatistics.seq)).all()
            latest = session.exec(select(IdentitySequence.last_seq)).one()
        assert len(snapshots) == 1 and latest - 6 < snapshots[0] <= latest  # the newest alone, and recent
        assert any(after > 0 for after in starts[3:])  # restarted workers began at a snapshot, not the log's start

    def test_a_starting_worker_loads_the_snapshot_and_replays_only_the_log_after_it(self, engine, services, monkeypatch):
        """The statistics a worker starts with are the writer's, though it replayed only the entries after
        the snapshot; an un-merge and the pairs it keeps apart are in them."""
        monkeypatch.setattr(index_module, "SNAPSHOT_EVERY", 25)
        records = family_records(seed=59, people=150)
        through_workers(engine, services, records, workers=1, seed=9)
        with Session(engine) as session:
            merge = session.exec(select(IdentityChange).where(IdentityChange.kind == "merge")).first()
        operator = another_index(services)
        with Session(engine) as session:
            operator.unmerge(session, merge.seq, "operator@example.org")
            session.commit()
        writer_index = another_index(services)  # one more unit, which takes the snapshot
        monkeypatch.setattr(index_module, "SNAPSHOT_EVERY", 1)
        extra = Record.from_raw("event-extra:0", given_name="Cerys", family_name="Pritchard", date_of_birth="2016-02-01")
        with Session(engine) as session:
            writer_index.resolve_records(session, "event-extra", [(extra, "event-extra:0")])
            writer_index.finish(session)
            session.commit()
        writer = writer_index.resolver
        with Session(engine) as session:
            (snapshot_seq,) = session.exec(select(IdentityStatistics.seq)).all()
            latest = session.exec(select(IdentitySequence.last_seq)).one()
        assert snapshot_seq == latest
        starts = replayed_from(monkeypatch)
        starting = another_index(services)
        with Session(engine) as session:
            starting.begin(session)
            session.rollback()
        assert starts == []  # nothing after the snapshot to replay
        assert statistics(starting.resolver) == statistics(writer)
        assert starting.resolver.apart and frozenset((merge.survivor_person_id, merge.absorbed_person_id)) in starting.resolver.apart
        replayed = Resolver()  # and both equal a replay of the whole log
        with Session(engine) as session:
            IdentityIndex._replay(session, replayed, 0, latest)
        assert statistics(replayed) == statistics(writer)

    @pytest.mark.parametrize("body", ["not json", '{"version": 2}', '{"version": 1, "given_counts": {"megan": 0}}'])
    def test_an_unreadable_snapshot_is_passed_over_and_the_log_replayed(self, engine, services, monkeypatch, body):
        """A snapshot that cannot be loaded is logged (its entry and the field at fault) and the whole log
        replayed instead: the worker starts, with the right statistics."""
        from structlog.testing import capture_logs

        monkeypatch.setattr(index_module, "SNAPSHOT_EVERY", 10)
        records = family_records(seed=47, people=40)
        through_workers(engine, services, records, workers=1, seed=3)
        writer = after(records)
        with Session(engine) as session:
            session.exec(update(IdentityStatistics).values(body=body))
            session.commit()
        starts = replayed_from(monkeypatch)
        starting = another_index(services)
        with capture_logs() as logs, Session(engine) as session:
            starting.begin(session)
            starting.finish(session)
            session.commit()
        assert starts == [0]
        warned = [entry for entry in logs if entry["event"] == "identity.snapshot_unreadable"]
        assert len(warned) == 1 and warned[0]["snapshot_seq"] > 0 and warned[0]["reason"]
        assert "megan" not in str(warned)  # the field at fault, never a name in it
        assert statistics(starting.resolver)[:6] == statistics(writer)[:6]
        with Session(engine) as session:  # replaced at once, not 20,000 entries later
            (snapshot,) = session.exec(select(IdentityStatistics)).all()
            assert snapshot.seq == session.exec(select(IdentitySequence.last_seq)).one()
        restore(Resolver(), snapshot.body)
