"""Notifications made from committed events (SPEC §11): who gets one, with which reason, and what it
costs the worker for a ticket with a thousand watchers."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import User
from notifications.making import notifications_make
from notifications.models import Notification, NotifyCursor
from tickets.models import Membership, Role, Watcher
from tickets.tests.factories import TicketFactory

pytestmark = pytest.mark.django_db

TICKETS = "/api/v1/tickets/"


def make_all() -> None:
    while notifications_make():
        pass


def notified(**filters) -> dict:
    """user → reason of the notifications made so far."""
    return dict(Notification.objects.filter(**filters).values_list("user__email", "reason"))


def test_an_assignment_notifies_the_new_assignee_and_never_the_actor(team):
    created = team.client("member").post(TICKETS, {"project": "OPS", "title": "Fire", "assignee": str(team.admin.pk)})
    make_all()
    assert notified() == {team.admin.email: "assigned"}
    notification = Notification.objects.get()
    assert notification.ticket == {"id": created.json()["id"], "key": "OPS-1", "title": "Fire"}
    assert notification.event.type == "ticket.created"
    assert notification.read_at is None


def test_each_watcher_gets_one_notification_per_event_with_the_strongest_reason(team):
    ticket_id = team.client("member").post(TICKETS, {"project": "OPS", "title": "T"}).json()["id"]
    make_all()  # the creation: only its reporter watched, and made it
    assert not Notification.objects.exists()
    team.client("viewer").put(f"{TICKETS}OPS-1/watch/")

    team.client("admin").patch(f"{TICKETS}OPS-1/", {"assignee": "me", "priority": "high"})
    team.client("admin").post(f"{TICKETS}OPS-1/comments/", {"body": "on it"})
    make_all()
    updated = notified(event__type="ticket.updated")
    commented = notified(event__type="comment.created")
    assert updated == {team.member.email: "reporter", team.viewer.email: "watching"}
    assert commented == {team.member.email: "reporter", team.viewer.email: "watching"}

    team.client("member").post(f"{TICKETS}OPS-1/comments/", {"body": "thanks"})
    make_all()
    assert notified(event__type="comment.created", user=team.admin) == {team.admin.email: "assigned"}
    assert Notification.objects.filter(event__ticket=ticket_id).count() == 6  # 2 per change


def test_an_assignee_who_stopped_watching_still_hears_of_being_assigned(team):
    ticket = TicketFactory(project=team.project, reporter=team.member)
    team.client("member").patch(f"{TICKETS}{ticket.key}/", {"assignee": str(team.viewer.pk)})
    team.client("viewer").delete(f"{TICKETS}{ticket.key}/watch/")
    make_all()
    assert notified() == {team.viewer.email: "assigned"}


def test_removed_members_get_no_new_notification_and_their_old_ones_answer_404(team):
    ticket = TicketFactory(project=team.project, reporter=team.member)
    team.client("viewer").put(f"{TICKETS}{ticket.key}/watch/")
    team.client("member").patch(f"{TICKETS}{ticket.key}/", {"title": "Renamed"})
    make_all()
    old = Notification.objects.get(user=team.viewer)
    # Removed between a change and the worker's run: no notification for it, though it watched then.
    team.client("member").patch(f"{TICKETS}{ticket.key}/", {"title": "Again"})
    Membership.objects.filter(user=team.viewer).delete()
    make_all()
    assert Notification.objects.filter(user=team.viewer).count() == 1
    viewer = team.client("viewer")
    assert viewer.get("/api/v1/notifications/").json()["count"] == 0
    assert viewer.get("/api/v1/notifications/unread-count/").json() == {"count": 0}
    response = viewer.post(f"/api/v1/notifications/{old.pk}/read/")
    assert (response.status_code, response.json()["code"]) == (404, "not_found")


def test_a_deleted_ticket_notifies_its_watchers_then_forgets_them(team):
    ticket = TicketFactory(project=team.project, reporter=team.member)
    team.client("viewer").put(f"{TICKETS}{ticket.key}/watch/")
    assert team.client("admin").delete(f"{TICKETS}{ticket.key}/").status_code == 204
    assert Watcher.objects.filter(ticket_id=ticket.pk).exists()  # kept until they are told
    make_all()
    assert notified(event__type="ticket.deleted") == {team.viewer.email: "watching"}
    assert not Watcher.objects.filter(ticket_id=ticket.pk).exists()


def test_events_of_no_ticket_notify_nobody_and_still_move_the_cursor(team):
    before = NotifyCursor.objects.get().last_seq
    team.client("admin").patch("/api/v1/projects/OPS/", {"name": "Renamed"})
    make_all()
    assert not Notification.objects.exists()
    assert NotifyCursor.objects.get().last_seq > before


def test_running_twice_makes_nothing_twice(team):
    TicketFactory(project=team.project, reporter=team.member)
    team.client("member").patch(f"{TICKETS}OPS-1/", {"assignee": str(team.admin.pk)})
    make_all()
    make_all()
    assert Notification.objects.count() == 1


def test_a_thousand_watchers_cost_the_same_statements_as_one(team):
    ticket = TicketFactory(project=team.project, reporter=team.member)
    users = User.objects.bulk_create(
        [User(email=f"watcher{n}@example.com", full_name=f"Watcher {n}") for n in range(1000)]
    )
    Membership.objects.bulk_create([Membership(project=team.project, user=user, role=Role.VIEWER) for user in users])
    Watcher.objects.bulk_create([Watcher(ticket=ticket, user=user) for user in users])
    make_all()
    team.client("member").patch(f"{TICKETS}{ticket.key}/", {"title": "Seen by a thousand"})
    with CaptureQueriesContext(connection) as captured:
        notifications_make()
    statements = [
        query["sql"] for query in captured.captured_queries if not query["sql"].startswith(("SAVEPOINT", "RELEASE"))
    ]
    # cursor (locked), events, the notifications' INSERT, the cursor's move: no query per watcher
    assert len(statements) == 4, "\n".join(statements)
    assert Notification.objects.filter(reason="watching").count() == 1000
