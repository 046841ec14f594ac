"""The event models: what they accept, what they refuse and what they say when they refuse."""

from datetime import date, timedelta

import pytest
from pydantic import ValidationError

from schemas import EVENT_TYPES, parse_event
from schemas.examples import EXAMPLES, example


def refusal(data: dict) -> str:
    with pytest.raises(ValidationError) as info:
        parse_event(data)
    return str(info.value)


class TestExamples:
    @pytest.mark.parametrize("event_type", EVENT_TYPES)
    def test_every_example_validates(self, event_type):
        """The published example of each event type is valid."""
        assert parse_event(EXAMPLES[event_type]).event_type == event_type

    def test_all_event_types_exist(self):
        """The contract's ten event types, plus the return interview this project added, are modelled."""
        assert len(EVENT_TYPES) == 11 and "return_interview.completed" in EVENT_TYPES


class TestNormalisation:
    def test_identifiers_are_normalised(self):
        """NHS numbers lose their spaces and postcodes gain canonical form."""
        event = parse_event(example("ppn.submitted"))
        child = event.persons[0]
        assert child.nhs_number == "9434765919"
        assert child.address.postcode == "LD1 5LG"

    def test_payload_object_is_accepted(self):
        """Event-specific fields may come inside a `payload` object."""
        flat = example("referral.outcome")
        envelope_keys = {"event_id", "event_type", "schema_version", "occurred_at", "recorded_at", "source"}
        nested = {k: v for k, v in flat.items() if k in envelope_keys}
        nested["payload"] = {k: v for k, v in flat.items() if k not in envelope_keys}
        assert parse_event(nested).decision.value == "care_and_support_assessment"


class TestRefusals:
    def test_missing_child_graded_low_is_refused_with_the_reason(self):
        """`low` on a missing report is refused and the message says missing children are never low risk."""
        message = refusal(example("missing.reported", risk_level="low"))
        assert "never graded low risk" in message

    def test_ppn_without_a_child_is_refused(self):
        """A PPN naming only adults is refused, saying a child is required."""
        data = example("ppn.submitted")
        data["persons"] = [p for p in data["persons"] if p["role"] == "victim"]
        assert "at least one child" in refusal(data)

    def test_unknown_field_is_refused(self):
        """extra='forbid': a field the contract does not define is an error naming it."""
        assert "nickname" in refusal(example("ppn.submitted", nickname="x"))

    def test_timestamp_without_offset_is_refused(self):
        """Timestamps must carry a UTC offset."""
        assert "timezone" in refusal(example("ppn.submitted", occurred_at="2026-11-20T21:40:00"))

    def test_future_date_of_birth_is_refused(self):
        """A date of birth after today is refused."""
        data = example("unscheduled_care.attended")
        data["child"]["date_of_birth"] = (date.today() + timedelta(days=3)).isoformat()
        assert "in the future" in refusal(data)

    def test_invalid_nhs_number_is_refused(self):
        """A wrong NHS check digit is refused, naming the modulus-11 check."""
        data = example("unscheduled_care.attended")
        data["child"]["nhs_number"] = "9434765910"
        assert "modulus-11" in refusal(data)

    def test_unknown_event_type_is_refused(self):
        """An event type outside the catalogue is refused."""
        data = example("ppn.submitted")
        data["event_type"] = "ppn.deleted"
        assert "ppn.deleted" in refusal(data)

    def test_cpr_registration_needs_a_category(self):
        """A registration with no category is refused."""
        assert "categories" in refusal(example("cpr.registered", categories=[]))

    def test_event_id_must_be_a_uuid(self):
        """The idempotency key must be a UUID."""
        assert "event_id" in refusal(example("ppn.submitted", event_id="42"))
