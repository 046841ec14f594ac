"""The codec turns any bytes into an accepted event or a dead letter, never an exception."""

import json

from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from schemas.examples import example
from streams.kafka.codec import Accepted, DeadLetter, Origin, dead_letter_payload, decode

ORIGIN = Origin("safeguarding.ppn", 2, 41, b"k")
LIMIT = 1_048_576


def encode(data: dict) -> bytes:
    return json.dumps(data).encode()


class TestDecode:
    def test_valid_event_is_accepted(self):
        """A valid PPN decodes to its model with the origin kept."""
        outcome = decode(encode(example("ppn.submitted")), ORIGIN, max_bytes=LIMIT)
        assert isinstance(outcome, Accepted)
        assert outcome.origin.offset == 41

    def test_bad_json_is_parked_with_reason(self):
        """Truncated JSON is parked, saying it is not JSON, with the original bytes."""
        raw = b'{"event_type": "ppn.submitted", '
        outcome = decode(raw, ORIGIN, max_bytes=LIMIT)
        assert isinstance(outcome, DeadLetter)
        assert "not valid JSON" in outcome.reason and outcome.original == raw

    def test_invalid_utf8_is_parked(self):
        """Bytes that are not UTF-8 are parked, naming the byte."""
        outcome = decode(b'{"a": "\xff"}', ORIGIN, max_bytes=LIMIT)
        assert isinstance(outcome, DeadLetter) and "UTF-8" in outcome.reason

    def test_oversized_message_is_parked(self):
        """A message over the size limit is parked before parsing."""
        outcome = decode(b"x" * 2048, ORIGIN, max_bytes=1024)
        assert isinstance(outcome, DeadLetter) and "over the 1024-byte limit" in outcome.reason

    def test_deep_nesting_is_parked(self):
        """Deeply nested JSON is parked rather than recursing without end."""
        outcome = decode(b"[" * 5000 + b"]" * 5000, ORIGIN, max_bytes=LIMIT)
        assert isinstance(outcome, DeadLetter)
        nested = decode(encode({"event_type": "ppn.submitted", "x": json.loads("[" * 40 + "]" * 40)}), ORIGIN, max_bytes=LIMIT)
        assert isinstance(nested, DeadLetter) and "nests deeper" in nested.reason

    def test_non_object_is_parked(self):
        """A JSON array or number is not an event."""
        outcome = decode(b"[1, 2]", ORIGIN, max_bytes=LIMIT)
        assert isinstance(outcome, DeadLetter) and "JSON object" in outcome.reason

    def test_unknown_type_names_the_field(self):
        """An unknown event type is parked with field path event_type."""
        data = example("ppn.submitted")
        data["event_type"] = "ppn.deleted"
        outcome = decode(encode(data), ORIGIN, max_bytes=LIMIT)
        assert isinstance(outcome, DeadLetter) and outcome.field_path == "event_type"
        assert outcome.event_id == data["event_id"]

    def test_event_on_the_wrong_topic_is_parked(self):
        """A CPR event published to the PPN topic is parked, saying which topic it belongs on."""
        outcome = decode(encode(example("cpr.registered")), ORIGIN, max_bytes=LIMIT, allowed_types=("ppn.submitted",))
        assert isinstance(outcome, DeadLetter) and "does not belong on topic safeguarding.ppn" in outcome.reason

    def test_schema_violation_names_the_field_path(self):
        """A bad NHS number inside a person is reported at persons.0.nhs_number."""
        data = example("ppn.submitted")
        data["persons"][0]["nhs_number"] = "9434765910"
        outcome = decode(encode(data), ORIGIN, max_bytes=LIMIT)
        assert isinstance(outcome, DeadLetter)
        assert outcome.field_path == "persons.0.nhs_number"
        assert outcome.reason.startswith("persons.0.nhs_number: the NHS number fails")

    def test_dead_letter_id_is_stable(self):
        """The same message at the same offset parks under the same id (idempotent parking)."""
        first = decode(b"nope", ORIGIN, max_bytes=LIMIT)
        again = decode(b"nope", ORIGIN, max_bytes=LIMIT)
        assert first.dead_letter_id == again.dead_letter_id

    def test_dead_letter_payload_keeps_the_original(self):
        """The dead-letter message carries the reason and the original bytes."""
        letter = decode(b"\x00\x01garbage", ORIGIN, max_bytes=LIMIT)
        payload = json.loads(dead_letter_payload(letter))
        assert bytes.fromhex(payload["original_hex"]) == b"\x00\x01garbage"
        assert payload["origin"] == {"topic": "safeguarding.ppn", "partition": 2, "offset": 41}


class TestNeverRaises:
    @hsettings(max_examples=300, deadline=None)
    @given(st.binary(max_size=2000))
    def test_arbitrary_bytes(self, raw):
        """Any bytes at all give an outcome, not an exception."""
        assert isinstance(decode(raw, ORIGIN, max_bytes=LIMIT), (Accepted, DeadLetter))

    @hsettings(max_examples=200, deadline=None)
    @given(st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=30),
                        lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
                        max_leaves=30))
    def test_arbitrary_json_inside_an_event(self, value):
        """Any JSON value placed in any field of a valid event gives an outcome, not an exception."""
        data = example("domestic_abuse.reported")
        for field in ("children", "adults", "risk_level", "attended_at", "source", "voice_of_child"):
            mutated = dict(data, **{field: value})
            assert isinstance(decode(encode(mutated), ORIGIN, max_bytes=LIMIT), (Accepted, DeadLetter))
