"""Notifications through the Procfile's worker and a real SMTP server process: events committed while
the worker was stopped are notified once it runs; a mail server that is down is retried with backoff
and its email arrives once it is back, with nothing lost."""

from pathlib import Path

import pytest

from hopla.tests.test_faults import Service, app_env, services, start_worker, wait_until
from notifications.models import Notification, NotifyCursor
from notifications.tests.smtp_server import SmtpServer, free_port
from tickets.event_cursor import event_cursor_ensure
from tickets.tests.factories import TicketFactory

__all__ = ["services"]  # the fixture, shared with hopla's fault tests

pytestmark = pytest.mark.django_db(transaction=True)

TICKETS = "/api/v1/tickets/"


def worker_env(smtp_port: int, **extra: str) -> dict[str, str]:
    from django.conf import settings

    return app_env(
        str(settings.REDIS_URL),
        NOTIFY_INTERVAL_SECONDS="0.2",
        NOTIFY_EMAIL_BATCH_SECONDS="0",
        NOTIFY_EMAIL_RETRY_INTERVALS="1,2,2,2,2",
        EMAIL_URL=f"smtp://127.0.0.1:{smtp_port}",
        EMAIL_TIMEOUT_SECONDS="2",
        **extra,
    )


def test_changes_made_while_the_worker_is_stopped_are_notified_once_it_runs(
    tmp_path: Path, services: list[Service], team
):
    event_cursor_ensure(NotifyCursor)  # as its migration made it (the test tables were flushed)
    team.member.notification_email = "off"
    team.member.save()
    ticket = TicketFactory(project=team.project, reporter=team.member)
    team.client("member").put(f"{TICKETS}{ticket.key}/watch/")
    for n in range(5):
        team.client("admin").patch(f"{TICKETS}{ticket.key}/", {"title": f"While away {n}"})
    services.append(start_worker(tmp_path, worker_env(free_port())))
    wait_until(lambda: Notification.objects.count() == 5, 30, "the changes of the stopped worker's time to be notified")
    team.client("admin").post(f"{TICKETS}{ticket.key}/comments/", {"body": "and now"})
    wait_until(lambda: Notification.objects.count() == 6, 5, "a change made while it runs to be notified")
    assert set(Notification.objects.values_list("user_id", flat=True)) == {team.member.pk}


def test_a_mail_server_that_is_down_is_retried_and_its_email_arrives_when_it_is_back(
    tmp_path: Path, services: list[Service], team
):
    event_cursor_ensure(NotifyCursor)
    smtp_port = free_port()  # nothing listens there yet: the mail server is down
    ticket = TicketFactory(project=team.project, reporter=team.member)
    team.client("member").put(f"{TICKETS}{ticket.key}/watch/")
    worker = start_worker(tmp_path, worker_env(smtp_port))
    services.append(worker)
    for n in range(3):
        team.client("admin").patch(f"{TICKETS}{ticket.key}/", {"title": f"Burst {n}"})
    wait_until(lambda: Notification.objects.count() == 3, 30, "the notifications to be made")
    wait_until(lambda: worker.log().count("ConnectionRefusedError") >= 2, 30, "two failed tries of the email job")
    assert Notification.objects.filter(emailed_at__isnull=True).count() == 3  # nothing marked, nothing lost

    smtp = SmtpServer(tmp_path, smtp_port)  # back
    try:
        wait_until(lambda: len(smtp.messages()) >= 1, 30, "the email to arrive once the server is back")
        wait_until(
            lambda: not Notification.objects.filter(emailed_at__isnull=True).exists(), 10, "the notifications marked"
        )
        (message,) = smtp.messages()
        assert message["To"] == team.member.email
        assert message["Subject"] == "3 updates on tickets you follow"
    finally:
        smtp.stop()
