"""A webhook's row is locked before it is deleted, however the delete comes (the API, the admin, its
project's delete): see `webhook_row_lock`."""

from typing import Any

from django.db.models.signals import pre_delete
from django.dispatch import receiver

from webhooks.models import Webhook, webhook_row_lock_take


@receiver(pre_delete, sender=Webhook, dispatch_uid="webhooks.webhook_row_lock")
def webhook_row_lock(sender: type[Webhook], instance: Webhook, **kwargs: Any) -> None:
    """Lock the row before its deliveries are deleted. A dispatch inserting deliveries for it checks its
    (deferred) foreign key at commit, with a lock this holds: either its rows were committed before and
    are deleted with the rest, or its commit fails on the deleted webhook and its next tick runs without
    it. Unlocked, a dispatch committing between the deliveries' delete and the webhook's failed this
    delete at COMMIT (an IntegrityError: a 500 for the project or webhook being deleted)."""
    webhook_row_lock_take(instance)
