"""The ticket list's `count`: a trigger-kept per-project count when unfiltered, COUNT(*) when filtered.

Whatever adds or removes tickets (the API, a project's deletion, bulk inserts and deletes, seed_demo,
a whole-object save in the admin) the list's count must equal the rows it pages through.
"""

import io
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from accounts.tests.factories import UserFactory
from tickets.models import Membership, Project, Role, Ticket
from tickets.tests.conftest import Team, client_for
from tickets.tests.factories import MembershipFactory, ProjectFactory, TicketFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/tickets/"


def listed_count(client: Any, **params: Any) -> int:
    body = client.get(URL, {"limit": 100, **params}).json()
    if body["count"] <= 100:
        assert body["count"] == len(body["results"])
    return body["count"]


def assert_counts_true() -> None:
    for project in Project.objects.all():
        assert project.ticket_count == project.tickets.count(), project.key


@pytest.fixture
def two_projects(team: Team) -> Team:
    other = ProjectFactory(key="DEV")
    MembershipFactory(project=other, user=team.admin, role=Role.ADMIN)
    for _ in range(3):
        TicketFactory(project=team.project, reporter=team.admin)
        TicketFactory(project=other, reporter=team.admin)
    return team


def test_unfiltered_count_reads_the_project_counts_not_the_tickets(two_projects: Team) -> None:
    client = two_projects.client("admin")
    with CaptureQueriesContext(connection) as queries:
        assert listed_count(client) == 6
    statements = [query["sql"] for query in queries.captured_queries]
    # No COUNT(*) over the tickets (the page's own statement counts each ticket's watchers: not that).
    assert not any(sql.upper().startswith("SELECT COUNT(") and "tickets_ticket" in sql for sql in statements), (
        statements
    )
    assert any('SUM("tickets_project"."ticket_count")' in sql for sql in statements), statements
    # Only the ordering given: still the whole list, still the cheap count.
    assert listed_count(client, ordering="-priority") == 6
    # Any filter: the real count; an empty filter filters nothing.
    with CaptureQueriesContext(connection) as queries:
        assert listed_count(client, project="DEV") == 3
    assert any("COUNT(" in query["sql"].upper() for query in queries.captured_queries)
    assert listed_count(client, status="") == 6


def test_the_count_covers_only_the_users_projects(two_projects: Team) -> None:
    assert listed_count(two_projects.client("member")) == 3
    assert listed_count(client_for(UserFactory())) == 0


def test_counts_follow_api_creates_and_deletes(two_projects: Team) -> None:
    client = two_projects.client("admin")
    created = [client.post(URL, {"project": "OPS", "title": f"n{i}"}, format="json").json() for i in range(2)]
    assert listed_count(client) == 8
    assert client.delete(f"{URL}{created[0]['key']}/").status_code == 204
    assert listed_count(client) == 7
    assert listed_count(two_projects.client("member")) == 4
    assert_counts_true()


def test_deleting_a_project_removes_its_tickets_from_the_count(two_projects: Team) -> None:
    client = two_projects.client("admin")
    assert client.delete("/api/v1/projects/DEV/").status_code == 204
    assert listed_count(client) == 3
    assert_counts_true()


def test_bulk_inserts_deletes_and_moves_are_counted(two_projects: Team) -> None:
    ops, dev = Project.objects.get(key="OPS"), Project.objects.get(key="DEV")
    Ticket.objects.bulk_create(
        [Ticket(project=ops, number=100 + n, key=f"OPS-{100 + n}", title="bulk") for n in range(5)]
        + [Ticket(project=dev, number=200 + n, key=f"DEV-{200 + n}", title="bulk") for n in range(2)]
    )
    assert_counts_true()
    Ticket.objects.filter(title="bulk", number__lt=103).delete()  # a statement over both projects
    assert_counts_true()
    Ticket.objects.filter(key="OPS-104").update(project=dev)  # the API never moves tickets; a shell might
    assert_counts_true()
    assert listed_count(two_projects.client("admin")) == Ticket.objects.count()


def test_a_whole_project_save_cannot_overwrite_the_count(two_projects: Team) -> None:
    """The admin saves every column of the Project it read: a ticket created meanwhile must still count."""
    stale = Project.objects.get(key="OPS")
    TicketFactory(project=Project.objects.get(key="OPS"), reporter=two_projects.admin)
    stale.name = "Renamed"
    stale.save()
    assert Project.objects.get(key="OPS").ticket_count == 4
    assert_counts_true()


def test_the_admin_can_edit_and_delete_and_counts_hold(two_projects: Team) -> None:
    staff = Client()
    staff.force_login(UserFactory(is_staff=True, is_superuser=True))
    ticket = Ticket.objects.filter(project__key="OPS").first()
    assert ticket is not None
    response = staff.post(f"/admin/tickets/ticket/{ticket.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert_counts_true()
    assert listed_count(two_projects.client("admin")) == 5


def test_seed_demo_counts(team: Team) -> None:
    call_command("seed_demo", projects=3, tickets=120, seed=3, verbosity=0, stdout=io.StringIO())
    assert_counts_true()
    demo_user = Membership.objects.filter(project__key="DEMO1").first()
    assert demo_user is not None
    expected = Ticket.objects.filter(project__memberships__user=demo_user.user).count()
    assert listed_count(client_for(demo_user.user)) == expected
