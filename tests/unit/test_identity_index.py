"""The master person index in the pipeline: master ids on deliveries, serialised resolution across
workers, the review queue, merges that sinks follow, and un-merges. Runs on SQLite and PostgreSQL."""

import json
import subprocess
import sys

import pytest
from sqlmodel import Session, func, select

from schemas import parse_event
from schemas.examples import ADDRESS, CHILD_SIAN, example
from sinks.contract import UnitOfWork
from sinks.models import AuditRecord, DeliveryRecord, IdentityChange, IdentityRecord
from streams.identity.index import IdentityRefused
from streams.identity.resolver import MATCH_THRESHOLD, REVIEW_THRESHOLD
from streams.web import metrics
from streams.web.figures import collect
from tests.unit.helpers import another_index, deliveries, run

FFION = {"source_person_id": "NICHE-P-7001", "given_names": "Ffion", "family_name": "Cadwaladr", "date_of_birth": "2015-03-04",
         "sex": "female", "address": ADDRESS, "role": "child_in_household"}


def missing_report(child: dict, organisation_code: str = "DPP") -> dict:
    event = example("missing.reported", child=child)
    event["source"] = {**event["source"], "organisation_code": organisation_code}
    return event


def masters(engine, event_id: str) -> set[str | None]:
    with Session(engine) as session:
        return set(session.exec(select(DeliveryRecord.master_person_id).where(DeliveryRecord.source_event_id == event_id)))


def figures_of(services) -> dict:
    return collect(services.engine, services.clock.now(), services.policy.reconciliation_report_rules)


def records(engine) -> int:
    with Session(engine) as session:
        return session.exec(select(func.count()).select_from(IdentityRecord)).one()


class TestPipeline:
    def test_one_child_seen_by_two_agencies_has_one_master(self, engine, policy, sinks, settings, services):
        """Police know Siân by NHS number; a second force's report has no NHS number, the same name,
        date of birth and address: every delivery about her names one master person."""
        first = example("ppn.submitted")
        second = missing_report({**CHILD_SIAN, "nhs_number": None, "source_person_id": "GWP-55", "given_names": "Sian"},
                                organisation_code="GWP")
        run(services, [first, second])
        ids = masters(engine, first["event_id"]) | masters(engine, second["event_id"])
        ids.discard(None)  # the mother has no delivery of her own
        assert len(ids) == 1 and next(iter(ids)).startswith("P")

    def test_redelivered_event_keeps_its_master_and_adds_no_record(self, engine, policy, services):
        """Resolving the same event twice gives the same answer and stores nothing new."""
        event = parse_event(json.dumps(example("ppn.submitted")).encode())
        index = another_index(services)
        with Session(engine) as session:
            first = index.resolve_event(session, event).masters
            index.finish(session)
            session.commit()
        count = records(engine)
        restarted = another_index(services)  # a restarted worker
        with Session(engine) as session:
            again = restarted.resolve_event(session, event).masters
            restarted.finish(session)
            session.commit()
        assert first == again and records(engine) == count == 2

    def test_two_workers_never_make_two_masters_for_one_new_child(self, engine, policy, services):
        """Worker B's index is stale when worker A records a new child; B replays the log under the
        lock before deciding, so the same child through B joins A's master."""
        worker_a, worker_b = another_index(services), another_index(services)
        with Session(engine) as session:
            worker_b.resolve_event(session, parse_event(json.dumps(example("ppn.submitted")).encode()))
            worker_b.finish(session)
            session.commit()
        with Session(engine) as session:
            a = worker_a.resolve_event(session, parse_event(json.dumps(missing_report(FFION)).encode())).masters
            worker_a.finish(session)
            session.commit()
        with Session(engine) as session:
            b = worker_b.resolve_event(session, parse_event(json.dumps(
                missing_report({**FFION, "source_person_id": "GWP-9"}, "GWP")).encode())).masters
            worker_b.finish(session)
            session.commit()
        assert set(a.values()) == set(b.values())

    def test_a_failed_unit_of_work_is_forgotten(self, engine, policy, services):
        """A rolled-back resolution leaves no trace: the discarded index rebuilds from the log."""
        index = another_index(services)
        with Session(engine) as session:
            index.resolve_event(session, parse_event(json.dumps(missing_report(FFION)).encode()))
            session.rollback()
        index.discard()
        with Session(engine) as session:
            index.resolve_event(session, parse_event(json.dumps(example("ppn.submitted")).encode()))
            index.finish(session)
            session.commit()
        assert records(engine) == 2 and len(index.resolver.records) == 2


def uncertain_pair(services) -> tuple[dict, dict]:
    """Ffion, and a record with day and month transposed at another address: the review band."""
    first = missing_report(FFION)
    moved = {**FFION, "source_person_id": "NICHE-P-7002", "date_of_birth": "2015-04-03",
             "address": {"lines": ["3 Stryd Fawr"], "town": "Haverfordwest", "postcode": "SA61 1TP"}}
    second = missing_report(moved)
    run(services, [first, second])
    return first, second


class TestReviewQueue:
    def test_uncertain_pair_is_queued_not_merged(self, engine, policy, sinks, settings, services):
        first, second = uncertain_pair(services)
        with Session(engine) as session:
            reviews = another_index(services).reviews(session)
        assert len(reviews) == 1 and REVIEW_THRESHOLD <= reviews[0].score < MATCH_THRESHOLD
        assert masters(engine, first["event_id"]) != masters(engine, second["event_id"])
        figures = figures_of(services)["identity"]  # the dashboard and /metrics show the queue
        assert (figures["review_open"], figures["master_persons"], figures["records"]) == (1, 2, 2)
        assert [w["review_id"] for w in figures["waiting"]] == [reviews[0].review_id]
        assert "safeguard_identity_review_queue 1" in metrics.exposition(figures_of(services)).decode()

    def test_confirm_merges_and_every_delivery_follows_then_unmerge_restores(self, engine, policy, sinks, settings, services):
        first, second = uncertain_pair(services)
        before_first, before_second = masters(engine, first["event_id"]), masters(engine, second["event_id"])
        index = another_index(services)
        with Session(engine) as session:
            review_id = index.reviews(session)[0].review_id
            notice = index.confirm(session, review_id, "operator:test")
            sinks["alerts"].write([notice], UnitOfWork(session, "operator:test", services.clock.now()))
            session.commit()
        assert masters(engine, second["event_id"]) == before_first  # the absorbed person's deliveries follow
        merged = [json.loads(d.content_json) for d in deliveries(engine, "alerts") if d.source_event_type == "person.merged"]
        assert merged and merged[0]["absorbed_person_id"] == next(iter(before_second))
        assert set(merged[0]) <= {"alert", "event_type", "survivor_person_id", "absorbed_person_id", "records_moved",
                                  "cause", "change_seq", "notice"}  # identifiers only: no names reach the alert
        assert merged[0]["absorbed_person_id"] in merged[0]["notice"]["text"]
        assert (figures_of(services)["identity"]["master_persons"], figures_of(services)["identity"]["merges"]) == (1, 1)
        with Session(engine) as session:
            with pytest.raises(IdentityRefused, match="already confirmed"):
                index.confirm(session, review_id, "operator:test")
            change_seq = session.exec(select(IdentityChange.seq).where(IdentityChange.kind == "merge")).one()
            another_index(services).unmerge(session, change_seq, "operator:test")  # another process: replays the log
            session.commit()
        assert masters(engine, second["event_id"]) == before_second and masters(engine, first["event_id"]) == before_first
        with Session(engine) as session, pytest.raises(IdentityRefused, match="already undone"):
            another_index(services).unmerge(session, change_seq, "operator:test")
        with Session(engine) as session:  # both operator decisions are in the audit trail, with who made them
            actions = {(a.action, a.actor) for a in session.exec(select(AuditRecord))}
        assert {("identity_review_confirmed", "operator:test"), ("identity_unmerged", "operator:test")} <= actions

    def test_reject_keeps_them_apart(self, engine, policy, sinks, settings, services):
        uncertain_pair(services)
        index = another_index(services)
        with Session(engine) as session:
            review = index.reviews(session)[0]
            pair = frozenset((review.person_id, review.candidate_person_id))
            index.reject(session, review.review_id, "operator:test")
            session.commit()
        rebuilt = another_index(services)
        with Session(engine) as session:
            assert index.reviews(session) == [] and index.reviews(session, "rejected")[0].decided_by == "operator:test"
            rebuilt.person(session, min(pair))
        assert pair in rebuilt.resolver.apart


def test_cli_lists_and_confirms_reviews(tmp_path, clock):
    """`safeguard identity review list|confirm` and `identity person` on an instance's data directory."""
    from streams.services import build_services
    from streams.settings import Settings

    uncertain_pair(build_services(Settings(_env_file=None, data_dir=tmp_path), clock=clock))
    cli = [sys.executable, "-m", "streams.cli"]
    listed = subprocess.run(cli + ["identity", "review", "list", "--data-dir", str(tmp_path)], capture_output=True,
                            text=True, timeout=60)
    assert listed.returncode == 0, listed.stderr
    review_id = listed.stdout.split("\t")[0]
    assert "Ffion" not in listed.stdout and "Cadwaladr" not in listed.stdout  # identifiers only
    confirmed = subprocess.run(cli + ["identity", "review", "confirm", review_id, "--by", "a.jones", "--data-dir",
                                      str(tmp_path)], capture_output=True, text=True, timeout=60)
    assert confirmed.returncode == 0 and "person.merged" in confirmed.stdout, confirmed.stderr
    again = subprocess.run(cli + ["identity", "review", "confirm", review_id, "--data-dir", str(tmp_path)],
                           capture_output=True, text=True, timeout=60)
    assert again.returncode == 2 and "already confirmed" in again.stderr
    survivor = listed.stdout.split("candidate ")[1].split()[0]
    person = subprocess.run(cli + ["identity", "person", survivor, "--data-dir", str(tmp_path)], capture_output=True,
                            text=True, timeout=60)
    assert person.returncode == 0 and len(person.stdout.strip().splitlines()) == 2
