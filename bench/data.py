"""The bench database: created fresh, migrated, seeded with seed_demo, dropped at the end."""

import uuid
from dataclasses import dataclass

import psycopg
from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.core.management import call_command
from django.db import connections
from rest_framework_simplejwt.tokens import AccessToken

from accounts.models import User
from tickets.models import Membership, Project, Role, Ticket


def maintenance_connection() -> psycopg.Connection:
    """An autocommit connection to the server's `postgres` database, for CREATE/DROP DATABASE."""
    database = settings.DATABASES["default"]
    return psycopg.connect(
        dbname="postgres",
        user=database["USER"],
        password=database["PASSWORD"] or None,
        host=database["HOST"] or "127.0.0.1",
        port=database["PORT"] or 5432,
        autocommit=True,
    )


def database_exists() -> bool:
    with maintenance_connection() as maintenance:
        name = settings.DATABASES["default"]["NAME"]
        return maintenance.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone() is not None


def database_create(*, projects: int, tickets: int) -> None:
    """A fresh database with `tickets` tickets in `projects` projects (two comments each on average)."""
    database_drop()
    with maintenance_connection() as maintenance:
        maintenance.execute(f'CREATE DATABASE "{settings.DATABASES["default"]["NAME"]}"')
    call_command("migrate", verbosity=0)
    call_command("seed_demo", projects=projects, tickets=tickets, seed=8, verbosity=0)
    with connections["default"].cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")


def database_drop() -> None:
    connections.close_all()
    with maintenance_connection() as maintenance:
        name = settings.DATABASES["default"]["NAME"]
        maintenance.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@dataclass(frozen=True)
class World:
    """Who the workloads act as: `user` is a member of every project; `watchers` view `project`."""

    user: User
    token: str
    project: Project
    ticket: Ticket
    watchers: list[User]
    watcher_tokens: list[str]


def token_for(user: User) -> str:
    return str(AccessToken.for_user(user))


def world_create(watcher_count: int) -> World:
    run = uuid.uuid4().hex[:8]
    password = make_password(None)
    user = User.objects.create(email=f"bench-{run}@bench.test", full_name="Bench User", password=password)
    projects = list(Project.objects.order_by("key"))
    Membership.objects.bulk_create(Membership(project=project, user=user, role=Role.MEMBER) for project in projects)
    project = projects[0]
    watchers = User.objects.bulk_create(
        User(email=f"watcher-{run}-{number}@bench.test", full_name=f"Watcher {number}", password=password)
        for number in range(watcher_count)
    )
    Membership.objects.bulk_create(Membership(project=project, user=watcher, role=Role.VIEWER) for watcher in watchers)
    ticket = Ticket.objects.filter(project=project).order_by("number").first()
    assert ticket is not None, "the seeded project has no ticket"
    return World(
        user=user,
        token=token_for(user),
        project=project,
        ticket=ticket,
        watchers=watchers,
        watcher_tokens=[token_for(watcher) for watcher in watchers],
    )
