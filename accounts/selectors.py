"""Reads on accounts."""

import uuid
from typing import Any

from accounts.models import User, normalize_email


def user_find(*, reference: str) -> User | None:
    """An active user by id or by email, as people add members: `{"user": "<id or email>"}`."""
    lookup: dict[str, Any]
    try:
        lookup = {"pk": uuid.UUID(reference)}
    except ValueError:
        lookup = {"email": normalize_email(reference)}
    return User.objects.filter(is_active=True, **lookup).first()
