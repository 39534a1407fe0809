"""A webhook deleted (alone or with its project) while the worker dispatches or records deliveries to it: no 500."""

import threading
import time
import uuid

import pytest
from django.db import IntegrityError, connection, transaction
from django.db.models.signals import pre_delete
from django.utils import timezone

from tickets.services.projects import project_delete
from webhooks.attempts import Outcome
from webhooks.delivering import DrainLease, _Records
from webhooks.models import Delivery, Webhook, webhook_row_lock_take
from webhooks.services import webhook_create, webhook_delete

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("webhook_settings")]


class Dispatch:
    """The worker's dispatch in a thread of its own, inserting a delivery for the webhook and
    committing when told to; it records the IntegrityError it loses with."""

    def __init__(self, webhook: Webhook) -> None:
        self.webhook = webhook
        self.inserted, self.commit_now, self.finished = threading.Event(), threading.Event(), threading.Event()
        self.errors: list[Exception] = []
        self.thread = threading.Thread(target=self._run)
        self.thread.start()
        assert self.inserted.wait(10)

    def _run(self) -> None:
        try:
            with transaction.atomic():
                Delivery.objects.create(
                    webhook_id=self.webhook.pk, event_id=uuid.uuid4(), event_type="ticket.created", payload={}
                )
                self.inserted.set()
                self.commit_now.wait(10)
        except IntegrityError as error:
            self.errors.append(error)
        finally:
            self.finished.set()
            connection.close()

    def commit_while_waiting(self) -> None:
        """Tell it to commit, and give it a bounded moment: a commit blocked by a row lock cannot finish."""
        self.commit_now.set()
        self.finished.wait(1)


def test_a_dispatch_committing_between_a_deletes_collection_and_its_delete_loses(project, admin, receiver):
    webhook = webhook_create(project=project, actor=admin, url=receiver.url, events=["*"])
    dispatch = Dispatch(webhook)

    def between_collection_and_delete(**kwargs: object) -> None:
        # Django sends pre_delete before deleting the rows: the moment a committing dispatch used to slip in.
        dispatch.commit_while_waiting()

    pre_delete.connect(between_collection_and_delete, sender=Webhook, dispatch_uid="delete-race")
    try:
        webhook_delete(webhook=webhook)
    finally:
        pre_delete.disconnect(sender=Webhook, dispatch_uid="delete-race")
    dispatch.thread.join(10)

    assert not Webhook.objects.filter(pk=webhook.pk).exists()
    assert not Delivery.objects.exists()
    assert len(dispatch.errors) == 1  # the dispatch lost; its next tick runs without the webhook


def test_a_dispatch_committing_while_its_project_is_deleted_loses(project, admin, receiver):
    """The project's delete removes the deliveries, then the webhooks: a dispatch committing between the
    two statements used to fail the project's delete at COMMIT (its deferred foreign key)."""
    webhook = webhook_create(project=project, actor=admin, url=receiver.url, events=["*"])
    dispatch = Dispatch(webhook)

    def before_the_webhooks_go(execute, sql, params, many, context):  # type: ignore[no-untyped-def]
        if sql.startswith('DELETE FROM "webhooks_webhook"'):
            dispatch.commit_while_waiting()
        return execute(sql, params, many, context)

    with transaction.atomic(), connection.execute_wrapper(before_the_webhooks_go):
        project_delete(project=project, actor=admin)
    dispatch.thread.join(10)

    assert not Webhook.objects.filter(pk=webhook.pk).exists()
    assert not Delivery.objects.exists()
    assert len(dispatch.errors) == 1


def _backends_waiting_on_a_lock() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")  # the view is a snapshot per transaction
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE datname = current_database() AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
        )
        return int(cursor.fetchone()[0])


def test_a_drain_recording_while_its_webhook_is_deleted_waits_and_writes_nothing(project, admin, receiver):
    """A delete locks the webhook's row, then deletes its deliveries. A drain recording outcomes takes the
    webhook's row first too, so it waits for the delete rather than holding the deliveries the delete
    needs: in the other order the two deadlocked and PostgreSQL aborted one (a 500 for the delete)."""
    webhook = webhook_create(project=project, actor=admin, url=receiver.url, events=["*"])
    delivery = Delivery.objects.create(
        webhook_id=webhook.pk, event_id=uuid.uuid4(), event_type="ticket.created", payload={}
    )
    lease = DrainLease.take(webhook.pk)
    assert lease is not None
    records = _Records(lease)
    records.add(delivery, b"{}", Outcome(at=timezone.now(), duration_ms=1, status_code=204))
    outcome: dict[str, object] = {}

    def record() -> None:
        try:
            outcome["going_on"] = records.write()
        except Exception as error:
            outcome["error"] = error
        finally:
            connection.close()

    drain = threading.Thread(target=record)
    with transaction.atomic():
        webhook_row_lock_take(webhook)  # the delete's first step (its pre_delete signal)
        drain.start()
        deadline = time.monotonic() + 10
        while not _backends_waiting_on_a_lock():
            assert time.monotonic() < deadline, "the drain's write did not wait for the webhook's row"
            time.sleep(0.02)
        webhook_delete(webhook=webhook)  # the deliveries go with it, then the commit lets the drain go on
    drain.join(10)

    assert outcome == {"going_on": False}
    assert not Webhook.objects.filter(pk=webhook.pk).exists()
    assert not Delivery.objects.exists()
