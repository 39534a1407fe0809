"""Rows written by hopla's raw INSERTs (row_insert_sql, event_insert, ticket_create) are the rows, and
the instances, that the ORM's own `save()` makes.

Those writes bypass `Model.save()` and then set the private `Model._state` by hand (DEPARTURES.md): a new
Django that prepares values differently or keeps more state on a saved instance must fail here.
"""

from typing import Any

import pytest
from django.db import models, transaction

from tickets.models import Event, EventType, Priority, Ticket
from tickets.services.event_writing import event_record
from tickets.services.tickets import ticket_create

pytestmark = pytest.mark.django_db

# Kept by a database trigger from the title and description, never by the instance.
_SET_BY_THE_DATABASE = {"search_vector"}


def _values(row: models.Model) -> dict[str, Any]:
    return {
        field.attname: getattr(row, field.attname)
        for field in row._meta.concrete_fields
        if field.name not in _SET_BY_THE_DATABASE
    }


def _state(row: models.Model) -> dict[str, Any]:
    """What Django keeps on the instance about its row (the related-object cache aside)."""
    return {name: value for name, value in vars(row._state).items() if name != "fields_cache"}


def test_an_event_written_by_its_raw_insert_is_what_the_orm_saves(team) -> None:  # type: ignore[no-untyped-def]
    fields: dict[str, Any] = {
        "type": EventType.TICKET_UPDATED,
        "project_id": team.project.pk,
        "ticket_id": None,
        "actor": team.member,
        "data": {"title": "Über ✓", "labels": ["a"], "n": 1},
        "changes": {"title": ["a", "Über ✓"]},
    }
    with transaction.atomic():
        event = event_record(**fields)
    stored = Event.objects.get(pk=event.pk)
    assert _values(event) == _values(stored)
    saved = Event(type=event.type, project_id=team.project.pk, actor=team.member, data=event.data, seq=event.seq + 1)
    saved.save()
    assert _state(event) == _state(saved) == _state(stored)


def test_a_ticket_created_in_one_statement_is_what_the_orm_saves(team) -> None:  # type: ignore[no-untyped-def]
    ticket, _ = ticket_create(
        project_reference="OPS",
        actor=team.member,
        title="Every field",
        description="kept",
        priority=Priority.URGENT,
        labels=["b", "a"],
        assignee=team.admin,
    )
    stored = Ticket.objects.get(pk=ticket.pk)
    assert _values(ticket) == _values(stored)
    saved = Ticket(project=team.project, number=1000, key="OPS-1000", title="Saved", reporter=team.member)
    saved.save()
    assert _state(ticket) == _state(saved) == _state(stored)
    created_event = Event.objects.get(ticket=ticket.pk)
    assert created_event.project_id == ticket.project_id


def test_rows_written_by_copy_are_what_the_orm_saves(team) -> None:  # type: ignore[no-untyped-def]
    """`rows_copy` (imports: COPY through psycopg) writes each concrete column as `save()` would, JSON,
    dates, times, UUIDs, NULLs and text with tabs, backslashes and line ends included."""
    from datetime import date

    from django.utils import timezone

    from hopla.sql import rows_copy

    now = timezone.now()
    tickets = [
        Ticket(
            project=team.project,
            number=number,
            key=f"OPS-{number}",
            title="Tab\there, back\\slash, line\nend, Über ✓",
            description="\\N is not NULL\r\n",
            priority=Priority.HIGH,
            labels=["a", 'say "hi"'],
            assignee=team.member if number == 1 else None,
            reporter=team.admin,
            due_date=date(2031, 1, 31) if number == 1 else None,
            external_ref=f"github:{number}",
            created_at=now,
            updated_at=now,
        )
        for number in (1, 2)
    ]
    events = [
        Event(type=EventType.TICKET_CREATED, project_id=team.project.pk, ticket=ticket.pk, actor=team.admin,
              data={"title": ticket.title, "n": 1}, at=now, seq=10 + index)
        for index, ticket in enumerate(tickets)
    ]  # fmt: skip

    rows_copy(tickets)
    rows_copy(events)

    for ticket in tickets:
        assert _values(Ticket.objects.get(pk=ticket.pk)) == _values(ticket)
    for event in events:
        assert _values(Event.objects.get(pk=event.pk)) == _values(event)
