"""End to end: real uvicorn processes, the real Redis channel layer, a real WebSocket client, HTTP over sockets."""

import asyncio

import pytest
from channels.db import database_sync_to_async
from websockets.exceptions import ConnectionClosed

from realtime.tests.support import (
    WAIT,
    async_test,
    connected,
    expired_token,
    http,
    http_async,
    inactive_user_token,
    next_event,
    open_stream,
    receive,
    round_trip,
    send,
    token_for,
)
from tickets.models import Event
from tickets.tests.test_events import as_everyone_sees_it

pytestmark = pytest.mark.django_db(transaction=True)

TICKETS = "/api/v1/tickets/"


async def create_ticket(server, user, project, title):
    return await http_async(server, "POST", TICKETS, token=token_for(user), body={"project": project, "title": title})


@async_test
async def test_a_ticket_created_over_http_reaches_another_member_at_once_and_never_an_outsider(server, world):
    member, outsider = await connected(server, world.member), await connected(server, world.outsider)
    try:
        loop = asyncio.get_running_loop()
        created = await create_ticket(server, world.admin, "OPS", "Printer on fire")
        started = loop.time()
        event = await next_event(member)  # fails after WAIT seconds
        assert loop.time() - started < WAIT
        assert (event["type"], event["project"], event["data"]) == (
            "ticket.created",
            str(world.ops.pk),
            as_everyone_sees_it(created),
        )
        assert event["actor"]["id"] == str(world.admin.pk)
        assert set(event) == {"id", "seq", "type", "project", "ticket", "actor", "at", "changes", "data"}
        # Published after the OPS ticket, so delivered after it, had the outsider been sent that one.
        await create_ticket(server, world.outsider, "OUT", "Their own")
        assert (await next_event(outsider))["data"]["title"] == "Their own"
    finally:
        await member.close()
        await outsider.close()


BAD_TOKENS = {
    "missing": lambda user: None,
    "garbage": lambda user: "garbage",
    "expired": expired_token,
    "inactive user": inactive_user_token,
}


@pytest.mark.parametrize("case", BAD_TOKENS)
@async_test
async def test_a_bad_token_is_closed_with_4401_before_any_data(server, world, case):
    stream = await open_stream(server, await database_sync_to_async(BAD_TOKENS[case])(world.member))
    with pytest.raises(ConnectionClosed) as closed:
        await asyncio.wait_for(stream.recv(), WAIT)  # raises at once: no message came before the close
    assert closed.value.rcvd.code == 4401


@async_test
async def test_an_event_caused_through_one_server_reaches_a_client_of_the_other(server, other_server, world):
    member = await connected(other_server, world.member)
    try:
        created = await create_ticket(server, world.admin, "OPS", "Cross-process")
        assert (await next_event(member))["data"] == as_everyone_sees_it(created)
    finally:
        await member.close()


async def _seq_of_latest_event():
    return await database_sync_to_async(lambda: Event.objects.order_by("-seq").values_list("seq", flat=True)[0])()


@async_test
async def test_resume_after_reconnecting_sends_exactly_the_missed_events_in_order_then_live_ones(server, world):
    member = await connected(server, world.member)
    await create_ticket(server, world.admin, "OPS", "Seen")
    last_seen = (await next_event(member))["seq"]
    await member.close()

    admin = token_for(world.admin)
    await create_ticket(server, world.admin, "OPS", "Missed 1")
    await create_ticket(server, world.member, "MINE", "Missed 2")
    await http_async(server, "PATCH", f"{TICKETS}OPS-1/", token=admin, body={"priority": "high"})
    await http_async(server, "POST", f"{TICKETS}OPS-2/comments/", token=admin, body={"body": "Missed 4"})
    await create_ticket(server, world.outsider, "OUT", "Not for the member")
    await create_ticket(server, world.admin, "OPS", "Missed 5")

    member = await connected(server, world.member)
    try:
        await send(member, {"action": "resume", "after_seq": last_seen})
        replayed = [await next_event(member) for _ in range(5)]
        assert [event["type"] for event in replayed] == [
            "ticket.created",
            "ticket.created",
            "ticket.updated",
            "comment.created",
            "ticket.created",
        ]
        assert [event["seq"] for event in replayed] == sorted(event["seq"] for event in replayed)
        assert replayed[0]["seq"] > last_seen
        await create_ticket(server, world.admin, "OPS", "Live")
        live = await next_event(member)
        assert live["data"]["title"] == "Live"
        assert live["seq"] == await _seq_of_latest_event()
        await round_trip(member)  # nothing more: no event came twice
    finally:
        await member.close()


@async_test
async def test_resume_while_changes_keep_coming_misses_none_and_repeats_none(server, other_server, world):
    admin = token_for(world.admin)
    for number in range(5):
        await create_ticket(server, world.admin, "OPS", f"Before {number}")

    def keep_writing():
        for number in range(15):
            body = {"project": "OPS", "title": f"During {number}"}
            status, _ = http(other_server, "POST", TICKETS, token=admin, body=body)
            assert status == 201

    member = await connected(server, world.member)
    try:
        writer = asyncio.create_task(asyncio.to_thread(keep_writing))
        await send(member, {"action": "resume", "after_seq": 0})
        received = [await next_event(member) for _ in range(20)]
        await writer
        await round_trip(member)
    finally:
        await member.close()
    seqs = [event["seq"] for event in received]
    assert seqs == sorted(set(seqs))
    expected = await _all_seqs()
    assert seqs == expected


async def _all_seqs():
    return await database_sync_to_async(lambda: list(Event.objects.order_by("seq").values_list("seq", flat=True)))()


@async_test
async def test_a_removed_member_stops_receiving_at_once_and_is_back_when_added_again(server, world):
    admin = token_for(world.admin)
    member = await connected(server, world.member)
    try:
        await http_async(server, "DELETE", f"/api/v1/projects/OPS/members/{world.member.pk}/", token=admin)
        removed = await next_event(member)
        assert (removed["type"], removed["data"]["user"]["id"]) == ("member.removed", str(world.member.pk))
        await create_ticket(server, world.admin, "OPS", "Secret")
        await create_ticket(server, world.member, "MINE", "Barrier")
        assert (await next_event(member))["data"]["title"] == "Barrier"

        await http_async(
            server, "POST", "/api/v1/projects/OPS/members/", token=admin, body={"user": str(world.member.pk)}
        )
        assert (await next_event(member))["type"] == "member.added"
        await create_ticket(server, world.admin, "OPS", "Welcome back")
        assert (await next_event(member))["data"]["title"] == "Welcome back"
    finally:
        await member.close()


@async_test
async def test_ping_pong_and_malformed_messages_leave_the_connection_working(server, world):
    member = await connected(server, world.member)
    try:
        await round_trip(member)
        for message, code in [
            ("nonsense", "invalid_json"),
            ("[]", "invalid_message"),
            ('{"action": "dance"}', "unknown_action"),
            ('{"action": "resume", "after_seq": "x"}', "invalid_message"),
            ({"action": "subscribe", "project": str(world.outsider_side.pk)}, "project_not_found"),
            ("x" * 100_000, "message_too_large"),
            (b"\x00\x01", "invalid_json"),
        ]:
            await send(member, message) if not isinstance(message, bytes) else await member.send(message)
            reply = await receive(member)
            assert (reply["type"], reply["code"]) == ("error", code)
        await round_trip(member)
        created = await create_ticket(server, world.admin, "OPS", "Still listening")
        assert (await next_event(member))["data"] == as_everyone_sees_it(created)
    finally:
        await member.close()


@async_test
async def test_the_server_log_never_holds_a_token(server, world):
    token = token_for(world.member)
    stream = await open_stream(server, token)
    try:
        assert (await receive(stream))["type"] == "hello"
    finally:
        await stream.close()
    log = server.log()
    assert "token=[redacted]" in log  # uvicorn logged the handshake...
    assert token not in log  # ...without the JWT


@async_test
async def test_deleting_a_project_tells_its_members_sockets_which_forget_it_and_no_one_else(server, world):
    admin, member, outsider = [await connected(server, user) for user in (world.admin, world.member, world.outsider)]
    try:
        await http_async(server, "DELETE", f"/api/v1/projects/{world.ops.pk}/", token=token_for(world.admin))
        for stream in (admin, member):
            deleted = await next_event(stream)
            assert (deleted["type"], deleted["project"], deleted["data"]["key"]) == (
                "project.deleted",
                str(world.ops.pk),
                "OPS",
            )
            assert deleted["actor"]["id"] == str(world.admin.pk)
        # Published after the deletion, so delivered after it, had the outsider been sent that one.
        await create_ticket(server, world.outsider, "OUT", "Barrier")
        assert (await next_event(outsider))["data"]["title"] == "Barrier"
        # The member's connection no longer counts the project among its own.
        await send(member, {"action": "subscribe", "project": str(world.ops.pk)})
        assert (await receive(member))["code"] == "project_not_found"
        await round_trip(admin)  # and nothing else came
    finally:
        for stream in (admin, member, outsider):
            await stream.close()


@async_test
async def test_resume_after_a_project_was_deleted_replays_the_remaining_projects(server, world):
    member = await connected(server, world.member)
    await create_ticket(server, world.admin, "OPS", "Gone with the project")
    last_seen = (await next_event(member))["seq"]
    await member.close()
    await create_ticket(server, world.member, "MINE", "Kept")
    await http_async(server, "DELETE", f"/api/v1/projects/{world.ops.pk}/", token=token_for(world.admin))

    member = await open_stream(server, token_for(world.member))
    try:
        assert (await receive(member))["projects"] == [str(world.member_side.pk)]
        await send(member, {"action": "resume", "after_seq": last_seen})
        replayed = await next_event(member)
        assert (replayed["type"], replayed["data"]["title"]) == ("ticket.created", "Kept")
        await round_trip(member)  # nothing else: the project's history, deletion included, is not replayed
        await create_ticket(server, world.member, "MINE", "Live")
        assert (await next_event(member))["data"]["title"] == "Live"
    finally:
        await member.close()
