"""The Event table: what each change writes, in the change's own transaction, and the history endpoint."""

from datetime import timedelta

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from channels.layers import get_channel_layer
from django.db import transaction
from django.utils import timezone

from hopla.channel_groups import project_group
from tickets.models import Event, EventCounter, Priority, Project
from tickets.services.event_sweep import events_republish
from tickets.services.tickets import ticket_update
from tickets.tests.factories import MembershipFactory, ProjectFactory, TicketFactory

pytestmark = pytest.mark.django_db

TICKETS = "/api/v1/tickets/"


def as_everyone_sees_it(ticket: dict) -> dict:
    """A ticket's answer without the reader's own fields (SPEC §11), as its events carry it."""
    return {name: value for name, value in ticket.items() if name not in ("is_watching", "watcher_count")}


def test_a_multi_field_patch_records_exact_changes(team):
    client = team.client("member")
    ticket_id = client.post(
        TICKETS, {"project": "OPS", "title": "Old title", "labels": ["a"], "due_date": "2030-01-01"}, format="json"
    ).json()["id"]
    response = client.patch(
        f"{TICKETS}OPS-1/",
        {
            "title": "New title",
            "priority": "urgent",
            "labels": ["a", "B"],
            "assignee": str(team.admin.id),
            "due_date": None,
            "status": "in_progress",
            "description": "",
        },
        format="json",
    )
    assert response.status_code == 200
    event = Event.objects.get(type="ticket.updated")
    assert str(event.ticket) == ticket_id
    assert event.actor == team.member
    assert event.changes == {
        "title": ["Old title", "New title"],
        "priority": ["medium", "urgent"],
        "labels": [["a"], ["a", "b"]],
        "assignee": [None, str(team.admin.id)],
        "due_date": ["2030-01-01", None],
        "status": ["open", "in_progress"],
    }
    assert event.data == as_everyone_sees_it(response.json())


def test_a_creation_with_every_field_answers_and_records_what_get_shows(team):
    # ticket_create renders the ticket before it claims the number and fills in the claimed parts after:
    # the answer, the event and a later GET must still agree, to the stored timestamps.
    client = team.client("member")
    body = {
        "project": str(team.project.id),  # by id: the key in the answer comes from the claim
        "title": "  Every field  ",
        "description": "  kept as sent ",
        "priority": "urgent",
        "labels": ["b", "a"],
        "assignee": str(team.admin.id),
        "due_date": "2030-01-01",
    }
    created = client.post(TICKETS, body, format="json")
    assert created.status_code == 201, created.content
    assert created.json()["key"] == "OPS-1"
    assert created.json()["project"] == str(team.project.id)
    shown = client.get(f"{TICKETS}OPS-1/").json()
    assert created.json() == shown
    assert Event.objects.get(type="ticket.created").data == as_everyone_sees_it(shown)
    assert created["ETag"] == client.get(f"{TICKETS}OPS-1/")["ETag"]


def test_every_change_type_writes_its_event_with_the_api_shape(team):
    member, admin = team.client("member"), team.client("admin")
    created = member.post(TICKETS, {"project": "OPS", "title": "T"}, format="json").json()
    comment = member.post(f"{TICKETS}OPS-1/comments/", {"body": "c"}, format="json").json()
    member.patch(f"{TICKETS}OPS-1/comments/{comment['id']}/", {"body": "c2"}, format="json")
    member.delete(f"{TICKETS}OPS-1/comments/{comment['id']}/")
    admin.delete(f"{TICKETS}OPS-1/")
    events = list(Event.objects.filter(ticket=created["id"]).order_by("seq"))
    assert [event.type for event in events] == [
        "ticket.created",
        "comment.created",
        "comment.updated",
        "comment.deleted",
        "ticket.deleted",
    ]
    assert events[0].data == as_everyone_sees_it(created)
    assert events[1].data == comment
    assert events[2].changes == {"body": ["c", "c2"]}
    assert events[4].actor == team.admin
    assert events[4].data["id"] == created["id"]
    assert all(event.project_id == team.project.id for event in events)
    seqs = [event.seq for event in events]
    assert seqs == sorted(seqs)
    assert len(set(seqs)) == len(seqs)


def test_a_request_that_fails_validation_writes_no_event(team):
    client = team.client("member")
    client.post(TICKETS, {"project": "OPS", "title": "T"}, format="json")
    before = Event.objects.count()
    assert client.patch(f"{TICKETS}OPS-1/", {"priority": "nope"}, format="json").status_code == 400
    assert client.patch(f"{TICKETS}OPS-1/", {"status": "closed"}, format="json").status_code == 409
    assert client.patch(f"{TICKETS}OPS-1/", {"title": "x"}, format="json", HTTP_IF_MATCH='"9"').status_code == 412
    assert client.post(TICKETS, {"project": "OPS", "title": ""}, format="json").status_code == 400
    assert team.client("viewer").patch(f"{TICKETS}OPS-1/", {"title": "v"}, format="json").status_code == 403
    assert Event.objects.count() == before


def test_a_refused_creation_takes_neither_a_ticket_number_nor_an_event_number(team):
    client = team.client("member")
    assert client.post(TICKETS, {"project": "OPS", "title": "First"}, format="json").data["key"] == "OPS-1"
    last_seq = Event.objects.latest("seq").seq
    outsider = {"project": "OPS", "title": "T", "assignee": str(team.outsider.pk)}
    refused = client.post(TICKETS, outsider, format="json")
    assert (refused.status_code, refused.data["errors"]["assignee"][0]["code"]) == (400, "not_a_member")
    assert team.client("viewer").post(TICKETS, {"project": "OPS", "title": "T"}, format="json").status_code == 403
    assert team.client("outsider").post(TICKETS, {"project": "OPS", "title": "T"}, format="json").status_code == 400
    second = {"project": "OPS", "title": "Second", "assignee": str(team.viewer.pk)}
    created = client.post(TICKETS, second, format="json")
    assert created.data["key"] == "OPS-2"
    assert Event.objects.latest("seq").seq == last_seq + 1 == EventCounter.objects.get().last


def test_event_numbers_are_never_reused_once_their_events_are_deleted(team):
    """A client that saw event n resumes after n: a later event numbered n again would never reach it."""
    doomed = ProjectFactory(key="GONE", created_by=team.admin)
    MembershipFactory(project=doomed, user=team.admin, role="admin")
    admin = team.client("admin")
    for title in ("a", "b"):
        assert admin.post(TICKETS, {"project": "GONE", "title": title}, format="json").status_code == 201
    highest = Event.objects.latest("seq").seq
    assert admin.delete("/api/v1/projects/GONE/").status_code == 204
    assert not Project.objects.filter(key="GONE").exists()
    # Its events went with it; the one that says so came next.
    assert list(Event.objects.filter(seq__gte=highest - 1).values_list("type", "seq")) == [
        ("project.deleted", highest + 1)
    ]
    assert admin.post(TICKETS, {"project": "OPS", "title": "After"}, format="json").status_code == 201
    assert Event.objects.latest("seq").seq == highest + 2


def test_no_event_survives_a_rolled_back_transaction(team):
    ticket = TicketFactory(project=team.project, reporter=team.member)
    ticket.my_role = "member"

    def update_then_fail() -> None:
        with transaction.atomic():
            ticket_update(ticket=ticket, actor=team.member, data={"priority": Priority.HIGH})
            assert Event.objects.filter(ticket=ticket.id).count() == 1
            raise RuntimeError("the surrounding work failed")

    with pytest.raises(RuntimeError):
        update_then_fail()
    assert not Event.objects.filter(ticket=ticket.id).exists()
    ticket.refresh_from_db()
    assert (ticket.priority, ticket.version) == (Priority.MEDIUM, 1)


def test_history_lists_the_tickets_events_oldest_first(team):
    client = team.client("member")
    client.post(TICKETS, {"project": "OPS", "title": "T"}, format="json")
    client.post(TICKETS, {"project": "OPS", "title": "Other"}, format="json")
    client.patch(f"{TICKETS}OPS-1/", {"status": "in_progress"}, format="json")
    client.post(f"{TICKETS}OPS-1/comments/", {"body": "on it"}, format="json")
    response = team.client("viewer").get(f"{TICKETS}OPS-1/history/")
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 3
    assert [event["type"] for event in body["results"]] == ["ticket.created", "ticket.updated", "comment.created"]
    first = body["results"][0]
    assert set(first) == {"id", "seq", "type", "project", "ticket", "actor", "at", "changes", "data"}
    assert first["actor"]["id"] == str(team.member.id)
    assert body["results"][1]["changes"] == {"status": ["open", "in_progress"]}


def _swept_to_the_projects_group(project_id) -> dict:
    """What the sweep publishes to the project's group, as a member's connection would receive it."""
    layer = get_channel_layer()

    async def listen_then_sweep() -> dict:
        channel = await layer.new_channel()
        await layer.group_add(project_group(project_id), channel)
        assert await sync_to_async(events_republish)() == 1
        return await layer.receive(channel)

    return async_to_sync(listen_then_sweep)()


def test_an_event_the_channel_layer_never_took_is_published_again(team):
    client = team.client("member")
    client.post(TICKETS, {"project": "OPS", "title": "Published while Redis was away"}, format="json")
    event = Event.objects.get(type="ticket.created")
    assert event.published_at is None  # its on-commit publish never ran (the test's transaction)
    Event.objects.filter(pk=event.pk).update(at=timezone.now() - timedelta(seconds=30))

    message = _swept_to_the_projects_group(team.project.id)
    assert message["event"]["seq"] == event.seq
    event.refresh_from_db()
    assert event.published_at is not None
    assert events_republish() == 0  # published once


def test_the_event_a_deleted_project_left_is_published_again_like_any_other(team):
    assert team.client("admin").delete(f"/api/v1/projects/{team.project.id}/").status_code == 204
    Event.objects.update(at=timezone.now() - timedelta(seconds=30))
    message = _swept_to_the_projects_group(team.project.id)
    assert (message["event"]["type"], message["event"]["project"]) == ("project.deleted", str(team.project.id))
