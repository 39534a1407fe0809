"""The admin pages for projects, memberships, tickets and events load, search and stay read-only for events."""

import pytest
from django.test import Client

from accounts.tests.factories import UserFactory
from tickets.models import Event
from tickets.tests.factories import CommentFactory, TicketFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(team) -> Client:
    ticket = TicketFactory(project=team.project, reporter=team.member, assignee=team.member, labels=["ops"])
    CommentFactory(ticket=ticket, author=team.member)
    team.client("member").patch(f"/api/v1/tickets/{ticket.key}/", {"title": "Changed"}, format="json")
    client = Client()
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    return client


@pytest.mark.parametrize(
    "path",
    [
        "/admin/tickets/project/",
        "/admin/tickets/project/?q=OPS",
        "/admin/tickets/membership/?role__exact=admin",
        "/admin/tickets/ticket/?status__exact=open&q=Changed",
        "/admin/tickets/event/?type__exact=ticket.updated",
        "/admin/accounts/user/?q=example",
        "/admin/tickets/comment/?q=OPS",
        "/admin/tickets/image/",
        "/admin/tickets/image/?retry=yes",
        "/admin/tickets/image/?retry=no&status__exact=failed",
    ],
)
def test_changelists_load(staff_client, path):
    response = staff_client.get(path)
    assert response.status_code == 200


def test_change_pages_load_with_inlines(staff_client, team):
    ticket = team.project.tickets.get()
    ticket_page = staff_client.get(f"/admin/tickets/ticket/{ticket.pk}/change/")
    assert ticket_page.status_code == 200
    assert b"comments-TOTAL_FORMS" in ticket_page.content
    project_page = staff_client.get(f"/admin/tickets/project/{team.project.pk}/change/")
    assert b"memberships-TOTAL_FORMS" in project_page.content


def test_events_cannot_be_added_changed_or_deleted(staff_client):
    event = Event.objects.first()
    assert staff_client.get("/admin/tickets/event/add/").status_code == 403
    assert staff_client.post(f"/admin/tickets/event/{event.pk}/delete/", {"post": "yes"}).status_code == 403
    assert Event.objects.filter(pk=event.pk).exists()
    page = staff_client.get(f"/admin/tickets/event/{event.pk}/change/")
    assert page.status_code == 200
    assert b'name="_save"' not in page.content


def test_the_event_log_shows_the_event_a_deleted_project_left(staff_client, team):
    assert team.client("admin").delete(f"/api/v1/projects/{team.project.pk}/").status_code == 204
    event = Event.objects.get(type="project.deleted")
    listing = staff_client.get("/admin/tickets/event/")
    assert listing.status_code == 200
    assert f"/admin/tickets/event/{event.pk}/change/".encode() in listing.content
    assert staff_client.get(f"/admin/tickets/event/{event.pk}/change/").status_code == 200
