"""Browser tests: Debian's chromium, driven by Playwright, against a real server process.

A pytest plugin (the root conftest.py loads it), so that every app's browser tests share one server
per session and one browser per test module. Each test gets a fresh browser context whose pages
record every address they ask for and every error they log: a page must work with no other host
(the app is deployable air-gapped) and without errors.
"""

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Request,
    WebError,
    WebSocket,
    expect,
    sync_playwright,
)

from realtime.tests.support import ServerProcess

# The browser the project installs (`make chromium`); never one that Playwright downloads.
CHROMIUM = Path("/usr/bin/chromium")
# Headless, and quiet: no first-run work and none of the browser's own background requests, so that
# every request a test sees comes from the page.
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",  # CI runs as root, where chromium's sandbox refuses to start
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# How long a page may take to show what a test waits for; generous for a shared 2-core machine.
WAIT_MS = 15_000
# Addresses that name no host: the page's own data, never a request over the network.
HOSTLESS_SCHEMES = {"data", "blob", "about"}
expect.set_options(timeout=WAIT_MS)


class BrowsingSession:
    """A page in a fresh browser context (no cookies) on `server`, with what it asked for and what went
    wrong: every address requested (also by workers and other pages of the context, and WebSockets),
    console errors, uncaught exceptions and failed requests. `page.goto("/path/")` is relative to the server."""

    def __init__(self, browser: Browser, server: ServerProcess) -> None:
        self.server = server
        self.requested: list[str] = []
        self.errors: list[str] = []
        self.context: BrowserContext = browser.new_context(base_url=server.base_url)
        self.context.set_default_timeout(WAIT_MS)
        self.context.on("request", self._on_request)
        self.context.on("requestfailed", self._on_request_failed)
        self.context.on("console", self._on_console)
        self.context.on("weberror", self._on_web_error)
        self.context.on("page", lambda page: page.on("websocket", self._on_websocket))
        self.page = self.context.new_page()

    def off_host_requests(self) -> list[str]:
        """Every address asked for that is not on the server's host and port."""
        host = urlsplit(self.server.base_url).netloc
        return [
            url
            for url in self.requested
            if urlsplit(url).scheme not in HOSTLESS_SCHEMES and urlsplit(url).netloc != host
        ]

    def _on_request(self, request: Request) -> None:
        self.requested.append(request.url)

    def _on_websocket(self, websocket: WebSocket) -> None:
        self.requested.append(websocket.url)

    def _on_request_failed(self, request: Request) -> None:
        self.errors.append(f"request failed: {request.method} {request.url}: {request.failure}")

    def _on_console(self, message: ConsoleMessage) -> None:
        # Chromium asks for /favicon.ico by itself when a page names no icon (the admin and Redoc don't).
        if message.type == "error" and urlsplit(message.location["url"]).path != "/favicon.ico":
            self.errors.append(f"console error: {message.text} ({message.location['url']})")

    def _on_web_error(self, error: WebError) -> None:
        self.errors.append(f"uncaught: {error.error}")


@pytest.fixture(scope="session")
def browser_server(django_db_setup: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """uvicorn on the test database: what the browser talks to."""
    server = ServerProcess(tmp_path_factory.mktemp("servers") / "browser.log")
    yield server
    server.stop()


@pytest.fixture(scope="module")
def browser(browser_server: ServerProcess) -> Iterator[Browser]:
    """One chromium per test module.

    Between its calls, Playwright's sync API leaves its event loop marked as running on this thread,
    and Django then refuses database calls here (SynchronousOnlyOperation). No Django code runs on
    that loop (the server is another process), so the tests' own database calls are safe: they are
    allowed while the browser runs, and the switch goes with it. `browser_server` starts first so
    that the server never inherits the switch.
    """
    if not CHROMIUM.exists():
        pytest.fail(f"The browser tests need {CHROMIUM}: run `make chromium` (as root, it installs it with apt).")
    with pytest.MonkeyPatch.context() as patch, sync_playwright() as playwright:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        yield browser
        browser.close()


@pytest.fixture
def browsing(browser: Browser, browser_server: ServerProcess, transactional_db: None) -> Iterator[BrowsingSession]:
    """A fresh context and page on `browser_server`; the server must log no traceback meanwhile.

    The test's data is committed, so that the server sees it (and emptied afterwards); that also
    keeps a module's browser tests together, on one browser, where pytest-django orders tests by
    their kind of database access.
    """
    log_start = len(browser_server.log())
    session = BrowsingSession(browser, browser_server)
    yield session
    session.context.close()
    new_log = browser_server.log()[log_start:]
    assert "Traceback" not in new_log, new_log
