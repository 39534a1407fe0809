"""hopla's JWT user lookup (hopla.api.authentication, a statement written once) decides as simplejwt's own.

hopla re-implements simplejwt's `JWTAuthentication.get_user` around its own lookup (DEPARTURES.md):
a check simplejwt adds or changes in a new version must show up here as a difference.
"""

import pytest
from rest_framework.exceptions import AuthenticationFailed
from rest_framework_simplejwt import authentication as stock
from rest_framework_simplejwt.tokens import AccessToken

from accounts.models import User
from accounts.tests.factories import UserFactory
from hopla.api.authentication import JWTAuthentication
from hopla.api.exceptions import error_body

pytestmark = pytest.mark.django_db


def _outcome(authenticator: stock.JWTAuthentication, token: AccessToken) -> object:
    """The user's id, or the refusal as the API answers it (status and body)."""
    try:
        return authenticator.get_user(token).pk
    except AuthenticationFailed as refusal:  # simplejwt's own AuthenticationFailed and InvalidToken are ones
        return refusal.status_code, error_body(refusal)


def _token(user: User, **claims: object) -> AccessToken:
    token = AccessToken.for_user(user)
    for name, value in claims.items():
        if value is None:
            del token[name]
        else:
            token[name] = value
    return token


def test_every_user_check_decides_as_simplejwts_own() -> None:
    active, inactive, renamed = UserFactory(), UserFactory(is_active=False), UserFactory()
    stale = _token(renamed)
    renamed.set_password("another-password-entirely-42")
    renamed.save()
    tokens = {
        "active": _token(active),
        "inactive": _token(inactive),
        "password changed": stale,
        "unknown user": _token(active, user_id="00000000-0000-0000-0000-000000000000"),
        "no user id": _token(active, user_id=None),
    }
    for case, token in tokens.items():
        assert _outcome(JWTAuthentication(), token) == _outcome(stock.JWTAuthentication(), token), case
