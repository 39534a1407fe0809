"""W8: the board (SPEC §12) on a project of 2 000 tickets, against a static HTML file of the same size.

Three figures, each beside its floor or target:
- server time of the board's HTML (`GET /board/<KEY>/` with a session) against the same server
  answering a static file holding that very HTML (`bench/floor/board.html`): the floor is Django's
  request handling plus sending the bytes, without the selectors, the queries and the templates;
- the first screen in headless chromium: Navigation Timing's responseEnd and DOMContentLoaded, and the
  moment the first column's cards are painted (a requestAnimationFrame after they exist), for the board
  and for the static copy (same bytes, same CSS and scripts), each in a fresh browser context;
- live update latency: from the moment a status PATCH is sent to the moment the moved card is in its
  new column of an open board page, over a series of moves (target: p99 under 1 s).
"""

import datetime
import random
import statistics
import tempfile
import time
from pathlib import Path

import httpx
from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.http import HttpRequest, HttpResponse
from django.test import Client
from playwright.sync_api import BrowserContext, sync_playwright

from accounts.models import User
from bench.report import Row, percentile
from tickets.models import Membership, Priority, Project, Role, Status, Ticket

PROJECT_KEY = "BOARD"
TICKETS = 2_000
# Most of a long-lived project's tickets are closed: the board pages them per column.
STATUS_SHARES = [(Status.OPEN, 0.15), (Status.IN_PROGRESS, 0.05), (Status.RESOLVED, 0.05), (Status.CLOSED, 0.75)]
VERBS, THINGS = ["Fix", "Add", "Check", "Move"], ["login", "export", "board", "invoice"]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"]
# Painted: the frame after the first column's cards exist (added before any of the page's scripts run).
FIRST_COLUMN_PROBE = """
window.__firstColumnAt = null;
(function watch() {
  if (document.querySelector('.column .cards .card')) {
    requestAnimationFrame(() => { window.__firstColumnAt = performance.now(); });
  } else {
    requestAnimationFrame(watch);
  }
})();
"""
NAVIGATION_TIMING = """() => {
  const navigation = performance.getEntriesByType('navigation')[0];
  return {responseEnd: navigation.responseEnd, domContentLoaded: navigation.domContentLoadedEventEnd};
}"""
# Records when the expected card is in its expected column, by the wall clock this process reads too.
MOVE_PROBE = """() => {
  window.__expected = null; window.__arrivedAt = null;
  new MutationObserver(() => {
    const expected = window.__expected;
    if (!expected || window.__arrivedAt !== null) return;
    const card = document.getElementById('card-' + expected.key);
    if (card && card.closest('.column').dataset.status === expected.status && !card.classList.contains('pending')) {
      window.__arrivedAt = Date.now();
    }
  }).observe(document.getElementById('board'), {childList: true, subtree: true, attributes: true});
}"""


def floor_file() -> Path:
    """Where the static copy of the board's HTML is kept: the same path in the bench and its server."""
    return Path(tempfile.gettempdir()) / f"{settings.DATABASES['default']['NAME']}-board-floor.html"


def floor_view(request: HttpRequest) -> HttpResponse:
    """The floor: the board's HTML as a file, read and sent as it is."""
    return HttpResponse(floor_file().read_bytes(), content_type="text/html; charset=utf-8")


def project_create(user: User) -> Project:
    """A project of `TICKETS` tickets of which `user` is an admin; inserted in bulk (no history)."""
    Project.objects.filter(key=PROJECT_KEY).delete()
    project = Project.objects.create(key=PROJECT_KEY, name="Board benchmark", created_by=user)
    Membership.objects.create(project=project, user=user, role=Role.ADMIN)
    colleagues = User.objects.bulk_create(
        User(
            email=f"board-{number}-{user.pk}@bench.test", full_name=f"Colleague {number}", password=make_password(None)
        )
        for number in range(8)
    )
    Membership.objects.bulk_create(Membership(project=project, user=other, role=Role.MEMBER) for other in colleagues)
    chooser = random.Random(8)
    statuses = [status for status, share in STATUS_SHARES for _ in range(int(TICKETS * share))]
    today = datetime.date.today()
    Ticket.objects.bulk_create(
        Ticket(
            project=project,
            number=number,
            key=f"{PROJECT_KEY}-{number}",
            title=f"Ticket {number}: {chooser.choice(VERBS)} the {chooser.choice(THINGS)}",
            description="A description of a few words.",
            status=status,
            priority=chooser.choice(list(Priority)),
            labels=chooser.sample(["bug", "ui", "api", "ops", "docs"], k=chooser.randint(0, 2)),
            assignee=chooser.choice([None, user, *colleagues]),
            reporter=user,
            due_date=today + datetime.timedelta(days=chooser.randint(-10, 30)) if number % 3 == 0 else None,
            closed_at=None,
        )
        for number, status in enumerate(statuses, start=1)
    )
    Project.objects.filter(pk=project.pk).update(last_ticket_number=len(statuses))
    return project


def session_cookie(user: User) -> str:
    client = Client()
    client.force_login(user)
    return client.cookies[settings.SESSION_COOKIE_NAME].value


def _server_times(client: httpx.Client, url: str, requests: int) -> list[float]:
    times = []
    for _ in range(requests):
        started = time.perf_counter()
        response = client.get(url)
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, (url, response.status_code)
    return times


def _first_screen(context: BrowserContext, url: str) -> dict[str, float]:
    page = context.new_page()
    try:
        page.goto(url)
        page.wait_for_function("() => window.__firstColumnAt !== null")
        timing = page.evaluate(NAVIGATION_TIMING)
        return {**timing, "firstColumn": page.evaluate("() => window.__firstColumnAt")}
    finally:
        page.close()


def run(*, base_url: str, user: User, token: str, rounds: int, requests: int, moves: int, rows: list[Row]) -> None:
    project = project_create(user)
    cookie = session_cookie(user)
    board_url = f"{base_url}/board/{project.key}/"
    floor_url = f"{base_url}/bench/floor/board.html"
    with httpx.Client(cookies={settings.SESSION_COOKIE_NAME: cookie}, trust_env=False, timeout=30) as client:
        html = client.get(board_url).content
        floor_file().write_bytes(html)
        print(f"board HTML: {len(html) / 1024:.0f} KiB for {TICKETS} tickets; floor: the same bytes as a file")
        server = Row("W8 board", "server ms (median)")
        for _ in range(rounds):
            board = _server_times(client, board_url, requests)
            floor = _server_times(client, floor_url, requests)
            server.add(statistics.median(board), statistics.median(floor))
        server.note_spread()
        rows.append(server)

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        try:
            screens = {name: Row("W8 board", f"first screen: {name} ms") for name in ("responseEnd", "firstColumn")}
            for _ in range(rounds):
                measured = {}
                for url in (board_url, floor_url):
                    context = browser.new_context()
                    context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": cookie, "url": base_url}])
                    context.add_init_script(FIRST_COLUMN_PROBE)
                    measured[url] = _first_screen(context, url)
                    context.close()
                for name, row in screens.items():
                    row.add(measured[board_url][name], measured[floor_url][name])
            for row in screens.values():
                row.note_spread()
                rows.append(row)
            screens["firstColumn"].note = f"target 1000 ms; {screens['firstColumn'].note}"
            rows.append(_live_moves(browser.new_context(), base_url, board_url, cookie, token, moves))
        finally:
            browser.close()
    floor_file().unlink(missing_ok=True)


def _live_moves(context: BrowserContext, base_url: str, board_url: str, cookie: str, token: str, moves: int) -> Row:
    """PATCH a card's status through the API, `moves` times back and forth; time each until it is on the page."""
    context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": cookie, "url": base_url}])
    page = context.new_page()
    page.goto(board_url)
    page.wait_for_function("() => document.getElementById('live-indicator').dataset.state === 'live'")
    page.evaluate(MOVE_PROBE)
    key = page.locator('.column[data-status="open"] .card').first.get_attribute("data-key")
    latencies = []
    with httpx.Client(headers={"Authorization": f"Bearer {token}"}, trust_env=False, timeout=30) as api:
        for number in range(moves):
            status = "in_progress" if number % 2 == 0 else "open"
            page.evaluate(
                "([key, status]) => { window.__arrivedAt = null; window.__expected = {key, status}; }", [key, status]
            )
            sent_at = time.time() * 1000
            response = api.patch(f"{base_url}/api/v1/tickets/{key}/", json={"status": status})
            assert response.status_code == 200, response.text
            page.wait_for_function("() => window.__arrivedAt !== null")
            latencies.append(page.evaluate("() => window.__arrivedAt") - sent_at)
    context.close()
    row = Row("W8 board", f"live move p99 ms ({moves} moves)")
    row.hopla.append(percentile(latencies, 0.99))
    row.note = f"target 1000 ms; p50 {statistics.median(latencies):.0f} ms, max {max(latencies):.0f} ms"
    return row
