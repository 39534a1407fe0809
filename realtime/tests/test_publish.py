"""Publishing after commit: a broken or stalled channel layer never fails the change that was made."""

import asyncio
import logging
import socket
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta

import pytest
from channels_redis.pubsub import RedisPubSubChannelLayer as StockRedisPubSubChannelLayer
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone

from hopla import channel_groups
from realtime.layers import RedisPubSubChannelLayer
from realtime.tests.support import WAIT, async_test
from tickets.models import Event
from tickets.services import event_publishing, event_sweep

pytestmark = pytest.mark.django_db(transaction=True)

TICKETS = "/api/v1/tickets/"


class BrokenLayer:
    async def group_send(self, group, message):
        raise ConnectionError("Redis is down")


class StalledLayer:
    async def group_send(self, group, message):
        await asyncio.Event().wait()  # never answers


@pytest.fixture
def silent_redis() -> Iterator[str]:
    """A Redis URL whose server takes the connection and never answers (a stalled Redis)."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)  # never accepted: the kernel completes connections, nobody replies
        yield f"redis://127.0.0.1:{listener.getsockname()[1]}/0"


@pytest.fixture
def refused_redis() -> str:
    """A Redis URL where nothing listens (Redis is down)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"redis://127.0.0.1:{port}/0"


@pytest.mark.parametrize("layer", [BrokenLayer(), StalledLayer()], ids=["broken", "stalled"])
def test_a_failed_publish_is_logged_and_the_request_still_succeeds(
    layer, world_client, monkeypatch, caplog, django_capture_on_commit_callbacks
):
    monkeypatch.setattr(channel_groups, "get_channel_layer", lambda: layer)
    monkeypatch.setattr(channel_groups, "_SEND_TIMEOUT_SECONDS", 0.05)
    with caplog.at_level(logging.ERROR, logger="hopla.events"), django_capture_on_commit_callbacks(execute=True):
        response = world_client.post(TICKETS, {"project": "OPS", "title": "Still saved"}, format="json")
    assert response.status_code == 201
    assert Event.objects.filter(type="ticket.created").count() == 1
    assert [record.message for record in caplog.records] == ["event publish failed"]
    event_publishing._published_marks.flush()
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
    assert event_sweep.events_republish() == 0


def test_membership_changes_also_go_to_the_members_own_group(world_client, world, monkeypatch):
    sent = []

    class RecordingLayer:
        async def group_send(self, group, message):
            sent.append((group, message["event"]["type"]))

    monkeypatch.setattr(channel_groups, "get_channel_layer", RecordingLayer)
    event = Event.objects.create(seq=1, type="member.removed", project=world.ops, data={"user": {"id": "u-1"}})
    event_publishing.event_publish(event)
    assert sent == [(f"project.{world.ops.pk}", "member.removed"), ("user.u-1", "member.removed")]


def _hopla_layer(url: str, **config) -> RedisPubSubChannelLayer:
    return RedisPubSubChannelLayer(hosts=[url], prefix=f"test-{uuid.uuid4().hex[:8]}", **config)


@pytest.mark.parametrize("redis_url", ["refused_redis", "silent_redis"], ids=["down", "stalled"])
def test_the_blocking_publish_of_a_redis_that_is_down_or_stalled_never_fails_the_change(
    redis_url, request, world_client, monkeypatch, caplog, django_capture_on_commit_callbacks
):
    layer = _hopla_layer(request.getfixturevalue(redis_url), publish_timeout_seconds=0.2)
    monkeypatch.setattr(channel_groups, "get_channel_layer", lambda: layer)
    with caplog.at_level(logging.ERROR, logger="hopla.events"), django_capture_on_commit_callbacks(execute=True):
        response = world_client.post(TICKETS, {"project": "OPS", "title": "Still saved"}, format="json")
    assert response.status_code == 201
    assert [record.message for record in caplog.records] == ["event publish failed"]
    event_publishing._published_marks.flush()
    assert Event.objects.get(type="ticket.created").published_at is None  # left for the sweep


@pytest.mark.parametrize(
    "subscriber_class", [RedisPubSubChannelLayer, StockRedisPubSubChannelLayer], ids=["hopla", "stock"]
)
@async_test
async def test_a_blocking_group_send_reaches_the_groups_consumers_as_group_send_does(subscriber_class):
    """Consumers subscribe through channels_redis' own code: the blocking send must name the same
    channel and encode the same bytes, or events would silently go nowhere."""
    prefix = f"test-{uuid.uuid4().hex[:8]}"
    publisher = RedisPubSubChannelLayer(hosts=[settings.REDIS_URL], prefix=prefix)
    subscriber = subscriber_class(hosts=[settings.REDIS_URL], prefix=prefix)
    channel = await subscriber.new_channel()
    await subscriber.group_add("project.1", channel)
    await subscriber.group_add("project.2", channel)
    try:
        message = {"type": "event.message", "event": {"seq": 7, "data": {"title": "Über ✓", "labels": ["a"]}}}
        await asyncio.to_thread(publisher.group_send_blocking, "project.2", message)
        assert await asyncio.wait_for(subscriber.receive(channel), WAIT) == message
        await publisher.group_send("project.1", {"type": "event.message", "n": 2})  # the stock path still works
        assert await asyncio.wait_for(subscriber.receive(channel), WAIT) == {"type": "event.message", "n": 2}
    finally:
        await subscriber.flush()
        await publisher.flush()


@async_test
async def test_a_pipelined_send_of_many_reaches_the_groups_consumers_in_order():
    """An import's batch of events goes out in one round trip: each message on its group's channel, in
    the order given, as the stock layer's consumers read them."""
    prefix = f"test-{uuid.uuid4().hex[:8]}"
    publisher = RedisPubSubChannelLayer(hosts=[settings.REDIS_URL], prefix=prefix)
    subscriber = StockRedisPubSubChannelLayer(hosts=[settings.REDIS_URL], prefix=prefix)
    channel = await subscriber.new_channel()
    await subscriber.group_add("project.1", channel)
    await subscriber.group_add("project.2", channel)
    try:
        sends = [("project.2" if n % 2 else "project.1", {"type": "event.message", "n": n}) for n in range(5)]
        await asyncio.to_thread(publisher.group_send_many_blocking, sends)
        received = [await asyncio.wait_for(subscriber.receive(channel), WAIT) for _ in sends]
        assert received == [message for _, message in sends]
    finally:
        await subscriber.flush()
        await publisher.flush()


def test_the_layer_refuses_a_sentinel_configuration_it_cannot_publish_to():
    with pytest.raises(ImproperlyConfigured):
        RedisPubSubChannelLayer(hosts=[{"master_name": "main", "sentinels": [("127.0.0.1", 26379)]}])
