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
