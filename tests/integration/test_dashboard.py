"""The operator dashboard in a real browser (Debian's headless Chromium) while the demo day flows: live figures,
the worklist, Welsh labels, a 1366-pixel screen with no horizontal scrolling, and every action (sign in, confirm
and reject a review pair, replay a dead letter, read a captured Welsh and English notice). Screenshots go to
``test-artifacts/`` (the README shows them)."""

from __future__ import annotations

import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families
from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait

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
                 "--window-size=1366,1900"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    yield driver
    driver.quit()


# The page re-renders its tables every two seconds; reading them in one script call is atomic
# (element-by-element reads could race a re-render and see a stale element).
ROWS_SCRIPT = """return Array.from(document.getElementById(arguments[0]).rows).map(r => Array.from(r.cells).map(c => c.innerText));"""


def cell(driver, table: str) -> str:
    return "\n".join(" ".join(row) for row in driver.execute_script(ROWS_SCRIPT, table))


def click(driver, css: str) -> None:
    """Click the first element matching ``css``, again if the page re-rendered it under the click."""
    def attempt():
        try:
            driver.find_element(By.CSS_SELECTOR, css).click()
            return True
        except StaleElementReferenceException:
            return False
    wait_for(attempt, timeout=20, what=f"a clickable {css}")


def status_after(driver, css: str, *, confirm: bool = False) -> str:
    """Click an action's button (accepting its confirmation) and return what the page says was done."""
    driver.execute_script("document.getElementById('action-status').textContent = ''")
    click(driver, css)
    if confirm:
        WebDriverWait(driver, 10).until(expected_conditions.alert_is_present()).accept()
    return wait_for(lambda: text_of(driver, "action-status"), timeout=60, what=f"the result of {css}")


def text_of(driver, element_id: str) -> str:
    """An element's text, or "" while the page that has it is still loading."""
    return driver.execute_script("const e = document.getElementById(arguments[0]); return e ? e.innerText : ''", element_id)


def sign_in(driver, base: str, token: str) -> None:
    driver.get(f"{base}login")
    driver.find_element(By.NAME, "token").send_keys(token)
    driver.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
    wait_for(lambda: "Signed in:" in text_of(driver, "who"), timeout=30, what=f"signed in (at {driver.current_url})")


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
        wait_for(lambda: "missing_without_ppn" in cell(browser, "worklist") and "ppn_triage" in cell(browser, "worklist"),
                 timeout=60, what="the demo backlog's overdue deadlines on the worklist")
        wait_for(lambda: "overdue" in cell(browser, "worklist"), timeout=60, what="an overdue item on the worklist")
        assert "● live" in browser.find_element(By.ID, "mode").text
        page = browser.find_element(By.TAG_NAME, "body").text
        assert not [name for name in FAMILY if name in page], "personal data on the dashboard"
        assert browser.execute_script("return window.innerWidth") == 1366
        assert browser.execute_script("return document.documentElement.scrollWidth <= window.innerWidth"), \
            "the dashboard scrolls sideways on a 1366-pixel screen"
        browser.find_element(By.ID, "language").click()
        wait_for(lambda: browser.find_element(By.TAG_NAME, "h1").text == "Piblinell rhannu gwybodaeth diogelu",
                 what="Welsh labels")
        wait_for(lambda: "yn hwyr" in cell(browser, "worklist"), what="the worklist in Welsh")
        assert browser.execute_script("return document.documentElement.scrollWidth <= window.innerWidth")
        ARTIFACTS.mkdir(exist_ok=True)
        browser.save_screenshot(str(ARTIFACTS / "dashboard-cy.png"))
        browser.find_element(By.ID, "language").click()  # back to English for the next test's page

    def test_every_action_from_the_browser_and_notices_in_welsh_and_english(self, demo, browser):
        """Signed in as a record viewer: confirm one review pair and reject the other, replay a dead letter, read a
        Welsh and an English notice from the mail capture; each result shows on the page and in the audit."""
        base = demo.runtime["web_url"]
        viewer = cli("token", "issue", "--org", "OPS", "--role", "record_viewer", data_dir=demo.data_dir).stdout.strip()
        sign_in(browser, base, viewer)
        browser.execute_script("localStorage.setItem('safeguard.language', 'en')")
        browser.refresh()
        wait_for(lambda: "Signed in:" in text_of(browser, "who"), what="the page again, signed in")
        pairs = wait_for(lambda: (found := browser.execute_script(
            "return Array.from(document.querySelectorAll('button[data-decision=confirm]:not([disabled])'))"
            ".map(b => b.dataset.review)")) and len(found) >= 2 and found, timeout=90, what="two pairs to review")
        done = status_after(browser, f"button[data-review='{pairs[0]}'][data-decision=confirm]", confirm=True)
        assert done.startswith("Done: done: person.merged"), done
        done = status_after(browser, f"button[data-review='{pairs[1]}'][data-decision=reject]", confirm=True)
        assert done == "Done: done: kept apart", done
        wait_for(lambda: number_in(browser, "identity", "merges") == 1, what="the merge counted")
        replayable = wait_for(lambda: browser.execute_script(
            "const b = document.querySelector('button[data-replay]:not([disabled])'); return b && b.dataset.replay"),
            timeout=60, what="a dead letter to replay")
        done = status_after(browser, f"button[data-replay='{replayable}']")
        assert done == f"Done: {replayable}", done
        wait_for(lambda: "replayed" in cell(browser, "recent"), what="the letter shown as replayed")
        audit = cli("export", "audit", data_dir=demo.data_dir).stdout
        assert '"action": "dead_letters_replayed"' in audit and '"action": "identity_review_rejected"' in audit
        browser.execute_script("window.scrollTo(0, 0)")
        wait_for(lambda: len(cell(browser, "worklist").splitlines()) >= 3, what="a populated worklist")
        browser.save_screenshot(str(ARTIFACTS / "dashboard.png"))
        assert browser.execute_script("return document.documentElement.scrollWidth <= window.innerWidth")

        def open_notice(subject_start: str, expected: str, artifact: str) -> str:
            name = wait_for(lambda: browser.execute_script(
                "const rows = Array.from(document.querySelectorAll('#mail tbody tr'));"
                "const row = rows.find(r => r.cells[0].innerText.startsWith(arguments[0]) && !r.cells[0].innerText.includes(' / '));"
                "return row && row.querySelector('button').dataset.mail", subject_start), timeout=90, what=f"a {artifact} e-mail")
            click(browser, f"button[data-mail='{name}']")
            text = wait_for(lambda: expected in (shown := text_of(browser, "mail-text")) and shown,
                            what=f"the {artifact} notice's text")
            shown = browser.find_element(By.ID, "mail-text")
            browser.execute_script("arguments[0].scrollIntoView()", shown)
            shown.screenshot(str(ARTIFACTS / artifact))
            return text

        welsh = open_notice("Hysbysiad Ymgyrch Encompass", "Cydnabyddwch erbyn", "notice-cy.png")
        english = open_notice("Operation Encompass notice", "Acknowledge by", "notice-en.png")
        assert "Content-Language: cy" in welsh and "Rhif yr hysbysiad" in welsh and "Notice id" not in welsh
        assert "Content-Language: en" in english and "in the school inbox." in english
        assert '"action": "captured_mail_viewed"' in cli("export", "audit", data_dir=demo.data_dir).stdout

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
