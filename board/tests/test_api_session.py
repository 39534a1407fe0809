"""The API accepts the board's session, with CSRF enforced on writes, and still JWT as before."""

import pytest
from django.test import Client

from tickets.tests.conftest import client_for
from tickets.tests.factories import TicketFactory

pytestmark = pytest.mark.django_db


def _session_client(user):
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    client.get("/board/")  # sets the CSRF cookie, as every page with a form does
    return client


def test_a_session_reads_the_api(team):
    TicketFactory(project=team.project, reporter=team.member)
    response = _session_client(team.member).get("/api/v1/tickets/?project=OPS")
    assert response.status_code == 200
    assert response.json()["count"] == 1


def test_a_session_write_without_the_csrf_header_is_refused(team):
    ticket = TicketFactory(project=team.project, reporter=team.member)
    client = _session_client(team.member)
    response = client.patch(f"/api/v1/tickets/{ticket.key}/", {"title": "x"}, content_type="application/json")
    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"
    ticket.refresh_from_db()
    assert ticket.title != "x"


def test_a_session_write_with_the_csrf_header_applies(team):
    ticket = TicketFactory(project=team.project, reporter=team.member)
    client = _session_client(team.member)
    response = client.patch(
        f"/api/v1/tickets/{ticket.key}/",
        {"title": "Renamed"},
        content_type="application/json",
        headers={"X-CSRFToken": client.cookies["csrftoken"].value},
    )
    assert response.status_code == 200
    assert response.json()["title"] == "Renamed"


def test_jwt_still_authenticates_and_anonymous_is_401(team):
    assert client_for(team.member).get("/api/v1/tickets/").status_code == 200
    response = Client().get("/api/v1/tickets/")
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
