"""Session pages: login, logout, the project list, the redirect from /, the Content-Security-Policy."""

import pytest
from django.test import Client

from accounts.tests.factories import PASSWORD

pytestmark = pytest.mark.django_db


def test_root_redirects_to_the_board():
    response = Client().get("/")
    assert response.status_code == 302
    assert response["Location"] == "/board/"


def test_the_board_asks_an_anonymous_visitor_to_log_in_and_comes_back():
    response = Client().get("/board/OPS/")
    assert response.status_code == 302
    assert response["Location"] == "/login/?next=/board/OPS/"


def test_the_login_page_carries_a_policy_without_inline_scripts():
    response = Client().get("/login/")
    assert response.status_code == 200
    policy = response["Content-Security-Policy"]
    script_src = next(part for part in policy.split(";") if part.strip().startswith("script-src"))
    assert script_src.split() == ["script-src", "'self'"]
    assert b"<script>" not in response.content


def test_a_member_logs_in_and_sees_their_projects_with_roles(team):
    client = Client(enforce_csrf_checks=True)
    login_page = client.get("/login/")
    token = login_page.cookies["csrftoken"].value
    response = client.post(
        "/login/", {"username": team.viewer.email, "password": PASSWORD, "csrfmiddlewaretoken": token}
    )
    assert response.status_code == 302
    assert response["Location"] == "/board/"
    page = client.get("/board/")
    assert page.status_code == 200
    assert b"OPS" in page.content
    assert b"viewer" in page.content


def test_a_wrong_password_is_said_on_the_page(team):
    response = Client().post("/login/", {"username": team.member.email, "password": "nope"})
    assert response.status_code == 200
    assert b"Please enter a correct" in response.content


def test_a_login_without_its_csrf_token_is_refused(team):
    response = Client(enforce_csrf_checks=True).post("/login/", {"username": team.member.email, "password": PASSWORD})
    assert response.status_code == 403


def test_logout_ends_the_session(team):
    client = Client()
    client.force_login(team.member)
    assert client.get("/board/").status_code == 200
    response = client.post("/logout/")
    assert response.status_code == 302
    assert client.get("/board/").status_code == 302


def test_an_outsider_gets_404_for_a_board(team):
    client = Client()
    client.force_login(team.outsider)
    assert client.get("/board/OPS/").status_code == 404
    assert client.get("/board/NOPE/").status_code == 404


def test_login_attempts_count_against_the_api_login_throttle(team):
    client = Client()
    for _ in range(5):  # LOGIN_THROTTLE_RATE_EMAIL: 5/min
        assert client.post("/login/", {"username": team.member.email, "password": "guess"}).status_code == 200
    refused = client.post("/login/", {"username": team.member.email, "password": PASSWORD})
    assert refused.status_code == 429
    assert int(refused["Retry-After"]) > 0
    assert b"Too many attempts" in refused.content
    # The API counts the same guesses.
    api = Client().post(
        "/api/v1/auth/login/", {"email": team.member.email, "password": PASSWORD}, content_type="application/json"
    )
    assert api.status_code == 429
