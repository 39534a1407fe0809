"""The notifications API (SPEC §11): one's own only, newest first, unread counts, marking read."""

import datetime

import pytest

from notifications.making import notifications_make
from notifications.models import Notification
from tickets.tests.factories import TicketFactory

pytestmark = pytest.mark.django_db

NOTIFICATIONS = "/api/v1/notifications/"


@pytest.fixture
def three(team):
    """Three changes by the admin to a ticket the member reported: three notifications for the member."""
    ticket = TicketFactory(project=team.project, reporter=team.member)
    team.client("member").put(f"/api/v1/tickets/{ticket.key}/watch/")
    for title in ("One", "Two", "Three"):
        team.client("admin").patch(f"/api/v1/tickets/{ticket.key}/", {"title": title})
    while notifications_make():
        pass
    return list(Notification.objects.filter(user=team.member).order_by("created_at"))


def test_the_list_is_newest_first_with_the_event_and_ticket(team, three):
    body = team.client("member").get(NOTIFICATIONS).json()
    assert body["count"] == 3
    assert [item["id"] for item in body["results"]] == [str(n.pk) for n in reversed(three)]
    first = body["results"][0]
    assert set(first) == {"id", "reason", "event", "ticket", "project", "read_at", "created_at"}
    assert first["reason"] == "reporter"
    assert first["event"]["type"] == "ticket.updated"
    assert first["event"]["changes"] == {"title": ["Two", "Three"]}
    assert first["event"]["actor"]["id"] == str(team.admin.pk)
    assert first["ticket"]["title"] == "Three"
    assert first["project"] == str(team.project.pk)


def test_reading_one_and_the_unread_filter_and_count(team, three):
    member = team.client("member")
    assert member.get(f"{NOTIFICATIONS}unread-count/").json() == {"count": 3}
    assert [member.post(f"{NOTIFICATIONS}{three[0].pk}/read/").status_code for _ in range(2)] == [204, 204]
    assert member.get(f"{NOTIFICATIONS}unread-count/").json() == {"count": 2}
    unread = member.get(NOTIFICATIONS, {"unread": "true"}).json()
    assert [item["id"] for item in unread["results"]] == [str(three[2].pk), str(three[1].pk)]
    assert member.get(NOTIFICATIONS, {"unread": "false"}).json()["count"] == 3


def test_read_all_before_a_time_leaves_the_newer_ones(team, three):
    member = team.client("member")
    cut = three[2].created_at
    assert member.post(f"{NOTIFICATIONS}read-all/", {"before": cut.isoformat()}).status_code == 204
    assert member.get(f"{NOTIFICATIONS}unread-count/").json() == {"count": 1}
    assert member.post(f"{NOTIFICATIONS}read-all/").status_code == 204
    assert member.get(f"{NOTIFICATIONS}unread-count/").json() == {"count": 0}


def test_someone_elses_notification_answers_404_and_stays_unread(team, three):
    for client in (team.client("viewer"), team.client("admin"), team.client("outsider")):
        response = client.post(f"{NOTIFICATIONS}{three[0].pk}/read/")
        assert (response.status_code, response.json()["code"]) == (404, "not_found")
        assert client.get(NOTIFICATIONS).json()["count"] == 0
    assert team.client("admin").post(f"{NOTIFICATIONS}not-a-uuid/read/").status_code == 404
    assert Notification.objects.filter(read_at__isnull=True).count() == 3


@pytest.mark.parametrize(
    ("body", "field"),
    [({"before": "yesterday"}, "before"), ({"before": 12}, "before"), ([1, 2], "non_field_errors")],
)
def test_bad_read_all_input_is_a_400_naming_it(team, three, body, field):
    response = team.client("member").post(f"{NOTIFICATIONS}read-all/", body, format="json")
    assert response.status_code == 400
    assert field in response.json()["errors"]
    assert Notification.objects.filter(read_at__isnull=True).count() == 3


def test_a_bad_unread_filter_is_a_400(team, three):
    response = team.client("member").get(NOTIFICATIONS, {"unread": "maybe"})
    assert response.status_code == 400
    assert "unread" in response.json()["errors"]


def test_anonymous_requests_get_401(client):
    assert client.get(NOTIFICATIONS).status_code == 401
    assert client.post(f"{NOTIFICATIONS}read-all/").status_code == 401


@pytest.mark.parametrize("size", [1, 30])
def test_the_list_costs_the_same_queries_whatever_its_size(team, django_assert_num_queries, size):
    ticket = TicketFactory(project=team.project, reporter=team.member)
    team.client("member").put(f"/api/v1/tickets/{ticket.key}/watch/")
    for n in range(size):
        team.client("admin").patch(f"/api/v1/tickets/{ticket.key}/", {"title": f"Title {n}"})
    while notifications_make():
        pass
    client = team.client("member")
    # JWT user, the count, the page (notifications JOIN event JOIN actor)
    with django_assert_num_queries(3):
        assert len(client.get(NOTIFICATIONS, {"limit": 100}).json()["results"]) == size


def test_read_all_with_a_naive_time_is_taken_as_utc(team, three):
    naive = (three[2].created_at + datetime.timedelta(seconds=1)).replace(tzinfo=None).isoformat()
    assert team.client("member").post(f"{NOTIFICATIONS}read-all/", {"before": naive}).status_code == 204
    assert Notification.objects.filter(read_at__isnull=True).count() == 0
