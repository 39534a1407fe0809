"""POST /api/v1/projects/{id}/imports/ and its progress (SPEC §13), on real-shaped files.

The job runs as the worker runs it (`tickets.jobs.run_import` with the import's id) once the request
has committed; tests/test_faults.py-style processes are not needed to read a file.
"""

import json
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tickets.jobs import run_import
from tickets.models import Event, EventType, Priority, Status, Ticket, TicketImport
from tickets.services import event_publishing
from tickets.tests.factories import MembershipFactory, TicketFactory

pytestmark = pytest.mark.django_db

FIXTURES = Path(__file__).parent / "fixtures"


def imports_url(team) -> str:  # type: ignore[no-untyped-def]
    return f"/api/v1/projects/{team.project.key}/imports/"


def upload(team, content: bytes, file_format: str, *, dry_run: bool = False, role: str = "admin", name: str = "f"):  # type: ignore[no-untyped-def]
    body = {"file": SimpleUploadedFile(name, content), "format": file_format, "dry_run": str(dry_run).lower()}
    return team.client(role).post(imports_url(team), body, format="multipart")


def imported(team, content: bytes, file_format: str, **options) -> dict:  # type: ignore[no-untyped-def]
    """Upload, run the job as the worker would, and answer the import as GET shows it."""
    response = upload(team, content, file_format, **options)
    assert response.status_code == 202, response.content
    assert response.json()["status"] == "pending"
    run_import(response.json()["id"])
    progress = team.client("admin").get(f"{imports_url(team)}{response.json()['id']}/")
    assert progress.status_code == 200
    return progress.json()


@pytest.fixture
def ann(team):  # type: ignore[no-untyped-def]
    return MembershipFactory(project=team.project, user__email="ann@example.com").user


def test_a_jira_export_imports_in_file_order_with_mapped_fields(team, ann):
    outcome = imported(team, (FIXTURES / "jira_export.csv").read_bytes(), "jira-csv")

    assert outcome["status"] == "succeeded"
    assert (outcome["total"], outcome["processed"], outcome["created"], outcome["skipped"]) == (4, 4, 3, 0)
    assert outcome["errors"] == [
        {"row": 3, "field": "status", "message": "Unknown Jira status 'Parked' (see the README's table)."}
    ]
    tickets = list(Ticket.objects.order_by("number"))
    assert [(t.key, t.external_ref) for t in tickets] == [
        ("OPS-1", "jira:ABC-9"),
        ("OPS-2", "jira:ABC-10"),
        ("OPS-3", "jira:ABC-12"),
    ]
    login, notes, shipped = tickets
    assert (login.status, login.priority, login.assignee, login.reporter) == (
        Status.IN_PROGRESS, Priority.HIGH, ann, team.admin,
    )  # fmt: skip
    assert login.labels == ["frontend", "safari"]  # the repeated Labels columns
    assert login.description == 'Steps:\r\n1. open "login"\r\n2. fail'
    assert notes.assignee is None  # a display name, not an email: unassigned
    assert (shipped.status, shipped.priority, shipped.description) == (
        Status.CLOSED,
        Priority.URGENT,
        '=HYPERLINK("x")',
    )
    assert shipped.closed_at is not None
    events = Event.objects.filter(type=EventType.TICKET_CREATED).order_by("seq")
    assert [event.data["key"] for event in events] == ["OPS-1", "OPS-2", "OPS-3"]
    assert events[0].data["assignee"]["email"] == "ann@example.com"


def test_a_github_issues_list_imports_issues_and_skips_pull_requests(team, ann):
    outcome = imported(team, (FIXTURES / "github_issues.json").read_bytes(), "github-json")

    assert (outcome["status"], outcome["created"], outcome["skipped"], outcome["errors"]) == ("succeeded", 2, 1, [])
    bug, theme = Ticket.objects.order_by("number")
    assert (bug.external_ref, bug.title, bug.priority, bug.labels, bug.assignee) == (
        "github:1347", "Found a bug", Priority.HIGH, ["bug"], ann,
    )  # fmt: skip
    assert (theme.external_ref, theme.status, theme.labels, theme.description) == (
        "github:1348", Status.CLOSED, ["enhancement", "ui"], "",
    )  # fmt: skip


def test_importing_the_same_file_again_completes_what_is_missing(team):
    content = (FIXTURES / "jira_export.csv").read_bytes()
    imported(team, content, "jira-csv")
    Ticket.objects.filter(external_ref="jira:ABC-10").delete()  # as if the first run had stopped before it

    again = imported(team, content, "jira-csv")

    assert (again["created"], again["skipped"]) == (1, 2)
    assert sorted(Ticket.objects.values_list("external_ref", flat=True)) == ["jira:ABC-10", "jira:ABC-12", "jira:ABC-9"]
    assert Ticket.objects.get(external_ref="jira:ABC-10").key == "OPS-4"  # keys are never reused


def test_the_export_imports_back(team):
    TicketFactory(project=team.project, title="=1+1", labels=["a", "b"], priority=Priority.URGENT)
    exported = b"".join(team.client("admin").get("/api/v1/tickets/export/").streaming_content)
    other = team.project
    Ticket.objects.all().delete()

    outcome = imported(team, exported, "hopla-csv")

    assert outcome["created"] == 1, outcome
    ticket = Ticket.objects.get(project=other)
    assert (ticket.title, ticket.labels, ticket.priority, ticket.external_ref) == (
        "=1+1",
        ["a", "b"],
        Priority.URGENT,
        "OPS-1",
    )


@pytest.mark.parametrize(
    ("content", "row_errors"),
    [
        # Semicolons and CRLF, as spreadsheets in many locales save; an unknown status; a row too short.
        (
            "key;title;status;priority\r\nX-1;One;open;low\r\nX-2;Two;done;low\r\nX-3\r\nX-1;Again;open;low\r\n",
            [(2, "status"), (3, "row"), (3, "title"), (4, "external_ref")],
        ),
        ('\ufeffkey,title,labels\r\nX-1,"Quoted, with comma","a,b"\r\nX-2,,\r\n', [(2, "title")]),
        (
            "key,title,due_date,priority\nX-1,One,31/01/2031,high\nX-2,Two,,extreme\n",
            [(1, "due_date"), (2, "priority")],
        ),
    ],
)
def test_bad_rows_are_listed_and_left_out(team, content, row_errors):
    outcome = imported(team, content.encode(), "hopla-csv")
    assert outcome["status"] == "succeeded"
    assert [(error["row"], error["field"]) for error in outcome["errors"]] == row_errors
    assert all(error["message"] for error in outcome["errors"])
    assert Ticket.objects.count() == outcome["created"]


@pytest.mark.parametrize(
    ("content", "file_format", "message"),
    [
        (b'{"issues": []}', "github-json", "not GitHub's issues list"),
        (b'[{"id": 1, "name": "not an issue"}]', "github-json", "not GitHub's issues list"),
        (b"not json", "github-json", "not JSON"),
        (b"Title,Status\nA,open\n", "jira-csv", "Missing column(s): Summary, Issue key"),
        (b"\r\n\r\n", "hopla-csv", "Missing column(s): key, title"),
        (b"\xff\xfekey,title\n", "hopla-csv", "not UTF-8"),
        (b'key,title\nX-1,"unterminated\n', "hopla-csv", "not valid CSV"),
    ],
)
def test_a_file_not_of_its_format_fails_with_nothing_written(team, content, file_format, message):
    outcome = imported(team, content, file_format)
    assert outcome["status"] == "failed"
    assert outcome["finished_at"] is not None
    assert message in outcome["errors"][0]["message"]
    assert not Ticket.objects.exists()
    assert not Event.objects.exists()


def test_a_dry_run_checks_everything_and_writes_nothing(team):
    outcome = imported(team, (FIXTURES / "jira_export.csv").read_bytes(), "jira-csv", dry_run=True)
    assert (outcome["status"], outcome["dry_run"], outcome["created"], len(outcome["errors"])) == (
        "succeeded", True, 3, 1,
    )  # fmt: skip
    assert not Ticket.objects.exists()


def test_a_file_over_the_limit_is_413_too_large(team, settings):
    settings.IMPORT_MAX_BYTES = 1000
    response = upload(team, b"key,title\n" + b"X-1,a\n" * 400, "hopla-csv")
    assert response.status_code == 413
    assert response.json()["code"] == "too_large"
    assert not TicketImport.objects.exists()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"format": "hopla-csv"}, "file"),
        ({"format": "hopla-csv", "file": b""}, "file"),
        ({"format": "xml", "file": b"x"}, "format"),
        ({"file": b"x"}, "format"),
    ],
)
def test_a_bad_form_is_400_naming_the_field(team, body, field):
    if "file" in body:
        body["file"] = SimpleUploadedFile("f", body["file"])
    response = team.client("admin").post(imports_url(team), body, format="multipart")
    assert response.status_code == 400
    assert field in response.json()["errors"]


@pytest.mark.parametrize(("role", "expected"), [("member", 403), ("viewer", 403), ("outsider", 404)])
def test_only_admins_import(team, role, expected):
    assert upload(team, b"key,title\nX-1,a\n", "hopla-csv", role=role).status_code == expected


def test_an_import_of_another_project_is_404(team):
    response = upload(team, b"key,title\nX-1,a\n", "hopla-csv")
    other = MembershipFactory(user=team.admin, role="admin").project
    assert team.client("admin").get(f"/api/v1/projects/{other.key}/imports/{response.json()['id']}/").status_code == 404


@pytest.mark.django_db(transaction=True)  # as the worker runs it: each batch its own transaction
def test_a_big_import_writes_in_batches_of_five_statements(team, settings):
    """1 200 issues, batches of 500: per batch the ticket numbers (one UPDATE ... RETURNING), the
    tickets (one COPY), the event numbers, the events (one COPY) and the progress, in one transaction;
    around them a fixed few. The batch's events are published after its commit, in one send."""
    settings.IMPORT_BATCH_SIZE = 500
    issues = [{"number": n, "title": f"Issue {n}", "state": "open", "labels": []} for n in range(1, 1201)]
    response = upload(team, json.dumps(issues).encode(), "github-json")
    with CaptureQueriesContext(connection) as queries:
        run_import(response.json()["id"])
    statements = [query["sql"].split()[0] for query in queries.captured_queries]
    batch = ["BEGIN", "UPDATE", "COPY", "INSERT", "COPY", "UPDATE", "COMMIT"]
    assert batch * 3 == [statements[index] for index in _batch_positions(statements)]
    assert len(statements) <= 3 * len(batch) + 8
    copies = [query["sql"] for query in queries.captured_queries if query["sql"].startswith("COPY")]
    assert [copy.split()[1] for copy in copies] == ['"tickets_ticket"', '"tickets_event"'] * 3
    assert [copy.rsplit("-- ", 1)[1] for copy in copies] == ["500 rows"] * 4 + ["200 rows"] * 2
    assert TicketImport.objects.get().created == 1200
    assert Event.objects.filter(type=EventType.TICKET_CREATED).count() == 1200
    event_publishing._published_marks.flush()  # the layer took every event (marked for the sweep)
    assert not Event.objects.filter(published_at__isnull=True).exists()
    assert list(Ticket.objects.order_by("number").values_list("external_ref", flat=True)[:3]) == [
        "github:1", "github:2", "github:3",
    ]  # fmt: skip


def _batch_positions(statements: list[str]) -> list[int]:
    """Indexes of each BEGIN ... COMMIT that holds a COPY (a batch), BEGIN and COMMIT included."""
    positions: list[int] = []
    start = None
    for index, statement in enumerate(statements):
        if statement == "BEGIN":
            start = index
        elif statement == "COMMIT" and start is not None:
            if "COPY" in statements[start:index]:
                positions.extend(range(start, index + 1))
            start = None
    return positions
