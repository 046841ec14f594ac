"""The operator dashboard in a real browser (Debian's headless Chromium) while the demo day flows."""

from __future__ import annotations

import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By

from streams.runtime.demo import FAMILY
from tests.integration.conftest import ROOT, Instance, cli, wait_for

pytestmark = pytest.mark.integration
ARTIFACTS = ROOT / "test-artifacts"


@pytest.fixture
def demo(tmp_path):
    running = Instance(tmp_path / "var", demo=True, extra_env={"SAFEGUARD_WATCH_INTERVAL_SECONDS": "1"}).start()
    yield running
    running.stop()


@pytest.fixture
def browser():
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--window-size=1400,1800"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    yield driver
    driver.quit()


# The page re-renders its tables every two seconds; reading them in one script call is atomic
# (element-by-element reads could race a re-render and see a stale element).
ROWS_SCRIPT = """return Array.from(document.getElementById(arguments[0]).rows).map(r => Array.from(r.cells).map(c => c.innerText));"""


def cell(driver, table: str) -> str:
    return "\n".join(" ".join(row) for row in driver.execute_script(ROWS_SCRIPT, table))


def number_in(driver, table: str, label: str) -> int:
    for row in driver.execute_script(ROWS_SCRIPT, table):
        if row and row[0] == label:
            return int(row[1] or 0)
    return -1


class TestDashboard:
    def test_live_figures_dead_letters_overdue_and_welsh(self, demo, browser):
        """Figures change live as the demo flows; dead letters and overdue deadlines show; Welsh labels switch; no names."""
        browser.get(demo.runtime["web_url"])
        first = wait_for(lambda: (n := number_in(browser, "intake", "accepted")) >= 0 and n + 1, what="the intake panel") - 1
        wait_for(lambda: number_in(browser, "intake", "accepted") > max(first, 100), timeout=90,
                 what="the accepted count to rise as the demo flows (live, no reload)")
        wait_for(lambda: number_in(browser, "dead", "parked") >= 6, timeout=60, what="the demo's broken events parked")
        assert "modulus-11" in cell(browser, "reasons") or "modulus-11" in cell(browser, "recent") or \
            "nhs_number" in cell(browser, "recent")
        wait_for(lambda: "missing_without_ppn" in cell(browser, "overdue") and "ppn_triage" in cell(browser, "overdue"),
                 timeout=60, what="the demo backlog's breached deadlines")
        assert "● live" in browser.find_element(By.ID, "mode").text
        page = browser.find_element(By.TAG_NAME, "body").text
        assert not [name for name in FAMILY if name in page], "personal data on the dashboard"
        ARTIFACTS.mkdir(exist_ok=True)
        browser.save_screenshot(str(ARTIFACTS / "dashboard.png"))
        browser.find_element(By.ID, "language").click()
        wait_for(lambda: browser.find_element(By.TAG_NAME, "h1").text == "Piblinell rhannu gwybodaeth diogelu",
                 what="Welsh labels")
        browser.save_screenshot(str(ARTIFACTS / "dashboard-cy.png"))

    def test_metrics_parse_and_records_need_the_right_role(self, demo):
        """/metrics parses as Prometheus text; one record opens only for record_viewer, and the access is audited."""
        base = demo.runtime["web_url"]
        wait_for(lambda: cli("export", "education", data_dir=demo.data_dir).stdout.strip(), timeout=90, what="a school notice")
        text = urllib.request.urlopen(f"{base}metrics", timeout=10).read().decode()
        families = {family.name for family in text_string_to_metric_families(text)}
        assert {"safeguard_deliveries", "safeguard_dead_letters", "safeguard_encompass_notices", "safeguard_deadlines"} <= families
        delivery_id = cli("export", "education", data_dir=demo.data_dir).stdout.splitlines()[0].split('"delivery_id": "')[1][:36]
        viewer = cli("token", "issue", "--org", "OPS", "--role", "record_viewer", data_dir=demo.data_dir).stdout.strip()
        watcher = cli("token", "issue", "--org", "OPS", "--role", "operator", data_dir=demo.data_dir).stdout.strip()

        def status(token: str) -> int:
            request = urllib.request.Request(f"{base}api/v1/records/deliveries/{delivery_id}",
                                             headers={"Authorization": f"Bearer {token}"})
            try:
                return urllib.request.urlopen(request, timeout=10).status
            except urllib.error.HTTPError as error:
                return error.code

        assert status(watcher) == 403 and status(viewer) == 200
        audit = cli("export", "audit", data_dir=demo.data_dir).stdout
        assert audit.count('"action": "record_viewed"') == 1 and audit.count('"action": "record_view_refused"') == 1
