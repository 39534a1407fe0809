"""The event table's consumers are woken by commits (tickets.event_wakeup): a committed event ends a wait
at once, a rolled-back one does not, and a listener that lost its connection ticks, then listens again."""

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from django.db import connection, transaction

from accounts.tests.factories import UserFactory
from tickets.event_wakeup import EventWakeup
from tickets.models import EventType
from tickets.services.event_writing import event_record
from tickets.tests.factories import ProjectFactory

pytestmark = pytest.mark.django_db(transaction=True)  # notifications go out at a real commit


class _Rollback(Exception):
    pass


@pytest.fixture
def wakeup() -> Iterator[EventWakeup]:
    listening = EventWakeup()
    yield listening
    listening.close()


def _event_write(project: Any) -> None:
    with transaction.atomic():
        event_record(type=EventType.TICKET_UPDATED, project_id=project.pk, actor=project.created_by, data={})


def _wait_seconds(wakeup: EventWakeup, timeout: float, meanwhile: Any) -> float:
    """How long `wait(timeout)` took while `meanwhile` ran on another thread, 0.2 s into the wait."""

    def later() -> None:
        time.sleep(0.2)
        try:
            meanwhile()
        finally:
            connection.close()  # this thread's own: left open, it outlives the test (the fault tests count sessions)

    writer = threading.Thread(target=later)
    started = time.monotonic()
    writer.start()
    wakeup.wait(timeout)
    waited = time.monotonic() - started
    writer.join()
    return waited


def test_a_committed_event_ends_the_wait_at_once(wakeup):
    project = ProjectFactory(created_by=UserFactory())
    wakeup.wait(0)  # listening from here on
    assert _wait_seconds(wakeup, 10, lambda: _event_write(project)) < 2


def test_an_event_rolled_back_wakes_nobody(wakeup):
    project = ProjectFactory(created_by=UserFactory())
    wakeup.wait(0)

    def rolled_back() -> None:
        try:
            with transaction.atomic():
                event_record(type=EventType.TICKET_UPDATED, project_id=project.pk, actor=project.created_by, data={})
                raise _Rollback
        except _Rollback:
            pass

    assert _wait_seconds(wakeup, 1.0, rolled_back) >= 1.0


def test_the_events_committed_meanwhile_wake_one_wait_not_one_each(wakeup):
    project = ProjectFactory(created_by=UserFactory())
    wakeup.wait(0)
    for _ in range(3):
        _event_write(project)
    # Each commit's notification travels on its own: given time to reach the listener's socket, the
    # three are taken by one wait (one that arrives later would wake the next wait: a spare run, harmless).
    time.sleep(1)
    wakeup.wait(5)
    started = time.monotonic()
    wakeup.wait(0.5)
    assert time.monotonic() - started >= 0.5


def test_a_listener_cut_off_ticks_then_listens_again(wakeup):
    project = ProjectFactory(created_by=UserFactory())
    wakeup.wait(0)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE query = %s AND datname = current_database() AND pid <> pg_backend_pid()",
            ["LISTEN hopla_events"],
        )
        assert cursor.fetchone() is not None
    started = time.monotonic()
    wakeup.wait(0.5)  # the connection is found dead: logged, and the rest of the time slept
    assert time.monotonic() - started >= 0.4
    wakeup.wait(0)
    wakeup.wait(0)  # whichever of the two saw the cut, listening again after them
    started = time.monotonic()
    wakeup.wait(0.3)
    assert time.monotonic() - started >= 0.3  # a live listener: it waits, where a fresh one returns at once
    assert _wait_seconds(wakeup, 10, lambda: _event_write(project)) < 2
