"""Account jobs run by the worker (or in-process in the embedded default)."""

import logging

from django.conf import settings
from django.contrib.auth.tokens import default_token_generator
from django.core.mail import send_mail
from django.urls import reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from accounts.models import User

logger = logging.getLogger("hopla.jobs")


def send_password_reset_email(user_id: str) -> None:
    user = User.objects.filter(pk=user_id, is_active=True).first()
    if user is None:
        return  # deactivated or deleted since the request: nothing to send
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    token = default_token_generator.make_token(user)
    # The page people open (accounts.pages), at the address they reach this server by: a worker has no request to ask.
    link = settings.PUBLIC_BASE_URL + reverse("account:password-reset-confirm", kwargs={"uidb64": uid, "token": token})
    send_mail(
        subject="Reset your hopla password",
        message=(
            f"Hello {user.full_name},\n\n"
            f"Someone asked to reset the password of your hopla account. If it was you, open:\n\n{link}\n\n"
            f"or send uid={uid} and token={token} to POST /api/v1/auth/password/reset/confirm/.\n"
            "If it was not you, ignore this email: your password stays as it is.\n"
        ),
        from_email=None,
        recipient_list=[user.email],
    )
    logger.info("password reset email sent", extra={"fields": {"user": str(user.pk)}})
