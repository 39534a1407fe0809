"""The list's plain-row answers (tickets.list_rows) are TicketWatchingSerializer's, byte for byte: for
every field, every filter and ordering, and each reader's own fields (is_watching, watcher_count)."""

import datetime

import orjson
import pytest
from django.test import RequestFactory
from django.utils import timezone

from accounts.tests.factories import UserFactory
from hopla.api.renderers import OrjsonRenderer
from tickets.filters import ORDERING_FIELDS, TicketFilter
from tickets.list_rows import ticket_answer
from tickets.models import Priority, Status, Watcher
from tickets.selectors import ticket_list, ticket_list_rows
from tickets.serializers import TicketWatchingSerializer
from tickets.tests.conftest import client_for
from tickets.tests.factories import MembershipFactory, ProjectFactory, TicketFactory

pytestmark = pytest.mark.django_db

NOW = timezone.now()
QUERIES = [
    {},
    {"limit": "2", "offset": "1"},
    {"cursor": ""},
    {"project": "OPS"},
    {"status": "open,closed"},
    {"priority": "high,urgent"},
    {"assignee": "me"},
    {"assignee": "none"},
    {"reporter": "me"},
    {"label": "ünï"},
    {"created_after": (NOW - datetime.timedelta(days=3)).isoformat()},
    {"updated_before": (NOW + datetime.timedelta(days=1)).isoformat()},
    {"due_after": "2020-01-01", "due_before": "2040-01-01"},
    {"overdue": "true"},
    {"overdue": "false"},
    {"search": "printer"},
    {"search": "OPS-1"},
    *({"ordering": name} for name in ORDERING_FIELDS),
    *({"ordering": f"-{name}"} for name in ORDERING_FIELDS),
    {"ordering": "-priority,due_date", "status": "open,in_progress"},
]


@pytest.fixture
def readers(team):  # type: ignore[no-untyped-def]
    """Tickets of every shape in two projects; the member (in both) and the viewer (in OPS) read them."""
    other = ProjectFactory(key="DEV")
    MembershipFactory(project=other, user=team.member)
    shapes = [
        {"assignee": team.member, "labels": ["ops", "ünï"], "due_date": datetime.date(2021, 5, 1)},
        {"assignee": None, "labels": [], "title": "Printer on fire \u2028 line", "priority": Priority.URGENT},
        {"status": Status.CLOSED, "closed_at": NOW.replace(microsecond=0), "priority": Priority.HIGH},
        {"reporter": team.member, "due_date": datetime.date(2039, 1, 1), "status": Status.IN_PROGRESS},
    ]
    tickets = [TicketFactory(project=team.project, **shape) for shape in shapes]
    tickets.append(TicketFactory(project=other, assignee=team.member, title="Printer out of paper"))
    for ticket in tickets[:3]:
        Watcher.objects.create(ticket=ticket, user=team.viewer)
    Watcher.objects.create(ticket=tickets[0], user=team.member)
    Watcher.objects.create(ticket=tickets[4], user=UserFactory())
    return [team.member, team.viewer]


def _serializer_answer(reader, params):  # type: ignore[no-untyped-def]
    """The page as the serializer answered it before: model instances of the filtered queryset."""
    request = RequestFactory().get("/api/v1/tickets/", params)
    request.user = reader
    tickets = TicketFilter(request.GET, queryset=ticket_list(user=reader), request=request).qs
    offset = int(params.get("offset", 0))
    page = list(tickets[offset : offset + int(params.get("limit", 25))])
    return tickets.count(), OrjsonRenderer().render(TicketWatchingSerializer(page, many=True).data)


def _query_id(query: dict[str, str]) -> str:
    """The test's id: the same in every process (pytest-xdist's workers must collect the same ids), so
    the times relative to NOW are named, not written."""
    relative = {"created_after": "3 days ago", "updated_before": "in a day"}
    return str({name: relative.get(name, value) for name, value in query.items()})


@pytest.mark.parametrize("params", QUERIES, ids=[_query_id(query) for query in QUERIES])
def test_the_list_answers_what_the_serializer_answered(readers, params) -> None:  # type: ignore[no-untyped-def]
    for reader in readers:
        response = client_for(reader).get("/api/v1/tickets/", params)
        assert response.status_code == 200, response.content
        count, results = _serializer_answer(reader, params)
        body = orjson.loads(response.content)
        assert OrjsonRenderer().render(body["results"]) == results
        assert body.get("count", count) == count
        # The results' bytes in the response are the serializer's (not only their parsed value).
        assert results[1:-1] in response.content


def test_every_row_renders_as_the_serializer_renders_its_ticket(readers) -> None:  # type: ignore[no-untyped-def]
    for reader in readers:
        by_id = {ticket.pk: ticket for ticket in ticket_list(user=reader)}
        rows = list(ticket_list_rows(user=reader))
        assert {row["id"] for row in rows} == set(by_id)
        for row in rows:
            expected = OrjsonRenderer().render(TicketWatchingSerializer(by_id[row["id"]]).data)
            assert OrjsonRenderer().render(ticket_answer(row)) == expected
