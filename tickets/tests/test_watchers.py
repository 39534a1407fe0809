"""Watchers (SPEC §11): who becomes one by themselves, who asks to, and what tickets say of them."""

import pytest

from tickets.models import Watcher
from tickets.tests.conftest import client_for
from tickets.tests.factories import TicketFactory

pytestmark = pytest.mark.django_db

TICKETS = "/api/v1/tickets/"


def watcher_ids(ticket_id) -> set:
    return set(Watcher.objects.filter(ticket_id=ticket_id).values_list("user_id", flat=True))


def test_the_reporter_and_the_assignee_watch_a_new_ticket(team):
    created = team.client("member").post(TICKETS, {"project": "OPS", "title": "T", "assignee": str(team.admin.pk)})
    assert created.status_code == 201
    assert watcher_ids(created.json()["id"]) == {team.member.pk, team.admin.pk}
    shown = team.client("admin").get(f"{TICKETS}OPS-1/").json()
    assert (shown["is_watching"], shown["watcher_count"]) == (True, 2)
    assert team.client("viewer").get(f"{TICKETS}OPS-1/").json()["is_watching"] is False


def test_a_refused_creation_makes_no_watcher(team):
    refused = team.client("viewer").post(TICKETS, {"project": "OPS", "title": "T"})
    assert refused.status_code == 403
    assert not Watcher.objects.exists()


def test_a_new_assignee_and_a_commenter_become_watchers_once(team):
    ticket = TicketFactory(project=team.project, reporter=team.member)
    member = team.client("member")
    answer = member.patch(f"{TICKETS}{ticket.key}/", {"assignee": str(team.admin.pk)})
    assert answer.status_code == 200
    assert (answer.json()["is_watching"], answer.json()["watcher_count"]) == (False, 1)
    assert watcher_ids(ticket.pk) == {team.admin.pk}
    mine = member.patch(f"{TICKETS}{ticket.key}/", {"assignee": "me"}).json()
    assert (mine["is_watching"], mine["watcher_count"]) == (True, 2)
    for _ in range(2):
        assert team.client("admin").post(f"{TICKETS}{ticket.key}/comments/", {"body": "hi"}).status_code == 201
    assert Watcher.objects.filter(ticket=ticket).count() == 2  # the admin commented while watching already
    assert member.patch(f"{TICKETS}{ticket.key}/", {"assignee": None}).json()["watcher_count"] == 2


def test_any_member_watches_and_stops_watching_idempotently(team):
    ticket = TicketFactory(project=team.project, reporter=team.member)
    viewer = team.client("viewer")
    url = f"{TICKETS}{ticket.key}/watch/"
    assert [viewer.put(url).status_code for _ in range(2)] == [204, 204]
    assert watcher_ids(ticket.pk) == {team.viewer.pk}
    shown = viewer.get(f"{TICKETS}{ticket.key}/").json()
    assert (shown["is_watching"], shown["watcher_count"]) == (True, 1)
    watchers = viewer.get(f"{TICKETS}{ticket.key}/watchers/").json()
    assert watchers["count"] == 1
    assert watchers["results"] == [
        {"id": str(team.viewer.pk), "email": team.viewer.email, "full_name": team.viewer.full_name}
    ]
    assert [viewer.delete(url).status_code for _ in range(2)] == [204, 204]
    assert not Watcher.objects.exists()


def test_watching_a_ticket_one_cannot_see_is_a_404(team):
    ticket = TicketFactory(project=team.project, reporter=team.member)
    outsider = team.client("outsider")
    for method in ("put", "delete"):
        response = getattr(outsider, method)(f"{TICKETS}{ticket.key}/watch/")
        assert (response.status_code, response.json()["code"]) == (404, "not_found")
    assert outsider.get(f"{TICKETS}{ticket.key}/watchers/").status_code == 404
    assert not Watcher.objects.exists()


def test_someone_who_leaves_the_project_watches_none_of_its_tickets(team):
    ticket = TicketFactory(project=team.project, reporter=team.member)
    client_for(team.viewer).put(f"{TICKETS}{ticket.key}/watch/")
    assert team.client("admin").delete(f"/api/v1/projects/OPS/members/{team.viewer.pk}/").status_code == 204
    assert not Watcher.objects.filter(user=team.viewer).exists()


def test_the_list_shows_each_ticket_watching_fields(team):
    watched, unwatched = TicketFactory.create_batch(2, project=team.project, reporter=team.member)
    team.client("admin").put(f"{TICKETS}{watched.key}/watch/")
    team.client("member").put(f"{TICKETS}{watched.key}/watch/")
    results = {ticket["key"]: ticket for ticket in team.client("admin").get(TICKETS).json()["results"]}
    assert (results[watched.key]["is_watching"], results[watched.key]["watcher_count"]) == (True, 2)
    assert (results[unwatched.key]["is_watching"], results[unwatched.key]["watcher_count"]) == (False, 0)
