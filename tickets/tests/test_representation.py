"""The fast read path of output serializers renders exactly what DRF's generic path renders."""

import datetime

import pytest
from django.core.exceptions import ImproperlyConfigured
from rest_framework import serializers

from hopla.api.representation import ContextFreeRepresentation
from tickets.models import Priority, Ticket
from tickets.serializers import TicketSerializer
from tickets.tests.factories import TicketFactory


def _generic(ticket: Ticket) -> dict:
    """DRF's own Serializer.to_representation, nested users included, on a fresh serializer."""
    serializer = TicketSerializer()
    rendered = serializers.Serializer.to_representation(serializer, ticket)
    for name in ("assignee", "reporter"):
        user = getattr(ticket, name)
        nested = serializer.fields[name]
        rendered[name] = None if user is None else serializers.Serializer.to_representation(nested, user)
    return rendered


@pytest.mark.django_db
def test_tickets_render_as_drf_renders_them(team) -> None:  # type: ignore[no-untyped-def]
    assigned = TicketFactory(
        project=team.project,
        reporter=team.member,
        assignee=team.admin,
        priority=Priority.URGENT,
        labels=["db", "ünïcode"],
        due_date=datetime.date(2026, 12, 24),
    )
    bare = TicketFactory(project=team.project, reporter=None, assignee=None, labels=[], due_date=None)
    for ticket in (assigned, bare):
        ticket = Ticket.objects.select_related("assignee", "reporter").get(pk=ticket.pk)
        assert TicketSerializer(ticket).data == _generic(ticket)
        assert TicketSerializer([ticket], many=True).data == [_generic(ticket)]


def test_a_mapping_goes_through_drf() -> None:
    class Pair(ContextFreeRepresentation):
        name = serializers.CharField()
        size = serializers.IntegerField()

    assert Pair({"name": "a", "size": 3}).data == {"name": "a", "size": 3}


def test_fields_that_may_read_the_request_are_refused() -> None:
    class WithMethod(ContextFreeRepresentation):
        name = serializers.CharField()
        shout = serializers.SerializerMethodField()

        def get_shout(self, obj: object) -> str:
            return "!"

    with pytest.raises(ImproperlyConfigured, match=r"WithMethod\.shout"):
        WithMethod(Ticket(title="x")).data  # noqa: B018
