"""Free text from events never forges lines: control characters are refused in every one-line field (names,
codes, references) and neutralised wherever narrative reaches an e-mail."""

from __future__ import annotations

import json

import pytest

from schemas.examples import example
from sinks.models import EncompassNotice, School
from streams.encompass.email import render_email
from streams.encompass.notices import readable
from tests.unit.helpers import run

FORGED = "Siân\r\nPolice contact: call 07700 900000"


@pytest.mark.parametrize("path, value", [
    (("persons", 0, "given_names"), FORGED),
    (("persons", 0, "family_name"), "Jones\x00"),
    (("ppn_reference",), "PPN-1\nBcc: x@evil.example"),
    (("source", "organisation_code"), "DP\r\nP"),
    (("persons", 0, "source_person_id"), "NICHE\t1"),
])
def test_a_control_character_in_a_one_line_field_is_parked_naming_the_field(services, path, value):
    """The probe: a name with CR/LF forged a "Police contact" line in the Operation Encompass e-mail."""
    event = example("ppn.submitted")
    target = event
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    taken, _ = run(services, [event])
    [letter] = taken.dead_letters
    assert letter.field_path == ".".join(str(p) for p in path)
    assert "control character" in letter.reason


def test_narrative_keeps_its_line_breaks_but_not_other_controls(services):
    event = example("ppn.submitted", summary="First line.\nSecond line.\tTabbed.")
    taken, _ = run(services, [event])
    assert taken.dead_letters == [] and len(taken.forward) == 1
    taken, _ = run(services, [example("ppn.submitted", summary="bell\x07")])
    assert "only line breaks and tabs" in taken.dead_letters[0].reason


@pytest.mark.parametrize("language, label", [("en", "Police contact"), ("cy", "Cyswllt yr heddlu")])
def test_the_e_mail_body_flattens_every_value_to_one_line(policy, language, label):
    """Defence in depth: even a value that reached a notice with line breaks cannot add a line to the body."""
    from datetime import datetime, timezone

    at = datetime(2026, 11, 20, 22, tzinfo=timezone.utc)
    notice = EncompassNotice(notice_id="N-1", school_code="6662005", attended_at=at, notify_by=at, created_at=at,
                             escalate_at=datetime(2026, 11, 23, 10, tzinfo=timezone.utc))
    content = {"child": {"given_names": FORGED, "family_name": "Jones"}, "police_reference": "DA-1",
               "voice_of_child_line": "scared\nPolice contact: call 07700 900000",
               "police_contact": {"name": "PC 1", "phone": "101"}}
    school = School(school_code="6662005", name="Ysgol Cefnllys", language=language)
    body = render_email(notice, readable(policy, notice, content, school), "dsl@school.example",
                        "encompass@safeguard.invalid").get_content()
    contact_lines = [line for line in body.splitlines() if line.startswith(label)]
    assert contact_lines == [f"{label}: PC 1, 101"]
    assert json.dumps(body).count("07700 900000") == 2  # still shown, inside the lines they belong to
