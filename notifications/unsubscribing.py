"""One-click unsubscribe from notification emails (SPEC §11, RFC 8058): a signed link per user.

The link carries the user's id and email signed with SECRET_KEY (django.core.signing) and a time, so
it works without signing in, for `NOTIFY_UNSUBSCRIBE_DAYS`, and only for the address it was sent to.
A GET shows a page with a button; the unsubscribe itself is a POST (the button, or the mail client's
own `List-Unsubscribe=One-Click` POST), so that link checkers that open URLs change nothing.
"""

from typing import Any

from django.conf import settings
from django.core import signing
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from accounts.models import NotificationEmail, User
from accounts.services import user_update_profile
from tickets.selectors import as_uuid

_SALT = "hopla.notifications.unsubscribe"


def unsubscribe_token(user: User) -> str:
    return signing.dumps({"user": str(user.pk), "email": user.email}, salt=_SALT, compress=True)


def unsubscribe_url(user: User) -> str:
    return str(settings.NOTIFY_UNSUBSCRIBE_URL).format(token=unsubscribe_token(user))


def _user_of(token: str) -> tuple[User | None, str]:
    """The user the token names, or None with why not (expired, tampered, or no longer that address)."""
    try:
        claims: Any = signing.loads(token, salt=_SALT, max_age=settings.NOTIFY_UNSUBSCRIBE_DAYS * 24 * 3600)
    except signing.SignatureExpired:
        return None, "This unsubscribe link has expired."
    except signing.BadSignature:
        return None, "This unsubscribe link is not valid: it may have been cut or changed."
    user_id = as_uuid(claims.get("user")) if isinstance(claims, dict) else None
    user = User.objects.filter(pk=user_id, email=claims.get("email")).first() if user_id else None
    if user is None:
        return None, "This unsubscribe link is for an account that no longer exists or has changed its email."
    return user, ""


# The mail client's one-click POST carries no CSRF token: the signed token is what authenticates it.
@csrf_exempt
@require_http_methods(["GET", "POST"])
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    user, problem = _user_of(token)
    if user is None:
        context = {"problem": problem}
        return render(request, "notifications/unsubscribe.html", context, status=400)
    if request.method == "POST":
        user_update_profile(user=user, full_name=user.full_name, notification_email=NotificationEmail.OFF)
        return render(request, "notifications/unsubscribe.html", {"done": True, "email": user.email})
    return render(request, "notifications/unsubscribe.html", {"email": user.email})
