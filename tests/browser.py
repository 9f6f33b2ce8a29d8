"""Debian's headless Chromium, driven by selenium, for the dashboard and docs tests."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service


@pytest.fixture(scope="module")
def browser() -> Iterator[webdriver.Chrome]:
    with tempfile.TemporaryDirectory(prefix="compute-tests-chromium-") as profile_dir:
        yield from _chromium_in(profile_dir)


def _chromium_in(profile_dir: str) -> Iterator[webdriver.Chrome]:
    # Chromium keeps its singleton socket in a folder of TMPDIR that outlives quit():
    # both the profile and TMPDIR point into a folder the fixture removes.
    chromium = shutil.which("chromium")
    driver_path = shutil.which("chromedriver")
    assert chromium and driver_path, "install Debian's chromium and chromium-driver"
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--window-size=1400,1000",
        f"--user-data-dir={os.path.join(profile_dir, 'profile')}",
    ):
        options.add_argument(flag)
    service = Service(driver_path, env={**os.environ, "TMPDIR": profile_dir})
    driver = webdriver.Chrome(service=service, options=options)
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()
