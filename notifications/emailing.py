"""Notification emails (SPEC §11): one email per user per batch window (`instant`) or one digest a day
(`daily`), listing only what is still unread, sent by the worker through Django's email backend.

The worker's sweep (`emails_start`) finds the users with an email due and queues one job per user
(`notifications.jobs.email_notifications`), so a user whose mail is refused or whose server is away
never holds up anyone else's. The job locks the notifications it lists, sends, and marks them
`emailed_at` in one transaction: a failed send marks nothing and raises, RQ retries it on
`NOTIFY_EMAIL_RETRY_INTERVALS`, and once those are spent the sweep queues it again (nothing is lost
until it is read). A cache key per user keeps the sweep from queueing a second job while one is
queued or retrying.
"""

import datetime
import logging
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.template.loader import render_to_string
from django.utils import timezone

from accounts.models import NotificationEmail, User
from hopla.jobs import enqueue
from notifications.models import Notification
from notifications.selectors import notification_list
from notifications.unsubscribing import unsubscribe_url
from tickets.models import Membership

logger = logging.getLogger("hopla.notifications")

# The most notifications one email lists; the rest go in the next one.
EMAIL_MAX_NOTIFICATIONS = 200


def digest_cutoff(now: datetime.datetime) -> datetime.datetime:
    """The latest `NOTIFY_DIGEST_HOUR` o'clock (UTC) at or before `now`: a daily digest lists what was
    notified before it. A worker that was away at that hour sends the digest when it is back."""
    today = now.astimezone(datetime.UTC).replace(hour=settings.NOTIFY_DIGEST_HOUR, minute=0, second=0, microsecond=0)
    return today if today <= now else today - datetime.timedelta(days=1)


def _cutoff(choice: str, now: datetime.datetime) -> datetime.datetime:
    """What an email due now lists: for a digest, what came before the digest hour; for a batch, all."""
    return digest_cutoff(now) if choice == NotificationEmail.DAILY else now


def _guard_key(user_id: Any) -> str:
    return f"notifications:email-queued:{user_id}"


def _guard_seconds() -> int:
    """How long a queued job keeps the sweep from queueing another: its tries and waits, with room."""
    return int(sum(settings.NOTIFY_EMAIL_RETRY_INTERVALS) + 60 * (len(settings.NOTIFY_EMAIL_RETRY_INTERVALS) + 1))


def users_with_email_due(now: datetime.datetime) -> list[Any]:
    """Ids of the users with an email due (one query): `instant` ones whose oldest unread notification
    not yet emailed is `NOTIFY_EMAIL_BATCH_SECONDS` old (the window that opened with it has closed),
    `daily` ones with such a notification from before the last digest hour. Only notifications of
    projects the user is still a member of count."""
    batch_closed = now - datetime.timedelta(seconds=settings.NOTIFY_EMAIL_BATCH_SECONDS)
    member = Membership.objects.filter(project=OuterRef("project_id"), user=OuterRef("user_id"))
    due = Notification.objects.filter(
        Q(user__notification_email=NotificationEmail.INSTANT, created_at__lte=batch_closed)
        | Q(user__notification_email=NotificationEmail.DAILY, created_at__lt=digest_cutoff(now)),
        Exists(member),
        read_at__isnull=True,
        emailed_at__isnull=True,
        user__is_active=True,
    )
    return list(due.order_by().values_list("user_id", flat=True).distinct())


def emails_start() -> int:
    """The sweep: queue an email job for each user with an email due and none queued; answers how many."""
    queued = 0
    for user_id in users_with_email_due(timezone.now()):
        if not cache.add(_guard_key(user_id), 1, timeout=_guard_seconds()):
            continue  # queued already (or retrying)
        if enqueue(
            "notifications.jobs.email_notifications",
            str(user_id),
            retry_intervals=settings.NOTIFY_EMAIL_RETRY_INTERVALS,
        ):
            queued += 1
        else:
            cache.delete(_guard_key(user_id))  # Redis is away: the next sweep tries again
    return queued


def notifications_email(*, user_id: Any) -> int:
    """Email the user the unread notifications due (see `_cutoff`), then mark them emailed; answers how
    many it listed. Raises what the email backend raises: nothing is marked then, and RQ retries."""
    user = User.objects.filter(pk=user_id, is_active=True).first()
    if user is None or user.notification_email == NotificationEmail.OFF:
        cache.delete(_guard_key(user_id))
        return 0
    now = timezone.now()
    with transaction.atomic():
        due = list(
            notification_list(user=user, unread=True)
            .filter(emailed_at__isnull=True, created_at__lte=_cutoff(user.notification_email, now))
            .select_for_update(skip_locked=True, of=("self",))[:EMAIL_MAX_NOTIFICATIONS]
        )
        if due:
            _message(user, list(reversed(due))).send()
            Notification.objects.filter(pk__in=[notification.pk for notification in due]).update(emailed_at=now)
    cache.delete(_guard_key(user_id))
    logger.info("notifications emailed", extra={"fields": {"user": str(user.pk), "notifications": len(due)}})
    return len(due)


def _message(user: User, notifications: list[Notification]) -> EmailMultiAlternatives:
    """Plain text and HTML, oldest first, with the one-click unsubscribe of RFC 8058."""
    unsubscribe = unsubscribe_url(user)
    context = {
        "user": user,
        "digest": user.notification_email == NotificationEmail.DAILY,
        "lines": [notification_line(notification) for notification in notifications],
        "unsubscribe_url": unsubscribe,
    }
    count = len(notifications)
    noun = "update" if count == 1 else "updates"
    subject = f"Your hopla digest: {count} {noun}" if context["digest"] else f"{count} {noun} on tickets you follow"
    message = EmailMultiAlternatives(
        subject=subject,
        body=render_to_string("notifications/email.txt", context),
        to=[user.email],
        headers={"List-Unsubscribe": f"<{unsubscribe}>", "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"},
    )
    message.attach_alternative(render_to_string("notifications/email.html", context), "text/html")
    return message


_VERBS = {
    "ticket.created": "created",
    "ticket.updated": "changed",
    "ticket.deleted": "deleted",
    "comment.created": "commented on",
    "comment.updated": "edited a comment on",
    "comment.deleted": "deleted a comment on",
    "image.ready": "attached an image to",
    "image.failed": "could not attach an image to",
}


def notification_line(notification: Notification) -> dict[str, str]:
    """What an email says of one notification: who did what to which ticket, and why you hear of it."""
    event = notification.event
    actor = event.actor.full_name if event.actor is not None else "hopla"
    verb = _VERBS.get(event.type, event.type)
    if event.type == "ticket.updated" and event.changes:
        verb = f"changed {', '.join(sorted(event.changes))} of"
    return {
        "actor": actor,
        "verb": verb,
        "key": str(notification.ticket.get("key", "")),
        "title": str(notification.ticket.get("title", "")),
        "reason": notification.reason,
        "at": event.at.strftime("%Y-%m-%d %H:%M UTC"),
    }
