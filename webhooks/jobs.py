"""RQ jobs and the worker's periodic task of the webhooks app."""

from webhooks.dispatching import deliveries_start, events_dispatch
from webhooks.drain_jobs import drains_run


def dispatch_deliveries() -> None:
    """Periodic task run by the worker (hopla.worker): deliveries for the new events, then a drain job
    for each webhook with deliveries due (first attempts and retries alike)."""
    # A backlog (the worker was away) is dispatched batch after batch, each batch's drains asked for
    # as soon as it is committed: the first deliveries go out while the rest are being dispatched.
    while events_dispatch():
        deliveries_start()
    deliveries_start()  # retries that came due, with no new event


def deliver(*webhook_ids: str) -> None:
    """Attempt these webhooks' due deliveries in order for a while, the webhooks at once on the
    worker's drain threads; those with deliveries left are queued again."""
    drains_run(list(webhook_ids))
