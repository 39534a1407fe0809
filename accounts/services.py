"""Writes on accounts: registration, profile, passwords and session (refresh token) revocation."""

import logging
from functools import partial
from typing import Any

from django.contrib.auth import password_validation
from django.contrib.auth.tokens import default_token_generator
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, transaction
from django.utils.encoding import force_str
from django.utils.http import urlsafe_base64_decode
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken
from rest_framework_simplejwt.tokens import RefreshToken

from accounts.models import User, normalize_email
from hopla.api.exceptions import InvalidField
from hopla.channel_groups import CREDENTIALS_CHANGED, groups_send, user_group
from hopla.jobs import enqueue

logger = logging.getLogger("hopla.accounts")

DUPLICATE_EMAIL = "A user with this email already exists."


def _validate_new_password(*, field: str, password: str, user: User) -> None:
    """Django's password validators, reported under `field` with each validator's own code."""
    try:
        password_validation.validate_password(password, user=user)
    except DjangoValidationError as error:
        raise InvalidField(
            field, *[(message, item.code or "invalid") for item in error.error_list for message in item.messages]
        ) from error


@transaction.atomic
def user_register(*, email: str, password: str, full_name: str) -> User:
    email = normalize_email(email)
    user = User(email=email, full_name=full_name.strip())
    if User.objects.filter(email=email).exists():
        raise InvalidField("email", (DUPLICATE_EMAIL, "unique"))
    _validate_new_password(field="password", password=password, user=user)
    user.set_password(password)
    try:
        with transaction.atomic():
            user.save(force_insert=True)
    except IntegrityError as error:  # a concurrent registration won the race for this email
        raise InvalidField("email", (DUPLICATE_EMAIL, "unique")) from error
    return user


def user_update_profile(*, user: User, full_name: str, notification_email: str | None = None) -> User:
    user.full_name = full_name.strip()
    user.notification_email = notification_email or user.notification_email
    user.save(update_fields=["full_name", "notification_email"])
    return user


@transaction.atomic
def user_change_password(*, user: User, old_password: str, new_password: str) -> None:
    if not user.check_password(old_password):
        raise InvalidField("old_password", ("The current password is wrong.", "wrong_password"))
    _validate_new_password(field="new_password", password=new_password, user=user)
    user.set_password(new_password)
    user.save(update_fields=["password"])
    user_revoke_sessions(user=user)


def user_revoke_sessions(*, user: User) -> int:
    """Blacklist every refresh token of `user`; access tokens die with the password hash they carry."""
    outstanding = OutstandingToken.objects.filter(user=user, blacklistedtoken__isnull=True)
    revoked = BlacklistedToken.objects.bulk_create(
        [BlacklistedToken(token=token) for token in outstanding], ignore_conflicts=True
    )
    return len(revoked)


def user_connections_reauthenticate(*, user_id: Any) -> None:
    """Once the transaction commits, have the user's open WebSockets check their token again: those it
    no longer authenticates (the password changed, the account was deactivated or deleted) close with
    4401. Called for every save of a user's password or activity and every deletion (accounts.signals)."""
    transaction.on_commit(partial(_announce_credentials_changed, user_id))


def _announce_credentials_changed(user_id: Any) -> None:
    """Never raises: the change is committed. A connection that missed the message (Redis was away)
    checks again before it sends anything once its last check is old, and closes when its token expires."""
    try:
        groups_send([user_group(user_id)], {"type": CREDENTIALS_CHANGED})
    except Exception:
        logger.exception("credentials change not announced", extra={"fields": {"user": str(user_id)}})


def user_logout(*, user: User, refresh: str) -> None:
    """Blacklist one refresh token of the calling user: that session cannot refresh any more."""
    try:
        token = RefreshToken(refresh)  # type: ignore[arg-type]
    except TokenError as error:
        raise InvalidField("refresh", (str(error), "token_not_valid")) from error
    if str(token.get("user_id")) != str(user.pk):
        raise InvalidField("refresh", ("This refresh token is not yours.", "token_not_valid"))
    token.blacklist()


def password_reset_request(*, email: str) -> None:
    """Email a reset link if an active account has this email; say nothing either way."""
    user = User.objects.filter(email=normalize_email(email), is_active=True).first()
    if user is None or not user.has_usable_password():
        return
    # A job, so that the answer takes the same time whether or not the account exists.
    transaction.on_commit(lambda: enqueue("accounts.jobs.send_password_reset_email", str(user.pk)))


def password_reset_user(*, uid: str, token: str) -> User:
    """The active user a reset link (uid, token) is for, or InvalidField `token` when it is tampered with,
    expired or already used (the token is bound to the password hash and the last login)."""
    invalid = InvalidField("token", ("The reset link is invalid or has expired.", "invalid_token"))
    try:
        user_id = force_str(urlsafe_base64_decode(uid))
        user = User.objects.get(pk=user_id, is_active=True)
    except (ValueError, TypeError, OverflowError, DjangoValidationError, User.DoesNotExist) as error:
        raise invalid from error
    if not default_token_generator.check_token(user, token):
        raise invalid
    return user


@transaction.atomic
def password_reset_confirm(*, uid: str, token: str, new_password: str) -> None:
    user = password_reset_user(uid=uid, token=token)
    _validate_new_password(field="new_password", password=new_password, user=user)
    user.set_password(new_password)
    user.save(update_fields=["password"])
    user_revoke_sessions(user=user)
