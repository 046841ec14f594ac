"""One identity index for all workers, in the store: the same decisions as the in-memory resolver,
whichever worker resolves which record, and nothing per record held in a worker's memory. Runs on
SQLite and PostgreSQL."""

import random

from sqlalchemy import delete, update
from sqlmodel import Session, func, select

from benchmarks.synthetic_people import make_people, observations
from sinks.models import IdentityBlock, IdentityChange, IdentityMember, IdentityNhs, IdentityReview, IdentitySequence
from streams.identity.resolver import Record, Resolver
from streams.identity.stored import stable_hash
from tests.unit.helpers import another_index


def family_records(seed: int, people: int) -> list[Record]:
    """Records of made-up families (the benchmark's generator: twins, nicknames, typos, moves)."""
    rng = random.Random(seed)
    observed = observations(rng, make_people(rng, people))
    return [Record.from_raw(f"event-{i}:0", **{k: v for k, v in raw.items() if k not in ("record_id", "person")})
            for i, (raw, _) in enumerate(observed)]


def in_memory(records: list[Record]) -> dict[str, str]:
    resolver = Resolver()
    for record in records:
        resolver.resolve(record)
    return {record.record_id: resolver.person_for(record.record_id) for record in records}


def through_workers(engine, services, records: list[Record], workers: int, seed: int,
                    forget_index_at: int | None = None) -> dict[str, str]:
    """The records resolved by ``workers`` identity indexes on one store, in units of work of 1 to 8
    records, each unit taken by a worker chosen at random. ``forget_index_at``: there, the stored index
    is dropped as if the store predated it (the next worker indexes the log again)."""
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
        index = rng.choice(indexes)
        with Session(engine) as session:
            index.begin(session)
            for record in batch:
                index.resolve_records(session, record.record_id.split(":")[0], [(record, record.record_id)])
            index.finish(session)
            session.commit()
        position += len(batch)
    with Session(engine) as session:
        return dict(session.exec(select(IdentityMember.record_key, IdentityMember.person_id)).all())


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
        writer = Resolver()
        for record in records:
            writer.resolve(record)
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
        with Session(engine) as session:
            reviews = session.exec(select(IdentityReview).where(IdentityReview.status == "open")
                                   .order_by(IdentityReview.review_id)).all()

        def refused(*_args, **_kwargs):
            raise SinkRefused("alerts: refused")

        monkeypatch.setattr(operator_actions, "after_identity_decision", refused)
        merged = []  # the reviews whose merge was made, then rolled back (others: already one person since)
        for review in reviews:
            try:
                operator_actions.decide_review(services, review.review_id, "confirm", "operator@example.org")
            except operator_actions.ActionRefused as exc:
                if "alerts: refused" in str(exc):
                    merged.append(review)
        assert merged
        review = merged[0]
        with Session(engine) as session:
            services.identity.begin(session)
            assert review.person_id not in services.identity.resolver.absorbed_into
            assert services.identity.resolver.survivor_of(review.person_id) == review.person_id
            session.rollback()
