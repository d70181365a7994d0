"""One development Home Assistant and one headless Chromium for the whole browser test run.

These tests run in their own pytest invocation (scripts/test):

    python -m pytest -p no:homeassistant --confcutdir=tests/browser tests/browser

`-p no:homeassistant` keeps pytest-homeassistant-custom-component's plugin (which blocks
sockets and patches Home Assistant) out, and `--confcutdir` keeps tests/conftest.py, written
for that plugin, from loading. Chromium is Debian's (`/usr/bin/chromium`, or
$METERLINK_CHROMIUM); Playwright never downloads a browser. A missing browser or Playwright is
an error, never a skip: CI must not pass without having looked at the UI.

Screenshots of every step, Home Assistant's log and the simulators' output are kept in
test-results/browser/ (git-ignored).
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import BrowserContext, Page, Playwright, expect, sync_playwright

from .instance import ROOT, Instance, development_instance
from .ui import Ui

RESULTS = ROOT / "test-results" / "browser"
CHROMIUM_ARGS = [
    "--no-sandbox",  # the tests run as root inside the chroot
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DEMO_USERNAME = "demo"
DEMO_PASSWORD = "demo-meterlink"

# Everything a user waits for here takes well under this; a slow CI machine still passes.
expect.set_options(timeout=30_000)


def chromium_path() -> str:
    """The system Chromium; an error (not a skip) when it is missing."""
    path = os.environ.get("METERLINK_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(path).exists():
        pytest.fail(
            f"Chromium not found at {path}: scripts/setup installs Debian's chromium package "
            "(or set METERLINK_CHROMIUM)",
            pytrace=False,
        )
    return path


@pytest.fixture(scope="session")
def results() -> Path:
    """test-results/browser/, emptied at the start of the run."""
    shutil.rmtree(RESULTS, ignore_errors=True)
    RESULTS.mkdir(parents=True)
    return RESULTS


@pytest.fixture(scope="session")
def instance(tmp_path_factory: pytest.TempPathFactory, results: Path) -> Iterator[Instance]:
    """Home Assistant + simulators + onboarding + the demo's entries, once per run."""
    with development_instance(tmp_path_factory.mktemp("meterlink-browser"), results) as running:
        yield running


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    """Playwright's driver (it runs the system Chromium)."""
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="session")
def context(
    playwright: Playwright,
    instance: Instance,
    results: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[BrowserContext]:
    """A fresh Chromium profile, logged in as the demo user through the login page."""
    browser = playwright.chromium.launch_persistent_context(
        tmp_path_factory.mktemp("chromium-profile"),
        executable_path=chromium_path(),
        headless=True,
        args=CHROMIUM_ARGS,
        viewport={"width": 1280, "height": 900},
        locale="en-US",
        timezone_id="UTC",
    )
    try:
        page = browser.pages[0] if browser.pages else browser.new_page()
        ui = Ui(page, instance, results / "login")
        ui.goto("/")
        expect(page.get_by_text("Welcome home!")).to_be_visible()
        ui.shot("login page")
        page.get_by_role("textbox", name="Username").fill(DEMO_USERNAME)
        page.get_by_role("textbox", name="Password").fill(DEMO_PASSWORD)
        page.get_by_role("button", name="Log in").click()
        page.wait_for_url(re.compile(r".*/home(/.*)?$"))
        expect(page.get_by_role("link", name=re.compile("Demo"))).to_be_visible()
        ui.shot("logged in")
        page.close()
        yield browser
    finally:
        browser.close()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """Remember whether the test body failed, so the ui fixture can keep a last screenshot."""
    report = yield
    if report.when == "call":
        item.stash[FAILED] = report.failed
    return report


FAILED = pytest.StashKey[bool]()


@pytest.fixture
def ui(context: BrowserContext, instance: Instance, request: pytest.FixtureRequest) -> Iterator[Ui]:
    """A new tab of the logged-in browser; screenshots go to results/<test name>/."""
    page: Page = context.new_page()
    name = re.sub(r"[^A-Za-z0-9_.-]+", "-", request.node.name).strip("-")
    screen = Ui(page, instance, RESULTS / name)
    try:
        yield screen
        if request.node.stash.get(FAILED, False):
            screen.shots.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=screen.shots / "failed.png", full_page=True)
            (screen.shots / "failed.txt").write_text(screen.text(), encoding="utf-8")
    finally:
        page.close()
