"""Browser fixtures: Debian's Chromium through Playwright, a live Daphne stack per test.

Run on their own (`make test-browser`: `pytest -m browser -p no:asyncio`): Playwright's sync API
and pytest-asyncio do not share one process. The test process never touches the database
directly; data is seeded through `LiveStack.run_django` and everything else goes through the
browser, as a user would.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from tests.browser.livestack import PASSWORD, LiveStack

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ROOT = Path(__file__).resolve().parent.parent.parent
# Screenshots go to a temporary folder (nothing tracked changes in a test run); `make screenshots`
# sets SCREENSHOTS_DIR=docs/screenshots to refresh the README's images.
SCREENSHOTS = ROOT / os.environ["SCREENSHOTS_DIR"] if os.environ.get("SCREENSHOTS_DIR") else None
VIEWPORT = {"width": 1280, "height": 800}

# Generous timeouts: the browser suite must pass with both cores busy (stress-ng --cpu 2); every
# wait is for a condition, so a longer timeout only costs time when a test is failing anyway.
ACTION_TIMEOUT_MS = 30_000
expect.set_options(timeout=20_000)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict) -> dict:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium")
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": CHROMIUM_ARGS, "headless": True}


@pytest.fixture
def live(tmp_path: Path) -> Iterator[LiveStack]:
    """One Daphne process (in-memory channel layer, eager Celery) on its own migrated database,
    with the franchises and users of SEED_PEOPLE (copied from a seeded template)."""
    stack = LiveStack(tmp_path / "stack", seed=True).start()
    try:
        yield stack
    finally:
        stack.stop()
        shutil.rmtree(tmp_path / "stack", ignore_errors=True)


def new_context(browser: Browser, live: LiveStack, **options) -> BrowserContext:
    context = browser.new_context(base_url=live.url, viewport=VIEWPORT, locale="es-ES", **options)
    context.set_default_timeout(ACTION_TIMEOUT_MS)
    return context


def login(page: Page, username: str, password: str = PASSWORD) -> Page:
    """Sign in through the login form, as a user does."""
    page.goto("/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("form.stack button[type=submit]")
    page.wait_for_load_state()
    expect(page.locator(".whoami")).to_be_visible()
    return page


@pytest.fixture
def open_as(browser: Browser, live: LiveStack) -> Iterator:
    """open_as("fran_centro") -> a logged-in Page in its own browser context (own cookies)."""
    contexts: list[BrowserContext] = []

    def _open(username: str, **options) -> Page:
        context = new_context(browser, live, **options)
        contexts.append(context)
        page = context.new_page()
        page.on("pageerror", lambda error: page.errors.append(str(error)))
        page.errors = []
        return login(page, username)

    yield _open
    for context in contexts:
        context.close()


_scratch_screenshots: Path | None = None


def screenshots_dir() -> Path:
    """SCREENSHOTS_DIR when set (`make screenshots`), else a temporary folder of this run."""
    global _scratch_screenshots
    if SCREENSHOTS is not None:
        return SCREENSHOTS
    if _scratch_screenshots is None:
        _scratch_screenshots = Path(tempfile.mkdtemp(prefix="portal-screenshots-"))
        atexit.register(shutil.rmtree, _scratch_screenshots, ignore_errors=True)
    return _scratch_screenshots


def screenshot(page: Page, name: str) -> Path:
    """Save <name>.png in screenshots_dir() (docs/screenshots only under `make screenshots`)."""
    folder = screenshots_dir()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.png"
    page.screenshot(path=str(path), full_page=False)
    return path
