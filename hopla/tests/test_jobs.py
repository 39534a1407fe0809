"""Enqueueing from the web process: jobs named by their dotted path, one Redis connection pool per process."""

import ast
import threading
from pathlib import Path

import pytest
from django.db import transaction
from django.utils.module_loading import import_string

from hopla.jobs import default_queue, enqueue

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]


def test_every_job_enqueued_by_name_is_a_function():
    """Services name their jobs (a job module imports its services, so a service must not import it back):
    a misspelt name would fail only on the worker, so each name in the source is resolved here."""
    names = {
        node.args[0].value
        for app in ["accounts", "tickets", "realtime", "hopla"]
        for path in (ROOT / app).rglob("*.py")
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Call)
        and getattr(node.func, "id", None) == "enqueue"
        and node.args
        and isinstance(node.args[0], ast.Constant)
        and isinstance(node.args[0].value, str)
    }
    assert {"tickets.jobs.process_image", "accounts.jobs.send_password_reset_email"} <= names
    assert all(callable(import_string(name)) for name in names)


def _connections_accepted() -> int:
    """Every connection Redis has accepted since it started (of any client on this server)."""
    return int(default_queue().connection.info("stats")["total_connections_received"])


def test_enqueueing_from_many_threads_reuses_connections():
    """django_rq.get_queue built a new client (and TCP connection) per call: 3.5 ms of an upload."""
    enqueue("builtins.print", "warm")
    before = _connections_accepted()

    def enqueue_some() -> None:
        for number in range(10):
            assert enqueue("builtins.print", number)

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
        enqueue("builtins.print", "now")
        assert default_queue().count == 1
    default_queue().empty()
