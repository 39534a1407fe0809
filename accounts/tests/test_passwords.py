"""Password change and the emailed reset flow, with the email sent by a real RQ worker on Redis."""

import re

import django_rq
import pytest
from django.core import mail
from rest_framework.test import APIClient
from rq import SimpleWorker

from accounts.tests.factories import PASSWORD, UserFactory

CHANGE = "/api/v1/auth/password/change/"
RESET = "/api/v1/auth/password/reset/"
CONFIRM = "/api/v1/auth/password/reset/confirm/"
LOGIN = "/api/v1/auth/login/"
REFRESH = "/api/v1/auth/refresh/"
ME = "/api/v1/auth/me/"
NEW_PASSWORD = "a-brand-new-passphrase-42"

pytestmark = pytest.mark.django_db


def run_queued_jobs() -> None:
    """Drain the `default` queue with a real RQ worker (same process, so the test database is shared)."""
    queue = django_rq.get_queue("default")
    worker = SimpleWorker([queue], connection=queue.connection)
    worker.work(burst=True)


def can_login(email: str, password: str) -> bool:
    return APIClient().post(LOGIN, {"email": email, "password": password}, format="json").status_code == 200


def test_password_change_needs_the_old_password(auth_client, user):
    response = auth_client.post(CHANGE, {"old_password": "nope", "new_password": NEW_PASSWORD}, format="json")
    assert response.status_code == 400
    assert response.data["errors"]["old_password"][0]["code"] == "wrong_password"
    assert can_login(user.email, PASSWORD)


def test_password_change_validates_the_new_password(auth_client):
    response = auth_client.post(CHANGE, {"old_password": PASSWORD, "new_password": "123"}, format="json")
    assert response.status_code == 400
    codes = {error["code"] for error in response.data["errors"]["new_password"]}
    assert {"password_too_short", "password_entirely_numeric"} <= codes


def test_password_change_revokes_every_session(auth_client, user):
    response = auth_client.post(CHANGE, {"old_password": PASSWORD, "new_password": NEW_PASSWORD}, format="json")
    assert response.status_code == 204
    assert not can_login(user.email, PASSWORD)
    assert can_login(user.email, NEW_PASSWORD)
    # The access token carries the old password's hash; the refresh token is blacklisted.
    revoked = auth_client.get(ME)
    assert revoked.status_code == 401
    assert revoked.data["code"] == "password_changed"
    assert APIClient().post(REFRESH, {"refresh": auth_client.tokens["refresh"]}, format="json").status_code == 401


def test_reset_answers_202_for_an_unknown_email_and_sends_nothing(api_client, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = api_client.post(RESET, {"email": "nobody@example.com"}, format="json")
    assert response.status_code == 202
    run_queued_jobs()
    assert mail.outbox == []


def test_reset_rejects_a_malformed_email(api_client):
    response = api_client.post(RESET, {"email": "nope"}, format="json")
    assert response.status_code == 400
    assert response.data["errors"]["email"][0]["code"] == "invalid"


def _reset_email_for(client, email, capture) -> tuple[str, str]:
    with capture(execute=True):
        assert client.post(RESET, {"email": email.upper()}, format="json").status_code == 202
    assert mail.outbox == []  # sent by the worker, not by the web request
    run_queued_jobs()
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    match = re.search(r"uid=([\w-]+) and token=([\w-]+)", message.body)
    assert match, message.body
    return match.group(1), match.group(2)


def test_full_reset_flow_with_the_emailed_token(api_client, django_capture_on_commit_callbacks):
    user = UserFactory()
    other_session = api_client.post(LOGIN, {"email": user.email, "password": PASSWORD}, format="json").data
    uid, token = _reset_email_for(api_client, user.email, django_capture_on_commit_callbacks)
    assert mail.outbox[0].to == [user.email]

    response = api_client.post(CONFIRM, {"uid": uid, "token": token, "new_password": NEW_PASSWORD}, format="json")
    assert response.status_code == 204
    assert can_login(user.email, NEW_PASSWORD)
    assert not can_login(user.email, PASSWORD)
    assert api_client.post(REFRESH, {"refresh": other_session["refresh"]}, format="json").status_code == 401

    reused = api_client.post(
        CONFIRM, {"uid": uid, "token": token, "new_password": "yet-another-pass-77"}, format="json"
    )
    assert reused.status_code == 400
    assert reused.data["errors"]["token"][0]["code"] == "invalid_token"
    assert can_login(user.email, NEW_PASSWORD)


def test_reset_confirm_validates_the_new_password_and_keeps_the_token(api_client, django_capture_on_commit_callbacks):
    user = UserFactory()
    uid, token = _reset_email_for(api_client, user.email, django_capture_on_commit_callbacks)
    weak = api_client.post(CONFIRM, {"uid": uid, "token": token, "new_password": "123"}, format="json")
    assert weak.status_code == 400
    assert "new_password" in weak.data["errors"]
    ok = api_client.post(CONFIRM, {"uid": uid, "token": token, "new_password": NEW_PASSWORD}, format="json")
    assert ok.status_code == 204


@pytest.mark.parametrize(
    ("uid", "token"),
    [
        ("garbage", "garbage"),
        ("", "x"),
        ("MTIz", "1-abc"),
        ("bm90LWEtdXVpZA", "abc-def"),
        ("!!!", "abc"),
    ],
)
def test_reset_confirm_rejects_forged_links(api_client, uid, token):
    response = api_client.post(CONFIRM, {"uid": uid, "token": token, "new_password": NEW_PASSWORD}, format="json")
    assert response.status_code == 400
    assert response.data["code"] == "invalid"


def test_reset_token_of_one_user_does_not_open_another(api_client, django_capture_on_commit_callbacks):
    victim = UserFactory()
    attacker = UserFactory()
    attacker_uid, _ = _reset_email_for(api_client, attacker.email, django_capture_on_commit_callbacks)
    mail.outbox.clear()
    _, victim_token = _reset_email_for(api_client, victim.email, django_capture_on_commit_callbacks)
    response = api_client.post(
        CONFIRM, {"uid": attacker_uid, "token": victim_token, "new_password": NEW_PASSWORD}, format="json"
    )
    assert response.status_code == 400
    assert can_login(attacker.email, PASSWORD)
