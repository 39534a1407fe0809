"""Same-origin pages authenticate the stream with their session cookie (SPEC §7, §12): real server and sockets."""

import pytest
from channels.db import database_sync_to_async
from django.test import Client
from websockets.asyncio.client import connect

from realtime.tests.support import WAIT, async_test, close_code, receive, round_trip

pytestmark = pytest.mark.django_db(transaction=True)


def _session_of(user) -> tuple[Client, str]:
    client = Client()
    client.force_login(user)
    return client, client.cookies["sessionid"].value


async def _open(server, session_key: str, origin: str | None):
    headers = {"Cookie": f"sessionid={session_key}"}
    if origin is not None:
        headers["Origin"] = origin
    return await connect(server.ws_url, proxy=None, open_timeout=WAIT, additional_headers=headers, origin=None)


@async_test
async def test_a_same_origin_page_connects_with_its_session(server, world):
    _, session_key = await database_sync_to_async(_session_of)(world.member)
    stream = await _open(server, session_key, origin=server.base_url)
    try:
        hello = await receive(stream)
        assert hello["type"] == "hello"
        assert hello["user"] == str(world.member.pk)
    finally:
        await stream.close()


@async_test
async def test_the_cookie_alone_authenticates_nothing_from_another_origin_or_from_a_script(server, world):
    _, session_key = await database_sync_to_async(_session_of)(world.member)
    # Another page the origin check lets through (a host in ALLOWED_HOSTS, on another port): still no session.
    other_page = await _open(server, session_key, origin="http://localhost:1")
    assert await close_code(other_page) == 4401
    script = await _open(server, session_key, origin=None)
    assert await close_code(script) == 4401


@async_test
async def test_logging_out_closes_that_session_s_socket_and_not_the_others(server, world):
    client, session_key = await database_sync_to_async(_session_of)(world.member)
    _, other_key = await database_sync_to_async(_session_of)(world.member)
    stream = await _open(server, session_key, origin=server.base_url)
    other = await _open(server, other_key, origin=server.base_url)
    try:
        assert (await receive(stream))["type"] == "hello"
        assert (await receive(other))["type"] == "hello"
        await database_sync_to_async(client.post)("/logout/")
        assert await close_code(stream) == 4401
        await round_trip(other)
    finally:
        await other.close()
