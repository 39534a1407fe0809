"""Statements written once as SQL send exactly the SQL the ORM would, for any user.

The user lookup of every authenticated request (hopla.api.authentication) and the list's count
(tickets.selectors) are SQL strings rather than querysets built and compiled per call (BENCHMARKS.md,
"Contain"). If a migration or a new Django changes what the ORM writes, these fail.
"""

import uuid

import pytest
from django.db import connection
from django.db.models import Sum
from django.db.models.functions import Coalesce
from django.test.utils import CaptureQueriesContext

from accounts.models import User
from accounts.tests.factories import UserFactory
from hopla.api.authentication import user_by_id
from tickets import selectors
from tickets.models import Membership, Project
from tickets.tests.factories import MembershipFactory, ProjectFactory, TicketFactory

pytestmark = pytest.mark.django_db


def _sql_of(run) -> list[str]:  # type: ignore[no-untyped-def]
    with CaptureQueriesContext(connection) as captured:
        run()
    return [query["sql"] for query in captured.captured_queries]


def test_the_list_count_is_the_orms_aggregate_for_every_user() -> None:
    busy, idle = UserFactory(), UserFactory()
    for key, tickets in (("ONE", 2), ("TWO", 3)):
        project = ProjectFactory(key=key)
        MembershipFactory(project=project, user=busy)
        TicketFactory.create_batch(tickets, project=project, reporter=busy)
    for user, expected in ((busy, 5), (idle, 0)):
        tickets = selectors.ticket_list(user=user)
        hopla_sql = _sql_of(
            lambda user=user, tickets=tickets: selectors.ticket_count(user=user, tickets=tickets, filtered=False)
        )

        def orm_aggregate(user: User = user) -> None:
            my_projects = Membership.objects.filter(user=user).values("project_id")
            Project.objects.filter(pk__in=my_projects).aggregate(total=Coalesce(Sum("ticket_count"), 0))

        assert hopla_sql == _sql_of(orm_aggregate)
        assert selectors.ticket_count(user=user, tickets=tickets, filtered=False) == expected


def test_the_user_lookup_sends_the_orms_sql_and_builds_the_orms_user() -> None:
    user = UserFactory()
    assert _sql_of(lambda: user_by_id(user.pk)) == _sql_of(lambda: list(User.objects.filter(pk=user.pk).order_by()))
    found = user_by_id(user.pk)
    assert found is not None
    expected = User.objects.get(pk=user.pk)
    assert {k: v for k, v in vars(found).items() if k != "_state"} == {
        k: v for k, v in vars(expected).items() if k != "_state"
    }
    assert (found._state.db, found._state.adding) == ("default", False)
    assert user_by_id(uuid.uuid4()) is None
