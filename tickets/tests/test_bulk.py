"""POST /api/v1/tickets/bulk/ (SPEC §13): each ticket changed or refused on its own, in bounded statements."""

import pytest

from accounts.tests.factories import UserFactory
from tickets.models import Event, EventType, Priority, Status, Ticket, Watcher
from tickets.tests.factories import MembershipFactory, ProjectFactory, TicketFactory

pytestmark = pytest.mark.django_db

BULK = "/api/v1/tickets/bulk/"


def bulk(client, **body):  # type: ignore[no-untyped-def]
    return client.post(BULK, body, format="json")


def test_each_ticket_changes_with_its_own_event(team):
    first, second = (TicketFactory(project=team.project, labels=["backlog", "ui"]) for _ in range(2))

    response = bulk(
        team.client("member"),
        tickets=[first.key, str(second.pk)],
        set={"status": "in_progress", "priority": "urgent", "assignee": "me", "due_date": "2031-02-01"},
        labels_add=["Q3", "ui"],
        labels_remove=["backlog"],
    )

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["errors"] == []
    assert [ticket["key"] for ticket in body["updated"]] == [first.key, second.key]
    for ticket in Ticket.objects.all():
        assert (ticket.status, ticket.priority, ticket.assignee, str(ticket.due_date)) == (
            Status.IN_PROGRESS,
            Priority.URGENT,
            team.member,
            "2031-02-01",
        )
        assert ticket.labels == ["ui", "q3"]
        assert ticket.version == 2
    events = Event.objects.filter(type=EventType.TICKET_UPDATED).order_by("seq")
    assert [event.ticket for event in events] == [first.pk, second.pk]
    assert events[0].changes["status"] == ["open", "in_progress"]
    assert events[0].changes["labels"] == [["backlog", "ui"], ["ui", "q3"]]
    # The answer is the event's ticket plus the reader's watching fields (events carry none: SPEC §11).
    assert {**events[0].data, "is_watching": True, "watcher_count": 1} == body["updated"][0]
    assert events[1].seq == events[0].seq + 1


def test_refusals_are_per_ticket_and_change_nothing_of_theirs(team):
    ok = TicketFactory(project=team.project, version=3)
    stale = TicketFactory(project=team.project, version=5)
    closed = TicketFactory(project=team.project, status=Status.CLOSED)
    elsewhere = ProjectFactory(key="ELSE")
    MembershipFactory(project=elsewhere, user=team.member, role="viewer")
    read_only = TicketFactory(project=elsewhere)
    hidden = TicketFactory(project=ProjectFactory(key="HID"))

    response = bulk(
        team.client("member"),
        tickets=[
            {"ticket": ok.key, "if_match": '"3"'},
            {"ticket": stale.key, "if_match": '"4"'},
            closed.key,
            read_only.key,
            hidden.key,
            "NOPE-1",
            "not a reference",
            ok.key.lower(),
        ],
        set={"status": "in_progress"},
    )

    assert response.status_code == 200
    body = response.json()
    assert [ticket["key"] for ticket in body["updated"]] == [ok.key]
    assert [(error["ticket"], error["code"]) for error in body["errors"]] == [
        (stale.key, "precondition_failed"),
        (closed.key, "invalid_transition"),
        (read_only.key, "permission_denied"),
        (hidden.key, "not_found"),
        ("NOPE-1", "not_found"),
        ("not a reference", "not_found"),
        (ok.key.lower(), "duplicate"),
    ]
    assert all(error["detail"] for error in body["errors"])
    for ticket in (stale, closed, read_only, hidden):
        refreshed = Ticket.objects.get(pk=ticket.pk)
        assert (refreshed.status, refreshed.version) == (ticket.status, ticket.version)
    assert Event.objects.filter(type=EventType.TICKET_UPDATED).count() == 1


def test_an_assignee_outside_a_tickets_project_refuses_that_ticket_only(team):
    mine = TicketFactory(project=team.project)
    other_project = ProjectFactory(key="TWO")
    MembershipFactory(project=other_project, user=team.member, role="member")
    theirs = TicketFactory(project=other_project)

    response = bulk(team.client("member"), tickets=[mine.key, theirs.key], set={"assignee": team.viewer.email})

    body = response.json()
    assert [ticket["key"] for ticket in body["updated"]] == [mine.key]
    detail = "The assignee must be a member of the ticket's project."
    assert body["errors"] == [{"ticket": theirs.key, "code": "not_a_member", "detail": detail}]


def test_a_ticket_already_as_asked_is_answered_without_an_event(team):
    ticket = TicketFactory(project=team.project, priority=Priority.HIGH)
    body = bulk(team.client("member"), tickets=[ticket.key], set={"priority": "high"}).json()
    assert [item["version"] for item in body["updated"]] == [1]
    assert not Event.objects.exists()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"set": {"status": "closed"}}, "tickets"),
        ({"tickets": [], "set": {"status": "closed"}}, "tickets"),
        ({"tickets": ["OPS-1"] * 501, "set": {"status": "closed"}}, "tickets"),
        ({"tickets": [42], "set": {"status": "closed"}}, "tickets"),
        ({"tickets": [{"ticket": "OPS-1", "version": 2}], "set": {"status": "closed"}}, "tickets"),
        ({"tickets": ["OPS-1"]}, "non_field_errors"),
        ({"tickets": ["OPS-1"], "set": {"title": "no"}}, "set"),
        ({"tickets": ["OPS-1"], "set": {"status": "done"}}, "set"),
        ({"tickets": ["OPS-1"], "set": {"assignee": "nobody@example.com"}}, "set"),
        ({"tickets": ["OPS-1"], "labels_add": ["a,b"]}, "labels_add"),
    ],
)
def test_bad_input_is_a_400_naming_the_field_and_changes_nothing(team, body, field):
    ticket = TicketFactory(project=team.project)
    response = team.client("member").post(BULK, body, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()["errors"]
    assert Ticket.objects.get(pk=ticket.pk).version == ticket.version


def test_the_statements_do_not_grow_with_the_tickets(team, django_assert_num_queries):
    """The user, the assignee by email (the serializer), then in the transaction (a savepoint inside
    the test's own, hence SAVEPOINT and RELEASE): the tickets locked (one SELECT ... FOR UPDATE), the
    assignee's memberships, one UPDATE, the events' numbers, one INSERT of the events, one INSERT of the
    new assignee as every ticket's watcher, and the answers' watching fields (one SELECT)."""
    assignee = MembershipFactory(project=team.project).user
    for size in (1, 50):
        keys = [TicketFactory(project=team.project, reporter=UserFactory()).key for _ in range(size)]
        client = team.client("member")
        with django_assert_num_queries(11):
            response = bulk(client, tickets=keys, set={"assignee": assignee.email, "status": "in_progress"})
        assert len(response.json()["updated"]) == size
        assert {(t["is_watching"], t["watcher_count"]) for t in response.json()["updated"]} == {(False, 1)}
        assert Watcher.objects.filter(ticket__key__in=keys, user=assignee).count() == size
