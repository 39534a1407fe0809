"""`manage.py seed_demo`: the demo data keeps every invariant the services keep, and the API works on it."""

import datetime
import io
import re

import pytest
from django.core.management import CommandError, call_command
from django.db.models import Count, Exists, OuterRef
from django.utils import timezone

from accounts.models import User
from tickets.models import Comment, Event, Membership, Project, Role, Ticket
from tickets.tests.test_events import as_everyone_sees_it

pytestmark = pytest.mark.django_db

TICKETS = "/api/v1/tickets/"
DEMO_USERS = {"email__endswith": "@demo.hopla.test"}


def seed(**options) -> str:  # type: ignore[no-untyped-def]
    out = io.StringIO()
    call_command("seed_demo", **{"projects": 3, "tickets": 200, "seed": 1, "verbosity": 0, "stdout": out, **options})
    return out.getvalue()


def login(client, email: str, password: str) -> None:  # type: ignore[no-untyped-def]
    response = client.post("/api/v1/auth/login/", {"email": email, "password": password}, format="json")
    assert response.status_code == 200, response.content
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {response.json()['access']}")


@pytest.fixture
def seeded() -> str:
    return seed()


def test_counts(seeded):
    projects = Project.objects.filter(key__startswith="DEMO")
    assert sorted(projects.values_list("key", flat=True)) == ["DEMO1", "DEMO2", "DEMO3"]
    assert User.objects.filter(**DEMO_USERS).count() == 30
    tickets = Ticket.objects.filter(project__in=projects)
    assert tickets.count() == 200
    comments = Comment.objects.filter(ticket__project__in=projects).count()
    assert comments > 0
    assert Event.objects.filter(type="ticket.created").count() == 200
    assert Event.objects.filter(type="comment.created").count() == comments
    for project in projects:
        assert project.memberships.filter(role=Role.ADMIN).exists()
        assert project.created_by.memberships.get(project=project).role == Role.ADMIN
    assert "Seeded 30 users, 3 projects, 200 tickets" in seeded


def test_rows_look_real(seeded):
    tickets = Ticket.objects.filter(project__key__startswith="DEMO")
    assert {ticket.status for ticket in tickets} == {"open", "in_progress", "resolved", "closed"}
    assert len({ticket.priority for ticket in tickets}) == 4
    assert tickets.filter(status="closed", closed_at=None).count() == 0
    assert tickets.exclude(status="closed").filter(closed_at__isnull=False).count() == 0
    assert tickets.filter(version__lt=1).count() == 0
    assert all(len(ticket.labels) <= 3 for ticket in tickets)
    # Timestamps spread over the last year, not all "now" as a plain bulk insert would stamp them.
    created = sorted(tickets.values_list("created_at", flat=True))
    assert len(set(created)) == 200
    assert created[0] < timezone.now() - datetime.timedelta(days=90)
    today = timezone.now().date()
    assert tickets.filter(due_date__lt=today).exists()
    assert tickets.filter(due_date__gt=today).exists()
    assert tickets.filter(due_date=None).exists()
    # The search trigger filled the full-text document on insert.
    assert tickets.filter(search_vector=None).count() == 0


def test_every_assignee_reporter_and_author_is_a_member(seeded):
    tickets = Ticket.objects.filter(project__key__startswith="DEMO")
    assert tickets.exclude(assignee=None).exists()
    is_assignee_member = Membership.objects.filter(project=OuterRef("project"), user=OuterRef("assignee"))
    assert tickets.exclude(assignee=None).exclude(Exists(is_assignee_member)).count() == 0
    is_reporter_writer = Membership.objects.filter(
        project=OuterRef("project"), user=OuterRef("reporter"), role__in=[Role.ADMIN, Role.MEMBER]
    )
    assert tickets.exclude(Exists(is_reporter_writer)).count() == 0
    is_author_writer = Membership.objects.filter(
        project=OuterRef("ticket__project"), user=OuterRef("author"), role__in=[Role.ADMIN, Role.MEMBER]
    )
    assert Comment.objects.exclude(Exists(is_author_writer)).count() == 0


def test_comment_count_matches_the_comments(seeded):
    tickets = Ticket.objects.filter(project__key__startswith="DEMO").annotate(counted=Count("comments"))
    assert all(ticket.comment_count == ticket.counted for ticket in tickets)


def test_events_continue_the_sequence_in_time_order(team):
    team.client("member").post(TICKETS, {"project": "OPS", "title": "Before the seed"}, format="json")
    before = Event.objects.get().seq
    seed()
    demo = list(Event.objects.filter(project__key__startswith="DEMO").order_by("seq"))
    seqs = [event.seq for event in demo]
    assert seqs == list(range(before + 1, before + 1 + len(demo)))
    assert [event.at for event in demo] == sorted(event.at for event in demo)
    # Each ticket's history starts with its creation.
    first_of_ticket = {}
    for event in demo:
        first_of_ticket.setdefault(event.ticket, event.type)
    assert set(first_of_ticket.values()) == {"ticket.created"}


def test_demo_event_data_is_the_api_object(seeded, api_client):
    event = Event.objects.filter(type="ticket.created", data__comment_count__gt=0).order_by("?").first()
    ticket = Ticket.objects.get(pk=event.ticket)
    admin = ticket.project.memberships.get(role=Role.ADMIN, user=ticket.project.created_by).user
    login(api_client, admin.email, "demo-password-1")
    shown = as_everyone_sees_it(api_client.get(f"{TICKETS}{ticket.key}/").json())
    assert set(event.data) == set(shown)
    assert event.data == shown
    comment_event = Event.objects.filter(type="comment.created", ticket=ticket.pk).first()
    comments = api_client.get(f"{TICKETS}{ticket.key}/comments/").json()["results"]
    assert comment_event.data == next(comment for comment in comments if comment["id"] == comment_event.data["id"])


def test_a_printed_login_works_and_api_tickets_continue_the_keys(seeded, api_client):
    password = re.search(r"password '([^']+)'", seeded).group(1)
    emails = re.findall(r"^  (\S+@demo\.hopla\.test) \((DEMO\d+)\)$", seeded, flags=re.MULTILINE)
    assert password == "demo-password-1"
    assert emails
    email, key = emails[0]
    login(api_client, email, password)
    project = Project.objects.get(key=key)
    highest = project.tickets.order_by("-number").values_list("number", flat=True).first()
    assert project.last_ticket_number == highest
    response = api_client.post(TICKETS, {"project": key, "title": "Created through the API"}, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["key"] == f"{key}-{highest + 1}"


def test_a_second_run_refuses_and_flush_replaces_the_data(seeded):
    old_ticket_ids = set(Ticket.objects.filter(project__key__startswith="DEMO").values_list("id", flat=True))
    with pytest.raises(CommandError, match=r"already exists.*--flush"):
        seed(seed=2)
    assert Ticket.objects.filter(project__key__startswith="DEMO").count() == 200

    seed(seed=2, flush=True)
    assert User.objects.filter(**DEMO_USERS).count() == 30
    assert Project.objects.filter(key__startswith="DEMO").count() == 3
    new_ticket_ids = set(Ticket.objects.filter(project__key__startswith="DEMO").values_list("id", flat=True))
    assert len(new_ticket_ids) == 200
    assert not old_ticket_ids & new_ticket_ids
    assert Event.objects.filter(type="ticket.created").count() == 200


def test_flush_keeps_other_data(team):
    team.client("member").post(TICKETS, {"project": "OPS", "title": "Not demo data"}, format="json")
    seed()
    seed(flush=True)
    assert Ticket.objects.filter(project=team.project).count() == 1
    assert User.objects.filter(pk=team.admin.pk).exists()
