"""The Procfile's worker makes deliveries as soon as events commit (tickets.event_wakeup), not at its
next dispatch tick: with a 60 s interval, an event still reaches the receiver within seconds."""

import time
from pathlib import Path

import pytest

from hopla.tests.test_faults import Service, services, start_worker, wait_until
from webhooks.tests.conftest import events_write
from webhooks.tests.receiver import Receiver
from webhooks.tests.test_faults import all_succeeded, redis_url_of_the_tests, webhook_for, worker_env

__all__ = ["services"]  # the fixture, shared with hopla's fault tests

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("webhook_settings")]


def test_an_event_committed_between_ticks_is_delivered_at_once(
    tmp_path: Path, services: list[Service], receiver: Receiver
) -> None:
    admin, project, _ = webhook_for(receiver)
    env = worker_env(redis_url_of_the_tests(), WEBHOOK_DISPATCH_INTERVAL_SECONDS="60")
    services.append(start_worker(tmp_path, env))
    events_write(project, admin, ["ticket.created"])
    wait_until(lambda: all_succeeded(1), 30, "the first event (the worker's first tick, or its wake-up)")
    time.sleep(1)  # the first tick is over: the next is a minute away
    written = time.monotonic()
    events_write(project, admin, ["ticket.updated"])
    wait_until(lambda: all_succeeded(2), 10, "the second event, woken by its commit")
    assert time.monotonic() - written < 10
