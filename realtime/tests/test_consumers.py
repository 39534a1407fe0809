"""The stream's protocol, driven in-process through hopla.asgi with Channels' WebsocketCommunicator."""

import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from rest_framework_simplejwt.tokens import RefreshToken

from accounts.models import User
from accounts.tests.factories import UserFactory
from hopla.asgi import application
from realtime import consumers
from realtime.authentication import credentials_from_token
from realtime.origins import origin_validator
from realtime.protocol import MAX_MESSAGE_CHARS
from realtime.routing import websocket_urlpatterns
from realtime.selectors import event_replay_batch
from realtime.tests.support import WAIT, async_test, expired_token, inactive_user_token, token_for
from tickets.models import Event, Role
from tickets.services.event_publishing import event_publish
from tickets.services.projects import member_add, member_remove
from tickets.services.tickets import ticket_create

pytestmark = pytest.mark.django_db(transaction=True)

PATH = "/ws/v1/events/"


@asynccontextmanager
async def stream(token: str | None, headers: list[tuple[bytes, bytes]] | None = None) -> AsyncIterator[Any]:
    """A connected, greeted communicator; closed on the way out."""
    communicator = WebsocketCommunicator(application, PATH if token is None else f"{PATH}?token={token}", headers)
    connected, _ = await communicator.connect(WAIT)
    assert connected
    hello = await communicator.receive_json_from(WAIT)
    assert hello["type"] == "hello"
    communicator.hello = hello
    try:
        yield communicator
    finally:
        await communicator.disconnect()


async def round_trip(communicator: WebsocketCommunicator) -> None:
    """Ping and wait for the pong: everything the consumer sent before it has been received."""
    await communicator.send_json_to({"action": "ping"})
    assert await communicator.receive_json_from(WAIT) == {"type": "pong"}


async def next_event(communicator: WebsocketCommunicator) -> dict[str, Any]:
    message = await communicator.receive_json_from(WAIT)
    assert message["type"] == "event", message
    return message["event"]


create_ticket = database_sync_to_async(
    lambda project, actor, title: ticket_create(project_reference=project.key, actor=actor, title=title)[0]
)


# --- Connecting ---------------------------------------------------------------------------------


@async_test
async def test_hello_names_the_user_and_every_project_it_is_in(world):
    async with stream(token_for(world.member)) as member:
        assert member.hello == {
            "type": "hello",
            "user": str(world.member.pk),
            "projects": sorted([str(world.ops.pk), str(world.member_side.pk)]),
        }


def _password_changed(user):
    token = token_for(user)
    user.set_password("another-long-password-42")
    user.save()
    return token


def _deleted(user):
    token = token_for(user)
    user.delete()
    return token


BAD_TOKENS: dict[str, Callable[[Any], str | None]] = {
    "missing": lambda user: None,
    "empty": lambda user: "",
    "garbage": lambda user: "not-a-jwt",
    "tampered": lambda user: token_for(user)[:-2] + "xx",
    "refresh instead of access": lambda user: str(RefreshToken.for_user(user)),
    "expired": expired_token,
    "inactive user": inactive_user_token,
    "issued before a password change": _password_changed,
    "user deleted": _deleted,
}


@pytest.mark.parametrize("case", BAD_TOKENS)
@async_test
async def test_a_bad_token_is_closed_with_4401_before_any_data(case, world):
    token = await database_sync_to_async(BAD_TOKENS[case])(world.member)
    communicator = WebsocketCommunicator(application, PATH if token is None else f"{PATH}?token={token}")
    connected, _ = await communicator.connect(WAIT)
    assert connected  # a custom close code needs an accepted socket
    assert await communicator.receive_output(WAIT) == {"type": "websocket.close", "code": 4401}
    await communicator.disconnect()


@async_test
async def test_a_query_string_that_is_not_ascii_counts_as_no_token(world):
    communicator = WebsocketCommunicator(application, f"{PATH}?token=é")
    assert (await communicator.connect(WAIT))[0]
    assert await communicator.receive_output(WAIT) == {"type": "websocket.close", "code": 4401}
    await communicator.disconnect()


@pytest.mark.parametrize(
    ("origin", "accepted"),
    [
        (None, True),  # scripts and services send none: see realtime/origins.py
        (b"http://localhost:8000", True),
        (b"https://127.0.0.1", True),
        (b"https://app.example.com", True),  # trusted for CORS in this test
        (b"https://evil.example", False),
        (b"null", False),
    ],
)
@async_test
async def test_browsers_may_connect_from_the_site_and_its_cors_origins_only(origin, accepted, world, settings):
    settings.CORS_ALLOWED_ORIGINS = ["https://app.example.com"]
    app = origin_validator(consumers.EventStreamConsumer.as_asgi())
    headers = [] if origin is None else [(b"origin", origin)]
    communicator = WebsocketCommunicator(app, f"{PATH}?token={token_for(world.member)}", headers)
    connected, _ = await communicator.connect(WAIT)
    assert connected is accepted
    if accepted:
        assert (await communicator.receive_json_from(WAIT))["type"] == "hello"
    await communicator.disconnect()


def test_the_route_is_the_contract_path():
    assert str(websocket_urlpatterns[0].pattern) == "ws/v1/events/"


# --- Client messages ----------------------------------------------------------------------------


MALFORMED = [
    ("not json", "invalid_json"),
    ("{", "invalid_json"),
    ("[" * 3000 + "]" * 3000, "message_too_large"),
    ("[" * 2000 + "]" * 2000, "invalid_json"),  # too deep to parse, yet within the size limit
    ("42", "invalid_message"),
    ('"ping"', "invalid_message"),
    ("null", "invalid_message"),
    ('["ping"]', "invalid_message"),
    ("{}", "invalid_message"),
    ('{"action": null}', "invalid_message"),
    ('{"action": 1}', "invalid_message"),
    ('{"action": ["ping"]}', "invalid_message"),
    ('{"action": "PING"}', "unknown_action"),
    ('{"action": "delete_everything"}', "unknown_action"),
    ('{"action": "subscribe"}', "invalid_message"),
    ('{"action": "subscribe", "project": 7}', "invalid_message"),
    ('{"action": "subscribe", "project": "OPS"}', "invalid_message"),
    ('{"action": "subscribe", "project": {"id": "x"}}', "invalid_message"),
    ('{"action": "unsubscribe", "project": null}', "invalid_message"),
    ('{"action": "resume"}', "invalid_message"),
    ('{"action": "resume", "after_seq": "3"}', "invalid_message"),
    ('{"action": "resume", "after_seq": -1}', "invalid_message"),
    ('{"action": "resume", "after_seq": 1.5}', "invalid_message"),
    ('{"action": "resume", "after_seq": true}', "invalid_message"),
    ('{"action": "ping", "padding": "' + "x" * MAX_MESSAGE_CHARS + '"}', "message_too_large"),
]


@async_test
async def test_malformed_messages_get_a_stable_error_code_and_the_connection_stays_open(world):
    async with stream(token_for(world.member)) as member:
        for text, code in MALFORMED:
            await member.send_to(text_data=text)
            error = await member.receive_json_from(WAIT)
            assert error["type"] == "error", text
            assert error["code"] == code, text
            assert error["detail"]
        for frame in (b'{"action": "ping"}', b"\xff" * (MAX_MESSAGE_CHARS + 1)):
            await member.send_to(bytes_data=frame)
            assert (await member.receive_json_from(WAIT))["code"] in {"invalid_json", "message_too_large"}
        await round_trip(member)


@async_test
async def test_ping_gets_pong_and_unknown_fields_are_ignored(world):
    async with stream(token_for(world.member)) as member:
        await member.send_json_to({"action": "ping", "client_time": 12})
        assert await member.receive_json_from(WAIT) == {"type": "pong"}


# --- Subscriptions and membership ---------------------------------------------------------------


@async_test
async def test_a_project_the_user_is_not_in_cannot_be_subscribed_to(world):
    async with stream(token_for(world.member)) as member:
        for project in (str(world.outsider_side.pk), "00000000-0000-0000-0000-000000000000"):
            for action in ("subscribe", "unsubscribe"):
                await member.send_json_to({"action": action, "project": project})
                assert (await member.receive_json_from(WAIT))["code"] == "project_not_found"
        await create_ticket(world.outsider_side, world.outsider, "Theirs")
        await create_ticket(world.member_side, world.member, "Mine")
        assert (await next_event(member))["data"]["title"] == "Mine"


@async_test
async def test_unsubscribe_stops_a_projects_events_and_subscribe_brings_them_back(world):
    async with stream(token_for(world.member)) as member:
        ops = str(world.ops.pk)
        await member.send_json_to({"action": "unsubscribe", "project": ops.upper()})
        await round_trip(member)
        await create_ticket(world.ops, world.admin, "Unheard")
        await create_ticket(world.member_side, world.member, "Barrier")
        assert (await next_event(member))["data"]["title"] == "Barrier"
        await member.send_json_to({"action": "subscribe", "project": ops})
        await round_trip(member)
        await create_ticket(world.ops, world.admin, "Heard")
        event = await next_event(member)
        assert (event["project"], event["data"]["title"]) == (ops, "Heard")


@async_test
async def test_membership_is_checked_on_delivery_removal_stops_events_at_once_and_adding_starts_them(world):
    membership = await database_sync_to_async(world.ops.memberships.get)(user=world.member)
    async with stream(token_for(world.member)) as member:
        await database_sync_to_async(member_remove)(project=world.ops, actor=world.admin, membership=membership)
        removed = await next_event(member)
        assert (removed["type"], removed["data"]["user"]["id"]) == ("member.removed", str(world.member.pk))
        await create_ticket(world.ops, world.admin, "After removal")
        await create_ticket(world.member_side, world.member, "Barrier")
        assert (await next_event(member))["data"]["title"] == "Barrier"

        await database_sync_to_async(member_add)(
            project=world.ops, actor=world.admin, user=world.member, role=Role.VIEWER
        )
        added = await next_event(member)
        assert (added["type"], added["data"]["user"]["id"]) == ("member.added", str(world.member.pk))
        await create_ticket(world.ops, world.admin, "After adding")
        assert (await next_event(member))["data"]["title"] == "After adding"
        await round_trip(member)  # and nothing was sent twice


@async_test
async def test_other_peoples_membership_changes_are_ordinary_project_events(world):
    newcomer = await database_sync_to_async(UserFactory)()
    async with stream(token_for(world.member)) as member, stream(token_for(newcomer)) as newcomer_stream:
        assert newcomer_stream.hello["projects"] == []
        await database_sync_to_async(member_add)(project=world.ops, actor=world.admin, user=newcomer, role=Role.MEMBER)
        for communicator in (member, newcomer_stream):
            added = await next_event(communicator)
            assert (added["type"], added["data"]["user"]["id"]) == ("member.added", str(newcomer.pk))
        await round_trip(newcomer_stream)


# --- Resume -------------------------------------------------------------------------------------


@async_test
async def test_resume_replays_the_users_projects_after_the_given_seq_in_order(world):
    first = await create_ticket(world.ops, world.admin, "Seen before")
    seen = await database_sync_to_async(lambda: Event.objects.get(ticket=first.pk).seq)()
    for title in ("One", "Two"):
        await create_ticket(world.ops, world.admin, title)
    await create_ticket(world.outsider_side, world.outsider, "Not mine")
    await create_ticket(world.member_side, world.member, "Three")
    async with stream(token_for(world.member)) as member:
        await member.send_json_to({"action": "resume", "after_seq": seen})
        replayed = [await next_event(member) for _ in range(3)]
        assert [event["data"]["title"] for event in replayed] == ["One", "Two", "Three"]
        assert [event["seq"] for event in replayed] == sorted(event["seq"] for event in replayed)
        await round_trip(member)
        await create_ticket(world.ops, world.admin, "Live")
        assert (await next_event(member))["data"]["title"] == "Live"


@async_test
async def test_resume_has_no_gap_and_no_duplicate_where_history_meets_live_events(world, monkeypatch):
    """While the history is read, one event commits (and is published live) and the events already read are
    published again, late: each must reach the client exactly once, in seq order."""
    for title in ("Old 1", "Old 2"):
        await create_ticket(world.ops, world.admin, title)

    def history_with_a_race(**kwargs):
        batch = event_replay_batch(**kwargs)
        if batch:
            ticket_create(project_reference=world.ops.key, actor=world.admin, title="During replay")
            for late in Event.objects.filter(seq__in=[event["seq"] for event in batch]):
                event_publish(late)
        return batch

    monkeypatch.setattr(consumers, "event_replay_batch", history_with_a_race)
    async with stream(token_for(world.member)) as member:
        await create_ticket(world.ops, world.admin, "Live before resume")
        live_before = await next_event(member)
        await member.send_json_to({"action": "resume", "after_seq": 0})
        received = [await next_event(member) for _ in range(3)]
        await round_trip(member)
    titles = [event["data"]["title"] for event in [live_before, *received] if event["type"] == "ticket.created"]
    assert titles == ["Live before resume", "Old 1", "Old 2", "During replay"]
    seqs = [event["seq"] for event in received]
    assert seqs == sorted(set(seqs))


@async_test
async def test_pings_are_answered_during_a_replay_and_a_second_resume_waits_its_turn(world, monkeypatch):
    release = threading.Event()

    def slow_history(**kwargs):
        release.wait(WAIT)
        return event_replay_batch(**kwargs)

    await create_ticket(world.ops, world.admin, "History")
    monkeypatch.setattr(consumers, "event_replay_batch", slow_history)
    async with stream(token_for(world.member)) as member:
        await member.send_json_to({"action": "resume", "after_seq": 0})
        await round_trip(member)
        await member.send_json_to({"action": "resume", "after_seq": 0})
        assert (await member.receive_json_from(WAIT))["code"] == "resume_in_progress"
        release.set()
        assert (await next_event(member))["data"]["title"] == "History"
        await round_trip(member)


@async_test
async def test_a_connection_that_goes_away_during_a_replay_ends_quietly(world, monkeypatch, caplog):
    release = threading.Event()

    def slow_history(**kwargs):
        release.wait(WAIT)
        return event_replay_batch(**kwargs)

    await create_ticket(world.ops, world.admin, "History")
    monkeypatch.setattr(consumers, "event_replay_batch", slow_history)
    async with stream(token_for(world.member)) as member:
        await member.send_json_to({"action": "resume", "after_seq": 0})
        await round_trip(member)
    release.set()
    assert not [record for record in caplog.records if record.exc_info]


# --- Credentials --------------------------------------------------------------------------------


@async_test
async def test_a_connection_that_missed_the_announcement_checks_its_token_again_before_sending(world, monkeypatch):
    """Redis was away when the account was deactivated: the next event the connection is about to send
    makes it read the user again, once its last check is older than REAUTHENTICATE_AFTER_SECONDS."""
    monkeypatch.setattr(consumers, "REAUTHENTICATE_AFTER_SECONDS", 0)
    async with stream(token_for(world.member)) as member:
        # An update() sends no signal: the connections are told nothing, as when the message is lost.
        await database_sync_to_async(User.objects.filter(pk=world.member.pk).update)(is_active=False)
        await create_ticket(world.ops, world.admin, "Not for a deactivated account")
        assert await member.receive_output(WAIT) == {"type": "websocket.close", "code": 4401}


@async_test
async def test_within_the_interval_events_go_out_without_reading_the_user_again(world, monkeypatch):
    checks = []

    def counted(raw_token):
        checks.append(raw_token)
        return credentials_from_token(raw_token)

    monkeypatch.setattr(consumers, "credentials_from_token", counted)
    async with stream(token_for(world.member)) as member:
        for title in ("One", "Two", "Three"):
            await create_ticket(world.ops, world.admin, title)
        assert [(await next_event(member))["data"]["title"] for _ in range(3)] == ["One", "Two", "Three"]
    assert len(checks) == 1  # on connect
