"""The sink contract: every destination guards its allow-list, takes batches idempotently, and says
when it cannot take more; the services builder wires them to the policy."""

from __future__ import annotations

from email.message import EmailMessage

import pytest
from sqlmodel import Session, select

from schemas.examples import example
from sinks.contract import DELIVERY_SINKS, PlannedDelivery, SinkBackpressure, SinkRefused, UnitOfWork
from sinks.email import SmtpSink
from sinks.memory import ListSink
from sinks.models import AuditRecord, DeliveryRecord
from streams.kafka.embedded_broker import free_port
from streams.services import build_services
from tests.smtp import SmtpServer
from tests.unit.helpers import run

ENCOMPASS = "ppn.education.encompass_notice"


def delivery(delivery_id: str = "d1", rule: str = ENCOMPASS, **content) -> PlannedDelivery:
    return PlannedDelivery(delivery_id=delivery_id, sink="education", recipient="6662005", rule=rule, policy_version="1",
                           source_event_id="e1", source_event_type="ppn.submitted", subject_key="src:DPP:1",
                           content=content or {"school": {"code": "6662005"}})


class TestGuardedSinks:
    def test_a_key_outside_the_allow_list_is_refused(self, clock):
        """A delivery carrying a field the sink may not receive is refused, naming the field and the rule."""
        sink = ListSink("education", frozenset({"school", "child"}))
        with pytest.raises(SinkRefused, match=r"may not receive \['risk_level'\] \(rule ppn.education.encompass_notice\)"):
            sink.write([delivery(school={}, risk_level="high")], UnitOfWork(None, "test", clock.now()))  # type: ignore[arg-type]
        assert sink.delivered == []

    def test_the_same_delivery_twice_is_taken_once(self, clock):
        """Idempotent by delivery id, as at-least-once processing needs."""
        sink = ListSink("education")
        unit = UnitOfWork(None, "test", clock.now())  # type: ignore[arg-type]
        assert sink.write([delivery("a"), delivery("b")], unit) == 2
        assert sink.write([delivery("a")], unit) == 0
        assert [d.delivery_id for d in sink.delivered] == ["a", "b"]

    def test_sql_sink_writes_the_delivery_and_its_audit_line_once(self, services, engine):
        """A delivery row and a 'disclosed' audit line, each once however often the batch is written."""
        with Session(engine) as session:
            unit = UnitOfWork(session, "test", services.clock.now())
            assert services.sinks["education"].write([delivery(school={"code": "6662005"})], unit) == 1
            assert services.sinks["education"].write([delivery(school={"code": "6662005"})], unit) == 0
            session.commit()
        with Session(engine) as session:
            assert len(session.exec(select(DeliveryRecord)).all()) == 1
            [line] = session.exec(select(AuditRecord)).all()
        assert (line.action, line.actor, line.delivery_id) == ("disclosed", "test", "d1")


class TestEmailSink:
    def test_a_server_that_is_down_is_back_pressure_not_loss(self, clock):
        """Nothing listening: the sink raises SinkBackpressure with a retry delay; nothing is reported sent."""
        sink = SmtpSink("127.0.0.1", free_port(), starttls=False, retry_after_seconds=7)
        message = EmailMessage()
        message["To"], message["From"], message["Subject"] = "a@b.example", "c@d.example", "x"
        with pytest.raises(SinkBackpressure) as raised:
            sink.write([message], UnitOfWork(None, "test", clock.now()))  # type: ignore[arg-type]
        assert raised.value.retry_after == 7

    def test_messages_reach_the_server(self, clock):
        """A batch is sent over one connection and counted."""
        with SmtpServer() as server:
            sink = SmtpSink("127.0.0.1", server.port, starttls=False)
            messages = []
            for n in range(2):
                message = EmailMessage()
                message["To"], message["From"], message["Subject"] = "a@b.example", "c@d.example", f"n{n}"
                messages.append(message)
            assert sink.write(messages, UnitOfWork(None, "test", clock.now())) == 2  # type: ignore[arg-type]
        assert [m["Subject"] for m in server.handler.messages] == ["n0", "n1"]


class TestServices:
    def test_one_clock_and_policy_guarded_sinks(self, settings, engine, clock):
        """Everything built shares the one clock; every delivery sink guards what the policy allows it."""
        services = build_services(settings, engine=engine, clock=clock)
        assert services.watch.clock is clock and services.identity.clock is clock and services.clock is clock
        assert sorted(services.sinks) == sorted(DELIVERY_SINKS)
        assert services.sinks["education"].allowed_keys == services.policy.allowed_keys("education")
        assert services.email is None  # no SMTP server configured: notices wait in the inbox

    def test_units_of_work_run_on_in_memory_sinks(self, settings, engine, clock, policy):
        """With list sinks swapped in, routing delivers to them: the flow takes its destinations as inputs."""
        sinks = {name: ListSink(name, policy.allowed_keys(name)) for name in DELIVERY_SINKS}
        services = build_services(settings, engine=engine, clock=clock, sinks=sinks)
        run(services, [example("ppn.submitted")])
        assert [d.rule for d in sinks["childrens_services"].delivered] == ["ppn.childrens_services.full"]
        assert [d.rule for d in sinks["health"].delivered] == ["ppn.health.summary"]


class TestLifecycle:
    def test_sinks_are_set_up_once_and_flushed_after_each_unit_of_work(self, settings, engine, clock, policy):
        """The worker sets every sink up before its first unit of work; routing flushes the sinks it wrote to."""
        from streams.runtime.app import create_pipeline

        calls: list[tuple[str, str]] = []

        class Recording(ListSink):
            def setup(self) -> None:
                calls.append(("setup", self.name))

            def flush(self) -> None:
                calls.append(("flush", self.name))

        sinks = {name: Recording(name, policy.allowed_keys(name)) for name in DELIVERY_SINKS}
        services = build_services(settings, engine=engine, clock=clock, sinks=sinks)
        create_pipeline(services, "127.0.0.1:9")  # never contacted
        assert sorted(name for call, name in calls if call == "setup") == sorted(DELIVERY_SINKS)
        calls.clear()
        run(services, [example("ppn.submitted")])
        assert sorted(name for call, name in calls if call == "flush") == ["childrens_services", "health"]

    def test_an_unusable_smtp_configuration_is_refused_at_setup(self):
        """A port out of range fails at start-up, not when the first notice waits."""
        with pytest.raises(ValueError, match="cannot be used"):
            SmtpSink("mail.example", 0).setup()
