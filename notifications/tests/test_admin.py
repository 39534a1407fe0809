"""The notifications' admin: read-only records, "Mark selected read" through the service."""

import pytest

from accounts.tests.factories import UserFactory
from notifications.making import notifications_make
from notifications.models import Notification
from tickets.tests.factories import TicketFactory

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/notifications/notification/"


@pytest.fixture
def staff_client(client):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    return client


@pytest.fixture
def notified(team):
    ticket = TicketFactory(project=team.project, reporter=team.member)
    team.client("admin").patch(f"/api/v1/tickets/{ticket.key}/", {"assignee": str(team.member.pk)})
    while notifications_make():
        pass
    return Notification.objects.get()


def test_the_list_and_a_record_show_and_nothing_is_added_here(staff_client, notified):
    page = staff_client.get(CHANGELIST)
    assert page.status_code == 200
    assert b"OPS-1" in page.content
    assert staff_client.get(f"{CHANGELIST}{notified.pk}/change/").status_code == 200
    assert staff_client.get(f"{CHANGELIST}add/").status_code == 403


def test_mark_selected_read(staff_client, notified):
    response = staff_client.post(CHANGELIST, {"action": "mark_read", "_selected_action": [str(notified.pk)]})
    assert response.status_code == 302
    notified.refresh_from_db()
    assert notified.read_at is not None
