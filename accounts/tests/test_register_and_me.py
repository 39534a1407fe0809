"""Registration and the current user's profile, through the API."""

import pytest

from accounts.models import User
from accounts.tests.factories import PASSWORD, UserFactory

REGISTER = "/api/v1/auth/register/"
ME = "/api/v1/auth/me/"

pytestmark = pytest.mark.django_db


def test_register_creates_a_user_and_answers_it(api_client):
    response = api_client.post(
        REGISTER, {"email": "Ann.Lee@Example.COM", "password": PASSWORD, "full_name": "  Ann Lee "}, format="json"
    )
    assert response.status_code == 201
    assert set(response.data) == {"id", "email", "full_name", "date_joined", "notification_email"}
    assert response.data["notification_email"] == "instant"
    assert response.data["email"] == "ann.lee@example.com"
    assert response.data["full_name"] == "Ann Lee"
    assert "password" not in response.data
    assert User.objects.get(pk=response.data["id"]).check_password(PASSWORD)


def test_register_refuses_an_email_taken_in_another_case(api_client):
    UserFactory(email="bob@example.com")
    response = api_client.post(
        REGISTER, {"email": "BOB@example.com", "password": PASSWORD, "full_name": "Bob"}, format="json"
    )
    assert response.status_code == 400
    assert response.data["code"] == "invalid"
    assert response.data["errors"]["email"] == [{"message": "A user with this email already exists.", "code": "unique"}]
    assert User.objects.filter(email="bob@example.com").count() == 1


@pytest.mark.parametrize(
    ("password", "code"),
    [
        ("short1", "password_too_short"),
        ("password123", "password_too_common"),
        ("83749218734981", "password_entirely_numeric"),
        ("ann.lee.example", "password_too_similar"),
    ],
)
def test_register_applies_django_password_validators(api_client, password, code):
    response = api_client.post(
        REGISTER, {"email": "ann.lee@example.com", "password": password, "full_name": "Ann Lee"}, format="json"
    )
    assert response.status_code == 400
    assert code in [error["code"] for error in response.data["errors"]["password"]]
    assert not User.objects.exists()


@pytest.mark.parametrize(
    ("body", "field", "code"),
    [
        ({"password": PASSWORD, "full_name": "A"}, "email", "required"),
        ({"email": "not-an-email", "password": PASSWORD, "full_name": "A"}, "email", "invalid"),
        ({"email": ["a@b.io"], "password": PASSWORD, "full_name": "A"}, "email", "invalid"),
        ({"email": "a@b.io", "password": 12345678901, "full_name": "A"}, "password", "password_entirely_numeric"),
        ({"email": "a@b.io", "password": {"x": 1}, "full_name": "A"}, "password", "invalid"),
        ({"email": "a@b.io", "password": PASSWORD, "full_name": ""}, "full_name", "blank"),
        ({"email": "a@b.io", "password": PASSWORD, "full_name": "x" * 151}, "full_name", "max_length"),
        ({"email": "a@b.io", "password": "x" * 129, "full_name": "A"}, "password", "max_length"),
    ],
)
def test_register_rejects_bad_fields_with_their_code(api_client, body, field, code):
    response = api_client.post(REGISTER, body, format="json")
    assert response.status_code == 400, response.data
    assert code in [error["code"] for error in response.data["errors"][field]]


def test_register_rejects_a_body_that_is_not_an_object(api_client):
    response = api_client.post(REGISTER, ["a", "b"], format="json")
    assert response.status_code == 400
    assert response.data["errors"]["non_field_errors"][0]["code"] == "invalid"


def test_register_ignores_a_stale_authorization_header(api_client):
    api_client.credentials(HTTP_AUTHORIZATION="Bearer not-a-token")
    response = api_client.post(REGISTER, {"email": "c@d.io", "password": PASSWORD, "full_name": "C"}, format="json")
    assert response.status_code == 201


def test_me_answers_the_current_user(auth_client, user):
    response = auth_client.get(ME)
    assert response.status_code == 200
    assert response.data == {
        "id": str(user.id),
        "email": user.email,
        "full_name": user.full_name,
        "date_joined": user.date_joined.isoformat().replace("+00:00", "Z"),
        "notification_email": "instant",
    }


@pytest.mark.parametrize("choice", ["off", "daily", "instant"])
def test_me_patch_chooses_how_notifications_are_emailed(auth_client, user, choice):
    response = auth_client.patch(ME, {"notification_email": choice}, format="json")
    assert (response.status_code, response.data["notification_email"]) == (200, choice)
    user.refresh_from_db()
    assert user.notification_email == choice


def test_me_patch_refuses_an_unknown_email_choice(auth_client, user):
    response = auth_client.patch(ME, {"notification_email": "hourly"}, format="json")
    assert response.status_code == 400
    assert response.data["errors"]["notification_email"][0]["code"] == "invalid_choice"
    user.refresh_from_db()
    assert user.notification_email == "instant"


def test_me_patch_changes_the_name_and_never_the_email(auth_client, user):
    response = auth_client.patch(ME, {"full_name": "New Name", "email": "other@example.com"}, format="json")
    assert response.status_code == 200
    assert response.data["full_name"] == "New Name"
    assert response.data["email"] == user.email
    user.refresh_from_db()
    assert (user.full_name, user.email) == ("New Name", user.email)


def test_me_patch_rejects_an_empty_name(auth_client):
    response = auth_client.patch(ME, {"full_name": ""}, format="json")
    assert response.status_code == 400
    assert response.data["errors"]["full_name"][0]["code"] == "blank"


def test_me_put_is_not_allowed(auth_client):
    response = auth_client.put(ME, {"full_name": "X"}, format="json")
    assert response.status_code == 405
    assert response.data["code"] == "method_not_allowed"


def test_me_needs_a_token(api_client):
    response = api_client.get(ME)
    assert response.status_code == 401
    assert response.data == {
        "detail": "Authentication credentials were not provided.",
        "code": "not_authenticated",
    }
