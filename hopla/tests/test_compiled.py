"""Statements compiled once (hopla.compiled) send exactly the SQL the ORM would, for any user."""

import uuid

import pytest
from django.db import connection
from django.db.models import Sum
from django.db.models.functions import Coalesce
from django.test.utils import CaptureQueriesContext

from accounts.models import User
from accounts.tests.factories import UserFactory
from hopla.compiled import CompiledModelGet, CompiledQuery
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


def test_the_user_lookup_builds_the_user_the_orm_builds() -> None:
    user = UserFactory()
    lookup = CompiledModelGet(User)
    found = lookup.get(user.pk)
    assert found is not None
    expected = User.objects.get(pk=user.pk)
    assert {k: v for k, v in vars(found).items() if k != "_state"} == {
        k: v for k, v in vars(expected).items() if k != "_state"
    }
    assert (found._state.db, found._state.adding) == ("default", False)
    assert lookup.get(uuid.uuid4()) is None


def test_a_query_that_inlines_its_value_is_refused() -> None:
    # The value reaches this query as a string, not as the UUID parameter the compiled SQL swaps.
    inlined = CompiledQuery(lambda value: User.objects.filter(email=str(value)))
    with pytest.raises(ValueError, match="as a parameter"):
        inlined.sql(uuid.uuid4())
