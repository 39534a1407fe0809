"""The board page and its fragments, through Django's test client: what each role sees, filters, escaping."""

import datetime
from html.parser import HTMLParser

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from board.urls import urlpatterns
from tickets.models import Invitation, Priority, Role, Status
from tickets.tests.factories import CommentFactory, TicketFactory

pytestmark = pytest.mark.django_db


def _handlers_and_images(html: str) -> list[str]:
    """Every event-handler attribute and every image element in `html`, as a browser would parse it."""
    found: list[str] = []

    class Finder(HTMLParser):
        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            found.extend(f"{tag} {name}" for name, _ in attrs if name.startswith("on"))
            if tag == "img":
                found.append(tag)

    Finder().feed(html)
    return found


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_the_board_shows_four_columns_with_counts_and_cards(team):
    TicketFactory(project=team.project, reporter=team.member, title="Fix the login", labels=["bug"])
    TicketFactory(project=team.project, reporter=team.member, status=Status.IN_PROGRESS)
    TicketFactory(
        project=team.project,
        reporter=team.member,
        assignee=team.member,
        priority=Priority.URGENT,
        due_date=datetime.date(2020, 1, 1),
    )
    response = _client(team.member).get("/board/OPS/")
    assert response.status_code == 200
    html = response.content.decode()
    for label in ("Open", "In progress", "Resolved", "Closed"):
        assert f'aria-label="{label} tickets"' in html
    assert "Fix the login" in html
    assert '<span class="label">bug</span>' in html
    assert "Overdue:" in html
    assert 'aria-label="Move OPS-1"' in html
    assert 'draggable="true"' in html


def test_a_viewer_gets_no_move_controls(team):
    TicketFactory(project=team.project, reporter=team.member)
    html = _client(team.viewer).get("/board/OPS/").content.decode()
    assert "OPS-1" in html
    assert "Move OPS-1" not in html
    assert 'draggable="true"' not in html
    assert "new-ticket" not in html


def test_a_lowercase_key_redirects_to_the_board(team):
    response = _client(team.member).get("/board/ops/")
    assert response.status_code == 302
    assert response["Location"] == "/board/OPS/"


def test_filters_use_the_api_names_and_a_bad_value_is_explained(team):
    TicketFactory(project=team.project, reporter=team.member, title="Mine", assignee=team.member)
    TicketFactory(project=team.project, reporter=team.member, title="Nobody's")
    client = _client(team.member)
    mine = client.get("/board/OPS/?assignee=me").content.decode()
    assert "Mine" in mine
    assert "Nobody&#x27;s" not in mine
    unassigned = client.get("/board/OPS/?assignee=none").content.decode()
    assert "Nobody&#x27;s" in unassigned
    assert ">Mine<" not in unassigned
    refused = client.get("/board/OPS/?priority=enormous")
    assert refused.status_code == 200
    assert "The priority filter was ignored" in refused.content.decode()


def test_titles_and_comments_are_escaped(team):
    payload = '<img src=x onerror="alert(1)">'
    ticket = TicketFactory(project=team.project, reporter=team.member, title=payload, description=payload)
    CommentFactory(ticket=ticket, author=team.member, body=payload)
    client = _client(team.member)
    for url in ("/board/OPS/", f"/board/OPS/tickets/{ticket.key}/", f"/board/OPS/tickets/{ticket.key}/panel/"):
        html = client.get(url).content.decode()
        assert _handlers_and_images(html) == [], url
        assert "&lt;img src=x" in html


def test_closed_tickets_page_per_column(team):
    for _ in range(30):
        TicketFactory(project=team.project, reporter=team.member, status=Status.CLOSED)
    client = _client(team.member)
    html = client.get("/board/OPS/").content.decode()
    assert html.count('data-status="closed" data-version') == 25
    assert "Show more closed tickets" in html
    more = client.get("/board/OPS/columns/closed/?offset=25")
    assert more.content.decode().count('class="card"') == 5
    assert "X-Next-Offset" not in more


def test_a_card_fragment_is_empty_when_the_filters_hide_it(team):
    ticket = TicketFactory(project=team.project, reporter=team.member)
    client = _client(team.member)
    shown = client.get(f"/board/OPS/cards/{ticket.key}/")
    assert shown.status_code == 200
    assert shown["X-Board-Counts"] == '{"open": 1, "in_progress": 0, "resolved": 0, "closed": 0}'
    hidden = client.get(f"/board/OPS/cards/{ticket.key}/?assignee=me")
    assert hidden.status_code == 204


def test_outsiders_get_404_for_every_board_url(team):
    ticket = TicketFactory(project=team.project, reporter=team.member)
    client = _client(team.outsider)
    for url in (
        "/board/OPS/",
        "/board/OPS/columns/open/",
        f"/board/OPS/cards/{ticket.key}/",
        f"/board/OPS/tickets/{ticket.key}/",
        f"/board/OPS/tickets/{ticket.key}/panel/",
    ):
        assert client.get(url).status_code == 404, url


def test_the_board_page_makes_a_fixed_number_of_queries(team, django_assert_num_queries):
    for _ in range(30):
        TicketFactory(project=team.project, reporter=team.member, assignee=team.member)
    client = _client(team.member)
    # session, user, project, last seq, counts, four columns, members
    with django_assert_num_queries(10):
        assert client.get("/board/OPS/").status_code == 200


# Every board page with the arguments that reach it; a page added to board/urls.py without a row
# here fails the test below instead of shipping unchecked (as the API's authorization matrix does).
ROLE_ANSWERS = {"anonymous": 302, "outsider": 404, "viewer": 200, "member": 200, "admin": 200}


def _board_routes(ticket_key: str) -> dict[str, list[str]]:
    return {
        "board:projects": [],
        "board:board": ["OPS"],
        "board:column": ["OPS", "closed"],
        "board:card": ["OPS", ticket_key],
        "board:ticket": ["OPS", ticket_key],
        "board:ticket-panel": ["OPS", ticket_key],
        "board:members": ["OPS"],
    }


def test_every_board_page_answers_each_role_as_the_api_would(team):
    ticket = TicketFactory(project=team.project, reporter=team.member)
    routes = _board_routes(ticket.key)
    assert {f"board:{pattern.name}" for pattern in urlpatterns} - {"board:login", "board:logout"} == set(routes)
    for role, expected in ROLE_ANSWERS.items():
        client = Client()
        if role != "anonymous":
            client.force_login(getattr(team, role))
        for name, arguments in routes.items():
            answer = 200 if name == "board:projects" and role == "outsider" else expected
            assert client.get(reverse(name, args=arguments)).status_code == answer, (role, name)
            # A page for people reads and never writes: other methods are refused.
            assert client.post(reverse(name, args=arguments)).status_code in (302, 403, 405), (role, name)


def test_the_members_page_shows_admins_the_controls_and_invitations_only(team):
    Invitation.objects.create(
        project=team.project,
        email="new.hire@example.com",
        role=Role.MEMBER,
        invited_by=team.admin,
        expires_at=timezone.now() + datetime.timedelta(days=7),
    )
    admin_page = _client(team.admin).get("/board/OPS/members/").content.decode()
    member_page = _client(team.member).get("/board/OPS/members/").content.decode()
    assert 'id="add-member"' in admin_page
    assert "new.hire@example.com" in admin_page
    assert 'data-action="role"' in admin_page
    assert 'id="add-member"' not in member_page
    assert "new.hire@example.com" not in member_page
    assert 'data-action="role"' not in member_page
    assert "Leave OPS" in member_page
    assert Client().get("/board/ops/members/").status_code == 302  # anonymous: to the login page
