"""Live push (SPEC §11): a new notification reaches the user's sockets over the real Redis channel
layer, whatever projects the socket subscribed to, and only while the user is a member."""

from typing import Any

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator

from hopla.asgi import application
from notifications.making import notifications_make, notifications_push
from notifications.models import Notification, NotifyCursor
from realtime.tests.support import WAIT, async_test, token_for
from tickets.event_cursor import event_cursor_ensure
from tickets.models import Membership
from tickets.services.projects import member_remove
from tickets.services.tickets import ticket_create
from tickets.tests.conftest import client_for

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _cursor(world: Any) -> None:
    """The cursor row its migration made is flushed with the tables after each test of this kind: made
    again (at the newest event, as the worker would) before the change the test notifies."""
    event_cursor_ensure(NotifyCursor)


async def connected(user: Any) -> WebsocketCommunicator:
    communicator = WebsocketCommunicator(application, f"/ws/v1/events/?token={token_for(user)}")
    assert (await communicator.connect(WAIT))[0]
    assert (await communicator.receive_json_from(WAIT))["type"] == "hello"
    return communicator


async def next_of_type(communicator: WebsocketCommunicator, kind: str) -> dict[str, Any]:
    while True:
        message = await communicator.receive_json_from(WAIT)
        if message["type"] == kind:
            return message


def _assign(world: Any) -> None:
    ticket_create(project_reference="OPS", actor=world.admin, title="Printer on fire", assignee=world.member)
    while notifications_make():
        pass


@async_test
async def test_a_new_notification_is_pushed_even_to_a_socket_that_unsubscribed_the_project(world):
    member = await connected(world.member)
    try:
        await member.send_json_to({"action": "unsubscribe", "project": str(world.ops.pk)})
        await database_sync_to_async(_assign)(world)
        message = await next_of_type(member, "notification")
        stored = await database_sync_to_async(Notification.objects.get)()
        pushed = message["notification"]
        assert pushed["id"] == str(stored.pk)
        assert (pushed["reason"], pushed["read_at"], pushed["project"]) == ("assigned", None, str(world.ops.pk))
        assert pushed["ticket"]["key"] == "OPS-1"
        assert pushed["event"]["type"] == "ticket.created"
        assert pushed["event"]["actor"]["id"] == str(world.admin.pk)
        # The same as the API lists it.
        listed = await database_sync_to_async(lambda: client_for(world.member).get("/api/v1/notifications/").json())()
        assert listed["results"][0] == pushed
    finally:
        await member.disconnect()


@async_test
async def test_a_removed_member_is_pushed_nothing_of_the_project(world):
    member = await connected(world.member)
    try:
        await database_sync_to_async(_assign)(world)
        pushed = (await next_of_type(member, "notification"))["notification"]
        membership = await database_sync_to_async(Membership.objects.get)(project=world.ops, user=world.member)
        await database_sync_to_async(member_remove)(project=world.ops, actor=world.admin, membership=membership)
        stored = await database_sync_to_async(
            lambda: list(
                Notification.objects.values_list(
                    "id", "user_id", "event_id", "project_id", "ticket", "reason", "created_at"
                )
            )
        )()
        await database_sync_to_async(notifications_push)(stored, {stored[0][2]: pushed["event"]})
        await member.send_json_to({"action": "ping"})
        # Until the pong: the removal's events (the unassignment, member.removed), and no notification.
        kinds = []
        while (message := await member.receive_json_from(WAIT))["type"] != "pong":
            kinds.append(message.get("event", {}).get("type", message["type"]))
        assert "member.removed" in kinds
        assert "notification" not in kinds
    finally:
        await member.disconnect()
