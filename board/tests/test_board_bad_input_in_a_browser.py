"""The board in a real browser when things go wrong under a person's hands (a role lost while the page
is open, a ticket deleted while it is open in the panel, a session that ends, a huge description), and
two colleagues working on one board from two browsers."""

from django.contrib.sessions.models import Session
from playwright.sync_api import expect

from accounts.tests.factories import PASSWORD
from board.tests.browser_board import sign_in
from board.tests.test_board_in_a_browser import card, column, open_board
from hopla.tests.browser import BrowsingSession
from tickets.models import Membership, Role, Status
from tickets.tests.conftest import client_for
from tickets.tests.factories import TicketFactory


def test_a_move_by_someone_who_lost_the_role_meanwhile_is_refused_and_explained(browsing, team):
    """The role changes without the page knowing yet (its event not arrived): the move answers 403, the
    page says why and puts the card back. Then the event arrives: the page drops its move controls."""
    ticket = TicketFactory(project=team.project, reporter=team.member)
    page = open_board(browsing, team.member)
    membership = Membership.objects.filter(project=team.project, user=team.member)
    membership.update(role=Role.VIEWER)  # no event: the moment before the page hears of it

    card(page, ticket.key).drag_to(column(page, "In progress"))
    expect(page.locator("#messages")).to_contain_text(f"{ticket.key}: you are not allowed to do that")
    expect(column(page, "Open").locator(f"#card-{ticket.key}")).to_be_visible()
    ticket.refresh_from_db()
    assert ticket.status == Status.OPEN

    membership.update(role=Role.MEMBER)
    response = client_for(team.admin).patch(
        f"/api/v1/projects/OPS/members/{team.member.pk}/", {"role": "viewer"}, format="json"
    )
    assert response.status_code == 200
    expect(page.get_by_role("button", name=f"Move {ticket.key}")).to_have_count(0, timeout=3000)
    expect(card(page, ticket.key)).not_to_have_attribute("draggable", "true")
    # The refused move is the only error the browser logged (its 403).
    assert [error for error in browsing.errors if "403" not in error] == []


def test_a_ticket_deleted_while_open_in_the_panel_is_said_so(browsing, team):
    ticket = TicketFactory(project=team.project, reporter=team.member, title="About to go")
    page = open_board(browsing, team.member)
    card(page, ticket.key).get_by_role("link", name="About to go").click()
    panel = page.get_by_role("complementary", name="Ticket")
    expect(panel.get_by_label("Title")).to_have_value("About to go")

    assert client_for(team.admin).delete(f"/api/v1/tickets/{ticket.key}/").status_code == 204
    expect(panel.get_by_role("alert")).to_have_text(f"{ticket.key} was deleted or is no longer visible to you.")
    expect(card(page, ticket.key)).to_have_count(0)
    expect(page.locator('.column[data-status="open"] [data-count]')).to_have_text("0")
    panel.get_by_role("button", name="Close").click()
    assert browsing.errors == []


def test_a_session_that_ended_sends_to_the_login_page_and_back(browsing, team):
    ticket = TicketFactory(project=team.project, reporter=team.member)
    page = open_board(browsing, team.member)
    Session.objects.all().delete()  # expired, or ended in another tab

    card(page, ticket.key).drag_to(column(page, "In progress"))
    expect(page).to_have_url(f"{browsing.server.base_url}/login/?next=%2Fboard%2FOPS%2F")
    ticket.refresh_from_db()
    assert ticket.status == Status.OPEN
    page.get_by_label("Email").fill(team.member.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(f"{browsing.server.base_url}/board/OPS/")
    expect(page.locator("#live-indicator")).to_have_text("Live")


def test_a_huge_description_renders_in_the_panel_and_saves_back(browsing, team):
    """50 000 characters of Markdown (the API's limit): the card stays a card, the panel renders it, and
    saving the form sends it back whole."""
    paragraph = "A **long** line with `code` and a [link](https://example.com/) in it. " * 14
    sections = [f"## Part {index}\n\n{paragraph}\n\n- one\n- two\n" for index in range(40)]
    description = "\n".join(sections)[:50_000]
    ticket = TicketFactory(project=team.project, reporter=team.member, title="Big", description=description)
    page = open_board(browsing, team.member)
    card(page, ticket.key).get_by_role("link", name="Big").click()
    panel = page.get_by_role("complementary", name="Ticket")
    expect(panel.get_by_role("heading", name="Part 39")).to_be_visible()
    expect(panel.get_by_role("link", name="link").first).to_have_attribute("href", "https://example.com/")

    panel.get_by_label("Title").fill("Big, renamed")
    panel.get_by_role("button", name=f"Save {ticket.key}").click()
    expect(card(page, ticket.key).get_by_role("link", name="Big, renamed")).to_be_visible()
    ticket.refresh_from_db()
    assert ticket.title == "Big, renamed"
    assert ticket.description == description
    assert browsing.errors == []


def test_two_colleagues_in_two_browsers_see_each_others_moves_live(browser, browser_server, browsing, team):
    """The issue's "done when": two people, each in a browser of their own, on one board, both live."""
    ticket = TicketFactory(project=team.project, reporter=team.member, title="Shared work")
    mine = open_board(browsing, team.member)
    colleague = BrowsingSession(browser, browser_server)
    try:
        sign_in(colleague, team.admin)
        theirs = colleague.page
        theirs.goto("/board/OPS/")
        expect(theirs.locator("#live-indicator")).to_have_text("Live")

        card(mine, ticket.key).drag_to(column(mine, "In progress"))
        expect(column(theirs, "In progress").locator(f"#card-{ticket.key}")).to_be_visible(timeout=2000)
        theirs.get_by_role("button", name=f"Move {ticket.key}").click()
        theirs.get_by_role("menu", name=f"Move {ticket.key} to").get_by_role("menuitem", name="Resolved").click()
        expect(column(mine, "Resolved").locator(f"#card-{ticket.key}")).to_be_visible(timeout=2000)
        assert colleague.errors == []
    finally:
        colleague.context.close()
    assert browsing.errors == []
