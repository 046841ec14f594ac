"""Probes of the trust boundary at intake and routing, each re-run as a test: who may change what the
pipeline believes is proved by credentials, never by what an event says about itself."""

from __future__ import annotations

import json

from sqlmodel import Session, select

from schemas.examples import example
from sinks.models import DeadLetterRecord, IntakeEvent, RegisterFlag
from streams.access.credentials import Producer
from streams.kafka.codec import Origin
from streams.pipeline.intake import intake
from streams.pipeline.routing import route
from tests.unit.helpers import deliveries, run, with_settings

EVIL_SCHOOL = {"agency": "education", "organisation": "Evil Academy", "organisation_code": "EVIL"}
EVIL_COUNCIL = {"agency": "local_authority", "organisation": "Evil Council", "organisation_code": "EVIL"}


def take(services, raw: bytes, headers=()):
    """Intake of one message on the topic its event type belongs on."""
    topic = services.topology.topic_for(json.loads(raw)["event_type"]).name
    return intake(services, [(raw, Origin(topic, 0, 0, headers=tuple(headers)))])


def parked(services) -> list[DeadLetterRecord]:
    with Session(services.engine) as session:
        return list(session.exec(select(DeadLetterRecord)))


def flag_active(services) -> bool:
    with Session(services.engine) as session:
        return any(flag.active for flag in session.exec(select(RegisterFlag)))


class TestWhoMayChangeTheRegister:
    def test_a_deregistration_claiming_to_be_a_school_is_refused_and_the_flag_stays(self, services):
        """The probe: `cpr.deregistered` with `source` education EVIL, signed by EVIL's own key. Refused: education
        may not publish register changes; the flag stays, the event is parked with the reason, operators alerted."""
        run(services, [example("cpr.registered")])
        raw = json.dumps(example("cpr.deregistered", source=EVIL_SCHOOL)).encode()
        taken = take(services, raw, services.producer_keys.sign(Producer("education", "EVIL"), raw))
        assert taken.forward == []
        [letter] = taken.dead_letters
        assert "education may not publish cpr.deregistered" in letter.reason and letter.field_path == "credentials"
        assert flag_active(services)
        assert any("not entitled" in json.loads(d.content_json)["reason"] for d in deliveries(services.engine, "alerts"))

    def test_a_council_may_not_change_another_councils_register(self, services):
        """Signed by local_authority EVIL, naming Powys as the register's holder: refused."""
        run(services, [example("cpr.registered")])
        raw = json.dumps(example("cpr.deregistered", source=EVIL_COUNCIL)).encode()
        [letter] = take(services, raw, services.producer_keys.sign(Producer("local_authority", "EVIL"), raw)).dead_letters
        assert "held by W06000023" in letter.reason and "the producer is local_authority:EVIL" in letter.reason
        assert flag_active(services)

    def test_a_council_may_not_remove_a_flag_another_council_holds(self, services):
        """EVIL de-registers "its own" registration of the child: the NHS number's flag is Powys's, so refused."""
        run(services, [example("cpr.registered")])
        evil_register = {"code": "EVIL", "name": "Evil Council", "office_phone": "01000 000000"}
        raw = json.dumps(example("cpr.deregistered", source=EVIL_COUNCIL, local_authority=evil_register)).encode()
        [letter] = take(services, raw, services.producer_keys.sign(Producer("local_authority", "EVIL"), raw)).dead_letters
        assert "held by W06000023" in letter.reason
        assert flag_active(services)

    def test_the_holding_authority_may(self, services):
        run(services, [example("cpr.registered")])
        run(services, [example("cpr.deregistered")])
        assert not flag_active(services)

    def test_the_holder_is_the_signer_whatever_code_the_register_has(self, services):
        """A council whose systems sign as POWYS-CC, keeping the register under W06000023: it registers and de-registers
        its own child; another council cannot de-register that child."""
        council = {"agency": "local_authority", "organisation": "Powys County Council", "organisation_code": "POWYS-CC"}
        run(services, [example("cpr.registered", source=council)])
        assert flag_active(services)
        raw = json.dumps(example("cpr.deregistered", source=EVIL_COUNCIL)).encode()
        [letter] = take(services, raw, services.producer_keys.sign(Producer("local_authority", "EVIL"), raw)).dead_letters
        assert "held by POWYS-CC" in letter.reason
        run(services, [example("cpr.deregistered", source=council)])
        assert not flag_active(services)


class TestCredentials:
    def test_an_unsigned_event_is_parked_naming_the_missing_headers(self, services):
        taken = take(services, json.dumps(example("ppn.submitted")).encode())
        [letter] = taken.dead_letters
        assert letter.reason.startswith("unsigned: no safeguard-producer and safeguard-signature headers")

    def test_a_signature_by_another_key_is_refused(self, services, tmp_path):
        from streams.access.credentials import ProducerKeys

        raw = json.dumps(example("ppn.submitted")).encode()
        stranger = ProducerKeys(b"k" * 32).sign(Producer("police", "DPP"), raw)
        [letter] = take(services, raw, stranger).dead_letters
        assert "does not match the message for producer police:DPP" in letter.reason

    def test_an_altered_message_is_refused(self, services):
        event = example("ppn.submitted")
        raw = json.dumps(event).encode()
        headers = services.producer_keys.sign_as_claimed(raw)
        altered = json.dumps(dict(event, ppn_reference="PPN-ALTERED")).encode()
        [letter] = take(services, altered, headers).dead_letters
        assert "altered" in letter.reason

    def test_the_event_must_name_the_producer_that_signed_it(self, services):
        """A police key signing an event whose source says the health board: refused."""
        raw = json.dumps(example("unscheduled_care.attended")).encode()
        headers = services.producer_keys.sign(Producer("police", "DPP"), raw)
        [letter] = take(services, raw, headers).dead_letters
        assert "names health:7A7 as its producer, but it was signed by police:DPP" in letter.reason

    def test_a_revoked_producer_is_refused_however_it_signs(self, services, settings):
        revoked = with_settings(services, settings.model_copy(update={"revoked_producers": ["police:DPP"]}))
        raw = json.dumps(example("ppn.submitted")).encode()
        [letter] = take(revoked, raw, revoked.producer_keys.sign_as_claimed(raw)).dead_letters
        assert "police:DPP: its key has been revoked" in letter.reason


class TestTheAcceptedTopicIsInternal:
    def test_an_event_produced_straight_onto_the_accepted_topic_is_parked_not_routed(self, services):
        """The probe: routed with no intake row. Now parked; nothing delivered, no intake row invented."""
        raw = json.dumps(example("ppn.submitted")).encode()
        routed = route(services, [(raw, Origin("safeguarding.accepted", 0, 0))])
        [letter] = routed.parked
        assert "not accepted by intake (no intake record)" in letter.reason
        assert {d.rule for d in deliveries(services.engine)} == {"operations.alerts.dead_letter_parked"}

    def test_an_accepted_event_altered_on_the_topic_is_parked(self, services):
        raw = json.dumps(example("ppn.submitted")).encode()
        [(_key, forwarded)] = take(services, raw, services.producer_keys.sign_as_claimed(raw)).forward
        altered = json.dumps(dict(json.loads(forwarded), ppn_reference="PPN-ALTERED")).encode()
        [letter] = route(services, [(altered, Origin("safeguarding.accepted", 0, 0))]).parked
        assert "differs from what intake recorded" in letter.reason
        assert {d.rule for d in deliveries(services.engine)} == {"operations.alerts.dead_letter_parked"}


class TestDuplicates:
    def test_the_same_event_id_with_other_content_in_one_batch_is_parked(self, services):
        """The probe: the second was dropped silently. Now the first is accepted and the second parked."""
        event = example("ppn.submitted")
        first, second = json.dumps(event).encode(), json.dumps(dict(event, ppn_reference="PPN-OTHER")).encode()
        keys = services.producer_keys
        taken = intake(services, [(first, Origin("safeguarding.ppn", 0, 0, headers=tuple(keys.sign_as_claimed(first)))),
                                  (second, Origin("safeguarding.ppn", 0, 1, headers=tuple(keys.sign_as_claimed(second))))])
        assert len(taken.forward) == 1
        [letter] = taken.dead_letters
        assert "already accepted with different content" in letter.reason and letter.origin.offset == 1
        with Session(services.engine) as session:
            assert len(session.exec(select(IntakeEvent)).all()) == 1


def test_kafka_acls_follow_the_entitlements(tmp_path):
    """`safeguard acls` grants a police principal write on the police topics only (never the register's)."""
    import subprocess
    import sys

    result = subprocess.run([sys.executable, "-m", "streams.cli", "acls", "User:dpp=police:DPP", "--data-dir", str(tmp_path)],
                            capture_output=True, text=True, timeout=60, check=True)
    lines = result.stdout.splitlines()
    written = {line.split("--topic ")[1].split()[0] for line in lines if "--operation Write" in line}
    read = {line.split("--topic ")[1].split()[0] for line in lines if "--operation Read" in line and "--topic" in line}
    assert written == {"safeguarding.ppn", "safeguarding.domestic-abuse", "safeguarding.missing"}
    assert read == {f"safeguarding.out.{sink}.DPP" for sink in ("health", "education", "childrens_services", "police", "alerts")}
    assert all("--allow-principal User:dpp" in line for line in lines[1:])
