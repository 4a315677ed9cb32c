"""Browser fixtures: the app over real HTTP on loopback, headless Chromium, pages, screenshots.

A browser test asks for ``page`` (a desktop window, 1280x900) or ``phone_page`` (390x844,
touch), or calls ``make_page(phone=True, javascript=False)``; every page opens relative
URLs on ``live_server``, which serves the test's ``app`` (the same database as ``api``).
A console error or an uncaught script error in the page (a CSP violation, a failed load)
fails the test; ``page_errors`` lists them, for a test that provokes one on purpose to
check and clear. ``save_screenshot(page, name)`` keeps a full-page PNG in the artifacts
folder (``FORUM_TEST_ARTIFACTS``, default ``test-artifacts/``); a failed browser test
leaves one of each open page there too. Tests using these fixtures are marked ``browser``.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Callable
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING
from typing import Any

import pytest
from flask import Flask
from werkzeug.serving import make_server

from tests.conftest import missing_service

if TYPE_CHECKING:
    from playwright.sync_api import Browser
    from playwright.sync_api import Page
    from playwright.sync_api import Playwright

ARTIFACTS = Path(
    os.environ.get("FORUM_TEST_ARTIFACTS")
    or Path(__file__).resolve().parent.parent / "test-artifacts"
)
CHROMIUM = os.environ.get("FORUM_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",  # CI runs as root, where Chromium's sandbox cannot start
    "--disable-gpu",
    "--disable-dev-shm-usage",  # containers have a small /dev/shm
    "--no-first-run",
    # Without these Chromium calls Google's hosts (updates, sync, field trials, QUIC probes);
    # the tests talk to nothing but loopback.
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
]
DESKTOP = {"viewport": {"width": 1280, "height": 900}}
PHONE = {
    "viewport": {"width": 390, "height": 844},
    "device_scale_factor": 3,
    "is_mobile": True,
    "has_touch": True,
}
# Long enough for a page of the app on a busy CI machine, short enough to fail fast.
TIMEOUT_MS = 10_000


def save_screenshot(page: Page, name: str) -> Path:
    """Write a full-page PNG of ``page`` as ``name`` into the artifacts folder."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / (name if name.endswith(".png") else f"{name}.png")
    page.screenshot(path=str(path), full_page=True)
    return path


# --- the server --------------------------------------------------------------------------


@pytest.fixture
def live_server(app: Flask) -> Iterator[str]:
    """The test's app over HTTP on a free loopback port, in a thread: its base URL."""
    errors: list[BaseException] = []

    def wsgi(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        # TESTING propagates an error out of Flask; werkzeug then logs it and answers 500.
        # It is kept here so that the test fails, whatever the page then showed.
        try:
            return app(environ, start_response)
        except BaseException as error:
            errors.append(error)
            raise

    server = make_server("127.0.0.1", 0, wsgi, threaded=True)
    url = f"http://127.0.0.1:{server.server_port}"
    # Links in pages and emails (agenda, RSVP, calendar files) then lead to this server.
    app.config["FORUM_BASE_URL"] = url
    # A short poll interval: shutdown() waits for the loop to look at its flag.
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="live-server", daemon=True
    )
    thread.start()
    yield url
    server.shutdown()
    server.server_close()
    thread.join(timeout=10)
    assert not errors, f"the server failed while answering the browser: {errors!r}"


# --- the browser -------------------------------------------------------------------------


class _Chromium:
    """One Chromium, started for the first browser test and kept while browser tests follow.

    Playwright's sync API marks its event loop as running in the main thread for as long as
    it lives, so ``asyncio.run()`` in any later test would fail: the browser is stopped as
    soon as the next test does not need it (browser test modules run one after the other,
    so a run starts it once).
    """

    def __init__(self) -> None:
        self.playwright: Playwright | None = None
        self.browser: Browser | None = None

    def get(self) -> Browser:
        if self.browser is None:
            try:
                from playwright.sync_api import sync_playwright
            except ImportError:
                missing_service("playwright (pip install -r requirements-dev.txt)")
            if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
                missing_service(
                    f"Chromium at {CHROMIUM} (apt-get install chromium; FORUM_CHROMIUM)"
                )
            self.playwright = sync_playwright().start()
            try:
                self.browser = self.playwright.chromium.launch(
                    executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
                )
            except BaseException:
                self.stop()
                raise
        return self.browser

    def stop(self) -> None:
        if self.browser is not None:
            self.browser.close()
            self.browser = None
        if self.playwright is not None:
            self.playwright.stop()
            self.playwright = None


_chromium = _Chromium()
_failed_call = pytest.StashKey[bool]()


@pytest.fixture
def browser() -> Browser:
    """Headless Chromium, shared by consecutive browser tests."""
    return _chromium.get()


@pytest.fixture
def page_errors() -> list[str]:
    """Console errors and uncaught script errors of the test's pages; none may be left."""
    return []


@pytest.fixture
def make_page(
    browser: Browser, live_server: str, page_errors: list[str], request: pytest.FixtureRequest
) -> Iterator[Callable[..., Page]]:
    """Factory: a page in a fresh context (own cookies), desktop or phone, with or without JS."""
    contexts = []

    def make(*, phone: bool = False, javascript: bool = True, **options: Any) -> Page:
        context = browser.new_context(
            base_url=live_server,
            java_script_enabled=javascript,
            **(PHONE if phone else DESKTOP),
            **options,
        )
        context.set_default_timeout(TIMEOUT_MS)
        contexts.append(context)
        page = context.new_page()
        page.on(
            "console",
            lambda message: (
                page_errors.append(f"console: {message.text} ({message.location.get('url')})")
                if message.type == "error"
                else None
            ),
        )
        page.on("pageerror", lambda error: page_errors.append(f"page error: {error}"))
        return page

    yield make
    if request.node.stash.get(_failed_call, False):
        name = re.sub(r"[^A-Za-z0-9_.-]+", "-", request.node.nodeid).strip("-")
        for number, context in enumerate(contexts):
            for index, open_page in enumerate(context.pages):
                save_screenshot(open_page, f"failed-{name}-{number}-{index}")
    for context in contexts:
        # Closing first lets the last console messages arrive.
        context.close()
    assert not page_errors, "the browser reported errors:\n" + "\n".join(page_errors)


@pytest.fixture
def page(make_page: Callable[..., Page]) -> Page:
    """A desktop page (1280x900) on the live server."""
    return make_page()


@pytest.fixture
def phone_page(make_page: Callable[..., Page]) -> Page:
    """A phone page (390x844, touch, mobile viewport) on the live server."""
    return make_page(phone=True)


# --- hooks -------------------------------------------------------------------------------


# Before xdist's own hook, which reads the groups.
@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Every test that uses the browser is marked ``browser`` (``-m "not browser"``).

    With pytest-xdist they are one group, run one after the other by one worker
    (``--dist loadgroup``): that worker starts Chromium once, and only it writes into the
    artifacts folder.
    """
    grouped = config.pluginmanager.hasplugin("xdist")
    for item in items:
        if "browser" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.browser)
            if grouped:
                item.add_marker(pytest.mark.xdist_group("browser"))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Any:
    report = yield
    if report.when == "call" and report.failed:
        item.stash[_failed_call] = True
    return report


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> Any:
    try:
        return (yield)
    finally:
        # After the fixtures' own teardown (contexts closed), even when it failed.
        if nextitem is None or "browser" not in getattr(nextitem, "fixturenames", ()):
            _chromium.stop()


def pytest_sessionfinish(session: pytest.Session) -> None:
    _chromium.stop()
