"""Login, refresh rotation, logout, throttling and every way a JWT can be wrong."""

import base64
import json
from datetime import timedelta

import jwt
import pytest
from django.conf import settings
from django.test import override_settings
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken

from accounts.tests.factories import PASSWORD, UserFactory

LOGIN = "/api/v1/auth/login/"
REFRESH = "/api/v1/auth/refresh/"
LOGOUT = "/api/v1/auth/logout/"
ME = "/api/v1/auth/me/"

pytestmark = pytest.mark.django_db


def login(client: APIClient, email: str, password: str = PASSWORD):
    return client.post(LOGIN, {"email": email, "password": password}, format="json")


def test_login_answers_an_access_and_a_refresh_token(api_client, user):
    response = login(api_client, user.email)
    assert response.status_code == 200
    assert set(response.data) == {"access", "refresh"}
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {response.data['access']}")
    assert api_client.get(ME).data["id"] == str(user.id)


def test_login_email_is_case_insensitive(api_client, user):
    assert login(api_client, user.email.upper()).status_code == 200


def test_login_with_a_wrong_password_is_401_with_a_code(api_client, user):
    response = login(api_client, user.email, "wrong-password")
    assert response.status_code == 401
    assert response.data["code"] == "no_active_account"
    assert "detail" in response.data


def test_login_of_an_inactive_user_is_refused(api_client):
    user = UserFactory(is_active=False)
    assert login(api_client, user.email).status_code == 401


def test_login_missing_fields_is_400(api_client):
    response = api_client.post(LOGIN, {}, format="json")
    assert response.status_code == 400
    assert set(response.data["errors"]) == {"email", "password"}


@override_settings(
    REST_FRAMEWORK={
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"login_ip": "100/min", "login_email": "3/min"},
    }
)
def test_login_is_throttled_per_email_with_retry_after(user):
    clients = [APIClient(REMOTE_ADDR=f"10.0.0.{n}") for n in range(4)]
    statuses = [login(client, user.email, "wrong").status_code for client in clients]
    assert statuses == [401, 401, 401, 429]
    blocked = login(APIClient(REMOTE_ADDR="10.0.0.99"), user.email.upper())
    assert blocked.status_code == 429
    assert blocked.data["code"] == "throttled"
    assert int(blocked["Retry-After"]) > 0
    # Another account is not affected by this one's counter.
    other = UserFactory()
    assert login(APIClient(REMOTE_ADDR="10.0.0.99"), other.email).status_code == 200


@override_settings(
    REST_FRAMEWORK={
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"login_ip": "3/min", "login_email": "100/min"},
    }
)
def test_login_is_throttled_per_ip():
    client = APIClient(REMOTE_ADDR="10.1.1.1")
    statuses = [login(client, f"nobody{n}@example.com").status_code for n in range(4)]
    assert statuses == [401, 401, 401, 429]
    assert login(APIClient(REMOTE_ADDR="10.1.1.2"), "nobody@example.com").status_code == 401


def test_refresh_rotates_and_the_old_refresh_dies(api_client, user):
    tokens = login(api_client, user.email).data
    first = api_client.post(REFRESH, {"refresh": tokens["refresh"]}, format="json")
    assert first.status_code == 200
    assert set(first.data) == {"access", "refresh"}
    assert first.data["refresh"] != tokens["refresh"]

    reused = api_client.post(REFRESH, {"refresh": tokens["refresh"]}, format="json")
    assert reused.status_code == 401
    assert reused.data["code"] == "token_not_valid"

    second = api_client.post(REFRESH, {"refresh": first.data["refresh"]}, format="json")
    assert second.status_code == 200


def test_refresh_refuses_an_access_token(api_client, user):
    tokens = login(api_client, user.email).data
    response = api_client.post(REFRESH, {"refresh": tokens["access"]}, format="json")
    assert response.status_code == 401
    assert response.data["code"] == "token_not_valid"


def test_logout_kills_the_refresh_token_even_after_rotation(api_client, user):
    tokens = login(api_client, user.email).data
    rotated = api_client.post(REFRESH, {"refresh": tokens["refresh"]}, format="json").data
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {rotated['access']}")
    assert api_client.post(LOGOUT, {"refresh": rotated["refresh"]}, format="json").status_code == 204
    response = APIClient().post(REFRESH, {"refresh": rotated["refresh"]}, format="json")
    assert response.status_code == 401
    assert response.data["code"] == "token_not_valid"


def test_logout_needs_authentication(api_client, user):
    tokens = login(api_client, user.email).data
    assert api_client.post(LOGOUT, {"refresh": tokens["refresh"]}, format="json").status_code == 401


def test_logout_refuses_garbage_and_someone_elses_token(auth_client, api_client):
    garbage = auth_client.post(LOGOUT, {"refresh": "abc"}, format="json")
    assert garbage.status_code == 400
    assert garbage.data["errors"]["refresh"][0]["code"] == "token_not_valid"

    other = UserFactory()
    others_refresh = login(api_client, other.email).data["refresh"]
    response = auth_client.post(LOGOUT, {"refresh": others_refresh}, format="json")
    assert response.status_code == 400
    assert api_client.post(REFRESH, {"refresh": others_refresh}, format="json").status_code == 200


def _forge(payload: dict, key: str = "not-the-server-key-but-long-enough-for-hs256", algorithm: str = "HS256") -> str:
    return jwt.encode(payload, key, algorithm=algorithm)


def _unsigned(payload: dict) -> str:
    def part(data: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(payload)}."


@pytest.mark.parametrize(
    "make_token",
    [
        pytest.param(lambda user: "garbage", id="malformed"),
        pytest.param(lambda user: "a.b.c", id="three-garbage-parts"),
        pytest.param(lambda user: _forge(dict(AccessToken.for_user(user).payload)), id="wrong-signature"),
        pytest.param(lambda user: _unsigned(dict(AccessToken.for_user(user).payload)), id="alg-none"),
        pytest.param(
            lambda user: str(_expired(AccessToken.for_user(user))),
            id="expired",
        ),
        pytest.param(
            lambda user: _forge({**AccessToken.for_user(user).payload, "user_id": "not-a-uuid"}, settings.SECRET_KEY),
            id="bad-user-id",
        ),
        pytest.param(
            lambda user: _forge(
                {**AccessToken.for_user(user).payload, "user_id": "00000000-0000-0000-0000-000000000000"},
                settings.SECRET_KEY,
            ),
            id="unknown-user",
        ),
        # The user is read by a statement written once (hopla.api.authentication): any claim that is not a UUID
        # must still be refused before it reaches it.
        pytest.param(
            lambda user: _forge(
                {k: v for k, v in AccessToken.for_user(user).payload.items() if k != "user_id"}, settings.SECRET_KEY
            ),
            id="no-user-id",
        ),
        pytest.param(
            lambda user: _forge({**AccessToken.for_user(user).payload, "user_id": 12}, settings.SECRET_KEY),
            id="integer-user-id",
        ),
        pytest.param(
            lambda user: _forge({**AccessToken.for_user(user).payload, "user_id": [str(user.pk)]}, settings.SECRET_KEY),
            id="list-user-id",
        ),
    ],
)
def test_a_bad_jwt_is_401_with_a_code(api_client, user, make_token):
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {make_token(user)}")
    response = api_client.get(ME)
    assert response.status_code == 401
    assert set(response.data) == {"detail", "code"}
    assert response.data["code"] in {"token_not_valid", "user_not_found", "authentication_failed"}
    assert response["WWW-Authenticate"].startswith("Bearer")


def _expired(token: AccessToken) -> AccessToken:
    token.set_exp(lifetime=-timedelta(seconds=1))
    return token


def test_a_refresh_token_is_not_an_access_token(api_client, user):
    refresh = login(api_client, user.email).data["refresh"]
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {refresh}")
    response = api_client.get(ME)
    assert response.status_code == 401
    assert response.data["code"] == "token_not_valid"


def test_a_deactivated_users_access_token_stops_working(auth_client, user):
    user.is_active = False
    user.save()
    response = auth_client.get(ME)
    assert response.status_code == 401
    assert response.data["code"] == "user_inactive"
