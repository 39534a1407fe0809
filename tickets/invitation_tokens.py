"""The token of an invitation link: the invitation's id signed with SECRET_KEY (django.core.signing).

Nothing secret is stored: the token names the invitation, the signature proves hopla wrote it, and the
invitation's row says whether it is still open and until when (`expires_at`, which a new invitation of
the same email pushes back), so the token itself carries no time.
"""

import uuid

from django.conf import settings
from django.core import signing
from django.urls import reverse
from django.utils.http import urlencode

from tickets.models import Invitation

_SALT = "hopla.tickets.invitation"


def invitation_token(invitation: Invitation) -> str:
    return signing.Signer(salt=_SALT).sign(str(invitation.pk))


def invitation_id(token: str) -> uuid.UUID | None:
    """The id the token was signed for, or None when it is not one hopla signed (cut, changed, made up)."""
    try:
        return uuid.UUID(signing.Signer(salt=_SALT).unsign(token))
    except (signing.BadSignature, ValueError):
        return None


def invitation_url(invitation: Invitation) -> str:
    """The sign-up page with the token, at the address people reach hopla by (the worker has no request)."""
    query = urlencode({"invitation": invitation_token(invitation)})
    return f"{settings.PUBLIC_BASE_URL}{reverse('account:signup')}?{query}"
