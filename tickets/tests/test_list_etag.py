"""The ticket list's ETag (tickets.list_etag): If-None-Match answers 304 without the page, and every
change the reader could see on the page gives a new tag."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.tests.factories import UserFactory
from tickets.models import Role
from tickets.tests.conftest import client_for
from tickets.tests.factories import MembershipFactory, ProjectFactory, TicketFactory

pytestmark = pytest.mark.django_db

TICKETS = "/api/v1/tickets/"


@pytest.fixture
def board(team):  # type: ignore[no-untyped-def]
    """The viewer reads OPS; the admin and member change it; OTHER is a project the viewer is not in."""
    TicketFactory(project=team.project, assignee=team.member, reporter=team.admin)
    other = ProjectFactory(key="OTHER")
    MembershipFactory(project=other, user=team.admin, role=Role.ADMIN)
    TicketFactory(project=other, reporter=team.admin)
    return team


def _etag(team, params=None):  # type: ignore[no-untyped-def]
    response = team.client("viewer").get(TICKETS, params or {})
    assert response.status_code == 200
    return response["ETag"]


def test_if_none_match_answers_304_without_the_page(board, django_assert_num_queries) -> None:  # type: ignore[no-untyped-def]
    etag = _etag(board)
    client = board.client("viewer")

    # The user, then the tag's one statement: no count, no page.
    with django_assert_num_queries(2):
        response = client.get(TICKETS, HTTP_IF_NONE_MATCH=etag)

    assert response.status_code == 304
    assert response.content == b""
    assert response["ETag"] == etag
    assert client.get(TICKETS, HTTP_IF_NONE_MATCH=f'"other", W/{etag}').status_code == 304
    assert client.get(TICKETS, HTTP_IF_NONE_MATCH='"other"').status_code == 200


@pytest.mark.parametrize("params", [{}, {"status": "open", "search": "a"}])
def test_the_page_and_its_count_keep_to_the_projects_the_tag_read(board, params) -> None:  # type: ignore[no-untyped-def]
    """The projects are named as constants, as the tag's statement read them (tickets.selectors
    ._in_projects), not as a subquery of the memberships: the count of a filtered list and the page."""
    with CaptureQueriesContext(connection) as captured:
        response = board.client("viewer").get(TICKETS, params)

    assert response.status_code == 200
    statements = [query["sql"] for query in captured.captured_queries]
    assert "tickets_liststamp" in statements[1]
    listed = statements[2:] if params else statements[3:]  # unfiltered, the count is the projects' rows
    assert listed
    for statement in listed:
        assert board.project.pk.hex in statement
        assert "tickets_membership" not in statement


def test_a_reader_of_no_project_gets_an_empty_filtered_list_without_a_count(django_assert_num_queries) -> None:  # type: ignore[no-untyped-def]
    client = client_for(UserFactory())

    # The user and the tag's statement: an empty list of projects needs neither the count nor the page.
    with django_assert_num_queries(2):
        response = client.get(TICKETS, {"status": "open"})

    assert response.status_code == 200
    assert (response.data["count"], response.data["results"]) == (0, [])


def test_the_tag_is_the_readers_and_the_querys(board) -> None:  # type: ignore[no-untyped-def]
    etag = _etag(board)
    assert _etag(board) == etag
    assert _etag(board, {"status": "open"}) != etag
    assert _etag(board, {"limit": "1"}) != etag
    member = board.client("member").get(TICKETS)
    assert member["ETag"] != etag
    assert board.client("viewer").get(TICKETS, HTTP_ACCEPT="application/json; indent=2")["ETag"] != etag


def _changes_the_tag(team, change) -> None:  # type: ignore[no-untyped-def]
    before = _etag(team)
    answer = change()
    assert answer.status_code < 300, answer.content
    assert _etag(team) != before
    assert team.client("viewer").get(TICKETS, HTTP_IF_NONE_MATCH=before).status_code == 200


def test_a_ticket_edit_changes_the_tag(board) -> None:  # type: ignore[no-untyped-def]
    client = board.client("member")
    _changes_the_tag(board, lambda: client.patch(f"{TICKETS}OPS-1/", {"title": "New"}, format="json"))


def test_a_new_ticket_and_a_deleted_one_change_the_tag(board) -> None:  # type: ignore[no-untyped-def]
    client = board.client("member")
    _changes_the_tag(board, lambda: client.post(TICKETS, {"project": "OPS", "title": "Another"}, format="json"))
    _changes_the_tag(board, lambda: board.client("admin").delete(f"{TICKETS}OPS-2/"))


def test_a_comment_changes_the_tag(board) -> None:  # type: ignore[no-untyped-def]
    client = board.client("member")
    _changes_the_tag(board, lambda: client.post(f"{TICKETS}OPS-1/comments/", {"body": "Hi"}, format="json"))


def test_membership_changes_change_the_tag(board) -> None:  # type: ignore[no-untyped-def]
    admin = board.client("admin")
    viewer_id = str(board.viewer.pk)
    # Joining another project, a new role, leaving.
    _changes_the_tag(board, lambda: admin.post("/api/v1/projects/OTHER/members/", {"user": viewer_id}, format="json"))
    _changes_the_tag(
        board, lambda: admin.patch(f"/api/v1/projects/OPS/members/{viewer_id}/", {"role": "member"}, format="json")
    )
    _changes_the_tag(board, lambda: admin.delete(f"/api/v1/projects/OTHER/members/{viewer_id}/"))


def test_someone_elses_watch_and_unwatch_change_the_tag(board) -> None:  # type: ignore[no-untyped-def]
    admin = board.client("admin")  # not a watcher of OPS-1 yet: watcher_count changes for the viewer
    _changes_the_tag(board, lambda: admin.put(f"{TICKETS}OPS-1/watch/"))
    _changes_the_tag(board, lambda: admin.delete(f"{TICKETS}OPS-1/watch/"))


def test_a_renamed_assignee_changes_the_tag(board) -> None:  # type: ignore[no-untyped-def]
    member = board.client("member")
    _changes_the_tag(board, lambda: member.patch("/api/v1/auth/me/", {"full_name": "Mem Ber"}, format="json"))
    before = _etag(board)
    board.member.email = "renamed@example.com"  # the admin's way: no service involved
    board.member.save()
    assert _etag(board) != before


def test_a_deleted_user_changes_the_tag(board) -> None:  # type: ignore[no-untyped-def]
    before = _etag(board)
    board.member.delete()  # OPS-1 loses its assignee
    assert _etag(board) != before


def test_a_deleted_project_changes_the_tag(board) -> None:  # type: ignore[no-untyped-def]
    _changes_the_tag(board, lambda: board.client("admin").delete("/api/v1/projects/OPS/"))


def test_changes_in_projects_the_reader_is_not_in_leave_the_tag(board) -> None:  # type: ignore[no-untyped-def]
    before = _etag(board)
    other = client_for(board.admin)
    assert other.patch(f"{TICKETS}OTHER-1/", {"title": "Elsewhere"}, format="json").status_code == 200
    assert other.post(f"{TICKETS}OTHER-1/comments/", {"body": "x"}, format="json").status_code == 201
    assert _etag(board) == before
    UserFactory()  # a new user shows nowhere yet
    assert _etag(board) == before
