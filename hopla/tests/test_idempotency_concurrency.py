"""Idempotency-Key under concurrency and faults: threads on PostgreSQL, a Redis restarted between a
request and its replay (real uvicorn and redis-server processes, as in test_faults)."""

import json
import threading
import urllib.request
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.cache import cache
from django.db import connection, transaction
from django.utils import timezone
from redis.exceptions import ConnectionError

from hopla.idempotency.models import IdempotencyKey, KeyStatus
from hopla.idempotency.services import guard_key, guard_taken_at
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
    """The first request claims its key (its guard in the cache), then waits on the project row this test
    holds (ticket numbering locks it): a repeat meanwhile is refused without running; once the first
    answers, it is replayed."""
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
        guard = guard_key(team.member.pk, "slow")
        wait_until(lambda: cache.get(guard) is not None, 10, "the first request's claim")
        during = team.client("member").post(
            TICKETS, {"project": "OPS", "title": "Slow"}, format="json", HTTP_IDEMPOTENCY_KEY="slow"
        )
        assert not IdempotencyKey.objects.filter(key="slow").exists()  # recorded with the first's writes
    runner.join(timeout=30)

    assert during.status_code == 409
    assert during["Retry-After"] == "1"
    assert during.json()["code"] == "idempotency_in_progress"
    assert answers["first"].status_code == 201
    after = client.post(TICKETS, {"project": "OPS", "title": "Slow"}, format="json", HTTP_IDEMPOTENCY_KEY="slow")
    assert (after.status_code, after["Idempotent-Replayed"]) == (201, "true")
    assert after.content == answers["first"].content
    assert Ticket.objects.count() == 1
    assert IdempotencyKey.objects.get(key="slow").status == KeyStatus.COMPLETED
    assert guard_taken_at(cache.get(guard)) is not None  # kept with the key: repeats read the row at once


def _race(team, key: str, senders: int = 8) -> tuple[list, list]:  # type: ignore[no-untyped-def]
    """`senders` threads send the same keyed POST at once; answers (the runs, the others)."""
    answers: list = [None] * senders
    start = threading.Barrier(senders)

    def send(index: int) -> None:
        client = team.client("member")
        try:
            start.wait(timeout=10)
            answers[index] = client.post(
                TICKETS, {"project": "OPS", "title": "Race"}, format="json", HTTP_IDEMPOTENCY_KEY=key
            )
        finally:
            connection.close()

    run_writers(send, senders)
    ran = [answer for answer in answers if answer.status_code == 201 and "Idempotent-Replayed" not in answer]
    return ran, [answer for answer in answers if answer not in ran]


def test_requests_racing_with_one_key_run_once(team):
    """Eight threads send the same keyed POST at once: one runs, each other one is refused (409) or, if
    it came after the first answered, replayed; one ticket and one event exist."""
    ran, others = _race(team, "race")
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


# --- The guard lost, or never there: PostgreSQL's unique key still lets one run commit ---------------


def _away_cache(port: int) -> dict:
    """The cache settings with Redis at a port nothing listens on (Redis down)."""
    from django.conf import settings

    away = {**settings.CACHES["default"], "LOCATION": f"redis://127.0.0.1:{port}/0"}
    return {"default": away}


def test_a_repeat_after_the_guard_was_lost_rolls_its_run_back_and_replays(team):
    """The cache forgets the key between the request and its retry (Redis restarted empty, or evicted
    it): the retry runs, finds the key recorded at its own record, and rolls everything back: still one
    ticket and one event, and the kept answer."""
    client = team.client("member")
    body = {"project": "OPS", "title": "Guard lost"}
    first = client.post(TICKETS, body, format="json", HTTP_IDEMPOTENCY_KEY="lost")
    cache.delete(guard_key(team.member.pk, "lost"))

    again = client.post(TICKETS, body, format="json", HTTP_IDEMPOTENCY_KEY="lost")
    other = client.post(TICKETS, {**body, "title": "Another"}, format="json", HTTP_IDEMPOTENCY_KEY="lost")

    assert first.status_code == 201
    assert (again.status_code, again["Idempotent-Replayed"], again.content) == (201, "true", first.content)
    assert other.status_code == 422
    assert Ticket.objects.count() == 1
    assert Event.objects.filter(type="ticket.created").count() == 1
    assert Project.objects.get(pk=team.project.pk).last_ticket_number == 1  # the numbers rolled back too


def test_with_redis_away_requests_racing_with_one_key_still_commit_once(team, settings):
    """No guard at all (the cache is down: each claim goes through): eight racing requests each run, and
    each but the first to commit waits on the first's row at its record, then rolls back and replays."""
    settings.CACHES = _away_cache(free_port())
    with pytest.raises(ConnectionError):
        cache.get("anything")
    ran, others = _race(team, "race-away")
    assert len(ran) == 1
    assert [(answer.status_code, answer.content) for answer in others] == [(201, ran[0].content)] * 7
    assert Ticket.objects.count() == 1
    assert Event.objects.filter(type="ticket.created").count() == 1


def test_a_guard_left_by_a_dead_request_is_409_until_it_is_lock_seconds_old(team, settings):
    """A process that dies mid-request leaves its guard and no row (its transaction rolled back): repeats
    are refused until the guard is IDEMPOTENCY_LOCK_SECONDS old, then the next one runs."""
    client = team.client("member")
    guard = guard_key(team.member.pk, "dead")
    started = timezone.now()
    cache.set(guard, f"{uuid.uuid4()} {started.timestamp()}", timeout=60)

    refused = client.post(TICKETS, {"project": "OPS", "title": "t"}, format="json", HTTP_IDEMPOTENCY_KEY="dead")
    long_ago = started - timedelta(seconds=settings.IDEMPOTENCY_LOCK_SECONDS + 1)
    cache.set(guard, f"{uuid.uuid4()} {long_ago.timestamp()}", timeout=60)
    ran = client.post(TICKETS, {"project": "OPS", "title": "t"}, format="json", HTTP_IDEMPOTENCY_KEY="dead")

    assert (refused.status_code, refused.json()["code"]) == (409, "idempotency_in_progress")
    assert ran.status_code == 201
    assert "Idempotent-Replayed" not in ran
    assert guard_taken_at(cache.get(guard)) > long_ago  # taken over
