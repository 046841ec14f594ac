"""Logs carry identifiers, never a child's personal data."""

from __future__ import annotations

import json

from structlog.testing import capture_logs

from schemas.examples import EXAMPLES, example
from tests.unit.helpers import fire_at, run

SIAN = EXAMPLES["ppn.submitted"]["persons"][0]
PERSONAL = [SIAN["given_names"], SIAN["family_name"], SIAN["date_of_birth"], SIAN["nhs_number"],
            SIAN["nhs_number"].replace(" ", ""), SIAN["address"]["lines"][0], SIAN["address"]["postcode"],
            SIAN["address"]["postcode"].upper(), "Rhian", "Evans", "1990-08-02"]


class TestNoPersonalDataInLogs:
    def test_routing_realistic_events_logs_identifiers_only(self, services):
        """A PPN, a domestic-abuse report, a registration, an attendance and a missing report, routed and then
        their deadlines breached: every log line names events and persons by id, none by name, date of birth,
        address, postcode or NHS number."""
        events = [example(t) for t in ("cpr.registered", "ppn.submitted", "domestic_abuse.reported",
                                        "unscheduled_care.attended", "missing.reported")]
        with capture_logs() as logs:
            run(services, events)
            fire_at(services, services.clock.now().replace(year=2027))
        assert any(entry["event"] == "event.routed" for entry in logs)
        assert any(entry["event"] == "deadline.breached" for entry in logs)
        text = json.dumps(logs, default=str, ensure_ascii=False)
        leaked = [value for value in PERSONAL if value in text]
        assert leaked == [], f"personal data in logs: {leaked}"

    def test_the_check_would_see_a_leak(self, services):
        """The same capture does see personal data when a line carries it (the test above can fail)."""
        import structlog

        with capture_logs() as logs:
            structlog.get_logger("probe").info("probe", name=SIAN["given_names"])
        assert SIAN["given_names"] in json.dumps(logs, ensure_ascii=False)
