"""Enqueueing from the web process: one Redis connection pool per process, shared by request threads."""

import threading

import pytest
from django.db import transaction

from hopla.jobs import default_queue, enqueue

pytestmark = pytest.mark.django_db


def _connections_accepted() -> int:
    """Every connection Redis has accepted since it started (of any client on this server)."""
    return int(default_queue().connection.info("stats")["total_connections_received"])


def test_enqueueing_from_many_threads_reuses_connections():
    """django_rq.get_queue built a new client (and TCP connection) per call: 3.5 ms of an upload."""
    enqueue(print, "warm")
    before = _connections_accepted()

    def enqueue_some() -> None:
        for number in range(10):
            assert enqueue(print, number)

    threads = [threading.Thread(target=enqueue_some) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert default_queue().count == 41
    # At most one new connection per thread that enqueued at the same time, not one per job (other
    # processes using this Redis may add a few: the margin stays far below 40).
    assert _connections_accepted() - before < 20
    default_queue().empty()


def test_a_job_enqueued_in_a_transaction_waits_for_nothing():
    """Callers enqueue from on_commit themselves; django-rq must not defer a second time."""
    with transaction.atomic():
        enqueue(print, "now")
        assert default_queue().count == 1
    default_queue().empty()
