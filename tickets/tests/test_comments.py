"""Comments through the API: who may write, edit and delete them, and the ticket's comment_count."""

import pytest

from tickets.models import Ticket
from tickets.tests.factories import CommentFactory, TicketFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def ticket(team) -> Ticket:
    return TicketFactory(project=team.project, reporter=team.member)


def comments_url(ticket, comment=None) -> str:
    base = f"/api/v1/tickets/{ticket.key}/comments/"
    return f"{base}{comment}/" if comment else base


def comment_count(ticket) -> int:
    ticket.refresh_from_db()
    return ticket.comment_count


def test_a_member_comments_and_the_count_follows(team, ticket):
    response = team.client("member").post(comments_url(ticket), {"body": "Rebooted it."}, format="json")
    assert response.status_code == 201
    body = response.json()
    assert set(body) == {"id", "ticket", "author", "body", "created_at", "updated_at"}
    assert body["author"]["id"] == str(team.member.id)
    assert body["ticket"] == str(ticket.id)
    assert comment_count(ticket) == 1
    ticket_view = team.client("viewer").get(f"/api/v1/tickets/{ticket.key}/").json()
    assert ticket_view["comment_count"] == 1


def test_comments_list_oldest_first(team, ticket):
    client = team.client("member")
    for text in ("first", "second", "third"):
        client.post(comments_url(ticket), {"body": text}, format="json")
    response = team.client("viewer").get(comments_url(ticket))
    assert response.status_code == 200
    assert [comment["body"] for comment in response.json()["results"]] == ["first", "second", "third"]


@pytest.mark.parametrize(
    ("body", "code"),
    [("", "blank"), ("   \n ", "blank"), ("x" * 10_001, "max_length"), (None, "null"), ([1], "invalid")],
)
def test_bad_bodies_are_400(team, ticket, body, code):
    response = team.client("member").post(comments_url(ticket), {"body": body}, format="json")
    assert response.status_code == 400
    assert response.json()["errors"]["body"][0]["code"] == code
    assert comment_count(ticket) == 0


def test_a_viewer_cannot_comment(team, ticket):
    response = team.client("viewer").post(comments_url(ticket), {"body": "hello"}, format="json")
    assert response.status_code == 403


def test_only_the_author_edits(team, ticket):
    comment = CommentFactory(ticket=ticket, author=team.member)
    assert team.client("admin").patch(comments_url(ticket, comment.id), {"body": "x"}, format="json").status_code == 403
    response = team.client("member").patch(comments_url(ticket, comment.id), {"body": "Edited"}, format="json")
    assert response.status_code == 200
    assert response.json()["body"] == "Edited"


def test_the_author_or_an_admin_deletes(team, ticket):
    client = team.client("member")
    own = client.post(comments_url(ticket), {"body": "mine"}, format="json").json()["id"]
    admins = team.client("admin").post(comments_url(ticket), {"body": "admin's"}, format="json").json()["id"]
    assert client.delete(comments_url(ticket, admins)).status_code == 403
    assert client.delete(comments_url(ticket, own)).status_code == 204
    other = client.post(comments_url(ticket), {"body": "again"}, format="json").json()["id"]
    assert team.client("admin").delete(comments_url(ticket, other)).status_code == 204
    assert comment_count(ticket) == 1


def test_a_comment_is_only_reachable_through_its_own_ticket(team, ticket):
    comment = CommentFactory(ticket=ticket, author=team.member)
    other_ticket = TicketFactory(project=team.project, reporter=team.member)
    response = team.client("member").get(comments_url(other_ticket, comment.id))
    assert response.status_code == 404


def test_deleting_a_ticket_deletes_its_comments(team, ticket):
    comment = CommentFactory(ticket=ticket, author=team.member)
    assert team.client("admin").delete(f"/api/v1/tickets/{ticket.key}/").status_code == 204
    assert not type(comment).objects.filter(pk=comment.pk).exists()
