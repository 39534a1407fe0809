"""Deliveries through the Procfile's worker, a real receiver and faults: the worker stopped or killed
mid-delivery, Redis gone, the receiver down for an hour of (scaled) retry schedule. Nothing is lost;
the only repeats are those at-least-once allows (same `webhook-id`)."""

import time
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings

from accounts.tests.factories import UserFactory
from hopla.tests.test_faults import RedisServer, Service, app_env, free_port, services, start_worker, wait_until
from tickets.tests.factories import ProjectFactory
from webhooks.models import Delivery, DeliveryStatus
from webhooks.services import webhook_create
from webhooks.tests.conftest import events_write
from webhooks.tests.receiver import Answer, Receiver

__all__ = ["services"]  # the fixture, shared with hopla's fault tests

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("webhook_settings")]

# The default schedule (5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h) scaled 1:720, so that an hour is 5 s.
SCALED_SCHEDULE = "0,1,3,10,25,50,50"


def worker_env(redis_url: str, **extra: str) -> dict[str, str]:
    settings = {
        "WEBHOOK_ALLOW_HTTP": "true",
        "WEBHOOK_ALLOWED_NETWORKS": "127.0.0.1/32",
        "WEBHOOK_DISPATCH_INTERVAL_SECONDS": "0.2",
        "WEBHOOK_TIMEOUT_SECONDS": "3",
    }
    return app_env(redis_url, **{**settings, **extra})


def redis_url_of_the_tests() -> str:
    return str(settings.REDIS_URL)


def webhook_for(receiver: Receiver) -> tuple[Any, Any, Any]:
    admin = UserFactory()
    project = ProjectFactory(created_by=admin)
    webhook = webhook_create(project=project, actor=admin, url=receiver.url, events=["*"])
    return admin, project, webhook


def all_succeeded(count: int) -> bool:
    return Delivery.objects.filter(status=DeliveryStatus.SUCCEEDED).count() == count


def assert_each_event_delivered(receiver: Receiver, webhook: Any, events: list[Any]) -> None:
    """Every event reached the receiver, verified with the webhook's secret, first attempts in order."""
    first_seen: list[int] = []
    for request in receiver.received:
        seq = request.verified(webhook.secret)["data"]["seq"]
        if seq not in first_seen:
            first_seen.append(seq)
    assert first_seen == [event.seq for event in events]


def test_events_committed_while_the_worker_is_stopped_are_delivered_once_it_runs(
    tmp_path: Path, services: list[Service], receiver: Receiver
) -> None:
    admin, project, webhook = webhook_for(receiver)
    before = events_write(project, admin, ["ticket.created", "comment.created"] * 10)
    services.append(start_worker(tmp_path, worker_env(redis_url_of_the_tests())))
    wait_until(lambda: all_succeeded(20), 30, "the events of the stopped worker's time to be delivered")
    during = events_write(project, admin, ["ticket.updated"] * 5)
    wait_until(lambda: all_succeeded(25), 30, "the events written while it runs to be delivered")
    assert_each_event_delivered(receiver, webhook, before + during)
    assert len(receiver.received) == 25


def test_a_worker_killed_mid_delivery_leaves_it_to_the_next_worker(
    tmp_path: Path, services: list[Service], receiver: Receiver
) -> None:
    admin, project, webhook = webhook_for(receiver)
    receiver.answers = [Answer(delay=60)]  # the first attempt hangs at the receiver
    env = worker_env(redis_url_of_the_tests())
    first_worker = start_worker(tmp_path, env)
    services.append(first_worker)
    [event] = events_write(project, admin, ["ticket.created"])
    assert receiver.arrived.wait(30), first_worker.log()
    assert first_worker.kill(whole_tree=True) == []
    killed_at = time.monotonic()
    assert Delivery.objects.get().status == DeliveryStatus.PENDING

    services.append(start_worker(tmp_path, env))
    wait_until(lambda: all_succeeded(1), 40, "the delivery to be made by the second worker")
    print(f"\nworker killed mid-delivery: delivered {time.monotonic() - killed_at:.1f} s after the kill")
    assert receiver.ids() == [str(event.id)] * 2  # at least once: the receiver de-duplicates by webhook-id
    assert_each_event_delivered(receiver, webhook, [event])


def test_events_committed_while_redis_is_down_are_delivered_when_it_is_back(
    tmp_path: Path, services: list[Service], receiver: Receiver
) -> None:
    redis_port = free_port()
    redis = RedisServer(tmp_path, redis_port)
    services.append(redis)
    env = worker_env(redis.url)
    admin, project, webhook = webhook_for(receiver)
    worker = start_worker(tmp_path, env)
    services.append(worker)
    first = events_write(project, admin, ["ticket.created"])
    wait_until(lambda: all_succeeded(1), 30, "the first event to be delivered")

    redis.stop()
    during = events_write(project, admin, ["ticket.updated", "comment.created", "ticket.deleted"])
    time.sleep(1)  # the worker's dispatcher runs meanwhile (it needs no Redis to read events)
    assert len(receiver.received) == 1

    services.append(RedisServer(tmp_path, redis_port))  # back, and empty: the queued jobs are gone
    if not worker.alive():
        services.append(start_worker(tmp_path, env))
    wait_until(lambda: all_succeeded(4), 40, "the events of the outage to be delivered")
    assert_each_event_delivered(receiver, webhook, first + during)
    assert len(receiver.received) == 4


def test_a_receiver_down_for_an_hour_of_scaled_schedule_loses_nothing(
    tmp_path: Path, services: list[Service], receiver: Receiver
) -> None:
    admin, project, webhook = webhook_for(receiver)
    receiver.stop()
    env = worker_env(redis_url_of_the_tests(), WEBHOOK_RETRY_SCHEDULE=SCALED_SCHEDULE)
    services.append(start_worker(tmp_path, env))
    events = events_write(project, admin, ["ticket.created", "ticket.updated"] * 5)
    wait_until(
        lambda: Delivery.objects.filter(attempts__gte=2).count() == 10, 30, "a first retry of every delivery to fail"
    )
    time.sleep(4)  # down for "an hour": 5 s at 1:720
    receiver.start()
    wait_until(lambda: all_succeeded(10), 60, "every delivery to succeed once the receiver is back")
    assert not Delivery.objects.filter(status=DeliveryStatus.FAILED).exists()
    assert_each_event_delivered(receiver, webhook, events)
    assert len(receiver.received) == 10
    attempts = sorted(Delivery.objects.values_list("attempts", flat=True))
    print(f"\nreceiver down for a scaled hour: attempts per delivery {attempts}")
