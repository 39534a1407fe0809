"""Notification emails (SPEC §11) through Django's SMTP backend to a real SMTP server process: batches,
digests, only what is unread, one-click unsubscribe, and a mail server that is down."""

import datetime
import smtplib

import pytest
from django.core.cache import cache
from django.utils import timezone

from hopla.jobs import default_queue
from notifications.emailing import digest_cutoff, emails_start, notifications_email, users_with_email_due
from notifications.making import notifications_make
from notifications.models import Notification
from notifications.tests.smtp_server import free_port
from notifications.unsubscribing import unsubscribe_token
from tickets.tests.factories import TicketFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def burst(team, settings):
    """Five changes by the admin to a ticket the member reported and watches: five notifications."""
    settings.NOTIFY_EMAIL_BATCH_SECONDS = 0  # the window has closed as soon as they exist
    ticket = TicketFactory(project=team.project, reporter=team.member, title="Printer on fire")
    team.client("member").put(f"/api/v1/tickets/{ticket.key}/watch/")
    for n in range(5):
        team.client("admin").patch(f"/api/v1/tickets/{ticket.key}/", {"title": f"Printer on fire ({n})"})
    while notifications_make():
        pass
    cache.clear()
    return list(Notification.objects.filter(user=team.member).order_by("created_at"))


def test_a_burst_is_one_email_in_text_and_html_with_one_click_unsubscribe(team, burst, smtp):
    assert users_with_email_due(timezone.now()) == [team.member.pk]
    assert notifications_email(user_id=team.member.pk) == 5
    (message,) = smtp.messages()
    assert message["To"] == team.member.email
    assert message["Subject"] == "5 updates on tickets you follow"
    unsubscribe = "".join(message["List-Unsubscribe"].split())  # unfolded (RFC 5322 folds long lines)
    assert unsubscribe.startswith("<http://localhost:8000/notifications/unsubscribe/")
    assert unsubscribe.endswith("/>")
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    parts = {
        part.get_content_type(): part.get_payload(decode=True).decode()
        for part in message.walk()
        if not part.is_multipart()
    }
    assert set(parts) >= {"text/plain", "text/html"}
    assert parts["text/plain"].count("OPS-1") == 5
    assert "changed title of it" in parts["text/plain"]
    assert "<strong>OPS-1</strong>" in parts["text/html"]
    assert unsubscribe[1:-1] in parts["text/plain"]
    # Emailed once: nothing is due any more, and a second run sends nothing.
    assert users_with_email_due(timezone.now()) == []
    assert notifications_email(user_id=team.member.pk) == 0
    assert len(smtp.messages()) == 1


def test_only_what_is_still_unread_is_emailed(team, burst, smtp):
    team.client("member").post(f"/api/v1/notifications/{burst[0].pk}/read/")
    team.client("member").post(f"/api/v1/notifications/{burst[1].pk}/read/")
    assert notifications_email(user_id=team.member.pk) == 3
    assert smtp.messages()[0]["Subject"] == "3 updates on tickets you follow"
    team.client("member").post("/api/v1/notifications/read-all/")
    assert users_with_email_due(timezone.now()) == []


def test_a_batch_waits_for_its_window_to_close(team, burst, settings):
    settings.NOTIFY_EMAIL_BATCH_SECONDS = 60
    assert users_with_email_due(timezone.now()) == []
    assert users_with_email_due(timezone.now() + datetime.timedelta(seconds=61)) == [team.member.pk]


def test_off_sends_nothing_and_daily_waits_for_the_digest_hour(team, burst, settings, smtp):
    team.client("member").patch("/api/v1/auth/me/", {"notification_email": "off"})
    assert users_with_email_due(timezone.now()) == []
    assert notifications_email(user_id=team.member.pk) == 0

    team.client("member").patch("/api/v1/auth/me/", {"notification_email": "daily"})
    settings.NOTIFY_DIGEST_HOUR = 7
    made = burst[-1].created_at
    next_digest = digest_cutoff(made) + datetime.timedelta(days=1)
    assert users_with_email_due(next_digest - datetime.timedelta(seconds=1)) == []
    assert users_with_email_due(next_digest) == [team.member.pk]
    Notification.objects.update(created_at=made - datetime.timedelta(days=1))  # before today's digest hour
    assert notifications_email(user_id=team.member.pk) == 5
    assert smtp.messages()[0]["Subject"] == "Your hopla digest: 5 updates"


def test_the_digest_hour_is_the_latest_one_passed():
    at = datetime.datetime(2031, 1, 15, 9, 30, tzinfo=datetime.UTC)
    assert digest_cutoff(at) == datetime.datetime(2031, 1, 15, 7, 0, tzinfo=datetime.UTC)
    early = datetime.datetime(2031, 1, 15, 6, 59, tzinfo=datetime.UTC)
    assert digest_cutoff(early) == datetime.datetime(2031, 1, 14, 7, 0, tzinfo=datetime.UTC)


def test_a_mail_server_that_is_down_loses_nothing_and_is_retried(team, burst, smtp, settings):
    settings.EMAIL_PORT = free_port()  # nothing listens there
    with pytest.raises((OSError, smtplib.SMTPException)):
        notifications_email(user_id=team.member.pk)
    assert Notification.objects.filter(emailed_at__isnull=True).count() == 5  # nothing marked
    assert users_with_email_due(timezone.now()) == [team.member.pk]

    # The sweep queues one job per user, retried on the backoff schedule, and no second one meanwhile.
    queue = default_queue()
    queue.empty()
    assert emails_start() == 1
    assert emails_start() == 0
    (job,) = queue.get_jobs()
    assert (job.func_name, job.args) == ("notifications.jobs.email_notifications", (str(team.member.pk),))
    assert job.retries_left == len(settings.NOTIFY_EMAIL_RETRY_INTERVALS)
    assert job.retry_intervals == settings.NOTIFY_EMAIL_RETRY_INTERVALS
    queue.empty()

    settings.EMAIL_PORT = smtp.port  # back
    assert notifications_email(user_id=team.member.pk) == 5
    assert len(smtp.messages()) == 1
    assert emails_start() == 0  # done: nothing due, and the next batch may be queued
    assert not Notification.objects.filter(emailed_at__isnull=True).exists()


# --- Unsubscribing ---------------------------------------------------------------------------------


def test_the_link_shows_a_button_and_the_post_unsubscribes(team, client):
    url = f"/notifications/unsubscribe/{unsubscribe_token(team.member)}/"
    page = client.get(url)
    assert page.status_code == 200
    assert b'<form method="post">' in page.content
    team.member.refresh_from_db()
    assert team.member.notification_email == "instant"  # a GET (a link checker) changes nothing
    done = client.post(url)
    assert done.status_code == 200
    assert b"will receive no more notification emails" in done.content
    team.member.refresh_from_db()
    assert team.member.notification_email == "off"


def test_the_mail_clients_one_click_post_unsubscribes(team, client):
    url = f"/notifications/unsubscribe/{unsubscribe_token(team.member)}/"
    response = client.post(url, "List-Unsubscribe=One-Click", content_type="application/x-www-form-urlencoded")
    assert response.status_code == 200
    team.member.refresh_from_db()
    assert team.member.notification_email == "off"


@pytest.mark.parametrize(
    ("mangle", "says"),
    [
        (lambda token: token[:-3] + ("aaa" if not token.endswith("aaa") else "bbb"), b"not valid"),
        (lambda token: token[: len(token) // 2], b"not valid"),
        (lambda token: "nonsense", b"not valid"),
    ],
)
def test_a_tampered_link_is_a_clear_page_and_changes_nothing(team, client, mangle, says):
    url = f"/notifications/unsubscribe/{mangle(unsubscribe_token(team.member))}/"
    for method in (client.get, client.post):
        response = method(url)
        assert response.status_code == 400
        assert says in response.content
        assert b"Nothing was changed" in response.content
    team.member.refresh_from_db()
    assert team.member.notification_email == "instant"


def test_an_expired_link_is_a_clear_page_and_changes_nothing(team, client, settings):
    token = unsubscribe_token(team.member)
    settings.NOTIFY_UNSUBSCRIBE_DAYS = -1
    response = client.post(f"/notifications/unsubscribe/{token}/")
    assert (response.status_code, b"has expired" in response.content) == (400, True)
    team.member.refresh_from_db()
    assert team.member.notification_email == "instant"


def test_a_link_for_an_address_the_account_no_longer_has_changes_nothing(team, client):
    token = unsubscribe_token(team.member)
    team.member.email = "renamed@example.com"
    team.member.save()
    assert client.post(f"/notifications/unsubscribe/{token}/").status_code == 400
    team.member.refresh_from_db()
    assert team.member.notification_email == "instant"
