"""The Data page's administration in headless Chromium (issue 19): an admin signs in through /login, uploads the
demo's CSV files, follows the import job to its summary; a bad file shows the importer's message and stores
nothing; the job history and the audit log list what happened. Screenshots in tests/artifacts/data_admin_*.png at
1440x900 and 390x844."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from app import create_app
from dashboard import db
from dashboard.accounts import Role
from dashboard.config import Config
from dashboard.demo.generation import generate
from layouts.ids import DataAdminIds as Ids
from tests.app.auth_helpers import PASSWORD, add_account
from tests.browser.browser_wait import wait_until_idle
from tests.browser.test_sign_in_browser import CSP_VIOLATIONS

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
JOB_SECONDS = 120

pytestmark = pytest.mark.browser


def _state(url: str) -> tuple:
    """Return (row counts of the event tables, data version) of the database at `url` (read only)."""
    engine = db.make_engine(url, read_only=True)
    try:
        with engine.connect() as conn:
            return db.row_counts(conn), db.get_data_version(conn)
    finally:
        engine.dispose()


def _choose(dash_duo, kind: str, path: Path) -> None:
    """Put the file `path` into the upload box of input `kind` (its hidden file input) and wait for its name."""
    dash_duo.find_element(f"#{Ids.upload(kind)} input[type=file]").send_keys(str(path))
    dash_duo.wait_for_contains_text(f"#{Ids.upload_name(kind)}", path.name, timeout=20)


def _click(driver, element_id: str) -> None:
    """Click the button `element_id` (scrolled into view; the page scrolls smoothly, so the click is sent by script)."""
    element = driver.find_element(By.ID, element_id)
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'}); arguments[0].click();", element)


def _text_with(driver, element_id: str, fragment: str) -> str | None:
    """Return the text of the element `element_id` when it holds `fragment`, else None (read in one script: the
    element is redrawn every second while a job runs)."""
    text = driver.execute_script("var e = document.getElementById(arguments[0]); return e ? e.innerText : null;",
                                 element_id)
    return text if text and fragment in text else None


def _shot(driver, element_id: str, name: str) -> None:
    """Scroll `element_id` to the top of the window and save the screenshot tests/artifacts/data_admin_<name>.png."""
    driver.execute_script("document.getElementById(arguments[0]).scrollIntoView({block: 'start', behavior: 'instant'});"
                          "window.scrollBy({top: -60, behavior: 'instant'});", element_id)  # below the navbar
    time.sleep(0.3)
    driver.save_screenshot(str(ARTIFACTS / f"data_admin_{name}.png"))


def test_dab001_an_admin_uploads_the_demo_files_and_a_bad_one(dash_duo, shared_demo, tmp_path):
    url, cleanup = shared_demo.private_copy("duckdb", tmp_path)
    add_account(url, "ada", Role.ADMIN)
    frames = generate(users=1500, seed=21)
    files = {}
    for kind in ("visits", "orders", "costs"):
        files[kind] = tmp_path / f"demo_{kind}.csv"
        frames[kind].to_csv(files[kind], index=False)
    assert files["visits"].stat().st_size > 1_000_000  # over the 1 MB other callback requests may carry
    bad = tmp_path / "broken_costs.csv"
    bad.write_text("dt,channel,costs\n2026-01-01,organic,1.5\n2026-01-02,organic,2.5,extra\n")
    dash_duo.start_server(create_app(Config(database_url=url, autofill_demo=False, model_dir=tmp_path / "models")),
                          navigate=False)
    driver = dash_duo.driver
    driver.set_window_size(1440, 900)
    driver.get(dash_duo.server.url + "/data")
    dash_duo.wait_for_element("#username", timeout=20).send_keys("ada")
    dash_duo.find_element("#password").send_keys(PASSWORD)
    dash_duo.find_element("#sign-in").click()
    dash_duo.wait_for_element(f"#{Ids.AREA}", timeout=60)
    driver.execute_script(CSP_VIOLATIONS)
    before = _state(url)

    for kind, path in files.items():
        _choose(dash_duo, kind, path)
    _click(driver, Ids.IMPORT_START)
    summary = WebDriverWait(driver, JOB_SECONDS).until(
        lambda d: d.find_elements(By.ID, Ids.IMPORT_SUMMARY) or None)[0]
    counts, version = _state(url)
    assert version != before[1] and version in summary.text
    for kind in ("visits", "orders", "costs"):
        assert files[kind].name in summary.text
        assert counts[kind] > before[0][kind]
    assert "Done" in dash_duo.find_element(f"#{Ids.IMPORT_MESSAGE}").text
    dash_duo.wait_for_contains_text(f"#{Ids.HISTORY}", "Import CSV files", timeout=30)
    dash_duo.wait_for_contains_text(f"#{Ids.AUDIT}", "upload", timeout=30)
    wait_until_idle(dash_duo)
    assert driver.execute_script("return window.__cspViolations") == []
    ARTIFACTS.mkdir(exist_ok=True)
    _shot(driver, Ids.AREA, "import_summary_1440")
    _shot(driver, Ids.JOB_STATUS, "history_audit_1440")

    driver.refresh()  # a new page: no file chosen, the last import's summary still shown
    dash_duo.wait_for_element(f"#{Ids.IMPORT_SUMMARY}", timeout=60)
    driver.execute_script(CSP_VIOLATIONS)
    after_good = _state(url)
    _choose(dash_duo, "costs", bad)
    _click(driver, Ids.IMPORT_START)
    message = WebDriverWait(driver, JOB_SECONDS).until(lambda d: _text_with(d, Ids.IMPORT_MESSAGE, "Refused"))
    assert "broken_costs.csv: not a readable CSV file: Expected 3 fields in line 3, saw 4" in message
    assert "Refused, nothing was stored" in message
    assert _state(url) == after_good
    wait_until_idle(dash_duo)
    _shot(driver, Ids.IMPORT_OPTIONS, "bad_file_1440")
    assert driver.execute_script("return window.__cspViolations") == []
    severe = [e for e in dash_duo.get_logs() or [] if e.get("level") == "SEVERE"]
    assert severe == []

    driver.set_window_size(390, 844)
    wait_until_idle(dash_duo)
    _shot(driver, Ids.upload("costs"), "bad_file_390")
    _shot(driver, Ids.HISTORY, "history_390")
    width = driver.execute_script("return document.documentElement.scrollWidth")
    assert width <= 390 + 1, width  # nothing wider than the phone
    cleanup()


def test_dab002_an_admin_starts_a_segment_export_and_downloads_it(dash_duo, shared_demo, tmp_path):
    url, cleanup = shared_demo.private_copy("duckdb", tmp_path)
    add_account(url, "ada", Role.ADMIN)
    dash_duo.start_server(create_app(Config(database_url=url, autofill_demo=False, model_dir=tmp_path / "models")),
                          navigate=False)
    driver = dash_duo.driver
    driver.set_window_size(390, 844)
    driver.get(dash_duo.server.url + "/data")
    dash_duo.wait_for_element("#username", timeout=20).send_keys("ada")
    dash_duo.find_element("#password").send_keys(PASSWORD)
    dash_duo.find_element("#sign-in").click()
    dash_duo.wait_for_element(f"#{Ids.AREA}", timeout=60)
    driver.execute_script("document.documentElement.style.scrollBehavior = 'auto';")  # WebDriver's own scrolling
    dash_duo.select_dcc_dropdown(f"#{Ids.JOB_KIND}", index=2)  # Export the segments
    _click(driver, Ids.JOB_START)
    running = WebDriverWait(driver, 30, poll_frequency=0.1).until(
        lambda d: _text_with(d, Ids.JOB_STATUS, "started by ada"))
    assert "Export the segments" in running
    if driver.find_elements(By.CSS_SELECTOR, f"#{Ids.JOB_PROGRESS}.progress-bar-animated, "
                                             f"#{Ids.JOB_PROGRESS} .progress-bar-animated"):
        _shot(driver, Ids.JOB_START, "job_running_390")  # when the poll caught it under way
    message = WebDriverWait(driver, JOB_SECONDS).until(lambda d: _text_with(d, Ids.JOB_MESSAGE, "Done"))
    assert "clusters: k=" in message
    dash_duo.wait_for_element(f"#{Ids.JOB_FILES_BUTTON}", timeout=10)
    dash_duo.wait_for_contains_text(f"#{Ids.HISTORY}", "Export the segments", timeout=30)
    wait_until_idle(dash_duo)
    _shot(driver, Ids.JOB_START, "job_done_390")
    assert driver.execute_script("return document.documentElement.scrollWidth") <= 391
    cleanup()
