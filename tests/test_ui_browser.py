"""``spincycle-jobs ui`` in a real browser: headless Chromium, driven by Selenium.

It opens the runs, watches a running chain's job turn from RUNNING to
COMPLETE without a reload, reads a failed try's traceback, and opens the
hostile values, which must show as text with no script run. The tests
save screenshots to ``SPINCYCLE_JOBS_SCREENSHOTS`` when it is set (the
docs' are made so).
"""

from __future__ import annotations

import json
import threading
import urllib.parse
from typing import TYPE_CHECKING

import pytest

from . import ui
from .browser import chromium
from .ui import filled_store  # noqa: F401 - the fixture store_url
from .ui import serving_store  # noqa: F401 - the fixture server

if TYPE_CHECKING:
    from collections.abc import Iterator

    from selenium.webdriver.remote.webdriver import WebDriver

    from spincycle_jobs import ChainResult


@pytest.fixture(scope="module")
def browser() -> Iterator[WebDriver]:
    with chromium() as driver:
        yield driver


def wait_until(driver: WebDriver, script: str, what: str) -> None:
    """Wait until ``script`` (a JavaScript expression) is true in the page."""
    from selenium.webdriver.support.ui import WebDriverWait  # noqa: PLC0415

    WebDriverWait(driver, ui.WAIT, poll_frequency=0.1).until(
        lambda d: d.execute_script(f"return Boolean({script})"), what
    )


def shoot(driver: WebDriver, name: str) -> None:
    where = ui.screenshot_dir()
    if where is not None:
        where.mkdir(parents=True, exist_ok=True)
        driver.save_screenshot(str(where / f"{name}.png"))


def no_script_ran(driver: WebDriver) -> None:
    from selenium.common.exceptions import NoAlertPresentException  # noqa: PLC0415

    assert driver.title != "pwned"  # what each hostile value would set
    with pytest.raises(NoAlertPresentException):
        driver.switch_to.alert.text  # noqa: B018 - raises when there is no alert
    links = "return [...document.querySelectorAll('a')].map(a => a.getAttribute('href'))"
    for href in driver.execute_script(links):
        assert not href.lower().startswith("javascript:"), href


def test_the_runs(browser: WebDriver, server: ui.Server) -> None:
    browser.get(server.url)
    rows = browser.find_elements("css selector", "#runs tbody tr")
    assert [row.find_element("css selector", "a").text for row in rows][1:] == ["broke", "ok"]
    assert "FAIL" in rows[1].text
    shoot(browser, "runs")
    browser.find_element("css selector", "select[name=state]").send_keys("COMPLETE")
    browser.find_element("css selector", "form.filter button").click()
    wait_until(browser, "location.search.includes('state=COMPLETE')", "the filter's page")
    assert [a.text for a in browser.find_elements("css selector", "#runs tbody a")] == ["ok"]


def test_a_running_chain_goes_on_without_a_reload(
    browser: WebDriver, server: ui.Server, store_url: str
) -> None:
    """A job turns from RUNNING to COMPLETE, and the job after it fails, on the page as it stands."""
    gate = ui.GATES.setdefault("deploy", threading.Event())
    results: list[ChainResult] = []
    graph = {
        "check": [],
        "deploy": ["check"],
        "announce": ["deploy"],
        "fails": ["deploy"],
        "report": ["fails"],
    }
    runner = threading.Thread(
        target=lambda: results.append(
            ui.run_chain(store_url, "live", graph, modes={"deploy": "block", "fails": "fail"})
        )
    )
    runner.start()
    try:
        ui.wait_running(server, "live", "deploy")  # the run is in the store: its page exists
        browser.get(f"{server.url}run?id=live")
        node = "document.querySelector('svg.graph g[data-job=\"deploy\"]')"
        wait_until(browser, f"{node} && {node}.classList.contains('st-RUNNING')", "deploy RUNNING")
        browser.execute_script("window.notReloaded = true")
        status = "document.querySelector('tr[data-job=\"deploy\"] td.status').textContent"
        wait_until(browser, f"{status} === 'waiting for its gate'", "the job's status() sampled")
        (running,) = json.loads(server.get("/api/running")[2])["runs"]  # what runs now, as chain ps shows
        assert (running["request_id"], [j["job_id"] for j in running["running"]]) == ("live", ["deploy"])
        gate.set()
        wait_until(browser, f"{node}.classList.contains('st-COMPLETE')", "deploy COMPLETE")
        run_state = "document.querySelector('#run-head .state').textContent"
        wait_until(browser, f"{run_state} === 'FAIL'", "the run FAIL")
        assert browser.execute_script("return window.notReloaded") is True
        error = browser.find_element("css selector", "tr[data-job=fails] td.error").text
        assert error == f"ValueError: {ui.SCRIPT}"  # written as text by the page's script
        assert "ended" in browser.find_element("id", "live").text
        no_script_ran(browser)
        shoot(browser, "run")
    finally:
        gate.set()
        runner.join(ui.WAIT)
    assert results[0].state.name == "FAIL"


def test_a_failed_trys_traceback(browser: WebDriver, server: ui.Server) -> None:
    browser.get(f"{server.url}run?id=broke")
    browser.find_element("css selector", "svg.graph g[data-job=raises]").click()
    wait_until(browser, "location.pathname === '/job'", "the job's page")
    traceback = browser.find_element("css selector", "pre.traceback").text
    assert traceback.startswith("Traceback (most recent call last):")
    assert traceback.endswith("RuntimeError: raises broke")
    browser.execute_script("document.querySelector('section.try').scrollIntoView()")
    shoot(browser, "job")


def test_hostile_values_are_text(browser: WebDriver, server: ui.Server) -> None:
    run = urllib.parse.quote(ui.HOSTILE_RUN)
    browser.get(f"{server.url}run?id={run}")
    no_script_ran(browser)
    heading = browser.find_element("css selector", "h1 .id").text
    assert heading.startswith(ui.IMG)
    assert "\\x1b[31mred" in heading
    assert browser.find_elements("css selector", "main img") == []
    browser.get(f"{server.url}job?run={run}&id={urllib.parse.quote(ui.HOSTILE_JOB)}")
    no_script_ran(browser)
    stdout = browser.find_element("css selector", "pre.stdout").text
    ansi = "\\x1b[31mred\\x1b[0m\\x1b]0;title\\x07"
    assert stdout.startswith(f"{ui.SCRIPT}\n{ui.IMG}\n{ansi}\nlone \\udc80 surrogate")
    assert "characters not shown" in stdout
    assert browser.find_element("css selector", "h1 .id").text == ui.SCRIPT
    browser.get(f"{server.url}job?run={run}&id={urllib.parse.quote(ui.LINK)}")
    no_script_ran(browser)
    link = browser.find_element("css selector", "dd a[href^='/job']")
    assert link.text == ui.HOSTILE_JOB
