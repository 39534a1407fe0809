"""The worker's periodic task of the notifications app."""

from notifications.emailing import emails_start, notifications_email
from notifications.making import notifications_make


def make_notifications() -> None:
    """Periodic task run by the worker (hopla.worker): notifications for the events committed since the
    last run, batch after batch (a backlog after an outage is caught up at once)."""
    while notifications_make():
        pass


def email_notifications_due() -> None:
    """Periodic task run by the worker: an email job for each user whose batch or digest is due."""
    emails_start()


def email_notifications(user_id: str) -> None:
    """Email one user what is due; a failure raises, and RQ retries it (NOTIFY_EMAIL_RETRY_INTERVALS)."""
    notifications_email(user_id=user_id)
