"""The ticket panel's ETag (board.views.ticket_panel): the board's refreshes get a 304 from one
statement while nothing the panel shows changed, and every change it shows gives a new tag."""

import pytest
from django.test import Client

from tickets.models import Comment, Image, ImageStatus, Role
from tickets.tests.conftest import client_for
from tickets.tests.factories import CommentFactory, MembershipFactory, TicketFactory

pytestmark = pytest.mark.django_db

PANEL = "/board/OPS/tickets/OPS-1/panel/"


def _client(user) -> Client:  # type: ignore[no-untyped-def]
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def ticket(team):  # type: ignore[no-untyped-def]
    ticket = TicketFactory(project=team.project, assignee=team.member, reporter=team.admin)
    CommentFactory(ticket=ticket, author=team.member, body="First")
    return ticket


def _read(client: Client):  # type: ignore[no-untyped-def]
    response = client.get(PANEL)
    assert response.status_code == 200
    return response


def _changes_the_panel(team, change, reader: str = "viewer") -> None:  # type: ignore[no-untyped-def]
    """After `change`, the reader's refresh with the old tag answers the new panel (and a new tag)."""
    viewer = _client(getattr(team, reader))
    before = _read(viewer)
    answer = change()
    if answer is not None:
        assert answer.status_code < 300, answer.content
    after = viewer.get(PANEL, HTTP_IF_NONE_MATCH=before["ETag"])
    assert after.status_code == 200
    assert after["ETag"] != before["ETag"]
    assert after.content != before.content
    assert viewer.get(PANEL, HTTP_IF_NONE_MATCH=after["ETag"]).status_code == 304


def test_a_refresh_with_the_tag_answers_304_without_the_panel(team, ticket, django_assert_num_queries) -> None:  # type: ignore[no-untyped-def]
    viewer = _client(team.viewer)
    etag = _read(viewer)["ETag"]
    # The session, the user, the panel's one statement: no ticket, comments, images, history, members.
    with django_assert_num_queries(3):
        response = viewer.get(PANEL, HTTP_IF_NONE_MATCH=etag)
    assert response.status_code == 304
    assert response.content == b""
    assert response["ETag"] == etag
    assert viewer.get("/board/OPS/tickets/ops-1/panel/", HTTP_IF_NONE_MATCH=etag).status_code != 304
    assert viewer.get(PANEL, HTTP_IF_NONE_MATCH='"other"').status_code == 200
    # Each reader has a tag of their own: the controls differ by role.
    assert _read(_client(team.member))["ETag"] != etag


def test_an_outsider_gets_a_404_never_a_304(team, ticket) -> None:  # type: ignore[no-untyped-def]
    etag = _read(_client(team.viewer))["ETag"]
    outsider = _client(team.outsider)
    assert outsider.get(PANEL, HTTP_IF_NONE_MATCH=etag).status_code == 404
    assert outsider.get(PANEL, HTTP_IF_NONE_MATCH="*").status_code == 404
    # Nor someone who left, nor anyone once the ticket is gone.
    viewer = _client(team.viewer)
    assert client_for(team.admin).delete(f"/api/v1/projects/OPS/members/{team.viewer.pk}/").status_code == 204
    assert viewer.get(PANEL, HTTP_IF_NONE_MATCH=etag).status_code == 404
    MembershipFactory(project=team.project, user=team.viewer, role=Role.VIEWER)
    etag = _read(viewer)["ETag"]
    assert client_for(team.admin).delete("/api/v1/tickets/OPS-1/").status_code == 204
    assert viewer.get(PANEL, HTTP_IF_NONE_MATCH=etag).status_code == 404


def test_ticket_and_comment_changes_change_the_panel(team, ticket) -> None:  # type: ignore[no-untyped-def]
    api = client_for(team.member)
    _changes_the_panel(team, lambda: api.patch("/api/v1/tickets/OPS-1/", {"description": "More"}, format="json"))
    _changes_the_panel(team, lambda: api.post("/api/v1/tickets/OPS-1/comments/", {"body": "Hi"}, format="json"))
    comment = Comment.objects.get(body="Hi")
    path = f"/api/v1/tickets/OPS-1/comments/{comment.pk}/"
    _changes_the_panel(team, lambda: api.patch(path, {"body": "Hello"}, format="json"))
    _changes_the_panel(team, lambda: api.delete(path))


def test_an_image_moving_on_changes_the_panel(team, ticket) -> None:  # type: ignore[no-untyped-def]
    image = Image.objects.create(ticket=ticket, uploaded_by=team.member, content_type="image/png")

    def to(status: str, **fields: object) -> None:  # status changes without a request, nor an event
        Image.objects.filter(pk=image.pk).update(status=status, **fields)

    _changes_the_panel(team, lambda: to(ImageStatus.FAILED, error="Broken"))
    _changes_the_panel(team, lambda: to(ImageStatus.READY, url="http://testserver/media/a.png"))


def test_members_and_names_change_the_panel(team, ticket) -> None:  # type: ignore[no-untyped-def]
    admin = client_for(team.admin)
    # A new member is a new assignee choice in the member's form (viewers have no form).
    members = "/api/v1/projects/OPS/members/"
    _changes_the_panel(team, lambda: admin.post(members, {"user": str(team.outsider.pk)}, format="json"), "member")
    # A renamed author and assignee; a member named in the choices only, renamed the admin site's way.
    rename = {"full_name": "Mem"}
    _changes_the_panel(team, lambda: client_for(team.member).patch("/api/v1/auth/me/", rename, format="json"))

    def rename_the_outsider() -> None:
        team.outsider.full_name = "Olga Outside"
        team.outsider.save()

    _changes_the_panel(team, rename_the_outsider, "member")


def test_other_tickets_changes_leave_the_panel(team, ticket) -> None:  # type: ignore[no-untyped-def]
    viewer = _client(team.viewer)
    etag = _read(viewer)["ETag"]
    TicketFactory(project=team.project, reporter=team.member)
    api = client_for(team.member)
    assert api.post("/api/v1/tickets/OPS-2/comments/", {"body": "x"}, format="json").status_code == 201
    assert api.patch("/api/v1/tickets/OPS-2/", {"title": "Other"}, format="json").status_code == 200
    assert viewer.get(PANEL, HTTP_IF_NONE_MATCH=etag).status_code == 304
