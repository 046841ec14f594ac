"""Operation Encompass on the real pipeline with a real SMTP server and the school inbox over HTTP."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from datetime import timedelta

import pytest

from schemas.examples import EXAMPLES
from tests.clock import at, example, now
from tests.integration.conftest import Instance, cli, export, wait_for
from tests.smtp import SmtpServer

pytestmark = pytest.mark.integration
CHILD = EXAMPLES["domestic_abuse.reported"]["children"][0]
DIRECTORY = ("school_code,name,local_authority_code,dsl_email\n"
             "6662005,Ysgol Cefnllys,W06000023,dsl@cefnllys.example\n"
             "8882040,Ludlow Church of England School,E06000051,dsl@ludlow.example\n")


def request(url: str, token: str | None, method: str = "GET") -> tuple[int, dict]:
    req = urllib.request.Request(url, method=method, data=b"" if method == "POST" else None,
                                 headers={"Authorization": f"Bearer {token}"} if token else {})
    try:
        with urllib.request.urlopen(req, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


def pupil(source_id: str, school: str | None, **extra) -> dict:
    child = {k: v for k, v in CHILD.items() if k not in ("school", "upn", "nhs_number")}
    child.update(source_person_id=source_id, **extra)
    if school:
        child["school"] = {"code": school}
    return child


@pytest.fixture
def smtp():
    with SmtpServer() as server:
        yield server


@pytest.fixture
def encompass(tmp_path, smtp):
    running = Instance(tmp_path / "var", extra_env={
        "SAFEGUARD_SMTP_HOST": "127.0.0.1", "SAFEGUARD_SMTP_PORT": str(smtp.port), "SAFEGUARD_SMTP_STARTTLS": "false",
        "SAFEGUARD_WATCH_INTERVAL_SECONDS": "1"}).start()
    directory = tmp_path / "schools.csv"
    directory.write_text(DIRECTORY)
    assert cli("schools", "load", str(directory), data_dir=running.data_dir).returncode == 0
    yield running
    running.stop()


class TestEncompass:
    def test_friday_night_incident_notifies_two_schools_by_email_and_inbox(self, encompass, smtp):
        """Friday 22:00, three children: two schools e-mailed with minimised content, home-educated child to children's services,
        each school reads and acknowledges only its own notice."""
        friday = at("2026-11-20T22:00:00+00:00")
        event = example("domestic_abuse.reported", occurred_at=friday, attended_at=friday, recorded_at=friday,
                        children=[pupil("C1", "6662005"), pupil("C2", "8882040", given_names="Osian"),
                                  pupil("C3", None, home_educated=True, given_names="Ffion")])
        assert encompass.publish([event]).returncode == 0
        wait_for(lambda: len(smtp.handler.messages) == 2, timeout=60, what="two e-mails")
        recipients = sorted(m["To"] for m in smtp.handler.messages)
        assert recipients == ["dsl@cefnllys.example", "dsl@ludlow.example"]
        for message in smtp.handler.messages:
            body = message.get_payload(decode=True).decode()
            assert "Rhian" not in body and "Evans" not in body and "high" not in body.lower().split("police contact")[0]
        base = encompass.runtime["web_url"]
        cefnllys = cli("token", "issue", "--org", "6662005", "--role", "school", data_dir=encompass.data_dir).stdout.strip()
        ludlow = cli("token", "issue", "--org", "8882040", "--role", "school", data_dir=encompass.data_dir).stdout.strip()
        status, mine = request(f"{base}api/v1/schools/6662005/notices", cefnllys)
        assert status == 200 and [n["notice"]["child"]["given_names"] for n in mine["notices"]] == [CHILD["given_names"]]
        assert mine["notices"][0]["notify_by"] == at("2026-11-23T09:00:00+00:00")
        assert request(f"{base}api/v1/schools/8882040/notices", cefnllys)[0] == 403
        assert request(f"{base}api/v1/schools/6662005/notices", None)[0] == 401
        their_id = request(f"{base}api/v1/schools/8882040/notices", ludlow)[1]["notices"][0]["notice_id"]
        assert request(f"{base}api/v1/schools/6662005/notices/{their_id}/acknowledge", cefnllys, "POST")[0] == 404
        my_id = mine["notices"][0]["notice_id"]
        assert request(f"{base}api/v1/schools/6662005/notices/{my_id}/acknowledge", cefnllys, "POST")[0] == 200
        assert request(f"{base}api/v1/schools/6662005/notices", cefnllys)[1]["notices"][0]["status"] == "acknowledged"
        home = [l for l in export("childrens_services", encompass.data_dir) if l["content"].get("why_not_school")]
        assert [l["content"]["child"]["given_names"] for l in home] == ["Ffion"]

    def test_unacknowledged_notice_escalates(self, encompass):
        """An incident two weeks ago whose notice nobody acknowledged alerts the police and the authority."""
        when = (now() - timedelta(days=14)).isoformat()
        event = example("domestic_abuse.reported", occurred_at=when, attended_at=when, recorded_at=when,
                        children=[pupil("C9", "6662005")])
        assert encompass.publish([event]).returncode == 0
        alerts = wait_for(lambda: [l for l in export("alerts", encompass.data_dir)
                                   if l["content"].get("watch_rule") == "encompass_acknowledgement"], timeout=60,
                          what="the escalation")
        assert sorted(l["recipient"] for l in alerts) == ["DPP", "W06000023"]
