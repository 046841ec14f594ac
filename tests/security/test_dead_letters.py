"""Dead letters can never take the pipeline down: bounded on the topic, whole in the store, and a copy the
broker refuses is logged, not fatal."""

from __future__ import annotations

import asyncio
import hashlib
import json

from structlog.testing import capture_logs

from streams.kafka.codec import DEAD_LETTER_ORIGINAL_MAX, DeadLetter, Origin, dead_letter_payload, decode
from streams.runtime.agents import copy_dead_letters
from tests.unit.helpers import run

LIMIT = 1_048_576


def test_a_large_invalid_message_parks_whole_in_the_store_and_bounded_on_the_topic(services):
    """The probe: a 1,000,000-byte invalid message made the hex dead-letter payload (2 MB) exceed the producer's
    request size and the intake agent died. The topic copy is now bounded; the store keeps every byte."""
    from sqlmodel import Session, select

    from sinks.models import DeadLetterRecord

    original = b'{"event_type": "ppn.submitted", "summary": "' + b"x" * 999_900 + b'"'
    letter = decode(original, Origin("safeguarding.ppn", 0, 7), max_bytes=LIMIT)
    assert isinstance(letter, DeadLetter)
    payload = dead_letter_payload(letter)
    assert len(payload) < 2 * DEAD_LETTER_ORIGINAL_MAX + 10_000 < LIMIT
    copy = json.loads(payload)
    assert copy["original_bytes"] == len(original) and copy["original_truncated"] is True
    assert copy["original_sha256"] == hashlib.sha256(original).hexdigest()
    taken, _ = run(services, [original])
    with Session(services.engine) as session:
        [stored] = session.exec(select(DeadLetterRecord)).all()
    assert stored.original == original and taken.dead_letters[0].dead_letter_id == stored.dead_letter_id


class RefusingTopic:
    async def send(self, key, value):
        raise ValueError("MessageSizeTooLargeError")


class FailingFutureTopic:
    async def send(self, key, value):
        future = asyncio.get_running_loop().create_future()
        future.set_exception(ConnectionError("broker gone"))
        return future


def test_a_dead_letter_copy_the_broker_refuses_is_logged_not_fatal():
    letters = [decode(b"nope", Origin("safeguarding.ppn", 0, n), max_bytes=LIMIT) for n in range(2)]
    topics = iter([RefusingTopic(), FailingFutureTopic()])
    with capture_logs() as logs:
        asyncio.run(copy_dead_letters(letters, lambda _letter: next(topics), __import__("structlog").get_logger()))
    failed = [entry for entry in logs if entry["event"] == "dead_letter.copy_failed"]
    assert [entry["error"] for entry in failed] == ["ValueError", "ConnectionError"]
