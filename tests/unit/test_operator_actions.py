"""The dashboard's actions in-process: the worklist, deciding a review pair and replaying a dead letter, each
refused without the right sign-in, role or origin, and audited under the operator who did it."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlmodel import Session, select

from schemas.examples import example
from sinks.models import AuditRecord, DeadLetterRecord, Deadline
from streams.access import tokens
from streams.web.app import build_web_app
from streams.web.figures import collect
from tests.unit.helpers import run
from tests.unit.test_identity_index import uncertain_pair


@pytest.fixture
def published():
    return []


@pytest.fixture
async def client(services, published):
    app = build_web_app(services, lambda: (True, "ok"), lambda: {}, published.extend)
    return TestClient(TestServer(app))


async def signed_in(client: TestClient, services, role: str) -> tuple[str, dict]:
    """Sign in through the form as ``role``; returns the token id and the headers a same-origin page sends."""
    token_id, token = tokens.issue(services.engine, "OPS", role, services.clock.now())
    assert (await client.post("/login", data={"token": token}, allow_redirects=False)).status == 303
    return token_id, {"Origin": f"http://{client.host}:{client.port}"}


def audited(services, action: str) -> list[AuditRecord]:
    with Session(services.engine) as session:
        return [a for a in session.exec(select(AuditRecord)) if a.action == action]


def test_the_worklist_is_what_is_overdue_and_what_falls_due_soon_soonest_first(services):
    now = services.clock.now()
    rows = [("overdue", "breached", now - timedelta(hours=3)), ("soon", "open", now + timedelta(hours=2)),
            ("later", "open", now + timedelta(days=3)), ("done", "met", now + timedelta(hours=1))]
    with Session(services.engine) as session:
        for reference, status, due in rows:
            session.add(Deadline(deadline_id=reference, rule="ppn_triage", reference=reference, due_at=due, opened_at=now,
                                 status=status, recipients_json=json.dumps(["W06000023"])))
        session.commit()
    worklist = collect(services.engine, now, ())["worklist"]
    assert [(w["reference"], w["status"], w["recipients"]) for w in worklist["items"]] == [
        ("overdue", "overdue", ["W06000023"]), ("soon", "due", ["W06000023"])]
    assert worklist["total"] == 2


class TestReviewDecisions:
    async def test_confirming_needs_the_record_viewer_role_and_the_dashboards_origin(self, services, client):
        uncertain_pair(services)
        [waiting] = collect(services.engine, services.clock.now(), ())["identity"]["waiting"]
        url = f"/api/v1/identity/reviews/{waiting['review_id']}/confirm"
        async with client:
            assert (await client.post(url, headers={"Origin": "http://evil.example"})).status == 403
            assert (await client.post(url, headers={"Origin": f"http://{client.host}:{client.port}"})).status == 401
            _, page = await signed_in(client, services, "operator")
            assert (await client.post(url, headers=page)).status == 403  # an operator without record_viewer
            token_id, page = await signed_in(client, services, "record_viewer")
            assert (await client.post(url, headers={"Origin": "http://evil.example"})).status == 403  # cross-site, even signed in
            answer = await client.post(url, headers=page)
            assert answer.status == 200 and (await answer.json())["by"] == f"operator:OPS:{token_id}"
            again = await client.post(url, headers=page)
            assert again.status == 409 and "error" in await again.json()
        figures = collect(services.engine, services.clock.now(), ())["identity"]
        assert (figures["merges"], figures["review_open"], figures["review_confirmed"]) == (1, 0, 1)
        merged = [a for a in services_audit(services) if a.rule == "identity.alerts.person_merged"]
        assert merged and {a.actor for a in merged} == {f"operator:OPS:{token_id}"}

    async def test_rejecting_keeps_the_two_apart_and_is_audited_under_the_operator(self, services, client):
        uncertain_pair(services)
        [waiting] = collect(services.engine, services.clock.now(), ())["identity"]["waiting"]
        async with client:
            token_id, page = await signed_in(client, services, "record_viewer")
            answer = await client.post(f"/api/v1/identity/reviews/{waiting['review_id']}/reject", headers=page)
            assert answer.status == 200 and (await answer.json())["result"] == "done: kept apart"
            assert (await client.post(f"/api/v1/identity/reviews/{waiting['review_id']}/merge", headers=page)).status == 409
        figures = collect(services.engine, services.clock.now(), ())["identity"]
        assert (figures["merges"], figures["review_rejected"], figures["master_persons"]) == (0, 1, 2)
        [line] = audited(services, "identity_review_rejected")
        assert line.actor == f"operator:OPS:{token_id}" and waiting["review_id"] in line.detail


def services_audit(services) -> list[AuditRecord]:
    with Session(services.engine) as session:
        return list(session.exec(select(AuditRecord)))


class TestDeadLetterReplay:
    async def test_a_parked_event_is_replayed_onto_its_topic_once_and_audited(self, services, client, published):
        broken = example("ppn.submitted")
        broken["persons"][0]["nhs_number"] = "9434765918"  # fails modulus-11
        taken, _ = run(services, [broken])
        [letter] = taken.dead_letters
        with Session(services.engine) as session:
            [parked] = session.exec(select(DeadLetterRecord)).all()
        url = f"/api/v1/dead-letters/{parked.dead_letter_id}/replay"
        async with client:
            page = {"Origin": f"http://{client.host}:{client.port}"}
            assert (await client.post(url, headers=page)).status == 401  # even on loopback: who did it is recorded
            token_id, page = await signed_in(client, services, "operator")
            assert (await client.post(url, headers=page)).status == 200
            assert published == [(parked.topic, None, parked.original)]
            figures = collect(services.engine, services.clock.now(), ())["dead_letters"]["recent"]
            assert figures[0]["replayed_at"] is not None
            assert (await client.post("/api/v1/dead-letters/nope/replay", headers=page)).status == 409
            assert (await client.post(url, headers={"Origin": "http://evil.example"})).status == 403
        [line] = audited(services, "dead_letters_replayed")
        assert json.loads(line.detail) == {"dead_letter_ids": [parked.dead_letter_id]} and line.actor == f"operator:OPS:{token_id}"
        assert letter.reason in parked.reason

    async def test_an_event_refused_for_its_credentials_is_never_replayed(self, services, client, published):
        forged = example("ppn.submitted")
        raw = json.dumps(forged).encode()
        from streams.kafka.codec import Origin
        from streams.pipeline.intake import intake

        intake(services, [(raw, Origin(services.topology.topic_for("ppn.submitted").name, 0, 0))])  # unsigned
        with Session(services.engine) as session:
            [parked] = session.exec(select(DeadLetterRecord)).all()
        async with client:
            _, page = await signed_in(client, services, "operator")
            answer = await client.post(f"/api/v1/dead-letters/{parked.dead_letter_id}/replay", headers=page)
            assert answer.status == 409 and "credentials" in (await answer.json())["error"]
        assert published == []
