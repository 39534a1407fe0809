"""Which writes tell a user's open WebSockets to check their token again (the sockets' side: realtime/tests)."""

import logging

import pytest
from rest_framework.test import APIClient

from accounts.models import User
from accounts.tests.factories import PASSWORD, UserFactory
from hopla import channel_groups

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "a-brand-new-passphrase-42"


class RecordingLayer:
    def __init__(self) -> None:
        self.sent: list[tuple[str, dict]] = []

    async def group_send(self, group: str, message: dict) -> None:
        self.sent.append((group, message))


@pytest.fixture
def announced(monkeypatch):
    """The messages sent to the channel layer (once the writes commit: `committing`)."""
    layer = RecordingLayer()
    monkeypatch.setattr(channel_groups, "get_channel_layer", lambda: layer)
    return layer.sent


@pytest.fixture
def committing(django_capture_on_commit_callbacks):
    """Runs the on-commit callbacks of the writes made in it, as their commit would."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


def _announcement(user: User) -> list[tuple[str, dict]]:
    return [(f"user.{user.pk}", {"type": "credentials.changed"})]


def test_a_password_change_is_announced_to_the_users_connections(auth_client, user, announced, committing):
    body = {"old_password": PASSWORD, "new_password": NEW_PASSWORD}
    with committing():
        assert auth_client.post("/api/v1/auth/password/change/", body, format="json").status_code == 204
    assert announced == _announcement(user)


def test_deactivating_or_deleting_an_account_is_announced(user, announced, committing):
    user_id = user.pk
    with committing():
        user.is_active = False
        user.save()
        user.delete()
    assert announced == [(f"user.{user_id}", {"type": "credentials.changed"})] * 2


def test_registering_logging_in_and_editing_the_profile_are_not(auth_client, announced, committing):
    client = APIClient()
    body = {"email": "new@example.com", "password": NEW_PASSWORD, "full_name": "New"}
    login = {"email": "new@example.com", "password": NEW_PASSWORD}
    with committing():
        assert client.post("/api/v1/auth/register/", body, format="json").status_code == 201
        assert client.post("/api/v1/auth/login/", login, format="json").status_code == 200
        assert auth_client.patch("/api/v1/auth/me/", {"full_name": "Renamed"}, format="json").status_code == 200
        UserFactory()
    assert announced == []


def test_a_failed_announcement_never_fails_the_change(auth_client, user, monkeypatch, caplog, committing):
    class BrokenLayer:
        async def group_send(self, group: str, message: dict) -> None:
            raise ConnectionError("Redis is down")

    monkeypatch.setattr(channel_groups, "get_channel_layer", BrokenLayer)
    body = {"old_password": PASSWORD, "new_password": NEW_PASSWORD}
    with caplog.at_level(logging.ERROR, logger="hopla.accounts"), committing():
        assert auth_client.post("/api/v1/auth/password/change/", body, format="json").status_code == 204
    assert [record.message for record in caplog.records] == ["credentials change not announced"]
    user.refresh_from_db()
    assert user.check_password(NEW_PASSWORD)
