"""Drain jobs: several webhooks drained at once on the worker's threads, so that a slow receiver
holds up only its own deliveries; and a job per WEBHOOK_DELIVERY_THREADS webhooks, never two for one."""

import threading
import time
from typing import Any

import pytest

from hopla.jobs import default_queue
from webhooks.dispatching import deliveries_start, events_dispatch
from webhooks.jobs import deliver
from webhooks.models import Delivery, DeliveryStatus
from webhooks.services import webhook_create
from webhooks.tests.conftest import events_write
from webhooks.tests.receiver import Answer, Receiver

pytestmark = pytest.mark.usefixtures("webhook_settings")


@pytest.mark.django_db(transaction=True)  # the drain threads have connections of their own
def test_a_slow_receiver_holds_up_only_its_own_deliveries(project, admin):
    slow, fast = Receiver(), Receiver()
    slow.default = Answer(status=200, delay=1.0)
    try:
        slow_hook = webhook_create(project=project, actor=admin, url=slow.url, events=["*"])
        fast_hook = webhook_create(project=project, actor=admin, url=fast.url, events=["*"])
        events_write(project, admin, ["ticket.created", "ticket.updated", "ticket.updated"])
        while events_dispatch():
            pass
        job = threading.Thread(target=deliver, args=(str(slow_hook.pk), str(fast_hook.pk)))
        job.start()
        deadline = time.monotonic() + 10
        while len(fast.ids()) < 3 and time.monotonic() < deadline:
            time.sleep(0.02)
        # One after the other, the slow receiver's three answers (a second each) came first.
        assert len(fast.ids()) == 3
        assert len(slow.ids()) < 3
        job.join(timeout=30)
        # The slow drain gave the worker back after DRAIN_SECONDS with one left; the next job for it (queued
        # again by the drain, or by the dispatcher's next tick) sends the rest.
        assert 1 <= len(slow.ids()) <= 2  # a second an answer, two seconds a drain
        deliver(str(slow_hook.pk))
        assert len(slow.ids()) == 3
        statuses = set(Delivery.objects.filter(webhook__project=project).values_list("status", flat=True))
        assert statuses == {DeliveryStatus.SUCCEEDED}
    finally:
        slow.stop()
        fast.stop()


def _queued_jobs() -> list[tuple[str, tuple[Any, ...]]]:
    return [(job.func_name, job.args) for job in default_queue().get_jobs()]


@pytest.mark.django_db
def test_due_webhooks_are_queued_a_job_per_thread_count_and_never_twice(project, admin, receiver, settings):
    settings.WEBHOOK_DELIVERY_THREADS = 2
    hooks = [webhook_create(project=project, actor=admin, url=receiver.url, events=["*"]) for _ in range(3)]
    default_queue().empty()
    events_write(project, admin, ["ticket.created"])
    while events_dispatch():
        pass

    assert deliveries_start() == 3
    jobs = _queued_jobs()
    assert [name for name, _ in jobs] == ["webhooks.jobs.deliver", "webhooks.jobs.deliver"]
    assert sorted(str(webhook_id) for _, args in jobs for webhook_id in args) == sorted(str(h.pk) for h in hooks)
    assert sorted(len(args) for _, args in jobs) == [1, 2]

    deliveries_start()  # the next tick: all three are queued already
    assert len(_queued_jobs()) == 2
