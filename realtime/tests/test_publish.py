"""Publishing after commit: a broken or stalled channel layer never fails the change that was made."""

import asyncio
import logging
import time
from datetime import timedelta

import pytest
from django.utils import timezone

from tickets.models import Event
from tickets.services import events

pytestmark = pytest.mark.django_db(transaction=True)

TICKETS = "/api/v1/tickets/"


class BrokenLayer:
    async def group_send(self, group, message):
        raise ConnectionError("Redis is down")


class StalledLayer:
    async def group_send(self, group, message):
        await asyncio.Event().wait()  # never answers


@pytest.mark.parametrize("layer", [BrokenLayer(), StalledLayer()], ids=["broken", "stalled"])
def test_a_failed_publish_is_logged_and_the_request_still_succeeds(
    layer, world_client, monkeypatch, caplog, django_capture_on_commit_callbacks
):
    monkeypatch.setattr(events, "get_channel_layer", lambda: layer)
    monkeypatch.setattr(events, "_PUBLISH_TIMEOUT_SECONDS", 0.05)
    with caplog.at_level(logging.ERROR, logger="hopla.events"), django_capture_on_commit_callbacks(execute=True):
        response = world_client.post(TICKETS, {"project": "OPS", "title": "Still saved"}, format="json")
    assert response.status_code == 201
    assert Event.objects.filter(type="ticket.created").count() == 1
    assert [record.message for record in caplog.records] == ["event publish failed"]
    events._published_marks.flush()
    assert Event.objects.get(type="ticket.created").published_at is None  # left for the sweep


def test_a_published_event_is_marked_soon_and_the_sweep_leaves_it_alone(world_client):
    """The mark is written by a batch after the request, well within the sweep's settle time."""
    response = world_client.post(TICKETS, {"project": "OPS", "title": "Published"}, format="json")
    assert response.status_code == 201
    deadline = time.monotonic() + 5
    while Event.objects.get(ticket=response.json()["id"]).published_at is None:
        assert time.monotonic() < deadline, "the published mark was never written"
        time.sleep(0.05)
    Event.objects.update(at=timezone.now() - timedelta(seconds=30))  # old enough for the sweep
    assert events.events_republish() == 0


def test_membership_changes_also_go_to_the_members_own_group(world_client, world, monkeypatch):
    sent = []

    class RecordingLayer:
        async def group_send(self, group, message):
            sent.append((group, message["event"]["type"]))

    monkeypatch.setattr(events, "get_channel_layer", RecordingLayer)
    event = Event.objects.create(seq=1, type="member.removed", project=world.ops, data={"user": {"id": "u-1"}})
    events.event_publish(event)
    assert sent == [(f"project.{world.ops.pk}", "member.removed"), ("user.u-1", "member.removed")]
