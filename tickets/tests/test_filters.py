"""The ticket list's filters, ordering and pagination (SPEC §2, §5), exercised through GET /api/v1/tickets/."""

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.tests.factories import UserFactory
from tickets.models import Priority, Role, Status, Ticket
from tickets.tests.conftest import Team, client_for
from tickets.tests.factories import MembershipFactory, ProjectFactory, TicketFactory
from tickets.tests.test_tickets import TICKET_FIELDS

URL = "/api/v1/tickets/"


def make_ticket(team: Team, **fields: Any) -> Ticket:
    fields.setdefault("project", team.project)
    fields.setdefault("reporter", team.admin)
    return TicketFactory(**fields)


def stamp(ticket: Ticket, **timestamps: datetime) -> None:
    """`created_at`/`updated_at` are auto fields: a queryset update is the way to set them."""
    Ticket.objects.filter(pk=ticket.pk).update(**timestamps)


def at(day: int, hour: int = 12, month: int = 3) -> datetime:
    return datetime(2024, month, day, hour, tzinfo=UTC)


def keys(response: Any) -> list[str]:
    assert response.status_code == 200, response.content
    return [ticket["key"] for ticket in response.json()["results"]]


def list_keys(client: APIClient, **params: Any) -> list[str]:
    """Keys of the first page; `ordering=key` unless the test orders otherwise, so lists compare exactly."""
    params.setdefault("ordering", "key")
    return keys(client.get(URL, params))


def assert_invalid_param(response: Any, param: str, code: str | None = None) -> None:
    """A 400 with the contract's validation body, naming `param` and only `param`."""
    assert response.status_code == 400, response.content
    body = response.json()
    assert set(body) == {"detail", "code", "errors"}
    assert body["code"] == "invalid"
    assert isinstance(body["detail"], str)
    assert body["detail"]
    assert list(body["errors"]) == [param]
    assert body["errors"][param], body
    for error in body["errors"][param]:
        assert set(error) == {"message", "code"}
        assert isinstance(error["message"], str)
        assert error["message"]
    if code is not None:
        assert [error["code"] for error in body["errors"][param]] == [code]


# --- project -----------------------------------------------------------------------------------------


@pytest.fixture
def two_projects(team: Team) -> Team:
    """OPS-1, OPS-2 and, in a second project the member also belongs to, WEB-1."""
    make_ticket(team)
    make_ticket(team)
    web = ProjectFactory(key="WEB")
    MembershipFactory(project=web, user=team.member, role=Role.MEMBER)
    make_ticket(team, project=web)
    return team


@pytest.mark.parametrize("reference", ["WEB", "web", "Web"])
def test_project_by_key_any_case(two_projects: Team, reference: str) -> None:
    assert list_keys(two_projects.client("member"), project=reference) == ["WEB-1"]


def test_project_by_id(two_projects: Team) -> None:
    client = two_projects.client("member")
    assert list_keys(client, project=str(two_projects.project.pk)) == ["OPS-1", "OPS-2"]
    assert list_keys(client, project=str(two_projects.project.pk).upper()) == ["OPS-1", "OPS-2"]


def test_no_project_filter_lists_every_project_of_the_user(two_projects: Team) -> None:
    assert list_keys(two_projects.client("member")) == ["OPS-1", "OPS-2", "WEB-1"]
    assert list_keys(two_projects.client("member"), project="") == ["OPS-1", "OPS-2", "WEB-1"]


@pytest.mark.parametrize("reference", ["not a key", "OPS-1", "1OPS", "O", "ABCDEFGHIJK", "OPS!", "12345"])
def test_project_malformed_is_400(two_projects: Team, reference: str) -> None:
    assert_invalid_param(two_projects.client("member").get(URL, {"project": reference}), "project", "invalid")


def test_project_unknown_and_project_not_mine_answer_alike(two_projects: Team) -> None:
    """Well-formed references to a missing project and to someone else's project are indistinguishable."""
    secret = ProjectFactory(key="SECRET")
    make_ticket(two_projects, project=secret)
    client = two_projects.client("member")
    for unknown, hidden in (("NOPE", "SECRET"), (str(uuid.uuid4()), str(secret.pk))):
        missing = client.get(URL, {"project": unknown})
        invisible = client.get(URL, {"project": hidden})
        assert invisible.status_code == missing.status_code == 200
        assert invisible.json() == missing.json() == {"count": 0, "next": None, "previous": None, "results": []}


# --- status and priority -----------------------------------------------------------------------------


@pytest.fixture
def by_status(team: Team) -> Team:
    for status in (Status.OPEN, Status.IN_PROGRESS, Status.RESOLVED, Status.CLOSED):  # OPS-1..OPS-4
        make_ticket(team, status=status)
    return team


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("open", ["OPS-1"]),
        ("in_progress", ["OPS-2"]),
        ("resolved", ["OPS-3"]),
        ("closed", ["OPS-4"]),
        ("open,in_progress", ["OPS-1", "OPS-2"]),
        ("closed,open", ["OPS-1", "OPS-4"]),
        ("resolved, closed", ["OPS-3", "OPS-4"]),
        ("open,open", ["OPS-1"]),
        ("open,in_progress,resolved,closed", ["OPS-1", "OPS-2", "OPS-3", "OPS-4"]),
        ("", ["OPS-1", "OPS-2", "OPS-3", "OPS-4"]),
    ],
)
def test_status_filter(by_status: Team, value: str, expected: list[str]) -> None:
    assert list_keys(by_status.client("viewer"), status=value) == expected


@pytest.mark.parametrize("value", ["done", "open,done", "OPEN", "in progress", ",", "1", "open;closed"])
def test_status_unknown_item_is_400(by_status: Team, value: str) -> None:
    assert_invalid_param(by_status.client("member").get(URL, {"status": value}), "status", "invalid_choice")


def test_status_error_names_the_unknown_item(by_status: Team) -> None:
    response = by_status.client("member").get(URL, {"status": "open,done"})
    assert_invalid_param(response, "status", "invalid_choice")
    assert "done" in response.json()["errors"]["status"][0]["message"]


@pytest.mark.parametrize("value", ["50%", "%s", "open,%(x)s", "100%,open"])
def test_filter_values_with_percent_signs_are_a_400_not_a_500(by_status: Team, value: str) -> None:
    """User input ends up in the error message; it must not be treated as a %-format string."""
    response = by_status.client("member").get(URL, {"status": value})
    assert_invalid_param(response, "status", "invalid_choice")
    response = by_status.client("member").get(URL, {"priority": value})
    assert_invalid_param(response, "priority", "invalid_choice")


@pytest.fixture
def by_priority(team: Team) -> Team:
    for priority in (Priority.LOW, Priority.MEDIUM, Priority.HIGH, Priority.URGENT):  # OPS-1..OPS-4
        make_ticket(team, priority=priority)
    return team


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("low", ["OPS-1"]),
        ("medium", ["OPS-2"]),
        ("high", ["OPS-3"]),
        ("urgent", ["OPS-4"]),
        ("high,urgent", ["OPS-3", "OPS-4"]),
        ("urgent,low", ["OPS-1", "OPS-4"]),
        (" low , medium ", ["OPS-1", "OPS-2"]),
    ],
)
def test_priority_filter(by_priority: Team, value: str, expected: list[str]) -> None:
    assert list_keys(by_priority.client("viewer"), priority=value) == expected


def test_priority_is_shown_by_name(by_priority: Team) -> None:
    response = by_priority.client("member").get(URL, {"priority": "urgent"})
    assert [ticket["priority"] for ticket in response.json()["results"]] == ["urgent"]


@pytest.mark.parametrize("value", ["critical", "high,critical", "3", "HIGH", ",,"])
def test_priority_unknown_item_is_400(by_priority: Team, value: str) -> None:
    assert_invalid_param(by_priority.client("member").get(URL, {"priority": value}), "priority", "invalid_choice")


# --- assignee and reporter ---------------------------------------------------------------------------


@pytest.fixture
def people(team: Team) -> Team:
    make_ticket(team, assignee=team.member, reporter=team.admin)  # OPS-1
    make_ticket(team, assignee=team.admin, reporter=team.member)  # OPS-2
    make_ticket(team, assignee=None, reporter=team.member)  # OPS-3
    make_ticket(team, assignee=team.viewer, reporter=team.viewer)  # OPS-4
    return team


def test_assignee_by_id(people: Team) -> None:
    client = people.client("viewer")
    assert list_keys(client, assignee=str(people.member.pk)) == ["OPS-1"]
    assert list_keys(client, assignee=str(people.admin.pk)) == ["OPS-2"]


@pytest.mark.parametrize(("role", "expected"), [("member", ["OPS-1"]), ("admin", ["OPS-2"]), ("viewer", ["OPS-4"])])
def test_assignee_me(people: Team, role: str, expected: list[str]) -> None:
    assert list_keys(people.client(role), assignee="me") == expected


def test_assignee_none(people: Team) -> None:
    assert list_keys(people.client("member"), assignee="none") == ["OPS-3"]


def test_assignee_unknown_user_id_matches_nothing(people: Team) -> None:
    assert list_keys(people.client("member"), assignee=str(uuid.uuid4())) == []
    assert list_keys(people.client("member"), assignee=str(people.outsider.pk)) == []


@pytest.mark.parametrize("value", ["bob", "12", "nobody", "null", "me,none", f"{uuid.UUID(int=1)}x"])
def test_assignee_garbage_is_400(people: Team, value: str) -> None:
    assert_invalid_param(people.client("member").get(URL, {"assignee": value}), "assignee", "invalid")


def test_reporter_by_id(people: Team) -> None:
    assert list_keys(people.client("viewer"), reporter=str(people.member.pk)) == ["OPS-2", "OPS-3"]


@pytest.mark.parametrize(
    ("role", "expected"), [("member", ["OPS-2", "OPS-3"]), ("admin", ["OPS-1"]), ("viewer", ["OPS-4"])]
)
def test_reporter_me(people: Team, role: str, expected: list[str]) -> None:
    assert list_keys(people.client(role), reporter="me") == expected


@pytest.mark.parametrize("value", ["none", "alice", "42"])
def test_reporter_garbage_is_400(people: Team, value: str) -> None:
    """Every ticket has a reporter, so `none` is not a reporter value (SPEC: id or `me`)."""
    assert_invalid_param(people.client("member").get(URL, {"reporter": value}), "reporter", "invalid")


def test_assignee_and_reporter_combine(people: Team) -> None:
    assert list_keys(people.client("member"), assignee="none", reporter="me") == ["OPS-3"]
    assert list_keys(people.client("member"), assignee="me", reporter="me") == []


# --- label -------------------------------------------------------------------------------------------


@pytest.fixture
def labelled(team: Team) -> Team:
    make_ticket(team, labels=["bug", "ui"])  # OPS-1
    make_ticket(team, labels=["bug"])  # OPS-2
    make_ticket(team, labels=["feature", "needs design"])  # OPS-3
    make_ticket(team, labels=[])  # OPS-4
    make_ticket(team, labels=["bugfix"])  # OPS-5
    return team


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("bug", ["OPS-1", "OPS-2"]),
        ("BUG", ["OPS-1", "OPS-2"]),
        (" Bug ", ["OPS-1", "OPS-2"]),
        ("ui", ["OPS-1"]),
        ("needs design", ["OPS-3"]),
        ("needs   Design", ["OPS-3"]),
        ("bugfix", ["OPS-5"]),
        ("bu", []),
        ("unknown", []),
        ("", ["OPS-1", "OPS-2", "OPS-3", "OPS-4", "OPS-5"]),
    ],
)
def test_label_filter_matches_whole_labels(labelled: Team, value: str, expected: list[str]) -> None:
    assert list_keys(labelled.client("member"), label=value) == expected


def test_label_too_long_is_400(labelled: Team) -> None:
    assert_invalid_param(labelled.client("member").get(URL, {"label": "x" * 51}), "label", "max_length")


# --- created / updated / due dates -------------------------------------------------------------------


@pytest.fixture
def dated(team: Team) -> Team:
    """OPS-1..OPS-3 created on March 1st, 2nd and 3rd 2024 at noon UTC and updated on the 11th, 12th and 13th."""
    for day in (1, 2, 3):
        stamp(make_ticket(team), created_at=at(day), updated_at=at(day + 10))
    return team


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"created_after": "2024-03-02T12:00:00Z"}, ["OPS-2", "OPS-3"]),  # inclusive
        ({"created_after": "2024-03-02T12:00:01Z"}, ["OPS-3"]),
        ({"created_after": "2024-03-02T13:00:00+01:00"}, ["OPS-2", "OPS-3"]),  # same instant as 12:00Z
        ({"created_after": "2024-03-02"}, ["OPS-2", "OPS-3"]),
        ({"created_after": "2024-03-04"}, []),
        ({"created_before": "2024-03-02T12:00:00Z"}, ["OPS-1"]),  # exclusive
        ({"created_before": "2024-03-02T12:00:01Z"}, ["OPS-1", "OPS-2"]),
        ({"created_before": "2024-03-02"}, ["OPS-1"]),
        ({"created_before": "2024-03-01"}, []),
        ({"created_after": "2024-03-02", "created_before": "2024-03-03"}, ["OPS-2"]),
        ({"created_after": "2024-03-03", "created_before": "2024-03-02"}, []),
    ],
)
def test_created_range(dated: Team, params: dict[str, str], expected: list[str]) -> None:
    assert list_keys(dated.client("member"), **params) == expected


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"updated_after": "2024-03-12T12:00:00Z"}, ["OPS-2", "OPS-3"]),
        ({"updated_after": "2024-03-13"}, ["OPS-3"]),
        ({"updated_before": "2024-03-12T12:00:00Z"}, ["OPS-1"]),
        ({"updated_before": "2024-03-14"}, ["OPS-1", "OPS-2", "OPS-3"]),
        ({"updated_after": "2024-03-12", "updated_before": "2024-03-13"}, ["OPS-2"]),
        # created and updated are independent axes
        ({"created_after": "2024-03-02", "updated_before": "2024-03-13"}, ["OPS-2"]),
    ],
)
def test_updated_range(dated: Team, params: dict[str, str], expected: list[str]) -> None:
    assert list_keys(dated.client("member"), **params) == expected


@pytest.mark.parametrize("param", ["created_after", "created_before", "updated_after", "updated_before"])
@pytest.mark.parametrize("value", ["yesterday", "2024-13-01", "2024-02-30T10:00:00Z", "1709294400", "03/01/2024"])
def test_bad_timestamp_is_400(dated: Team, param: str, value: str) -> None:
    assert_invalid_param(dated.client("member").get(URL, {param: value}), param, "invalid")


@pytest.mark.parametrize("param", ["created_after", "created_before", "updated_after", "updated_before"])
def test_a_time_outside_utc_is_400(dated: Team, param: str) -> None:
    # 0001-01-01 00:00 at +05:00 is before the first instant Python's datetime can hold in UTC.
    assert_invalid_param(dated.client("member").get(URL, {param: "0001-01-01T00:00:00+05:00"}), param, "invalid")


def test_an_offset_postgresql_would_refuse_is_compared_in_utc(dated: Team) -> None:
    # Found by schemathesis: PostgreSQL refuses offsets beyond ±15:59 (a 500 before); the same instant in UTC.
    assert list_keys(dated.client("member"), created_after="2024-03-03T04:00:00+16:00") == ["OPS-2", "OPS-3"]


@pytest.fixture
def due(team: Team) -> Team:
    make_ticket(team, due_date=datetime(2024, 5, 1).date())  # OPS-1
    make_ticket(team, due_date=datetime(2024, 5, 10).date())  # OPS-2
    make_ticket(team, due_date=datetime(2024, 5, 20).date())  # OPS-3
    make_ticket(team, due_date=None)  # OPS-4
    return team


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"due_before": "2024-05-10"}, ["OPS-1", "OPS-2"]),  # a due date is a day: "before" includes it
        ({"due_before": "2024-05-09"}, ["OPS-1"]),
        ({"due_after": "2024-05-10"}, ["OPS-2", "OPS-3"]),
        ({"due_after": "2024-05-11"}, ["OPS-3"]),
        ({"due_after": "2024-05-02", "due_before": "2024-05-19"}, ["OPS-2"]),
        ({"due_before": "2024-04-30"}, []),
    ],
)
def test_due_range_skips_tickets_without_due_date(due: Team, params: dict[str, str], expected: list[str]) -> None:
    assert list_keys(due.client("member"), **params) == expected


@pytest.mark.parametrize("param", ["due_before", "due_after"])
@pytest.mark.parametrize("value", ["soon", "2024-02-30", "2024-5", "5th of May"])
def test_bad_due_date_is_400(due: Team, param: str, value: str) -> None:
    assert_invalid_param(due.client("member").get(URL, {param: value}), param, "invalid")


# --- overdue -----------------------------------------------------------------------------------------


@pytest.fixture
def deadlines(team: Team) -> Team:
    today = timezone.localdate()
    yesterday, tomorrow = today - timedelta(days=1), today + timedelta(days=1)
    make_ticket(team, due_date=yesterday, status=Status.OPEN)  # OPS-1 overdue
    make_ticket(team, due_date=today - timedelta(days=30), status=Status.IN_PROGRESS)  # OPS-2 overdue
    make_ticket(team, due_date=yesterday, status=Status.RESOLVED)  # OPS-3 done, not overdue
    make_ticket(team, due_date=yesterday, status=Status.CLOSED)  # OPS-4 done, not overdue
    make_ticket(team, due_date=today, status=Status.OPEN)  # OPS-5 due today: not yet overdue
    make_ticket(team, due_date=tomorrow, status=Status.OPEN)  # OPS-6
    make_ticket(team, due_date=None, status=Status.OPEN)  # OPS-7 no due date
    return team


def test_overdue_true(deadlines: Team) -> None:
    assert list_keys(deadlines.client("member"), overdue="true") == ["OPS-1", "OPS-2"]


def test_overdue_false_is_the_complement(deadlines: Team) -> None:
    expected = ["OPS-3", "OPS-4", "OPS-5", "OPS-6", "OPS-7"]
    assert list_keys(deadlines.client("member"), overdue="false") == expected


def test_overdue_combines_with_status(deadlines: Team) -> None:
    assert list_keys(deadlines.client("member"), overdue="true", status="in_progress") == ["OPS-2"]
    assert list_keys(deadlines.client("member"), overdue="true", status="resolved,closed") == []


@pytest.mark.parametrize("value", ["yes", "banana", "2", "overdue"])
def test_overdue_bad_value_is_400(deadlines: Team, value: str) -> None:
    """SPEC §5: every filter is validated; an unrecognised boolean must not silently list everything."""
    assert_invalid_param(deadlines.client("member").get(URL, {"overdue": value}), "overdue")


# --- search ------------------------------------------------------------------------------------------


@pytest.fixture
def searchable(team: Team) -> Team:
    make_ticket(team, title="Login page crash on Safari", description="Steps: open the login page.")  # OPS-1
    make_ticket(team, title="Exporter misbehaves", description="The CSV exporter crashes when the disk is full.")  # 2
    make_ticket(team, title="Dark mode colours", description="Contrast is too low in the sidebar.")  # OPS-3
    make_ticket(team, title="Crashing worker after deploy", description="")  # OPS-4
    for _ in range(10):  # OPS-5..OPS-14: OPS-10..OPS-14 start with "OPS-1"
        make_ticket(team, title="Routine chore", description="Nothing to see here.")
    return team


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("safari", ["OPS-1"]),  # a word of the title
        ("disk", ["OPS-2"]),  # a word of the description
        ("SIDEBAR", ["OPS-3"]),  # case does not matter
        ("crash", ["OPS-1", "OPS-2", "OPS-4"]),  # finds "crashes" and "Crashing" too
        ("crashing", ["OPS-1", "OPS-2", "OPS-4"]),  # stemmed: finds "crash"
        ("crash login", ["OPS-1"]),  # every word must match
        ("exporter full", ["OPS-2"]),  # title and description together
        ("kubernetes", []),
    ],
)
def test_search_words(searchable: Team, value: str, expected: list[str]) -> None:
    assert list_keys(searchable.client("member"), search=value) == expected


@pytest.mark.parametrize("value", ["OPS-3", "ops-3"])
def test_search_by_key(searchable: Team, value: str) -> None:
    assert list_keys(searchable.client("member"), search=value) == ["OPS-3"]


def test_search_by_key_is_exact(searchable: Team) -> None:
    assert list_keys(searchable.client("member"), search="OPS-1") == ["OPS-1"]
    assert list_keys(searchable.client("member"), search="OPS-99") == []


def test_search_by_a_word_of_the_key(searchable: Team) -> None:
    """SPEC §5: search covers the key, so the project-key part of it is a searchable word too."""
    assert len(list_keys(searchable.client("member"), search="ops", limit=100)) == 14


@pytest.mark.parametrize("value", ["the", "!!!", "-", '"', "a & | b", "crash:*", "OPS-"])
def test_search_odd_input_is_not_an_error(searchable: Team, value: str) -> None:
    response = searchable.client("member").get(URL, {"search": value})
    assert response.status_code == 200, response.content


def test_search_blank_lists_everything(searchable: Team) -> None:
    assert searchable.client("member").get(URL, {"search": "   "}).json()["count"] == 14


def test_search_too_long_is_400(searchable: Team) -> None:
    assert_invalid_param(searchable.client("member").get(URL, {"search": "word " * 41}), "search", "max_length")


def test_search_sees_edits(searchable: Team) -> None:
    """The trigger keeps the search document current when the title changes."""
    Ticket.objects.filter(key="OPS-3").update(title="Dark mode crash")
    assert list_keys(searchable.client("member"), search="crash") == ["OPS-1", "OPS-2", "OPS-3", "OPS-4"]


def test_search_combines_with_filters(searchable: Team) -> None:
    Ticket.objects.filter(key="OPS-4").update(status=Status.CLOSED)
    assert list_keys(searchable.client("member"), search="crash", status="open") == ["OPS-1", "OPS-2"]


# --- ordering ----------------------------------------------------------------------------------------


def ordered_keys(client: APIClient, ordering: str | None = None, **params: Any) -> list[str]:
    if ordering is not None:
        params["ordering"] = ordering
    return keys(client.get(URL, params))


@pytest.fixture
def varied(team: Team) -> Team:
    """Four tickets whose every sortable field ranks them differently."""
    rows = [
        # key    status              priority          due                created     updated
        ("OPS-1", Status.CLOSED, Priority.HIGH, datetime(2024, 6, 3).date(), at(2), at(20)),
        ("OPS-2", Status.OPEN, Priority.LOW, None, at(4), at(10)),
        ("OPS-3", Status.RESOLVED, Priority.URGENT, datetime(2024, 6, 1).date(), at(1), at(30)),
        ("OPS-4", Status.IN_PROGRESS, Priority.MEDIUM, datetime(2024, 6, 2).date(), at(3), at(5)),
    ]
    for key, status, priority, due_date, created_at, updated_at in rows:
        ticket = make_ticket(team, status=status, priority=priority, due_date=due_date)
        assert ticket.key == key
        stamp(ticket, created_at=created_at, updated_at=updated_at)
    return team


@pytest.mark.parametrize(
    ("ordering", "expected"),
    [
        (None, ["OPS-2", "OPS-4", "OPS-1", "OPS-3"]),  # default: newest first
        ("", ["OPS-2", "OPS-4", "OPS-1", "OPS-3"]),
        ("-created_at", ["OPS-2", "OPS-4", "OPS-1", "OPS-3"]),
        ("created_at", ["OPS-3", "OPS-1", "OPS-4", "OPS-2"]),
        ("updated_at", ["OPS-4", "OPS-2", "OPS-1", "OPS-3"]),
        ("-updated_at", ["OPS-3", "OPS-1", "OPS-2", "OPS-4"]),
        ("priority", ["OPS-2", "OPS-4", "OPS-1", "OPS-3"]),  # low, medium, high, urgent
        ("-priority", ["OPS-3", "OPS-1", "OPS-4", "OPS-2"]),  # urgent first
        ("status", ["OPS-2", "OPS-4", "OPS-3", "OPS-1"]),  # open, in_progress, resolved, closed
        ("-status", ["OPS-1", "OPS-3", "OPS-4", "OPS-2"]),
        ("due_date", ["OPS-3", "OPS-4", "OPS-1", "OPS-2"]),  # no due date last
        ("-due_date", ["OPS-1", "OPS-4", "OPS-3", "OPS-2"]),  # no due date last both ways
        ("key", ["OPS-1", "OPS-2", "OPS-3", "OPS-4"]),
        ("-key", ["OPS-4", "OPS-3", "OPS-2", "OPS-1"]),
    ],
)
def test_ordering_by_one_field(varied: Team, ordering: str | None, expected: list[str]) -> None:
    assert ordered_keys(varied.client("member"), ordering) == expected


def test_ordering_is_by_severity_and_workflow_not_alphabet(varied: Team) -> None:
    results = varied.client("member").get(URL, {"ordering": "priority"}).json()["results"]
    assert [ticket["priority"] for ticket in results] == ["low", "medium", "high", "urgent"]
    results = varied.client("member").get(URL, {"ordering": "status"}).json()["results"]
    assert [ticket["status"] for ticket in results] == ["open", "in_progress", "resolved", "closed"]


def test_ordering_by_several_fields(team: Team) -> None:
    rows = [(Priority.HIGH, 1), (Priority.LOW, 2), (Priority.HIGH, 3), (Priority.LOW, 4), (Priority.URGENT, 5)]
    for priority, day in rows:  # OPS-1..OPS-5
        stamp(make_ticket(team, priority=priority), created_at=at(day))
    client = team.client("member")
    assert ordered_keys(client, "-priority,-created_at") == ["OPS-5", "OPS-3", "OPS-1", "OPS-4", "OPS-2"]
    assert ordered_keys(client, "-priority,created_at") == ["OPS-5", "OPS-1", "OPS-3", "OPS-2", "OPS-4"]
    assert ordered_keys(client, "priority,-key") == ["OPS-4", "OPS-2", "OPS-3", "OPS-1", "OPS-5"]


def test_ordering_by_key_is_numeric_within_a_project_and_by_project_key_across(team: Team) -> None:
    for _ in range(11):  # OPS-1..OPS-11
        make_ticket(team)
    api = ProjectFactory(key="API")
    MembershipFactory(project=api, user=team.member)
    for _ in range(2):  # API-1, API-2
        make_ticket(team, project=api)
    expected = ["API-1", "API-2"] + [f"OPS-{n}" for n in range(1, 12)]
    client = team.client("member")
    assert ordered_keys(client, "key", limit=100) == expected
    assert ordered_keys(client, "-key", limit=100) == expected[::-1]


def test_ordering_ties_are_stable_across_pages(team: Team) -> None:
    """Equal sort values still page deterministically: every ticket appears exactly once."""
    same = at(1)
    for _ in range(7):
        stamp(make_ticket(team), created_at=same, updated_at=same)
    client = team.client("member")
    for ordering in (None, "created_at", "-priority", "status"):
        pages = [ordered_keys(client, ordering, limit=3, offset=offset) for offset in (0, 3, 6)]
        seen = [key for page in pages for key in page]
        assert sorted(seen) == sorted(f"OPS-{n}" for n in range(1, 8)), (ordering, pages)
        assert ordered_keys(client, ordering, limit=7) == seen


@pytest.mark.parametrize(
    "ordering", ["title", "-title", "priority,title", "--priority", "-", "id", "project", "created", "PRIORITY"]
)
def test_ordering_unknown_is_400(varied: Team, ordering: str) -> None:
    assert_invalid_param(varied.client("member").get(URL, {"ordering": ordering}), "ordering", "invalid_choice")


# --- combinations ------------------------------------------------------------------------------------


def test_filters_combine_with_and(team: Team) -> None:
    """OPS-1 matches every filter; each other ticket misses exactly one of them."""
    web = ProjectFactory(key="WEB")
    MembershipFactory(project=web, user=team.member)
    today = timezone.localdate()
    matching = {
        "project": team.project,
        "status": Status.IN_PROGRESS,
        "priority": Priority.HIGH,
        "assignee": team.member,
        "reporter": team.admin,
        "labels": ["bug", "backend"],
        "due_date": today - timedelta(days=2),
        "title": "Payment webhook crash",
    }
    misses = [
        {},
        {"status": Status.OPEN},
        {"priority": Priority.MEDIUM},
        {"assignee": team.admin},
        {"reporter": team.member},
        {"labels": ["backend"]},
        {"due_date": today + timedelta(days=2)},
        {"title": "Payment webhook timeout"},
        {"project": web},
    ]
    for miss in misses:
        stamp(make_ticket(team, **{**matching, **miss}), created_at=at(2), updated_at=at(3))
    params = {
        "project": "OPS",
        "status": "in_progress,resolved",
        "priority": "high,urgent",
        "assignee": "me",
        "reporter": str(team.admin.pk),
        "label": "bug",
        "overdue": "true",
        "search": "crash",
        "created_after": "2024-03-02",
        "created_before": "2024-03-03",
        "updated_after": "2024-03-03",
        "due_before": str(today),
    }
    client = team.client("member")
    assert list_keys(client, **params) == ["OPS-1"]
    assert list_keys(client, **{**params, "created_before": "2024-03-02"}) == []
    # Without the project filter and the search, the WEB ticket and the "timeout" one come back.
    del params["project"], params["search"]
    assert list_keys(client, **params) == ["OPS-1", "OPS-8", "WEB-1"]


def test_several_bad_params_are_all_named(team: Team) -> None:
    response = team.client("member").get(URL, {"status": "nope", "priority": "meh", "assignee": "x", "label": "ok"})
    assert response.status_code == 400
    assert set(response.json()["errors"]) == {"status", "priority", "assignee"}


def test_unknown_parameters_are_ignored(team: Team) -> None:
    make_ticket(team)
    assert list_keys(team.client("member"), colour="blue") == ["OPS-1"]


# --- pagination --------------------------------------------------------------------------------------


@pytest.fixture
def thirty(team: Team) -> Team:
    for day in range(1, 31):  # OPS-n created on March n: the default order is OPS-30 .. OPS-1
        stamp(make_ticket(team, status=Status.OPEN if day % 2 else Status.CLOSED), created_at=at(day))
    return team


def test_page_shape_and_default_limit(thirty: Team) -> None:
    response = thirty.client("member").get(URL)
    assert response.status_code == 200
    body = response.json()
    assert list(body) == ["count", "next", "previous", "results"]
    assert body["count"] == 30
    assert [ticket["key"] for ticket in body["results"]] == [f"OPS-{n}" for n in range(30, 5, -1)]
    assert body["previous"] is None
    assert body["next"].startswith("http://testserver/api/v1/tickets/?")
    assert "limit=25" in body["next"]
    assert "offset=25" in body["next"]


def test_page_ticket_shape(thirty: Team) -> None:
    ticket = thirty.client("member").get(URL, {"limit": 1}).json()["results"][0]
    assert list(ticket) == list(TICKET_FIELDS)
    assert ticket["key"] == "OPS-30"
    assert ticket["project"] == str(thirty.project.pk)


def test_following_next_and_previous(thirty: Team) -> None:
    client = thirty.client("member")
    first = client.get(URL, {"limit": 10}).json()
    second = client.get(first["next"]).json()
    assert [t["key"] for t in second["results"]] == [f"OPS-{n}" for n in range(20, 10, -1)]
    last = client.get(second["next"]).json()
    assert [t["key"] for t in last["results"]] == [f"OPS-{n}" for n in range(10, 0, -1)]
    assert last["next"] is None
    assert client.get(last["previous"]).json() == second
    assert client.get(second["previous"]).json()["results"] == first["results"]


def test_offset_beyond_the_end(thirty: Team) -> None:
    body = thirty.client("member").get(URL, {"offset": 500}).json()
    assert body["count"] == 30
    assert body["results"] == []
    assert body["next"] is None


def test_count_and_links_follow_the_filters(thirty: Team) -> None:
    body = thirty.client("member").get(URL, {"status": "open", "limit": 5, "ordering": "created_at"}).json()
    assert body["count"] == 15
    assert [t["key"] for t in body["results"]] == ["OPS-1", "OPS-3", "OPS-5", "OPS-7", "OPS-9"]
    for part in ("status=open", "ordering=created_at", "limit=5", "offset=5"):
        assert part in body["next"]
    following = thirty.client("member").get(body["next"]).json()
    assert [t["key"] for t in following["results"]] == ["OPS-11", "OPS-13", "OPS-15", "OPS-17", "OPS-19"]


def test_limit_is_clamped_to_100(team: Team) -> None:
    for _ in range(101):
        make_ticket(team)
    body = team.client("member").get(URL, {"limit": 1000}).json()
    assert body["count"] == 101
    assert len(body["results"]) == 100
    assert "limit=100" in body["next"]
    assert "offset=100" in body["next"]
    assert len(team.client("member").get(URL, {"limit": 100, "offset": 100}).json()["results"]) == 1


@pytest.mark.parametrize(
    ("param", "value"),
    [
        ("limit", "abc"),
        ("limit", "-1"),
        ("limit", "0"),
        ("limit", "1.5"),
        ("offset", "x"),
        ("offset", "-1"),
        ("offset", "2e3"),
    ],
)
def test_bad_pagination_is_400(thirty: Team, param: str, value: str) -> None:
    assert_invalid_param(thirty.client("member").get(URL, {param: value}), param)


def test_list_makes_the_same_number_of_queries_whatever_the_page_size(team: Team) -> None:
    for n in range(30):
        make_ticket(team, assignee=team.member if n % 2 else None, labels=["bug"])
    client = team.client("member")
    counts = []
    for limit in (1, 30):
        with CaptureQueriesContext(connection) as queries:
            response = client.get(URL, {"limit": limit, "label": "bug", "search": "", "ordering": "key"})
        assert len(response.json()["results"]) == limit
        counts.append(len(queries))
    assert counts[0] == counts[1]


# --- visibility --------------------------------------------------------------------------------------


@pytest.fixture
def strangers(team: Team) -> dict[str, Any]:
    """A project the team's member is not in, whose ticket matches every filter below."""
    stranger = UserFactory()
    other = ProjectFactory(key="OTH")
    MembershipFactory(project=other, user=stranger, role=Role.ADMIN)
    MembershipFactory(project=other, user=team.outsider, role=Role.MEMBER)
    yesterday = timezone.localdate() - timedelta(days=1)
    make_ticket(team, title="Visible crash", labels=["bug"], assignee=team.member, due_date=yesterday)  # OPS-1
    hidden = make_ticket(
        team,
        project=other,
        title="Secret crash",
        labels=["bug"],
        assignee=team.member,  # a stale assignment from when the member was in OTH
        reporter=team.member,
        due_date=yesterday,
    )
    return {"project": other, "ticket": hidden, "stranger": stranger}


def visibility_cases(team: Team, strangers: dict[str, Any]) -> list[dict[str, str]]:
    return [
        {},
        {"project": "OTH"},
        {"project": str(strangers["project"].pk)},
        {"search": "OTH-1"},
        {"search": "secret"},
        {"search": "crash"},
        {"label": "bug"},
        {"assignee": "me"},
        {"assignee": str(team.member.pk)},
        {"reporter": "me"},
        {"status": "open,in_progress,resolved,closed"},
        {"overdue": "true"},
        {"due_before": "2999-01-01"},
        {"created_after": "2000-01-01"},
        {"ordering": "-key", "limit": "100"},
        {"offset": "1"},
    ]


def test_member_never_sees_tickets_of_other_projects(team: Team, strangers: dict[str, Any]) -> None:
    client = team.client("member")
    for params in visibility_cases(team, strangers):
        response = client.get(URL, params)
        assert response.status_code == 200, (params, response.content)
        body = response.json()
        assert all(ticket["key"].startswith("OPS-") for ticket in body["results"]), params
        assert body["count"] <= 1, params


def test_outsider_sees_only_its_own_project(team: Team, strangers: dict[str, Any]) -> None:
    """team.outsider is in OTH, not in OPS: the mirror image of the test above."""
    make_ticket(team, title="Another crash", labels=["bug"])
    client = client_for(team.outsider)
    assert list_keys(client) == ["OTH-1"]
    assert list_keys(client, project="OPS") == []
    assert list_keys(client, project=str(team.project.pk)) == []
    assert list_keys(client, search="OPS-1") == []
    assert list_keys(client, search="crash") == ["OTH-1"]
    assert list_keys(client, label="bug") == ["OTH-1"]


def test_user_without_projects_sees_nothing(team: Team, strangers: dict[str, Any]) -> None:
    client = client_for(UserFactory())
    for params in visibility_cases(team, strangers):
        response = client.get(URL, params)
        assert response.status_code == 200, (params, response.content)
        assert response.json()["count"] == 0, params
        assert response.json()["results"] == [], params


def test_leaving_a_project_hides_its_tickets(team: Team) -> None:
    make_ticket(team)
    client = team.client("viewer")
    assert list_keys(client) == ["OPS-1"]
    team.project.memberships.filter(user=team.viewer).delete()
    assert list_keys(client) == []
    assert list_keys(client, project="OPS") == []


def test_anonymous_gets_401(team: Team) -> None:
    make_ticket(team)
    response = APIClient().get(URL, {"status": "open"})
    assert response.status_code == 401
    assert set(response.json()) == {"detail", "code"}
