"""Account pages over HTTP (SPEC §12): sign up, password reset by the emailed link, profile; CSRF,
clear messages for bad input, and the API's throttles."""

import re
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from django.core import mail
from django.test import Client, override_settings
from rest_framework.test import APIClient

from accounts.models import User
from accounts.tests.factories import PASSWORD, UserFactory
from accounts.tests.test_passwords import can_login, run_queued_jobs

NEW_PASSWORD = "a-brand-new-passphrase-42"

pytestmark = pytest.mark.django_db


def csrf_client() -> Client:
    """A browser-like client: CSRF is checked as in production."""
    return Client(enforce_csrf_checks=True)


def post_form(client: Client, url: str, data: dict[str, str]):  # type: ignore[no-untyped-def]
    """GET the page (for its CSRF cookie), then POST the form with the token, as a browser does."""
    page = client.get(url)
    assert page.status_code == 200, page.content
    return client.post(url, {**data, "csrfmiddlewaretoken": client.cookies["csrftoken"].value})


def text(response) -> str:  # type: ignore[no-untyped-def]
    return response.content.decode()


# --- sign up -----------------------------------------------------------------------------------------


def test_a_visitor_signs_up_and_lands_on_the_board_signed_in():
    client = csrf_client()
    response = post_form(
        client, "/signup/", {"full_name": " Ada Lovelace ", "email": "Ada@Example.com", "password": NEW_PASSWORD}
    )
    assert response.status_code == 302
    assert response["Location"] == "/board/"
    user = User.objects.get(email="ada@example.com")
    assert user.full_name == "Ada Lovelace"
    board = client.get("/board/")
    assert board.status_code == 200
    assert "Welcome to hopla, Ada Lovelace." in text(board)
    assert can_login("ada@example.com", NEW_PASSWORD)  # the API knows the account at once


def test_the_signup_page_has_a_policy_without_inline_scripts_and_links_from_login():
    page = Client().get("/signup/")
    assert page.status_code == 200
    script_src = next(part for part in page["Content-Security-Policy"].split(";") if "script-src" in part)
    assert "unsafe-inline" not in script_src
    login = text(Client().get("/login/"))
    assert 'href="/signup/"' in login
    assert 'href="/password/reset/"' in login


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"email": "USER@example.com"}, "A user with this email already exists."),
        ({"password": "123"}, "This password is too short."),
        ({"password": "12345678901"}, "This password is entirely numeric."),
        ({"password": "password123"}, "This password is too common."),
        ({"email": "not-an-email"}, "Enter a valid email address."),
        ({"full_name": ""}, "This field is required."),
        ({"full_name": "x" * 151}, "Ensure this value has at most 150 characters"),
    ],
)
def test_signup_says_what_is_wrong_and_creates_nothing(data, message):
    UserFactory(email="user@example.com")
    form = {"full_name": "Ada", "email": "new@example.com", "password": NEW_PASSWORD, **data}
    response = post_form(csrf_client(), "/signup/", form)
    assert response.status_code == 200
    assert message in text(response)
    assert 'role="alert"' in text(response)
    assert User.objects.count() == 1


def test_signup_escapes_what_was_typed():
    response = post_form(csrf_client(), "/signup/", {"full_name": "<script>x</script>", "email": "bad", "password": ""})
    assert "<script>x</script>" not in text(response)
    assert "&lt;script&gt;x&lt;/script&gt;" in text(response)


def test_signup_without_its_csrf_token_is_refused():
    response = csrf_client().post("/signup/", {"full_name": "A", "email": "a@example.com", "password": NEW_PASSWORD})
    assert response.status_code == 403
    assert not User.objects.exists()


def test_a_signed_in_person_is_sent_to_the_board():
    client = Client()
    client.force_login(UserFactory())
    assert client.get("/signup/")["Location"] == "/board/"


RATES = {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "register": "2/hour", "password_reset": "2/hour"}


@override_settings(REST_FRAMEWORK={**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": RATES})
def test_signup_shares_the_apis_registration_throttle():
    api = APIClient()
    assert api.post("/api/v1/auth/register/", {"email": "a@example.com", "password": NEW_PASSWORD, "full_name": "A"})
    form = {"full_name": "B", "email": "b@example.com", "password": NEW_PASSWORD}
    assert post_form(csrf_client(), "/signup/", form).status_code == 302
    refused = post_form(csrf_client(), "/signup/", {**form, "email": "c@example.com"})
    assert refused.status_code == 429
    assert 0 < int(refused["Retry-After"]) <= 3600
    assert "Please wait 60 minutes before trying again." in text(refused)
    assert not User.objects.filter(email="c@example.com").exists()
    assert api.post("/api/v1/auth/register/", {"email": "d@example.com"}).status_code == 429


LOGIN_RATES = {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "login_email": "2/min"}


@override_settings(REST_FRAMEWORK={**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": LOGIN_RATES})
def test_the_login_page_shares_the_apis_login_throttle_per_email(user):
    api = APIClient()
    assert api.post("/api/v1/auth/login/", {"email": user.email, "password": "wrong"}).status_code == 401
    wrong = post_form(csrf_client(), "/login/", {"username": user.email.upper(), "password": "wrong"})
    assert "Please enter a correct" in text(wrong)
    refused = post_form(csrf_client(), "/login/", {"username": user.email, "password": PASSWORD})
    assert refused.status_code == 429
    assert "Please wait 1 minute before trying again." in text(refused)
    assert api.post("/api/v1/auth/login/", {"email": user.email, "password": PASSWORD}).status_code == 429
    assert post_form(csrf_client(), "/login/", {"username": "other@example.com", "password": "x"}).status_code == 200


# --- password reset ----------------------------------------------------------------------------------


def emailed_reset_link(client: Client, email: str, capture) -> str:  # type: ignore[no-untyped-def]
    """Ask for a reset on the page; the worker sends the email; answers the link in it."""
    with capture(execute=True):
        response = post_form(client, "/password/reset/", {"email": email})
    assert response.status_code == 302
    assert response["Location"] == "/password/reset/sent/"
    run_queued_jobs()
    assert len(mail.outbox) == 1
    (link,) = re.findall(r"https?://\S+", mail.outbox[0].body)
    return link


@override_settings(PUBLIC_BASE_URL="https://hopla.example.com/tracker")
def test_the_reset_email_links_to_the_reset_page_at_the_public_address(django_capture_on_commit_callbacks):
    user = UserFactory()
    link = emailed_reset_link(csrf_client(), user.email, django_capture_on_commit_callbacks)
    assert mail.outbox[0].to == [user.email]
    assert re.fullmatch(r"https://hopla\.example\.com/tracker/password/reset/[\w-]+/[\w-]+/", link), link


def test_a_person_resets_their_password_through_the_emailed_link(django_capture_on_commit_callbacks):
    user = UserFactory()
    client = csrf_client()
    link = emailed_reset_link(client, user.email, django_capture_on_commit_callbacks)
    assert link.startswith("http://localhost:8000/")  # PUBLIC_BASE_URL's default
    opened = client.get(urlsplit(link).path)
    # The token moves into the session: the address bar and Referer headers no longer carry it.
    assert opened.status_code == 302
    form_url = opened["Location"]
    assert form_url.endswith("/set-password/")
    page = client.get(form_url)
    assert page.status_code == 200
    assert f"For {user.email}." in text(page)
    token = client.cookies["csrftoken"].value

    mismatch = client.post(
        form_url, {"new_password1": NEW_PASSWORD, "new_password2": "typo", "csrfmiddlewaretoken": token}
    )
    assert "The two passwords differ." in text(mismatch)
    weak = client.post(form_url, {"new_password1": "123", "new_password2": "123", "csrfmiddlewaretoken": token})
    assert "This password is too short." in text(weak)
    # Not through a login: that would end the link (reset tokens are bound to the last login).
    assert User.objects.get(pk=user.pk).check_password(PASSWORD)

    done = client.post(
        form_url, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD, "csrfmiddlewaretoken": token}
    )
    assert done.status_code == 302
    assert done["Location"] == "/login/"
    assert "Your password has been changed. Log in with it." in text(client.get("/login/"))
    assert can_login(user.email, NEW_PASSWORD)
    assert not can_login(user.email, PASSWORD)

    reused = csrf_client().get(urlsplit(link).path, follow=True)
    assert "This reset link does not work" in text(reused)


def test_an_unknown_email_gets_the_same_answer_and_no_email(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = post_form(csrf_client(), "/password/reset/", {"email": "nobody@example.com"})
    assert response["Location"] == "/password/reset/sent/"
    run_queued_jobs()
    assert mail.outbox == []
    assert "Check your email" in text(Client().get("/password/reset/sent/"))
    assert "3\xa0hours" in text(Client().get("/password/reset/sent/"))


def test_a_malformed_email_is_said_on_the_page():
    response = post_form(csrf_client(), "/password/reset/", {"email": "nope"})
    assert response.status_code == 200
    assert "Enter a valid email address." in text(response)


@pytest.mark.parametrize(
    "path",
    [
        "/password/reset/garbage/garbage/",
        "/password/reset/MTIz/1-abc/",
        "/password/reset/bm90LWEtdXVpZA/abc-def/",
        "/password/reset/!!!/abc/",
        "/password/reset/MTIz/set-password/",  # the form's address without a link opened first
    ],
)
def test_a_forged_link_says_so(path):
    response = Client().get(path, follow=True)
    assert response.status_code == 200
    assert "This reset link does not work" in text(response)
    assert 'href="/password/reset/"' in text(response)


def test_a_tampered_or_expired_link_says_so(django_capture_on_commit_callbacks):
    user = UserFactory()
    path = urlsplit(emailed_reset_link(csrf_client(), user.email, django_capture_on_commit_callbacks)).path
    tampered = re.sub(r"/([\w-]+)/$", lambda match: "/" + match.group(1)[:-1] + "x/", path)
    assert "This reset link does not work" in text(Client().get(tampered, follow=True))
    with override_settings(PASSWORD_RESET_TIMEOUT=-1):
        assert "This reset link does not work" in text(Client().get(path, follow=True))
    assert "Choose a new password" in text(Client().get(path, follow=True))


def test_a_link_used_in_another_tab_meanwhile_says_so(django_capture_on_commit_callbacks):
    user = UserFactory()
    path = urlsplit(emailed_reset_link(csrf_client(), user.email, django_capture_on_commit_callbacks)).path
    first, second = csrf_client(), csrf_client()
    form_url = first.get(path)["Location"]
    second.get(path)
    second.get(form_url)
    data = {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD}
    assert post_form(first, form_url, data).status_code == 302
    late = second.post(form_url, {**data, "csrfmiddlewaretoken": second.cookies["csrftoken"].value})
    assert "This reset link does not work" in text(late)


@override_settings(REST_FRAMEWORK={**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": RATES})
def test_reset_requests_share_the_apis_throttle():
    assert APIClient().post("/api/v1/auth/password/reset/", {"email": "a@example.com"}).status_code == 202
    assert post_form(csrf_client(), "/password/reset/", {"email": "a@example.com"}).status_code == 302
    refused = post_form(csrf_client(), "/password/reset/", {"email": "a@example.com"})
    assert refused.status_code == 429
    assert "Retry-After" in refused


# --- profile -----------------------------------------------------------------------------------------


@pytest.fixture
def signed_in(user) -> Client:  # type: ignore[no-untyped-def]
    client = csrf_client()
    assert client.login(username=user.email, password=PASSWORD)
    return client


def test_the_profile_asks_an_anonymous_visitor_to_log_in():
    response = Client().get("/profile/")
    assert response.status_code == 302
    assert response["Location"] == "/login/?next=/profile/"


def test_the_profile_page_is_two_queries(signed_in, user, django_assert_num_queries):
    with django_assert_num_queries(2):  # the session and the user
        page = signed_in.get("/profile/")
    assert f"Signed in as {user.email}." in text(page)
    assert "<legend>Send me emails about the tickets I watch</legend>" in text(page)
    assert 'href="/profile/"' in text(page)  # the header links to it


def test_a_person_changes_their_name(signed_in, user):
    response = post_form(signed_in, "/profile/", {"action": "profile", "full_name": "  Grace Hopper "})
    assert response["Location"] == "/profile/"
    user.refresh_from_db()
    assert user.full_name == "Grace Hopper"
    assert "Your name has been saved." in text(signed_in.get("/profile/"))


def test_a_person_chooses_a_daily_digest_as_auth_me_shows_it(signed_in, user):
    assert 'value="instant" required id="id_notification_email_0" checked' in text(signed_in.get("/profile/"))
    response = post_form(signed_in, "/profile/", {"action": "notifications", "notification_email": "daily"})
    assert response["Location"] == "/profile/"
    assert User.objects.get(pk=user.pk).notification_email == "daily"
    api = APIClient()
    api.force_authenticate(user=User.objects.get(pk=user.pk))
    assert api.get("/api/v1/auth/me/").json()["notification_email"] == "daily"
    assert "Your email preference has been saved." in text(signed_in.get("/profile/"))


def test_an_unknown_email_preference_is_refused_and_nothing_changes(signed_in, user):
    response = post_form(signed_in, "/profile/", {"action": "notifications", "notification_email": "hourly"})
    assert response.status_code == 200
    assert "Select a valid choice." in text(response)
    assert User.objects.get(pk=user.pk).notification_email == "instant"


def test_an_empty_name_is_refused(signed_in, user):
    response = post_form(signed_in, "/profile/", {"action": "profile", "full_name": "   "})
    assert response.status_code == 200
    assert "This field is required." in text(response)
    assert User.objects.get(pk=user.pk).full_name == user.full_name


def test_a_password_change_keeps_this_session_and_ends_the_others(signed_in, user):
    elsewhere = Client()
    assert elsewhere.login(username=user.email, password=PASSWORD)
    api = APIClient()
    refresh = api.post("/api/v1/auth/login/", {"email": user.email, "password": PASSWORD}).data["refresh"]
    data = {
        "action": "password",
        "old_password": PASSWORD,
        "new_password1": NEW_PASSWORD,
        "new_password2": NEW_PASSWORD,
    }
    response = post_form(signed_in, "/profile/", data)
    assert response["Location"] == "/profile/"
    assert "your other sessions have ended" in text(signed_in.get("/profile/"))
    assert elsewhere.get("/profile/").status_code == 302  # logged out
    assert api.post("/api/v1/auth/refresh/", {"refresh": refresh}).status_code == 401
    assert can_login(user.email, NEW_PASSWORD)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"old_password": "wrong"}, "The current password is wrong."),
        ({"new_password1": "123", "new_password2": "123"}, "This password is too short."),
        ({"new_password2": "typo"}, "The two passwords differ."),
    ],
)
def test_a_bad_password_change_says_why_and_changes_nothing(signed_in, user, data, message):
    form = {
        "action": "password",
        "old_password": PASSWORD,
        "new_password1": NEW_PASSWORD,
        "new_password2": NEW_PASSWORD,
    }
    response = post_form(signed_in, "/profile/", {**form, **data})
    assert response.status_code == 200
    assert message in text(response)
    assert can_login(user.email, PASSWORD)


def test_profile_writes_need_the_csrf_token(signed_in, user):
    response = signed_in.post("/profile/", {"action": "profile", "full_name": "Mallory"})
    assert response.status_code == 403
    assert User.objects.get(pk=user.pk).full_name != "Mallory"


def test_an_unknown_profile_form_is_a_400(signed_in):
    assert post_form(signed_in, "/profile/", {"action": "nope"}).status_code == 400
