"""Concurrent writes on PostgreSQL: ticket numbering, event order, If-Match and the last admin.

Each request runs in its own thread, hence on its own database connection. To make the race real
rather than lucky, the test holds the row locks the writes need until every request is queued
behind them (seen in pg_stat_activity), then lets them all go at once.
"""

import threading
import time
from collections.abc import Callable

import pytest
from django.db import connection, transaction
from django.db.models import QuerySet
from rest_framework.response import Response

from tickets.models import Event, EventType, Membership, Project, Role, Ticket
from tickets.tests.conftest import client_for
from tickets.tests.factories import MembershipFactory

pytestmark = pytest.mark.django_db(transaction=True)

LOCK_WAIT_TIMEOUT = 30


def _requests_waiting_on_locks() -> int:
    with connection.cursor() as cursor:
        # pg_stat_activity is a snapshot taken once per transaction: refresh it on every look.
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE datname = current_database() AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
        )
        return cursor.fetchone()[0]


def _wait_until_queued(count: int, threads: list[threading.Thread]) -> None:
    deadline = time.monotonic() + LOCK_WAIT_TIMEOUT
    while _requests_waiting_on_locks() < count:
        finished = [thread for thread in threads if not thread.is_alive()]
        assert not finished, f"{len(finished)} request(s) finished without waiting for the locked rows"
        assert time.monotonic() < deadline, f"fewer than {count} requests queued behind the lock"
        time.sleep(0.02)


def run_concurrently(requests: list[Callable[[], Response]], *, queued_behind: QuerySet) -> list[Response]:
    """Run every request in its own thread while this test locks the rows of `queued_behind`.

    The rows are released once all requests wait on them; answers the responses in request order.
    """
    responses: list[Response | None] = [None] * len(requests)
    errors: list[BaseException] = []

    def run(index: int, request: Callable[[], Response]) -> None:
        try:
            responses[index] = request()
        except BaseException as error:
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, request)) for i, request in enumerate(requests)]
    try:
        with transaction.atomic():
            list(queued_behind.select_for_update())
            for thread in threads:
                thread.start()
            _wait_until_queued(len(threads), threads)
    finally:
        for thread in threads:
            thread.join(timeout=LOCK_WAIT_TIMEOUT)
    assert not any(thread.is_alive() for thread in threads), "a request is still running"
    assert not errors, errors
    return responses  # type: ignore[return-value]


def run_writers(write: Callable[[int], None], writers: int) -> None:
    """`write(index)` in `writers` threads at once; fails if one is still stuck (a deadlock) after the wait."""
    threads = [threading.Thread(target=write, args=(index,)) for index in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=LOCK_WAIT_TIMEOUT * 2)
    assert not any(thread.is_alive() for thread in threads), "a writer is stuck"


def test_concurrent_creations_get_consecutive_keys_and_ordered_events(team):
    clients = [team.client("member" if i % 2 else "admin") for i in range(20)]

    def create(i: int) -> Callable[[], Response]:
        return lambda: clients[i].post("/api/v1/tickets/", {"project": "OPS", "title": f"Ticket {i}"}, format="json")

    responses = run_concurrently(
        [create(i) for i in range(20)], queued_behind=Project.objects.filter(pk=team.project.pk)
    )

    assert [response.status_code for response in responses] == [201] * 20, [r.content for r in responses]
    keys = [response.data["key"] for response in responses]
    assert sorted(keys, key=lambda key: int(key.split("-")[1])) == [f"OPS-{n}" for n in range(1, 21)]
    assert Ticket.objects.filter(project=team.project).count() == 20
    assert Project.objects.get(pk=team.project.pk).last_ticket_number == 20

    # The project row lock serialises creations, so OPS-n commits before OPS-(n+1) gets its number:
    # in commit order, event seq must strictly increase.
    events = Event.objects.filter(type=EventType.TICKET_CREATED, project=team.project)
    seq_by_number = sorted((int(event.data["key"].split("-")[1]), event.seq) for event in events)
    assert [number for number, _ in seq_by_number] == list(range(1, 21))
    seqs = [seq for _, seq in seq_by_number]
    assert len(set(seqs)) == 20
    assert seqs == sorted(seqs)
    assert {str(event.ticket) for event in events} == {response.data["id"] for response in responses}


def test_two_writers_with_the_same_etag_one_wins_one_gets_412(team):
    created = team.client("member").post("/api/v1/tickets/", {"project": "OPS", "title": "Shared"}, format="json")
    assert created.status_code == 201
    url = f"/api/v1/tickets/{created.data['key']}/"
    read = team.client("member").get(url)
    etag = read["ETag"]
    writers = {"member": team.client("member"), "admin": team.client("admin")}

    def patch(role: str) -> Callable[[], Response]:
        return lambda: writers[role].patch(url, {"title": f"By {role}"}, format="json", HTTP_IF_MATCH=etag)

    responses = run_concurrently(
        [patch("member"), patch("admin")], queued_behind=Ticket.objects.filter(pk=created.data["id"])
    )

    assert sorted(response.status_code for response in responses) == [200, 412]
    winner = next(response for response in responses if response.status_code == 200)
    loser = next(response for response in responses if response.status_code == 412)
    assert loser.data["code"] == "precondition_failed"
    ticket = Ticket.objects.get(pk=created.data["id"])
    assert ticket.version == read.data["version"] + 1 == winner.data["version"]
    assert ticket.title == winner.data["title"]
    assert Event.objects.filter(type=EventType.TICKET_UPDATED, ticket=ticket.pk).count() == 1


def test_two_admins_demoting_each_other_leave_an_admin(team):
    second_admin = MembershipFactory(project=team.project, role=Role.ADMIN).user

    def demote(actor, target) -> Callable[[], Response]:
        client = client_for(actor)
        url = f"/api/v1/projects/{team.project.pk}/members/{target.pk}/"
        return lambda: client.patch(url, {"role": "member"}, format="json")

    responses = run_concurrently(
        [demote(team.admin, second_admin), demote(second_admin, team.admin)],
        queued_behind=Membership.objects.filter(project=team.project, role=Role.ADMIN),
    )

    assert sorted(response.status_code for response in responses) == [200, 409], [r.content for r in responses]
    refused = next(response for response in responses if response.status_code == 409)
    assert refused.data["code"] == "last_admin"
    assert Membership.objects.filter(project=team.project, role=Role.ADMIN).count() == 1
    assert Event.objects.filter(type=EventType.MEMBER_UPDATED, project=team.project).count() == 1


def test_tickets_and_comments_created_together_in_one_project_never_deadlock(team):
    """Ticket creation locks the project row while events are numbered under another lock; comments
    insert events that point at the same project. Started together they must all succeed."""
    ticket = client_for(team.member).post("/api/v1/tickets/", {"project": "OPS", "title": "Base"}, format="json").json()
    writers = 12
    start = threading.Barrier(writers)
    statuses: list[int] = []

    def write(index: int) -> None:
        client = client_for(team.member if index % 2 else team.admin)
        try:
            start.wait(timeout=LOCK_WAIT_TIMEOUT)
            for round_number in range(3):
                if index % 2:
                    url, body = f"/api/v1/tickets/{ticket['key']}/comments/", {"body": f"c{index}-{round_number}"}
                else:
                    url, body = "/api/v1/tickets/", {"project": "OPS", "title": f"t{index}-{round_number}"}
                statuses.append(client.post(url, body, format="json").status_code)
        finally:
            connection.close()

    run_writers(write, writers)
    assert statuses == [201] * (writers * 3)
    seqs = list(Event.objects.order_by("seq").values_list("seq", flat=True))
    assert len(seqs) == len(set(seqs))


def test_tickets_created_and_deleted_together_in_one_project_never_deadlock_and_stay_counted(team):
    """Deletion updates the project's ticket count (a trigger) between its ticket lock and the event
    counter's row; creation holds the project row, then the event counter's. Mixed together they must
    all succeed."""
    admin = client_for(team.admin)
    doomed = [
        admin.post("/api/v1/tickets/", {"project": "OPS", "title": f"Doomed {n}"}, format="json").json()["key"]
        for n in range(12)
    ]
    writers = 12
    start = threading.Barrier(writers)
    statuses: list[int] = []

    def write(index: int) -> None:
        client = client_for(team.admin)
        try:
            start.wait(timeout=LOCK_WAIT_TIMEOUT)
            if index % 2:
                for key in doomed[index - 1 : index + 1]:
                    statuses.append(client.delete(f"/api/v1/tickets/{key}/").status_code)
            else:
                for round_number in range(2):
                    body = {"project": "OPS", "title": f"t{index}-{round_number}"}
                    statuses.append(client.post("/api/v1/tickets/", body, format="json").status_code)
        finally:
            connection.close()

    run_writers(write, writers)
    assert sorted(statuses) == [201] * 12 + [204] * 12
    project = Project.objects.get(pk=team.project.pk)
    assert project.ticket_count == Ticket.objects.filter(project=project).count() == 12
    listed = admin.get("/api/v1/tickets/").json()
    assert listed["count"] == 12
