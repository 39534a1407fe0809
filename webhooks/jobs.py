"""RQ jobs and the worker's periodic task of the webhooks app."""

from webhooks.delivering import deliveries_drain, drain_finished
from webhooks.dispatching import deliveries_start, events_dispatch


def dispatch_deliveries() -> None:
    """Periodic task run by the worker (hopla.worker): deliveries for the new events, then a drain job
    for each webhook with deliveries due (first attempts and retries alike)."""
    # A backlog (the worker was away) is dispatched batch after batch, each batch's drains asked for
    # as soon as it is committed: the first deliveries go out while the rest are being dispatched.
    while events_dispatch():
        deliveries_start()
    deliveries_start()  # retries that came due, with no new event


def deliver(webhook_id: str) -> None:
    """Attempt a webhook's due deliveries in order for a while; queued again if some are left."""
    more_due = False
    try:
        more_due = deliveries_drain(webhook_id=webhook_id)
    finally:
        drain_finished(webhook_id, more_due=more_due)
