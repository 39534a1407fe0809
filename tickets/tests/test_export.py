"""GET /api/v1/tickets/export/ (SPEC §13): every matching ticket, streamed as CSV or NDJSON."""

import csv
import io
import json
from datetime import UTC, date, datetime, timedelta

import pytest

from accounts.tests.factories import UserFactory
from tickets import export
from tickets.models import Priority, Status, Ticket
from tickets.tests.factories import MembershipFactory, ProjectFactory, TicketFactory

pytestmark = pytest.mark.django_db

EXPORT = "/api/v1/tickets/export/"
COLUMNS = [
    "key", "title", "status", "priority", "labels", "assignee", "reporter", "due_date", "created_at", "updated_at",
    "closed_at", "description",
]  # fmt: skip


def body_of(response) -> str:  # type: ignore[no-untyped-def]
    assert response.streaming
    return b"".join(response.streaming_content).decode()


def csv_rows(response) -> list[dict[str, str]]:  # type: ignore[no-untyped-def]
    text = body_of(response)
    reader = csv.DictReader(io.StringIO(text, newline=""))
    assert reader.fieldnames == COLUMNS
    return list(reader)


def test_csv_has_the_contracts_columns_quoting_and_a_file_name(team):
    TicketFactory(
        project=team.project,
        title='=HYPERLINK("http://evil") and "quotes"',
        description="Two lines,\nand a comma",
        labels=["billing", "urgent"],
        assignee=team.member,
        reporter=team.admin,
        priority=Priority.HIGH,
        due_date=date(2031, 1, 31),
    )
    response = team.client("viewer").get(EXPORT, {"format": "csv"})

    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="hopla-tickets-')
    assert response["Content-Disposition"].endswith('.csv"')
    text = body_of(response)
    assert text.startswith(",".join(COLUMNS) + "\r\n")
    assert '"Two lines,\nand a comma"' in text
    (row,) = csv.DictReader(io.StringIO(text, newline=""))
    assert row["title"] == '\'=HYPERLINK("http://evil") and "quotes"'
    assert row["labels"] == "billing,urgent"
    assert (row["assignee"], row["reporter"]) == (team.member.email, team.admin.email)
    assert (row["priority"], row["status"], row["due_date"], row["closed_at"]) == ("high", "open", "2031-01-31", "")
    assert row["created_at"].endswith("Z")


@pytest.mark.parametrize("start", ["=", "+", "-", "@", "\t", "\r"])
def test_every_formula_start_is_neutralised(team, start):
    TicketFactory(project=team.project, title=f"{start}cmd|' /C calc'!A0", description=f"{start}1+1")
    (row,) = csv_rows(team.client("member").get(EXPORT))
    assert row["title"] == f"'{start}cmd|' /C calc'!A0"
    assert row["description"] == f"'{start}1+1"


def test_ndjson_is_one_object_per_line_without_the_guard(team):
    TicketFactory(project=team.project, title="=1+1", labels=["a"], assignee=None)
    TicketFactory(project=team.project, title="second")
    response = team.client("member").get(EXPORT, {"format": "ndjson"})

    assert response["Content-Type"] == "application/x-ndjson"
    assert response["Content-Disposition"].endswith('.ndjson"')
    lines = body_of(response).splitlines()
    records = [json.loads(line) for line in lines]
    assert [list(record) for record in records] == [COLUMNS, COLUMNS]
    assert records[1]["title"] == "=1+1"
    assert records[1]["labels"] == ["a"]
    assert records[1]["assignee"] is None


def test_every_list_filter_and_ordering_applies_and_only_my_projects(team):
    other = ProjectFactory(key="OTHER")
    TicketFactory(project=other, title="not mine")
    TicketFactory(project=team.project, title="open low", priority=Priority.LOW)
    TicketFactory(project=team.project, title="closed urgent", priority=Priority.URGENT, status=Status.CLOSED)
    TicketFactory(project=team.project, title="mine", assignee=team.member)
    client = team.client("member")

    def titles(**query: str) -> list[str]:
        return [row["title"] for row in csv_rows(client.get(EXPORT, query))]

    assert sorted(titles()) == ["closed urgent", "mine", "open low"]
    assert titles(status="closed") == ["closed urgent"]
    assert titles(assignee="me") == ["mine"]
    assert titles(priority="low,urgent", ordering="priority") == ["open low", "closed urgent"]
    assert titles(project="OTHER") == []


@pytest.mark.parametrize(
    ("query", "parameter"),
    [({"format": "xlsx"}, "format"), ({"status": "nope"}, "status"), ({"created_after": "yesterday"}, "created_after")],
)
def test_a_bad_parameter_is_a_json_400_naming_it(team, query, parameter):
    response = team.client("member").get(EXPORT, query)
    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    assert parameter in response.json()["errors"]


def test_anonymous_is_401(api_client):
    assert api_client.get(EXPORT).status_code == 401


def test_a_big_export_costs_the_same_queries_as_a_small_one(team, django_assert_num_queries):
    """The user lookup, then the one query the server-side cursor runs (its rows come in fetches of
    2000, which are no new statements); no query per row."""
    for _ in range(30):
        assignee = MembershipFactory(project=team.project).user
        TicketFactory(project=team.project, assignee=assignee, reporter=UserFactory())
    client = team.client("member")
    with django_assert_num_queries(2):
        assert len(csv_rows(client.get(EXPORT))) == 30


def test_under_asgi_the_body_is_pulled_chunk_by_chunk():
    """Django collects a synchronous iterator into a list before an ASGI server sends it (all rows in
    memory): under ASGI the export answers an asynchronous one, under WSGI (the test client) a plain one."""
    from django.test import AsyncRequestFactory, RequestFactory
    from rest_framework.request import Request

    from hopla.api.streaming import streaming_response

    def answer(request):  # type: ignore[no-untyped-def]
        return streaming_response(iter([b"a"]), request=Request(request), content_type="text/csv", filename="f.csv")

    assert answer(AsyncRequestFactory().get(EXPORT)).is_async
    assert not answer(RequestFactory().get(EXPORT)).is_async


# --- PostgreSQL renders the cells: the same as Python would ----------------------------------------


def _python_cells(ticket, guarded: bool) -> list:  # type: ignore[no-untyped-def]
    """The cells as the export wrote them in Python before PostgreSQL rendered them (the reference)."""

    def time(value):  # type: ignore[no-untyped-def]
        return None if value is None else value.astimezone(UTC).isoformat().replace("+00:00", "Z")

    def guard(cell):  # type: ignore[no-untyped-def]
        return export.guard_formula(cell) if guarded and cell else cell

    labels = ",".join(ticket.labels) if guarded else ticket.labels
    return [
        ticket.key,
        guard(ticket.title),
        ticket.status,
        Priority(ticket.priority).label,
        guard(labels) if guarded else labels,
        guard(ticket.assignee.email if ticket.assignee else None),
        guard(ticket.reporter.email),
        None if ticket.due_date is None else ticket.due_date.isoformat(),
        time(ticket.created_at),
        time(ticket.updated_at),
        time(ticket.closed_at),
        guard(ticket.description),
    ]


def test_the_cells_postgresql_renders_are_the_ones_python_would(team):
    """Times with and without microseconds (and before 1970, and far ahead), empty and several labels,
    no assignee, every formula start in every guarded column, unicode, quotes and line ends."""
    whole_second = datetime(2026, 12, 4, 10, 0, 0, tzinfo=UTC)
    tickets = [
        TicketFactory(project=team.project, title="plain", labels=[], assignee=None),
        TicketFactory(
            project=team.project,
            title='Crème "brûlée", ok',
            description="Two\r\nlines\n",
            labels=["a", "b c", "ü"],
        ),
        TicketFactory(project=team.project, title="quoted labels", labels=['say "hi"', "back\\slash", "=x"]),
        TicketFactory(
            project=team.project,
            title="one label",
            labels=["[x]"],
            assignee=team.member,
            due_date=date(2031, 1, 31),
            status=Status.CLOSED,
        ),
        *[
            TicketFactory(project=team.project, title=f"{start}t", description=f"{start}d", labels=[f"{start}l"])
            for start in export.FORMULA_STARTS
        ],
    ]
    Ticket.objects.filter(pk=tickets[0].pk).update(
        created_at=whole_second, updated_at=datetime(1969, 7, 20, 20, 17, 40, 5, tzinfo=UTC)
    )
    Ticket.objects.filter(pk=tickets[1].pk).update(
        closed_at=whole_second + timedelta(microseconds=10), updated_at=datetime(9999, 1, 2, 3, 4, 5, tzinfo=UTC)
    )
    tickets = list(Ticket.objects.select_related("assignee", "reporter").order_by("number"))
    assert tickets[0].created_at == whole_second

    for guarded in (True, False):
        rows = list(export.export_rows(Ticket.objects.order_by("number"), guarded=guarded))
        expected = [_python_cells(ticket, guarded) for ticket in tickets]
        if not guarded:  # NDJSON reads its labels from their JSON text
            rows = [[*row[:4], json.loads(row[4]), *row[5:]] for row in rows]
        assert [list(row) for row in rows] == expected


def test_the_csv_lines_postgresql_writes_are_the_ones_csv_writer_writes(team):
    """Byte for byte, on cells that need quoting and cells that do not: commas, quotes, CR, LF, CRLF,
    a lone quote, empty text, None, unicode, formula starts; and a header `csv.writer` wrote."""
    texts = ["plain", "a,b", 'say "hi"', '"', "cr\rhere", "lf\nhere", "crlf\r\n", "", "ünï ✓", "=1+1", ",", " sp "]
    for index, text in enumerate(texts):
        TicketFactory(
            project=team.project,
            title=text or "t",
            description=text,
            labels=[f"l{index}", text.replace(",", ";").strip() or "x"],
            assignee=team.member if index % 2 else None,
        )
    # Labels the API refuses but older data or the admin may hold: a comma inside one label, an empty
    # first label before a formula start, a quote (JSON escapes it: the unnested path).
    for labels in (["one,label"], ["", "=z"], ['"q'], ["=a", "b"], []):
        TicketFactory(project=team.project, title="labels", labels=labels)
    tickets = Ticket.objects.order_by("number")
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(export.COLUMNS)
    writer.writerows(export.export_rows(tickets, guarded=True))

    assert b"".join(export.csv_chunks(tickets)).decode() == buffer.getvalue()


def test_the_body_comes_in_chunks_of_many_rows(team, monkeypatch):
    """A chunk per ROWS_PER_CHUNK rows, not one per row: 5 tickets in chunks of 2 rows are 3 chunks."""
    for index in range(5):
        TicketFactory(project=team.project, title=f"t{index}")
    monkeypatch.setattr(export, "ROWS_PER_CHUNK", 2)
    chunks = list(export.csv_chunks(Ticket.objects.order_by("number")))
    assert [chunk.count(b"\r\n") for chunk in chunks] == [1, 2, 2, 1]  # the header row first
    ndjson = list(export.ndjson_chunks(Ticket.objects.order_by("number")))
    assert [chunk.count(b"\n") for chunk in ndjson] == [2, 2, 1]
