"""A webhook deleted (alone or with its project) while the worker dispatches deliveries to it: no 500."""

import threading
import uuid

import pytest
from django.db import IntegrityError, connection, transaction
from django.db.models.signals import pre_delete

from tickets.services.projects import project_delete
from webhooks.models import Delivery, Webhook
from webhooks.services import webhook_create, webhook_delete

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("webhook_settings")]


def test_a_dispatch_committing_between_a_deletes_collection_and_its_delete_loses(project, admin, receiver):
    webhook = webhook_create(project=project, actor=admin, url=receiver.url, events=["*"])
    inserted, commit_now, finished = threading.Event(), threading.Event(), threading.Event()
    dispatch_errors: list[Exception] = []

    def dispatch() -> None:
        """The worker's dispatch, inserting a delivery for the webhook; it commits when told to."""
        try:
            with transaction.atomic():
                Delivery.objects.create(
                    webhook_id=webhook.pk, event_id=uuid.uuid4(), event_type="ticket.created", payload={}
                )
                inserted.set()
                commit_now.wait(10)
        except IntegrityError as error:
            dispatch_errors.append(error)
        finally:
            finished.set()
            connection.close()

    def between_collection_and_delete(**kwargs: object) -> None:
        # Django sends pre_delete after collecting the deliveries and before deleting the rows: the
        # moment a committing dispatch used to slip in. Its commit now waits for the delete's row lock,
        # so it cannot finish within this bounded wait.
        commit_now.set()
        finished.wait(1)

    thread = threading.Thread(target=dispatch)
    thread.start()
    assert inserted.wait(10)
    pre_delete.connect(between_collection_and_delete, sender=Webhook, dispatch_uid="delete-race")
    try:
        webhook_delete(webhook=webhook)
    finally:
        pre_delete.disconnect(sender=Webhook, dispatch_uid="delete-race")
    thread.join(10)

    assert not Webhook.objects.filter(pk=webhook.pk).exists()
    assert not Delivery.objects.exists()
    assert len(dispatch_errors) == 1  # the dispatch lost; its next tick runs without the webhook


def test_a_dispatch_committing_while_its_project_is_deleted_loses(project, admin, receiver):
    """The project's delete removes the deliveries, then the webhooks: a dispatch committing between the
    two statements used to fail the project's delete at COMMIT (its deferred foreign key)."""
    webhook = webhook_create(project=project, actor=admin, url=receiver.url, events=["*"])
    inserted, commit_now, finished = threading.Event(), threading.Event(), threading.Event()
    dispatch_errors: list[Exception] = []

    def dispatch() -> None:
        try:
            with transaction.atomic():
                Delivery.objects.create(
                    webhook_id=webhook.pk, event_id=uuid.uuid4(), event_type="ticket.created", payload={}
                )
                inserted.set()
                commit_now.wait(10)
        except IntegrityError as error:
            dispatch_errors.append(error)
        finally:
            finished.set()
            connection.close()

    def before_the_webhooks_go(execute, sql, params, many, context):  # type: ignore[no-untyped-def]
        if sql.startswith('DELETE FROM "webhooks_webhook"'):
            commit_now.set()
            finished.wait(1)
        return execute(sql, params, many, context)

    thread = threading.Thread(target=dispatch)
    thread.start()
    assert inserted.wait(10)
    with transaction.atomic(), connection.execute_wrapper(before_the_webhooks_go):
        project_delete(project=project, actor=admin)
    thread.join(10)

    assert not Webhook.objects.filter(pk=webhook.pk).exists()
    assert not Delivery.objects.exists()
    assert len(dispatch_errors) == 1
