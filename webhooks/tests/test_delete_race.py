"""A webhook deleted while the worker dispatches deliveries to it: the delete never fails (no 500)."""

import threading
import uuid

import pytest
from django.db import IntegrityError, connection, transaction
from django.db.models.signals import pre_delete

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
