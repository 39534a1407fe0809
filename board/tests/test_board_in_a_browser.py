"""The board in a real browser: what a person does on it, live, by mouse and by keyboard."""

import os
import subprocess
import sys
import threading

from django.conf import settings
from playwright.sync_api import Page, WebSocketRoute, expect

from accounts.tests.factories import PASSWORD
from board.tests.browser_board import serious_accessibility_violations, sign_in
from hopla.tests.browser import BrowsingSession
from realtime.tests.support import ROOT
from tickets.models import Image, ImageStatus, Status
from tickets.tests.conftest import client_for
from tickets.tests.factories import CommentFactory, TicketFactory
from tickets.tests.images import png_bytes


def column(page: Page, label: str):
    return page.get_by_role("list", name=f"{label} tickets")


def card(page: Page, key: str):
    return page.locator(f"#card-{key}")


def open_board(browsing: BrowsingSession, user, path: str = "/board/OPS/") -> Page:
    sign_in(browsing, user)
    page = browsing.page
    page.goto(path)
    expect(page.locator("#live-indicator")).to_have_text("Live")
    return page


def test_a_member_logs_in_with_the_form_and_opens_the_board(browsing, team):
    TicketFactory(project=team.project, reporter=team.member, title="Ship the board")
    page = browsing.page
    page.goto("/")
    expect(page).to_have_url(f"{browsing.server.base_url}/login/?next=/board/")
    page.get_by_label("Email").fill(team.member.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Your projects")).to_be_visible()
    page.get_by_role("link", name="OPS", exact=True).click()
    expect(column(page, "Open").get_by_role("link", name="Ship the board")).to_be_visible()
    expect(page.locator("#live-indicator")).to_have_text("Live")
    assert serious_accessibility_violations(page) == []
    assert browsing.off_host_requests() == []
    assert browsing.errors == []


def test_a_member_moves_a_card_by_mouse(browsing, team):
    ticket = TicketFactory(project=team.project, reporter=team.member)
    page = open_board(browsing, team.member)
    card(page, ticket.key).drag_to(column(page, "In progress"))
    expect(column(page, "In progress").locator(f"#card-{ticket.key}")).to_be_visible()
    expect(page.get_by_role("status").filter(has_text=f"{ticket.key} moved to In progress.")).to_be_visible()
    ticket.refresh_from_db()
    assert ticket.status == Status.IN_PROGRESS
    assert browsing.errors == []


def test_a_member_moves_a_card_with_the_keyboard_alone(browsing, team):
    ticket = TicketFactory(project=team.project, reporter=team.member, status=Status.IN_PROGRESS)
    page = open_board(browsing, team.member)
    page.get_by_role("button", name=f"Move {ticket.key}").focus()
    page.keyboard.press("Enter")
    menu = page.get_by_role("menu", name=f"Move {ticket.key} to")
    expect(menu).to_be_visible()
    # From in progress the workflow allows Open and Resolved, in that order.
    expect(menu.get_by_role("menuitem")).to_have_text(["Open", "Resolved"])
    page.keyboard.press("ArrowDown")
    expect(menu.get_by_role("menuitem", name="Resolved")).to_be_focused()
    assert serious_accessibility_violations(page) == []
    page.keyboard.press("Enter")
    expect(column(page, "Resolved").locator(f"#card-{ticket.key}")).to_be_visible()
    expect(page.locator("#messages")).to_have_text(f"{ticket.key} moved to Resolved.")
    # Focus stays on the card's control, so the next move is a keystroke away.
    expect(page.get_by_role("button", name=f"Move {ticket.key}")).to_be_focused()
    ticket.refresh_from_db()
    assert ticket.status == Status.RESOLVED
    assert browsing.errors == []


def test_a_move_the_workflow_refuses_is_explained_and_the_card_returns(browsing, team):
    ticket = TicketFactory(project=team.project, reporter=team.member)
    page = open_board(browsing, team.member)
    card(page, ticket.key).drag_to(column(page, "Closed"))
    expect(page.locator("#messages")).to_contain_text(f"{ticket.key} was not moved: A ticket cannot move from open")
    expect(column(page, "Open").locator(f"#card-{ticket.key}")).to_be_visible()
    expect(page.locator('.column[data-status="closed"] [data-count]')).to_have_text("0")
    ticket.refresh_from_db()
    assert ticket.status == Status.OPEN
    # The browser logs the refused request (409) as a console error; nothing else went wrong.
    assert [error for error in browsing.errors if "409" not in error] == []


def test_a_change_made_through_the_api_appears_live(browsing, team):
    ticket = TicketFactory(project=team.project, reporter=team.member)
    page = open_board(browsing, team.member)
    response = client_for(team.admin).patch(
        f"/api/v1/tickets/{ticket.key}/", {"status": "in_progress", "title": "Moved by the API"}, format="json"
    )
    assert response.status_code == 200
    expect(column(page, "In progress").get_by_role("link", name="Moved by the API")).to_be_visible(timeout=2000)
    created = client_for(team.admin).post("/api/v1/tickets/", {"project": "OPS", "title": "Born live"}, format="json")
    assert created.status_code == 201
    expect(column(page, "Open").get_by_role("link", name="Born live")).to_be_visible(timeout=2000)
    expect(page.locator('.column[data-status="open"] [data-count]')).to_have_text("1")


def test_a_dropped_connection_reconnects_and_misses_nothing(browsing, team):
    tickets = [TicketFactory(project=team.project, reporter=team.member) for _ in range(3)]
    page = browsing.page
    # The page's socket goes through this route to the server; `blocked` refuses reconnections.
    blocked = threading.Event()
    routes: list[WebSocketRoute] = []

    def relay(route: WebSocketRoute) -> None:
        if blocked.is_set():
            route.close(code=1011, reason="blocked by the test")
            return
        route.connect_to_server()
        routes.append(route)

    page.route_web_socket("**/ws/v1/events/", relay)
    page = open_board(browsing, team.member)
    blocked.set()
    routes[-1].close(code=1011, reason="dropped by the test")
    expect(page.locator("#live-indicator")).to_have_text("Reconnecting…")
    api = client_for(team.admin)
    for ticket in tickets:
        assert api.patch(f"/api/v1/tickets/{ticket.key}/", {"status": "in_progress"}, format="json").status_code == 200
    api.patch(f"/api/v1/tickets/{tickets[0].key}/", {"title": "Renamed while offline"}, format="json")
    blocked.clear()
    expect(page.locator("#live-indicator")).to_have_text("Live")
    for ticket in tickets:
        expect(column(page, "In progress").locator(f"#card-{ticket.key}")).to_be_visible()
    expect(page.get_by_role("link", name="Renamed while offline")).to_be_visible()
    expect(page.locator('.column[data-status="open"] [data-count]')).to_have_text("0")


def test_an_image_upload_reaches_its_thumbnail(browsing, team, tmp_path):
    ticket = TicketFactory(project=team.project, reporter=team.member)
    page = open_board(browsing, team.member)
    page.get_by_role("link", name=ticket.title).click()
    panel = page.get_by_role("complementary", name="Ticket")
    expect(panel.get_by_role("heading", name=f"{ticket.key} · {ticket.title}")).to_be_focused()
    picture = tmp_path / "screen.png"
    picture.write_bytes(png_bytes())
    panel.get_by_label("Upload an image (or paste one here)").set_input_files(picture)
    expect(panel.get_by_text("screen.png: processing…")).to_be_visible()
    _run_worker_once()
    assert Image.objects.get(ticket=ticket).status == ImageStatus.READY
    expect(panel.get_by_role("img", name="screen.png")).to_be_visible(timeout=5000)
    expect(card(page, ticket.key)).to_contain_text("1 image")
    assert browsing.errors == []


def _run_worker_once() -> None:
    """The image job, run by a real worker process on the server's database and Redis."""
    database = settings.DATABASES["default"]
    address = f"{database['HOST'] or '127.0.0.1'}:{database['PORT'] or 5432}"
    environment = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "hopla.settings.test",
        "DATABASE_URL": f"postgres://{database['USER']}@{address}/{database['NAME']}",
        "REDIS_URL": settings.REDIS_URL,
    }
    worker = subprocess.run(
        [sys.executable, "manage.py", "rqworker", "--burst", "default"],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert worker.returncode == 0, worker.stderr


def test_a_viewer_sees_the_board_without_move_controls(browsing, team):
    ticket = TicketFactory(project=team.project, reporter=team.member)
    page = open_board(browsing, team.viewer)
    expect(card(page, ticket.key)).to_be_visible()
    expect(page.get_by_role("button", name=f"Move {ticket.key}")).to_have_count(0)
    expect(card(page, ticket.key)).not_to_have_attribute("draggable", "true")
    expect(page.get_by_label("New ticket title in Open")).to_have_count(0)
    assert serious_accessibility_violations(page) == []


def test_an_outsider_gets_404_for_the_board(browsing, team):
    sign_in(browsing, team.outsider)
    response = browsing.page.goto("/board/OPS/")
    assert response is not None
    assert response.status == 404


def test_html_in_titles_and_comments_does_not_run(browsing, team):
    attack = "<img src=x onerror=\"document.title='pwned'\">"
    ticket = TicketFactory(project=team.project, reporter=team.member, title=attack, description=attack)
    CommentFactory(ticket=ticket, author=team.member, body=attack)
    page = open_board(browsing, team.member)
    expect(card(page, ticket.key).get_by_role("link", name=attack)).to_be_visible()
    card(page, ticket.key).get_by_role("link", name=attack).click()
    panel = page.get_by_role("complementary", name="Ticket")
    expect(panel.get_by_role("article").first).to_contain_text(attack)
    # A live update redraws the card from the server: still text.
    client_for(team.admin).patch(f"/api/v1/tickets/{ticket.key}/", {"priority": "high"}, format="json")
    expect(card(page, ticket.key).locator(".priority")).to_have_text("high")
    assert page.title() != "pwned"
    assert page.locator("img[src=x]").count() == 0
    assert browsing.errors == []


def test_the_bell_counts_a_notification_live_and_marks_all_read(browsing, team):
    from notifications.making import notifications_make

    ticket = TicketFactory(project=team.project, reporter=team.member, title="Watch <b>me</b>")
    assert client_for(team.member).put(f"/api/v1/tickets/{ticket.key}/watch/").status_code == 204
    notifications_make()  # the worker's cursor starts at the newest event
    page = open_board(browsing, team.member)
    bell = page.locator("#notifications button.bell")
    expect(bell).to_have_attribute("aria-label", "Notifications, 0 unread")

    response = client_for(team.admin).post(f"/api/v1/tickets/{ticket.key}/comments/", {"body": "On it"}, format="json")
    assert response.status_code == 201
    while notifications_make():  # what the worker's periodic task does, then pushes after commit
        pass

    expect(bell).to_have_attribute("aria-label", "Notifications, 1 unread")
    expect(page.locator("#notifications .bell-count")).to_have_text("1")
    bell.click()
    menu = page.get_by_role("region", name="Your latest notifications")
    entry = menu.get_by_role("link", name=f"commented on {ticket.key} Watch <b>me</b>")
    expect(entry).to_be_visible()
    assert serious_accessibility_violations(page) == []
    menu.get_by_role("button", name="Mark all read").click()
    expect(bell).to_have_attribute("aria-label", "Notifications, 0 unread")
    expect(page.locator("#notifications .bell-count")).to_be_hidden()
    assert browsing.errors == []


def test_the_panel_refreshes_with_its_etag_and_a_304_leaves_it_as_it_is(browsing, team):
    ticket = TicketFactory(project=team.project, reporter=team.member)
    page = open_board(browsing, team.member)
    panel_url = f"/board/OPS/tickets/{ticket.key}/panel/"
    answers: list[tuple[int, str | None]] = []

    def record(response) -> None:  # type: ignore[no-untyped-def]
        if response.url.endswith(panel_url):
            answers.append((response.status, response.request.headers.get("if-none-match")))

    page.on("response", record)
    card(page, ticket.key).get_by_role("link", name=ticket.title).click()
    panel = page.get_by_role("complementary", name="Ticket")
    expect(panel.get_by_role("heading", name="Comments")).to_be_visible()
    # The panel's own comment: its refresh reads the new panel; the comment's event, coming back over
    # the socket, refreshes it again with that read's ETag, and the server answers 304.
    with page.expect_response(lambda response: response.url.endswith(panel_url) and response.status == 304):
        panel.get_by_label("Add a comment (Markdown)").fill("Written in the panel")
        panel.get_by_role("button", name="Comment").click()
    expect(panel.get_by_role("article", name=f"Comment by {team.member.full_name}")).to_have_count(1)
    expect(panel.get_by_role("article")).to_contain_text(["Written in the panel"])
    first, *_ = answers
    assert first == (200, None)  # opening the panel asks for all of it
    assert (304, answers[-1][1]) == answers[-1]
    assert answers[-1][1] is not None
    # A change made elsewhere: the next refresh, still conditional, gets the new panel.
    api = client_for(team.admin)
    elsewhere = api.post(f"/api/v1/tickets/{ticket.key}/comments/", {"body": "From the API"}, format="json")
    assert elsewhere.status_code == 201
    expect(panel.get_by_role("article")).to_contain_text(["Written in the panel", "From the API"])
    assert answers[-1][0] == 200
    assert answers[-1][1] is not None
    assert browsing.errors == []
