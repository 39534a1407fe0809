"""A socket lives no longer than what authenticated it (SPEC §7): real servers, sockets and Redis."""

import time
from datetime import timedelta

import pytest
from channels.db import database_sync_to_async
from django.contrib.auth.tokens import default_token_generator
from django.test import Client
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from rest_framework_simplejwt.tokens import AccessToken

from accounts.tests.factories import PASSWORD, UserFactory
from realtime.tests.support import (
    WAIT,
    async_test,
    close_code,
    connected,
    http_async,
    next_event,
    open_stream,
    receive,
    round_trip,
    token_for,
)

pytestmark = pytest.mark.django_db(transaction=True)

NEW_PASSWORD = "a-brand-new-passphrase-42"


def _token_expiring_in(user, seconds: int) -> AccessToken:
    token = AccessToken.for_user(user)
    token.set_exp(lifetime=timedelta(seconds=seconds))
    return token


@async_test
async def test_a_socket_closes_with_4401_when_its_token_expires_and_not_before(server, world):
    short_lived = await database_sync_to_async(_token_expiring_in)(world.member, 3)
    expires_at = short_lived["exp"]  # whole seconds: 2 to 3 s from now
    stream = await open_stream(server, str(short_lived))
    longer_lived = await connected(server, world.member)
    try:
        assert (await receive(stream))["type"] == "hello"
        await round_trip(stream)
        assert time.time() < expires_at  # the round trip above was made before the expiry
        assert await close_code(stream, timeout=expires_at - time.time() + WAIT) == 4401
        assert time.time() >= expires_at
        await round_trip(longer_lived)  # the user's other socket, whose token still holds, stays
    finally:
        await longer_lived.close()


async def _login(server, email: str, password: str) -> str:
    body = {"email": email, "password": password}
    return (await http_async(server, "POST", "/api/v1/auth/login/", token="", body=body))["access"]


@async_test
async def test_changing_the_password_closes_the_users_sockets_on_every_server_and_no_one_elses(
    server, other_server, world
):
    token = await _login(server, world.member.email, PASSWORD)
    on_one, on_other = await open_stream(server, token), await open_stream(other_server, token)
    admin = await connected(server, world.admin)
    try:
        for stream in (on_one, on_other):
            assert (await receive(stream))["type"] == "hello"
        body = {"old_password": PASSWORD, "new_password": NEW_PASSWORD}
        await http_async(server, "POST", "/api/v1/auth/password/change/", token=token, body=body)
        assert await close_code(on_one) == 4401
        assert await close_code(on_other) == 4401
        await round_trip(admin)
        # The client logs in again and reconnects: that socket stays.
        fresh = await open_stream(server, await _login(server, world.member.email, NEW_PASSWORD))
        assert (await receive(fresh))["type"] == "hello"
        await round_trip(fresh)
        await fresh.close()
    finally:
        await admin.close()


@async_test
async def test_resetting_the_password_closes_the_users_sockets(server, world):
    member = await connected(server, world.member)
    body = {
        "uid": urlsafe_base64_encode(force_bytes(world.member.pk)),
        "token": default_token_generator.make_token(world.member),
        "new_password": NEW_PASSWORD,
    }
    await http_async(server, "POST", "/api/v1/auth/password/reset/confirm/", token="", body=body)
    assert await close_code(member) == 4401


def _admin_client() -> Client:
    client = Client()
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    return client


def _deactivate_in_the_admin(user) -> None:
    """The admin's change form, submitted with "Active" unticked."""
    response = _admin_client().post(
        f"/admin/accounts/user/{user.pk}/change/", {"email": user.email, "full_name": user.full_name, "_save": "Save"}
    )
    assert response.status_code == 302, response.content
    user.refresh_from_db()
    assert not user.is_active


def _set_password_in_the_admin(user) -> None:
    response = _admin_client().post(
        f"/admin/accounts/user/{user.pk}/password/",
        {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD, "usable_password": "true"},
    )
    assert response.status_code == 302, response.content


ACCOUNT_CHANGES = {
    "deactivated in the admin": _deactivate_in_the_admin,
    "password set in the admin": _set_password_in_the_admin,
    "deleted": lambda user: user.delete(),
}


@pytest.mark.parametrize("change", ACCOUNT_CHANGES)
@async_test
async def test_a_change_to_the_account_made_outside_the_api_closes_its_sockets(server, world, change):
    """The admin's forms, or a deletion: whichever way the account changes, from whichever process."""
    member = await connected(server, world.member)
    admin = await connected(server, world.admin)
    try:
        await database_sync_to_async(ACCOUNT_CHANGES[change])(world.member)
        assert await close_code(member) == 4401
        await round_trip(admin)
    finally:
        await admin.close()


@async_test
async def test_an_edit_that_leaves_the_credentials_alone_keeps_the_sockets(server, world):
    """A full save may have changed the password or the activity, so the sockets check: and stay."""
    member = await connected(server, world.member)
    try:
        world.member.full_name = "Renamed"
        await database_sync_to_async(world.member.save)()
        body = {"project": "OPS", "title": "Still here"}
        await http_async(server, "POST", "/api/v1/tickets/", token=token_for(world.admin), body=body)
        assert (await next_event(member))["data"]["title"] == "Still here"
    finally:
        await member.close()
