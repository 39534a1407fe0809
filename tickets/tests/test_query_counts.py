"""Read endpoints cost a fixed number of SQL queries, whether they show 1 object or 50 (no N+1);
writes run the statements listed here and no others.

Every object carries its own related users (assignee, reporter, author, actor, created_by), so a
serializer that fetched one lazily would cost one more query per object and fail the 50 case.
Every request starts with the JWT user lookup: `SELECT ... FROM accounts_user WHERE id = <token's user>`.
"""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.tests.factories import UserFactory
from tickets.services.comments import comment_create
from tickets.tests.conftest import client_for
from tickets.tests.factories import CommentFactory, MembershipFactory, ProjectFactory, TicketFactory

pytestmark = pytest.mark.django_db

SIZES = [1, 50]
ALL = {"limit": 100}  # one page holds all 50, so every object is rendered

# 1. JWT user lookup
# 2. the ETag's state: ListStamp and the newest event of each of the user's projects (tickets.list_etag)
# 3. the count (pagination): unfiltered, SUM(ticket_count) FROM tickets_project WHERE id IN (<the user's
#    memberships>); filtered, SELECT COUNT(*) FROM tickets_ticket WHERE ...; none with ?cursor=
# 4. the page: tickets JOIN assignee, reporter
TICKET_LIST_QUERIES = 4
# 1. JWT user lookup
# 2. the ticket by key JOIN project, assignee, reporter, with the user's role as a subquery
TICKET_DETAIL_QUERIES = 2
# 1. JWT user lookup
# 2. SELECT COUNT(*) FROM tickets_project WHERE <the user's role subquery> IS NOT NULL  (pagination)
# 3. the page: projects JOIN created_by, with the user's role (my_role) as a subquery
PROJECT_LIST_QUERIES = 3
# 1. JWT user lookup
# 2. the project by id with the user's role as a subquery (access check)
# 3. SELECT COUNT(*) FROM tickets_membership WHERE project_id = ...  (pagination)
# 4. the page: memberships JOIN user
MEMBER_LIST_QUERIES = 4
# 1. JWT user lookup
# 2. the ticket by id JOIN project, assignee, reporter, with the user's role (access check)
# 3. SELECT COUNT(*) FROM tickets_comment WHERE ticket_id = ...  (pagination)
# 4. the page: comments JOIN author
COMMENT_LIST_QUERIES = 4
# 1. JWT user lookup
# 2. the ticket by id JOIN project, assignee, reporter, with the user's role (access check)
# 3. SELECT COUNT(*) FROM tickets_event WHERE ticket = ...  (pagination)
# 4. the page: events JOIN actor, by seq
HISTORY_QUERIES = 4


@pytest.mark.parametrize("size", SIZES)
def test_ticket_list(team, django_assert_num_queries, size):
    for _ in range(size):
        assignee = MembershipFactory(project=team.project).user
        TicketFactory(project=team.project, assignee=assignee, reporter=UserFactory())
    client = team.client("member")

    with django_assert_num_queries(TICKET_LIST_QUERIES):
        response = client.get("/api/v1/tickets/", ALL)

    assert response.status_code == 200
    assert len(response.data["results"]) == size
    assert all(ticket["assignee"] and ticket["reporter"] for ticket in response.data["results"])


@pytest.mark.parametrize("size", SIZES)
def test_ticket_detail(team, django_assert_num_queries, size):
    tickets = [
        TicketFactory(
            project=team.project, assignee=MembershipFactory(project=team.project).user, reporter=UserFactory()
        )
        for _ in range(size)
    ]
    ticket = tickets[-1]
    CommentFactory.create_batch(size, ticket=ticket)
    client = team.client("member")

    with django_assert_num_queries(TICKET_DETAIL_QUERIES):
        response = client.get(f"/api/v1/tickets/{ticket.key}/")

    assert response.status_code == 200
    assert response.data["key"] == ticket.key
    assert response.data["assignee"]["id"] == str(ticket.assignee_id)
    assert response.data["reporter"]["id"] == str(ticket.reporter_id)


@pytest.mark.parametrize("size", SIZES)
def test_project_list(team, django_assert_num_queries, size):
    for _ in range(size - 1):  # and OPS
        MembershipFactory(user=team.member, project=ProjectFactory())
    client = team.client("member")

    with django_assert_num_queries(PROJECT_LIST_QUERIES):
        response = client.get("/api/v1/projects/", ALL)

    assert response.status_code == 200
    assert len(response.data["results"]) == size
    assert all(project["created_by"] and project["my_role"] for project in response.data["results"])


@pytest.mark.parametrize("size", SIZES)
def test_member_list(db, django_assert_num_queries, size):
    project = ProjectFactory()
    memberships = MembershipFactory.create_batch(size, project=project)
    client = client_for(memberships[0].user)

    with django_assert_num_queries(MEMBER_LIST_QUERIES):
        response = client.get(f"/api/v1/projects/{project.pk}/members/", ALL)

    assert response.status_code == 200
    assert [member["user"]["id"] for member in response.data["results"]] == [str(m.user.pk) for m in memberships]


@pytest.mark.parametrize("size", SIZES)
def test_comment_list(team, django_assert_num_queries, size):
    ticket = TicketFactory(project=team.project, reporter=team.member, assignee=team.member)
    comments = [CommentFactory(ticket=ticket, author=UserFactory()) for _ in range(size)]
    client = team.client("viewer")

    with django_assert_num_queries(COMMENT_LIST_QUERIES):
        response = client.get(f"/api/v1/tickets/{ticket.pk}/comments/", ALL)

    assert response.status_code == 200
    assert [comment["author"]["id"] for comment in response.data["results"]] == [str(c.author.pk) for c in comments]


@pytest.mark.parametrize("size", SIZES)
def test_history(team, django_assert_num_queries, size):
    ticket = TicketFactory(project=team.project, reporter=team.member, assignee=team.member)
    authors = [MembershipFactory(project=team.project).user for _ in range(size)]
    for number, author in enumerate(authors):
        comment_create(ticket=ticket, author=author, body=f"Comment {number}")
    client = team.client("viewer")

    with django_assert_num_queries(HISTORY_QUERIES):
        response = client.get(f"/api/v1/tickets/{ticket.pk}/history/", ALL)

    assert response.status_code == 200
    assert [event["actor"]["id"] for event in response.data["results"]] == [str(author.pk) for author in authors]


# --- Writes: one statement per step, in this order (bench/ W3 holds ticket creation to its floor).
# The transaction's BEGIN and COMMIT are not statements Django records; in these tests the writes run
# inside the test's transaction, so the service's atomic block adds a SAVEPOINT and its RELEASE,
# which production (no enclosing transaction) does not run: they are left out.

TICKET_CREATE_STATEMENTS = [
    "SELECT",  # JWT user lookup
    # one statement: the project by key, the roles, the ticket counter (and row lock), the ticket's
    # INSERT, the event counter (and row lock), the event's INSERT
    "WITH claimed AS (UPDATE tickets_project",  # ... and the reporter's and assignee's watcher rows
]
TICKET_UPDATE_STATEMENTS = [
    "SELECT",  # JWT user lookup
    "SELECT",  # the ticket JOIN project, assignee, reporter, with the user's role (access check)
    "SELECT",  # the ticket again, locked, JOIN assignee, reporter: what the answer shows
    "UPDATE tickets_ticket",
    # (a change of assignee adds one statement here: the new assignee's watcher row, test below)
    "WITH numbered AS (INSERT INTO tickets_eventcounter",  # the event, numbered in its own statement
]
COMMENT_CREATE_STATEMENTS = [
    "SELECT",  # JWT user lookup
    "SELECT",  # the ticket JOIN project, assignee, reporter, with the user's role (access check)
    "INSERT INTO tickets_comment",
    "UPDATE tickets_ticket",  # comment_count
    # The author watches the ticket from now on (SPEC §11): one idempotent INSERT ... ON CONFLICT DO
    # NOTHING, in the comment's transaction so that a rolled-back comment makes no watcher.
    "INSERT INTO tickets_watcher",
    "WITH numbered AS (INSERT INTO tickets_eventcounter",
]


def _statements(run) -> list[str]:
    with CaptureQueriesContext(connection) as captured:
        response = run()
    assert response.status_code in (200, 201), response.content
    statements = [query["sql"].replace('"', "") for query in captured.captured_queries]
    return [sql for sql in statements if not sql.startswith(("SAVEPOINT", "RELEASE SAVEPOINT"))]


def _starts(statements: list[str], expected: list[str]) -> None:
    assert len(statements) == len(expected), "\n".join(statements)
    for sql, start in zip(statements, expected, strict=True):
        assert sql.startswith(start), f"expected {start!r}, ran {sql[:120]!r}"


def test_ticket_create_statements(team):
    client = team.client("member")
    statements = _statements(lambda: client.post("/api/v1/tickets/", {"project": "OPS", "title": "T"}))
    _starts(statements, TICKET_CREATE_STATEMENTS)


def test_ticket_update_statements(team):
    ticket = TicketFactory(project=team.project, reporter=team.member, assignee=team.member)
    client = team.client("member")
    statements = _statements(lambda: client.patch(f"/api/v1/tickets/{ticket.key}/", {"status": "in_progress"}))
    _starts(statements, TICKET_UPDATE_STATEMENTS)


def test_comment_create_statements(team):
    ticket = TicketFactory(project=team.project, reporter=team.member)
    client = team.client("member")
    statements = _statements(lambda: client.post(f"/api/v1/tickets/{ticket.key}/comments/", {"body": "Hello"}))
    _starts(statements, COMMENT_CREATE_STATEMENTS)


def test_ticket_reassignment_statements(team):
    """A new assignee becomes a watcher: one more statement, only when the assignee changes."""
    ticket = TicketFactory(project=team.project, reporter=team.member)
    client = team.client("member")
    statements = _statements(lambda: client.patch(f"/api/v1/tickets/{ticket.key}/", {"assignee": "me"}))
    expected = [*TICKET_UPDATE_STATEMENTS[:3], "SELECT 1 AS a FROM tickets_membership"]  # the assignee is a member
    _starts(
        statements, [*expected, "UPDATE tickets_ticket", "INSERT INTO tickets_watcher", TICKET_UPDATE_STATEMENTS[4]]
    )
