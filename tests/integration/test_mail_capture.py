"""The embedded default captures e-mail: with no SMTP server configured, an Operation Encompass notice is
e-mailed to the local capture (so it is delivered end to end), and only the record_viewer role may read it."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest

from tests.clock import example
from tests.integration.conftest import cli, wait_for
from tests.integration.test_encompass import DIRECTORY, pupil

pytestmark = pytest.mark.integration


def get(url: str, token: str | None) -> tuple[int, bytes]:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if token else {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def test_a_notice_is_delivered_to_the_local_capture_and_shown_to_record_viewers_only(instance, tmp_path):
    directory = tmp_path / "schools.csv"
    directory.write_text(DIRECTORY)
    assert cli("schools", "load", str(directory), data_dir=instance.data_dir).returncode == 0
    assert instance.publish([example("domestic_abuse.reported", children=[pupil("C1", "6662005")])]).returncode == 0
    mail = instance.data_dir / "mail"
    [captured] = wait_for(lambda: list(mail.glob("*.eml")), timeout=90, what="the notice e-mail captured")
    assert (captured.stat().st_mode & 0o777) == 0o600
    assert "To: dsl@cefnllys.example" in captured.read_text()
    base = instance.runtime["web_url"]
    viewer = cli("token", "issue", "--org", "OPS", "--role", "record_viewer", data_dir=instance.data_dir).stdout.strip()
    operator = cli("token", "issue", "--org", "OPS", "--role", "operator", data_dir=instance.data_dir).stdout.strip()
    status, listed = get(f"{base}api/v1/mail", viewer)
    [entry] = json.loads(listed)["captured"]
    # No language on the directory: the deployment's default, bilingual with Welsh first.
    assert status == 200 and entry["to"] == "dsl@cefnllys.example"
    assert entry["subject"].startswith("Hysbysiad Ymgyrch Encompass") and " / Operation Encompass notice" in entry["subject"]
    status, text = get(f"{base}api/v1/mail/{entry['name']}", viewer)
    assert status == 200 and text.decode().index("Cydnabyddwch erbyn") < text.decode().index("Acknowledge by")
    assert get(f"{base}api/v1/mail", operator)[0] == 403 and get(f"{base}api/v1/mail", None)[0] == 401
    assert get(f"{base}api/v1/mail/..%2Fsafeguard.db", viewer)[0] == 404
    audit = [line["action"] for line in json.loads("[" + ",".join(cli("export", "audit", data_dir=instance.data_dir)
                                                                    .stdout.splitlines()) + "]")]
    assert {"captured_mail_viewed", "captured_mail_refused"} <= set(audit)
