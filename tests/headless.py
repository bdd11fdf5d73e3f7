"""Headless Chromium for the browser tests, driven by Selenium through Debian's
``chromedriver``.

Nothing is downloaded: the browser and its driver are the system's (``apt-get install
chromium chromium-driver``, which ``.ci/run`` does), both given to Selenium by path so that
its driver manager never runs. Where either is missing, :data:`needs_chromium` skips the
test and says why. The browser runs with a fresh profile in a temporary folder, without
sandbox (CI runs as root) and without any background traffic of its own (updates, sync,
safe browsing), so that every request it makes is one the page asked for.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")


def _missing() -> str | None:
    if CHROMIUM is None or CHROMEDRIVER is None:
        absent = [n for n, p in (("chromium", CHROMIUM), ("chromedriver", CHROMEDRIVER)) if not p]
        return (
            f"{' and '.join(absent)} not installed (Debian: apt-get install chromium "
            "chromium-driver; .ci/run installs them)"
        )
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium not installed (pip install -e '.[test]')"
    return None


MISSING = _missing()
needs_chromium = pytest.mark.skipif(MISSING is not None, reason=MISSING or "")

FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1400,1000",
)


@contextlib.contextmanager
def chromium(profile: Path) -> Iterator[Any]:
    """A Selenium driver of headless Chromium with a fresh profile in ``profile``; the
    browser and its driver are stopped on leaving, whatever happened."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    options.set_capability("goog:loggingPrefs", {"performance": "ALL", "browser": "ALL"})
    service = Service(executable_path=str(CHROMEDRIVER), log_output=os.devnull)
    driver = webdriver.Chrome(service=service, options=options)
    try:
        driver.set_script_timeout(120)
        yield driver
    finally:
        driver.quit()


def network(driver: Any, page: str | None = None) -> tuple[list[str], list[str]]:
    """``(requested, failed)``: every URL the browser requested since the last call, and
    those that failed to load with the reason (from its performance log).

    ``page``: only the requests issued for the document at that URL (its own load and what
    it loaded, as DevTools attributes them: ``documentURL``); a request the browser made
    for itself, or for the page before, is not this page's.
    """
    import json

    urls: dict[str, str] = {}
    requested, failed = [], []
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        params = message.get("params", {})
        if message.get("method") == "Network.requestWillBeSent":
            if page is not None and params.get("documentURL") != page:
                continue
            urls[params["requestId"]] = params["request"]["url"]
            requested.append(params["request"]["url"])
        elif message.get("method") == "Network.loadingFailed" and not params.get("canceled"):
            if page is not None and params["requestId"] not in urls:
                continue
            failed.append(f"{urls.get(params['requestId'], '?')}: {params.get('errorText')}")
    return requested, failed
