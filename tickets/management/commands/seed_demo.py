"""`manage.py seed_demo`: fill the database with realistic demo people, projects, tickets, comments and events, fast.

Rows go in by batches (COPY on PostgreSQL, `bulk_create` elsewhere); nothing goes through the services, which
write one row (and one event) at a time. What the services guarantee is kept by hand: ticket numbers continue
from `last_ticket_number`, `comment_count` counts the comments, and events take their `seq` under the services'
own lock.
"""

import datetime
import itertools
import json
import operator
import random
import re
import sys
import time
import unicodedata
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

from django.contrib.auth.hashers import make_password
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection, models, transaction
from django.utils import timezone
from faker import Faker
from tqdm import tqdm

from accounts.models import User
from tickets.models import Comment, Event, EventType, Membership, Priority, Project, Role, Status, Ticket

# The lock event_record takes: holding it while numbering a batch keeps `seq` in commit order with app writes.
from tickets.services.event_writing import event_numbers_reserve

DEMO_EMAIL_DOMAIN = "demo.hopla.test"
DEMO_KEY_PREFIX = "DEMO"
DEFAULT_PASSWORD = "demo-password-1"
BATCH_SIZE = 5_000
# Project keys are at most 10 characters: DEMO plus six digits.
MAX_PROJECTS = 999_999

STATUS_WEIGHTS = {Status.OPEN: 40, Status.IN_PROGRESS: 25, Status.RESOLVED: 15, Status.CLOSED: 20}
# How many workflow moves each status needs from `open`: each one bumped `version`.
STATUS_MOVES = {Status.OPEN: 0, Status.IN_PROGRESS: 1, Status.RESOLVED: 2, Status.CLOSED: 3}
PRIORITY_WEIGHTS = {Priority.LOW: 20, Priority.MEDIUM: 45, Priority.HIGH: 25, Priority.URGENT: 10}
# Roles of members after the first, who is always the project's admin and creator.
ROLE_WEIGHTS = {Role.ADMIN: 10, Role.MEMBER: 70, Role.VIEWER: 20}
LABEL_COUNT_WEIGHTS = {0: 25, 1: 40, 2: 25, 3: 10}
LABELS = [
    "bug",
    "feature",
    "enhancement",
    "documentation",
    "frontend",
    "backend",
    "api",
    "database",
    "performance",
    "security",
    "ux",
    "mobile",
    "infra",
    "tech-debt",
    "customer",
    "regression",
]
TITLE_ACTIONS = [
    "Fix",
    "Investigate",
    "Add",
    "Improve",
    "Refactor",
    "Update",
    "Remove",
    "Document",
    "Support",
    "Speed up",
]
TITLE_SUBJECTS = [
    "login redirect",
    "password reset email",
    "CSV export",
    "search results",
    "dashboard charts",
    "invoice PDF",
    "notification settings",
    "avatar upload",
    "API rate limiting",
    "dark mode",
    "webhook retries",
    "audit log",
    "onboarding checklist",
    "mobile navigation",
    "billing page",
    "two-factor authentication",
    "image thumbnails",
    "date picker",
    "session timeout",
    "Slack integration",
]
TITLE_CONTEXTS = [
    "",
    " on Safari",
    " for large projects",
    " after the last release",
    " in the admin",
    " on mobile",
    " for new users",
    " when offline",
    " in Firefox",
    " under load",
]
COMMENT_OPENERS = [
    "I can reproduce this.",
    "Looks good to me.",
    "Pushed a fix, please review.",
    "Any update on this?",
    "A customer reported this again.",
    "Blocked by the API change.",
    "Moving this to the next sprint.",
    "Added screenshots.",
    "Could not reproduce on staging.",
    "Deployed to staging.",
]
PROJECT_CODENAMES = [
    "Atlas",
    "Borealis",
    "Cobalt",
    "Drift",
    "Ember",
    "Falcon",
    "Granite",
    "Harbor",
    "Ion",
    "Juniper",
    "Kestrel",
    "Lumen",
    "Meridian",
    "Nimbus",
    "Orbit",
    "Pioneer",
]
PROJECT_AREAS = [
    "Mobile app",
    "Billing",
    "Customer portal",
    "Data platform",
    "Website",
    "Internal tools",
    "Payments API",
    "Onboarding",
    "Search",
    "Infrastructure",
]
# Faker is slow for hundreds of thousands of calls: texts are drawn from pools made once.
TEXT_POOL_SIZE = 500

T = TypeVar("T")
# A row to insert, as {attname: value}.
Row = dict[str, Any]
_NOT_LETTERS = re.compile(r"[^a-z]")


def demo_users() -> "models.QuerySet[User]":
    """Users the command created: recognised by their email domain."""
    return User.objects.filter(email__endswith=f"@{DEMO_EMAIL_DOMAIN}")


def demo_flush() -> None:
    """Delete the demo users and the projects they created, with everything in those projects."""
    projects = Project.objects.filter(created_by__in=demo_users())
    with transaction.atomic():
        # Events and comments have nothing hanging off them: deleting them first lets the cascade from
        # projects skip loading them, which matters at 100k tickets.
        Event.objects.filter(project__in=projects).delete()
        Comment.objects.filter(ticket__project__in=projects).delete()
        projects.delete()
        demo_users().delete()


@contextmanager
def explicit_timestamps(*model_classes: type[models.Model]) -> Iterator[None]:
    """Let `bulk_create` keep the `created_at`/`updated_at` values set on the objects.

    `auto_now`/`auto_now_add` fields stamp "now" in `pre_save`, which `bulk_create` calls for every row;
    switching them off for the insert is the only way to store varied timestamps without a second UPDATE
    pass over every row. The command is single-threaded, and the flags are restored whatever happens.
    """
    stamped = [
        (date_field, date_field.auto_now, date_field.auto_now_add)
        for model_class in model_classes
        for date_field in model_class._meta.concrete_fields
        if isinstance(date_field, models.DateField) and (date_field.auto_now or date_field.auto_now_add)
    ]
    for date_field, _, _ in stamped:
        date_field.auto_now = date_field.auto_now_add = False
    try:
        yield
    finally:
        for date_field, auto_now, auto_now_add in stamped:
            date_field.auto_now, date_field.auto_now_add = auto_now, auto_now_add


def rows_insert(model_class: type[models.Model], rows: Iterable[Row]) -> None:
    """Insert rows given as `{attname: value}` (every column, defaults included): COPY on PostgreSQL.

    Measured at 100k tickets, `bulk_create` spends most of the run building model instances and having
    psycopg quote parameters in Python (two minutes in all); COPY streams the same values in a fraction
    of that, and still fires the search trigger. Other databases get `bulk_create`.
    """
    remaining = iter(rows)
    first = next(remaining, None)
    if first is None:
        return
    attnames = list(first)
    rows = itertools.chain([first], remaining)
    if connection.vendor != "postgresql":
        with explicit_timestamps(model_class):
            objects = [model_class(**row) for row in rows]
            model_class._default_manager.bulk_create(objects, batch_size=len(objects))
        return
    concrete_fields = model_class._meta.concrete_fields
    # Concrete fields always have a column; the filter only tells the type checker so.
    column_of = {model_field.attname: model_field.column for model_field in concrete_fields if model_field.column}
    json_attnames = {
        model_field.attname for model_field in concrete_fields if isinstance(model_field, models.JSONField)
    }
    # psycopg adapts every other value by its Python type (choices are str and int subclasses).
    json_positions = [position for position, attname in enumerate(attnames) if attname in json_attnames]
    quote = connection.ops.quote_name
    columns = ", ".join(quote(column_of[attname]) for attname in attnames)
    values_of = operator.itemgetter(*attnames)
    with (
        connection.cursor() as cursor,
        cursor.copy(f"COPY {quote(model_class._meta.db_table)} ({columns}) FROM STDIN") as copy,
    ):
        for row in rows:
            values = list(values_of(row))
            for position in json_positions:
                values[position] = json.dumps(values[position])
            copy.write_row(values)


def table_analyze(model_class: type[models.Model]) -> None:
    """Refresh PostgreSQL's statistics of a table just filled.

    Statistics taken while the table was small keep foreign-key checks of the next phases (and of a later
    flush) on sequential scans, which makes them quadratic at 100k rows.
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {connection.ops.quote_name(model_class._meta.db_table)}")


def _user_summary(user: Row) -> Row:
    """UserSummarySerializer's output for a user row."""
    return {"id": str(user["id"]), "email": user["email"], "full_name": user["full_name"]}


def _api_datetime(value: datetime.datetime | None) -> str | None:
    """A datetime as DRF's DateTimeField renders it (ISO 8601, UTC as `Z`); the values here are UTC already."""
    if value is None:
        return None
    text = value.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


_PRIORITY_NAMES = {priority.value: priority.label for priority in Priority}


def ticket_api_data(ticket: Row, summaries: dict[Any, Row]) -> Row:
    """TicketSerializer's output for a ticket row: serializing 100k model instances would dominate the run.

    `summaries` maps user ids to UserSummarySerializer's output. test_seed_demo checks this against the API.
    """
    return {
        "id": str(ticket["id"]),
        "key": ticket["key"],
        "project": str(ticket["project_id"]),
        "title": ticket["title"],
        "description": ticket["description"],
        "status": ticket["status"].value,
        "priority": _PRIORITY_NAMES[ticket["priority"]],
        "labels": ticket["labels"],
        "assignee": summaries.get(ticket["assignee_id"]),
        "reporter": summaries.get(ticket["reporter_id"]),
        "due_date": ticket["due_date"].isoformat() if ticket["due_date"] else None,
        "version": ticket["version"],
        "comment_count": ticket["comment_count"],
        "image_count": ticket["image_count"],
        "created_at": _api_datetime(ticket["created_at"]),
        "updated_at": _api_datetime(ticket["updated_at"]),
        "closed_at": _api_datetime(ticket["closed_at"]),
    }


def comment_api_data(comment: Row, summaries: dict[Any, Row]) -> Row:
    """CommentSerializer's output for a comment row, like `ticket_api_data`."""
    return {
        "id": str(comment["id"]),
        "ticket": str(comment["ticket_id"]),
        "author": summaries.get(comment["author_id"]),
        "body": comment["body"],
        "created_at": _api_datetime(comment["created_at"]),
        "updated_at": _api_datetime(comment["updated_at"]),
    }


@dataclass
class _ProjectTeam:
    """A demo project with its people: `writers` (admins and members) report, comment and get assigned."""

    project: Row
    ticket_count: int
    writers: list[Row] = field(default_factory=list)


class _DemoSeeder:
    """Makes the rows phase by phase, each inserted in batches under its own progress bar.

    Rows are plain dicts, not model instances: building 600k instances alone would take longer than
    inserting them.
    """

    def __init__(self, *, seed: int, password: str, batch_size: int, show_progress: bool) -> None:
        self.random = random.Random(seed)
        self.faker = Faker("en_US")
        self.faker.seed_instance(seed)
        self.password = password
        self.batch_size = batch_size
        self.show_progress = show_progress
        self.now = timezone.now()
        self.descriptions = [
            "\n\n".join(self.faker.paragraphs(nb=self.random.randint(1, 3))) for _ in range(TEXT_POOL_SIZE)
        ]
        self.comment_bodies = [
            f"{self.random.choice(COMMENT_OPENERS)} {self.faker.sentence(nb_words=self.random.randint(6, 18))}"
            for _ in range(TEXT_POOL_SIZE)
        ]

    def uuid(self) -> uuid.UUID:
        """Ids drawn from the seeded generator, so that `--seed` reproduces them too."""
        return uuid.UUID(int=self.random.getrandbits(128), version=4)

    def weighted(self, weights: dict[T, int]) -> T:
        return self.random.choices(list(weights), weights=list(weights.values()))[0]

    def between(self, start: datetime.datetime, end: datetime.datetime) -> datetime.datetime:
        return start + (end - start) * self.random.random()

    def days_ago(self, days: float) -> datetime.datetime:
        return self.now - datetime.timedelta(days=days)

    def progress(self, total: int, description: str) -> tqdm:
        return tqdm(
            total=total, desc=f"{description:<11}", unit=" rows", file=sys.stderr, disable=not self.show_progress
        )

    def insert(self, model_class: type[models.Model], rows: Iterable[Row], *, total: int, description: str) -> None:
        """Insert `total` rows, one transaction per batch. Rows may be generated lazily: on PostgreSQL
        the server then stores one part while Python makes the next."""
        remaining = iter(rows)
        with self.progress(total, description) as bar:
            for start in range(0, total, self.batch_size):
                size = min(self.batch_size, total - start)
                with transaction.atomic():
                    rows_insert(model_class, itertools.islice(remaining, size))
                bar.update(size)
        table_analyze(model_class)

    def users(self, count: int) -> list[Row]:
        # Hashing is slow by design: one hash serves every demo user.
        password_hash = make_password(self.password)
        users = []
        for number in range(1, count + 1):
            first, last = self.faker.first_name(), self.faker.last_name()
            users.append(
                {
                    "id": self.uuid(),
                    "email": f"{_email_part(first)}.{_email_part(last)}.{number}@{DEMO_EMAIL_DOMAIN}",
                    "full_name": f"{first} {last}",
                    "password": password_hash,
                    "last_login": None,
                    "is_superuser": False,
                    "is_active": True,
                    "is_staff": False,
                    "date_joined": self.days_ago(self.random.uniform(380, 420)),
                }
            )
        self.insert(User, users, total=len(users), description="users")
        return users

    def projects(self, *, count: int, tickets: int, users: list[Row]) -> list[_ProjectTeam]:
        teams = []
        for index, ticket_count in enumerate(self.split(tickets, count)):
            created_at = self.days_ago(self.random.uniform(366, 379))
            codename, area = self.random.choice(PROJECT_CODENAMES), self.random.choice(PROJECT_AREAS)
            project = {
                "id": self.uuid(),
                "key": f"{DEMO_KEY_PREFIX}{index + 1}",
                "name": f"{codename} — {area}",
                "description": f"{area} work for {self.faker.company()}. {self.faker.catch_phrase()}.",
                "created_by_id": None,
                "created_at": created_at,
                "updated_at": self.between(created_at, self.now),
                # The tickets below take the numbers 1..ticket_count; API-created ones continue after them.
                "last_ticket_number": ticket_count,
            }
            teams.append(_ProjectTeam(project=project, ticket_count=ticket_count))
        memberships = self.memberships(teams, users)
        self.insert(Project, [team.project for team in teams], total=len(teams), description="projects")
        self.insert(Membership, memberships, total=len(memberships), description="memberships")
        return teams

    def memberships(self, teams: list[_ProjectTeam], users: list[Row]) -> list[Row]:
        """Every user is in at least one project (round robin), plus a few extra people per project.

        The first person of each project is its admin and creator, so `writers[0]` is always an admin.
        """
        memberships = []
        for index, team in enumerate(teams):
            people = {user["email"]: user for user in users[index :: len(teams)]}
            people.update((user["email"], user) for user in self.random.sample(users, min(len(users), 5)))
            ordered = [people[email] for email in sorted(people)]
            self.random.shuffle(ordered)
            team.project["created_by_id"] = ordered[0]["id"]
            for position, user in enumerate(ordered):
                role = Role.ADMIN if position == 0 else self.weighted(ROLE_WEIGHTS)
                if role != Role.VIEWER:
                    team.writers.append(user)
                created_at = team.project["created_at"]
                joined = self.between(created_at, created_at + datetime.timedelta(days=1))
                memberships.append(
                    {
                        "id": self.uuid(),
                        "project_id": team.project["id"],
                        "user_id": user["id"],
                        "role": role,
                        "created_at": joined,
                        "updated_at": joined,
                    }
                )
        return memberships

    def split(self, total: int, parts: int) -> list[int]:
        """`total` spread over `parts` unevenly (some projects are busier), summing exactly to `total`."""
        weights = [self.random.uniform(0.5, 2.0) for _ in range(parts)]
        shares = [total * weight / sum(weights) for weight in weights]
        counts = [int(share) for share in shares]
        by_remainder = sorted(range(parts), key=lambda index: shares[index] - counts[index], reverse=True)
        for index in by_remainder[: total - sum(counts)]:
            counts[index] += 1
        return counts

    def tickets(self, teams: list[_ProjectTeam], comments_per_ticket: int) -> list[Row]:
        tickets: list[Row] = []

        def generate() -> Iterator[Row]:
            for team in teams:
                created = sorted(self.days_ago(self.random.uniform(0.05, 365)) for _ in range(team.ticket_count))
                # Numbered in creation order, as the service numbers them.
                for number, created_at in enumerate(created, start=1):
                    tickets.append(self.ticket(team, number, created_at, comments_per_ticket))
                    yield tickets[-1]

        self.insert(Ticket, generate(), total=sum(team.ticket_count for team in teams), description="tickets")
        return tickets

    def ticket(self, team: _ProjectTeam, number: int, created_at: datetime.datetime, comments_per_ticket: int) -> Row:
        status = self.weighted(STATUS_WEIGHTS)
        version = 1 + STATUS_MOVES[status] + self.random.choice([0, 0, 0, 1, 2, 3])
        updated_at = created_at if version == 1 else self.between(created_at, self.now)
        due_date = None
        if self.random.random() < 0.55:
            # Relative to creation: older tickets' due dates have passed, so some open ones are overdue.
            due_date = (created_at + datetime.timedelta(days=self.random.randint(2, 90))).date()
        assignee = None if self.random.random() < 0.25 else self.random.choice(team.writers)
        return {
            "id": self.uuid(),
            "project_id": team.project["id"],
            "number": number,
            "key": f"{team.project['key']}-{number}",
            "title": (
                f"{self.random.choice(TITLE_ACTIONS)} {self.random.choice(TITLE_SUBJECTS)}"
                f"{self.random.choice(TITLE_CONTEXTS)}"
            ),
            "description": "" if self.random.random() < 0.1 else self.random.choice(self.descriptions),
            "status": status,
            "priority": self.weighted(PRIORITY_WEIGHTS),
            "labels": self.random.sample(LABELS, self.weighted(LABEL_COUNT_WEIGHTS)),
            "assignee_id": assignee["id"] if assignee else None,
            "reporter_id": self.random.choice(team.writers)["id"],
            "due_date": due_date,
            "version": version,
            # Uniform over 0..2 x average: the requested average, and some tickets without any.
            "comment_count": self.random.randint(0, 2 * comments_per_ticket),
            "image_count": 0,
            "created_at": created_at,
            "updated_at": updated_at,
            # Closing was the ticket's last change.
            "closed_at": updated_at if status == Status.CLOSED else None,
        }

    def comments(self, tickets: list[Row], teams: list[_ProjectTeam]) -> list[Row]:
        writers = {team.project["id"]: team.writers for team in teams}
        comments: list[Row] = []

        def generate() -> Iterator[Row]:
            for ticket in tickets:
                moments = sorted(self.between(ticket["created_at"], self.now) for _ in range(ticket["comment_count"]))
                for created_at in moments:
                    edited = self.random.random() < 0.1
                    comments.append(
                        {
                            "id": self.uuid(),
                            "ticket_id": ticket["id"],
                            "author_id": self.random.choice(writers[ticket["project_id"]])["id"],
                            "body": self.random.choice(self.comment_bodies),
                            "created_at": created_at,
                            "updated_at": self.between(created_at, self.now) if edited else created_at,
                        }
                    )
                    yield comments[-1]

        total = sum(ticket["comment_count"] for ticket in tickets)
        self.insert(Comment, generate(), total=total, description="comments")
        return comments

    def events(self, *, users: list[Row], tickets: list[Row], comments: list[Row]) -> int:
        """One `ticket.created` per ticket and one `comment.created` per comment, numbered in time order.

        Demo tickets are born in their final state (there are no update events), so the created event
        carries the ticket as the API shows it now: a dashboard replaying the events ends where the API is.
        """
        project_of_ticket = {ticket["id"]: ticket["project_id"] for ticket in tickets}
        timeline = [(ticket["created_at"], False, ticket) for ticket in tickets]
        timeline += [(comment["created_at"], True, comment) for comment in comments]
        # A comment is never older than its ticket; at equal times the ticket (False) still comes first.
        timeline.sort(key=lambda entry: entry[:2])
        summaries = {user["id"]: _user_summary(user) for user in users}

        def event(seq: int, at: datetime.datetime, is_comment: bool, row: Row) -> Row:
            return {
                "id": self.uuid(),
                "seq": seq,
                "type": EventType.COMMENT_CREATED if is_comment else EventType.TICKET_CREATED,
                "project_id": project_of_ticket[row["ticket_id"]] if is_comment else row["project_id"],
                "ticket": row["ticket_id"] if is_comment else row["id"],
                "actor_id": row["author_id"] if is_comment else row["reporter_id"],
                "at": at,
                "published_at": at,  # history, not news: the worker must not push it to dashboards
                "changes": {},
                "data": comment_api_data(row, summaries) if is_comment else ticket_api_data(row, summaries),
            }

        with self.progress(len(timeline), "events") as bar:
            for start in range(0, len(timeline), self.batch_size):
                batch = timeline[start : start + self.batch_size]
                # event_record's rule for a whole batch: numbers taken from the event counter, which
                # stays locked until the batch commits.
                with transaction.atomic():
                    first = event_numbers_reserve(len(batch))
                    rows_insert(Event, (event(seq, *entry) for seq, entry in enumerate(batch, start=first)))
                bar.update(len(batch))
        table_analyze(Event)
        return len(timeline)


def _email_part(name: str) -> str:
    """`Zoë O'Neil` → `zoe`, `oneil`: the ASCII letters of a name, for an address anybody can type."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return _NOT_LETTERS.sub("", ascii_name.lower()) or "demo"


class Command(BaseCommand):
    help = "Create demo users, projects, tickets, comments and events in bulk (users @demo.hopla.test)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--projects", type=int, default=5, help="Number of projects (default 5).")
        parser.add_argument("--tickets", type=int, default=1000, help="Tickets in all, spread over projects.")
        parser.add_argument("--users", type=int, help="Number of users (default: 10 per project, at least 5).")
        parser.add_argument("--comments-per-ticket", type=int, default=2, help="Average comments per ticket.")
        parser.add_argument("--seed", type=int, help="Random seed; the same seed makes the same data.")
        parser.add_argument("--password", default=DEFAULT_PASSWORD, help="Password of every demo user.")
        parser.add_argument("--flush", action="store_true", help="Delete previous demo data first.")
        parser.add_argument("--batch-size", type=int, default=BATCH_SIZE, help="Rows per INSERT.")

    def handle(self, *args: Any, **options: Any) -> None:
        projects: int = options["projects"]
        tickets: int = options["tickets"]
        users: int = options["users"] if options["users"] is not None else max(5, 10 * projects)
        comments_per_ticket: int = options["comments_per_ticket"]
        if not 1 <= projects <= MAX_PROJECTS:
            raise CommandError(f"--projects must be between 1 and {MAX_PROJECTS}.")
        if users < 1 or tickets < 0 or comments_per_ticket < 0 or options["batch_size"] < 1:
            raise CommandError(
                "--users and --batch-size must be positive; --tickets and --comments-per-ticket cannot be negative."
            )
        keys = [f"{DEMO_KEY_PREFIX}{index}" for index in range(1, projects + 1)]
        if options["flush"]:
            demo_flush()
        self.refuse_existing_data(keys, flushed=options["flush"])

        seed = options["seed"] if options["seed"] is not None else random.randrange(2**32)
        started = time.monotonic()
        seeder = _DemoSeeder(
            seed=seed,
            password=options["password"],
            batch_size=options["batch_size"],
            show_progress=options["verbosity"] > 0,
        )
        user_rows = seeder.users(users)
        teams = seeder.projects(count=projects, tickets=tickets, users=user_rows)
        ticket_rows = seeder.tickets(teams, comments_per_ticket)
        comment_rows = seeder.comments(ticket_rows, teams)
        event_count = seeder.events(users=user_rows, tickets=ticket_rows, comments=comment_rows)
        elapsed = time.monotonic() - started

        first = teams[0]
        self.stdout.write(
            self.style.SUCCESS(
                f"Seeded {len(user_rows)} users, {len(teams)} projects, {len(ticket_rows)} tickets, "
                f"{len(comment_rows)} comments, {event_count} events in {elapsed:.1f} s (seed {seed})."
            )
        )
        self.stdout.write(f"Log in with password {options['password']!r}, for example as:")
        # A project's first writer is its admin; the next one, if any, is an admin or a member.
        for user in first.writers[:2]:
            self.stdout.write(f"  {user['email']} ({first.project['key']})")

    def refuse_existing_data(self, keys: list[str], *, flushed: bool) -> None:
        taken = list(Project.objects.filter(key__in=keys).values_list("key", flat=True))
        if flushed and taken:
            raise CommandError(
                f"Project keys {', '.join(taken)} belong to projects that are not demo data; "
                "rename those projects or seed fewer projects."
            )
        existing_users = demo_users().count()
        if taken or existing_users:
            raise CommandError(
                f"Demo data already exists ({existing_users} users @{DEMO_EMAIL_DOMAIN}, "
                f"projects {', '.join(taken) or 'none'}). Run again with --flush to delete it first."
            )
