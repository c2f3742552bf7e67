"""Real-browser fixtures: one headless Chromium per session, a fresh context and page per test.

Playwright's sync API keeps an asyncio loop running in the main thread while it is started, which trips
Django's async-safety check on every ORM call the test makes (setup data, assertions, the flush between
tests). DJANGO_ALLOW_ASYNC_UNSAFE is therefore set for as long as the browser runs.

Without /usr/bin/chromium the tests skip, unless TRUNKLINE_REQUIRE_BROWSER=1 (CI): then they fail, so the
browser tests can never silently skip there. A failing test leaves a full-page screenshot in test-artifacts/.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from django.conf import settings
from django.test import Client

from tests.conftest import PASSWORD

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, Page

    from trunkline.core.models import User

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
VIEWPORT = {"width": 1440, "height": 900}
TIMEOUT_MS = 10_000  # a page that needs longer than this on a local server is a failure, not a slow pass

_reports = pytest.StashKey[dict[str, pytest.TestReport]]()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Iterator[pytest.TestReport]:
    report = yield
    item.stash.setdefault(_reports, {})[report.when] = report
    return report


def _browser_unavailable(reason: str) -> None:
    if os.environ.get("TRUNKLINE_REQUIRE_BROWSER") == "1":
        pytest.fail(f"{reason}, and TRUNKLINE_REQUIRE_BROWSER=1 forbids skipping the browser tests.",
                    pytrace=False)
    pytest.skip(f"{reason} (set TRUNKLINE_REQUIRE_BROWSER=1 to make this a failure).")


# Per package, not per session: while Playwright's sync API runs, its event loop is this thread's running loop, so
# the switch's tests that come after tests/e2e (asyncio.run) could not start one of their own.
@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        _browser_unavailable(f"Chromium is not installed at {CHROMIUM}")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _browser_unavailable("The playwright package is not installed")
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    playwright = sync_playwright().start()
    try:
        try:
            browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                                 args=CHROMIUM_ARGS)
        except Exception as error:
            _browser_unavailable(f"Chromium at {CHROMIUM} did not start: {error}")
        yield browser
        browser.close()
    finally:
        playwright.stop()
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture
def new_context(browser: Browser, live_server) -> Iterator[Callable[[], BrowserContext]]:
    """Open extra, isolated browser contexts (a second operator, a fresh session); all closed afterwards."""
    contexts: list[BrowserContext] = []

    def make() -> BrowserContext:
        context = browser.new_context(base_url=live_server.url, viewport=VIEWPORT)
        context.set_default_timeout(TIMEOUT_MS)
        context.set_default_navigation_timeout(TIMEOUT_MS)
        contexts.append(context)
        return context

    yield make
    for context in contexts:
        context.close()


@pytest.fixture
def page(new_context: Callable[[], BrowserContext], request: pytest.FixtureRequest) -> Iterator[Page]:
    page = new_context().new_page()
    yield page
    reports = request.node.stash.get(_reports, {})
    if any(report.failed for report in reports.values()):
        artifacts = request.config.rootpath / "test-artifacts"
        artifacts.mkdir(exist_ok=True)
        name = re.sub(r"[^\w.-]+", "_", request.node.nodeid).strip("_")
        try:
            page.screenshot(path=str(artifacts / f"{name}.png"), full_page=True)
        except Exception as error:  # a crashed page must not hide the real failure
            print(f"Could not save a screenshot of the failure: {error}")



def log_in(page: Page, user: User, password: str = PASSWORD) -> Page:
    """Sign in through the login form, as an operator would, and wait for the Customers board."""
    page.goto("/login/")
    page.locator("#id_username").fill(user.username)
    page.locator("#id_password").fill(password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/customers/")
    return page


def sign_in(page: Page, user: User, base_url: str) -> Page:
    """A session made on the server side and handed to the browser: the fast way in, for tests about other pages
    (the login form has its own test, and log_in() uses it). Opens no page: the test goes where it needs to."""
    client = Client()
    client.force_login(user)
    session = client.cookies[settings.SESSION_COOKIE_NAME].value
    page.context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": session, "url": base_url}])
    return page


@pytest.fixture
def operator_page(page: Page, operator_user: User, live_server) -> Page:
    return sign_in(page, operator_user, live_server.url)


@pytest.fixture
def viewer_page(page: Page, viewer_user: User, live_server) -> Page:
    return sign_in(page, viewer_user, live_server.url)
