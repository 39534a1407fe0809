"""The worker's periodic task of the notifications app."""

from notifications.making import notifications_make


def make_notifications() -> None:
    """Periodic task run by the worker (hopla.worker): notifications for the events committed since the
    last run, batch after batch (a backlog after an outage is caught up at once)."""
    while notifications_make():
        pass
