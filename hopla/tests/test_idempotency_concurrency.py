"""Idempotency-Key under concurrency and faults: threads on PostgreSQL, a Redis restarted between a
request and its replay (real uvicorn and redis-server processes, as in test_faults)."""

import json
import threading
import urllib.request
from pathlib import Path

import pytest
from django.db import connection, transaction

from hopla.idempotency.models import IdempotencyKey, KeyStatus
from hopla.tests.test_faults import (  # noqa: F401  (services: the fixture that stops what a test started)
    RedisServer,
    WebServer,
    _send,
    app_env,
    free_port,
    services,
    wait_until,
)
from realtime.tests.support import token_for
from tickets.models import Event, Project, Ticket
from tickets.tests.test_concurrency import run_writers

pytestmark = pytest.mark.django_db(transaction=True)

TICKETS = "/api/v1/tickets/"


def test_a_repeat_while_the_first_runs_is_409_with_retry_after_then_replays(team):
    """The first request claims its key, then waits on the project row this test holds (ticket numbering
    locks it): a repeat meanwhile is refused without running; once the first answers, it is replayed."""
    client = team.client("member")
    answers = {}

    def first() -> None:
        try:
            answers["first"] = client.post(
                TICKETS, {"project": "OPS", "title": "Slow"}, format="json", HTTP_IDEMPOTENCY_KEY="slow"
            )
        finally:
            connection.close()

    runner = threading.Thread(target=first)
    with transaction.atomic():
        list(Project.objects.filter(pk=team.project.pk).select_for_update())
        runner.start()
        wait_until(lambda: IdempotencyKey.objects.filter(key="slow").exists(), 10, "the first request's claim")
        during = team.client("member").post(
            TICKETS, {"project": "OPS", "title": "Slow"}, format="json", HTTP_IDEMPOTENCY_KEY="slow"
        )
        assert IdempotencyKey.objects.get(key="slow").status == KeyStatus.IN_PROGRESS
    runner.join(timeout=30)

    assert during.status_code == 409
    assert during["Retry-After"] == "1"
    assert during.json()["code"] == "idempotency_in_progress"
    assert answers["first"].status_code == 201
    after = client.post(TICKETS, {"project": "OPS", "title": "Slow"}, format="json", HTTP_IDEMPOTENCY_KEY="slow")
    assert (after.status_code, after["Idempotent-Replayed"]) == (201, "true")
    assert after.content == answers["first"].content
    assert Ticket.objects.count() == 1


def test_requests_racing_with_one_key_run_once(team):
    """Eight threads send the same keyed POST at once: one runs, each other one is refused (409) or, if
    it came after the first answered, replayed; one ticket and one event exist."""
    answers: list = [None] * 8
    start = threading.Barrier(8)

    def send(index: int) -> None:
        client = team.client("member")
        try:
            start.wait(timeout=10)
            answers[index] = client.post(
                TICKETS, {"project": "OPS", "title": "Race"}, format="json", HTTP_IDEMPOTENCY_KEY="race"
            )
        finally:
            connection.close()

    run_writers(send, 8)

    ran = [answer for answer in answers if answer.status_code == 201 and "Idempotent-Replayed" not in answer]
    others = [answer for answer in answers if answer not in ran]
    assert len(ran) == 1
    assert all(
        answer.status_code == 409 or (answer.status_code == 201 and answer.content == ran[0].content)
        for answer in others
    ), [(answer.status_code, answer.content) for answer in others]
    assert Ticket.objects.count() == 1
    assert Event.objects.filter(type="ticket.created").count() == 1


def test_a_replay_survives_a_redis_restart(team, tmp_path: Path, services):  # noqa: F811
    """The key is kept in PostgreSQL: a Redis that restarts empty between the request and its retry
    (queues, cache, throttle counters gone) changes nothing of the answer."""
    redis_port = free_port()
    redis = RedisServer(tmp_path, redis_port)
    services.append(redis)
    server = WebServer(tmp_path, app_env(redis.url))
    services.append(server)
    token = token_for(team.member)
    body = {"project": "OPS", "title": "Across a restart"}

    first = _replayable_post(server, token, "restart", body)
    redis.stop()
    redis = RedisServer(tmp_path, redis_port)  # back, and empty
    services.append(redis)
    wait_until(lambda: _send(urllib.request.Request(f"{server.base_url}/readyz"), 5)[0] == 200, 10, "/readyz 200")
    again = _replayable_post(server, token, "restart", body)

    assert first[0] == 201
    assert first[2] is None
    assert again == (201, first[1], "true")
    assert Ticket.objects.count() == 1
    assert server.server_errors() == []


def _replayable_post(server: WebServer, token: str, key: str, body: dict) -> tuple[int, bytes, str | None]:
    """(status, body bytes, Idempotent-Replayed header) of a keyed POST to the server."""
    request = urllib.request.Request(
        f"{server.base_url}{TICKETS}",
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json", "Idempotency-Key": key},
    )
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(request, timeout=10) as response:
        return response.status, response.read(), response.headers.get("Idempotent-Replayed")
