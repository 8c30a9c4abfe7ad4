"""Headless Chromium from the system's packages, driven by Selenium with the system's chromedriver.

Nothing is downloaded: the browser and its driver are found on the
``PATH`` (Debian's ``chromium`` and ``chromium-driver``), and Selenium
Manager is told to stay offline. Where they are missing the tests that
need them are skipped, unless ``SPINCYCLE_JOBS_REQUIRE_BROWSER`` is set
(CI sets it, having installed them): then they fail.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from collections.abc import Iterator

    from selenium.webdriver.remote.webdriver import WebDriver

#: The names the browser and its driver go by, in the order they are looked for.
BROWSERS = ("chromium", "chromium-browser", "google-chrome")
DRIVER = "chromedriver"


def _found() -> tuple[str, str] | None:
    browser = next((path for name in BROWSERS if (path := shutil.which(name))), None)
    driver = shutil.which(DRIVER) or (
        "/usr/lib/chromium/chromedriver" if os.access("/usr/lib/chromium/chromedriver", os.X_OK) else None
    )
    return (browser, driver) if browser and driver else None


@contextlib.contextmanager
def chromium(width: int = 1280, height: int = 900) -> Iterator[WebDriver]:
    """Start headless Chromium; skip (fail under ``SPINCYCLE_JOBS_REQUIRE_BROWSER``) when there is none."""
    found = _found()
    if found is None:
        msg = "Chromium and chromedriver are not installed (apt-get install chromium chromium-driver)"
        if os.environ.get("SPINCYCLE_JOBS_REQUIRE_BROWSER"):
            pytest.fail(msg)
        pytest.skip(msg)
    from selenium import webdriver  # noqa: PLC0415 - only where a browser runs
    from selenium.webdriver.chrome.service import Service  # noqa: PLC0415

    os.environ.setdefault("SE_OFFLINE", "true")  # Selenium Manager downloads nothing
    options = webdriver.ChromeOptions()
    options.binary_location = found[0]
    for argument in (
        "--headless=new",
        "--no-sandbox",  # as root, in a container
        "--disable-gpu",
        "--disable-dev-shm-usage",
        f"--window-size={width},{height}",
        "--no-first-run",
        "--disable-extensions",
    ):
        options.add_argument(argument)
    driver = webdriver.Chrome(options=options, service=Service(found[1]))
    try:
        yield driver
    finally:
        driver.quit()
