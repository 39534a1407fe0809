"""JWT authentication whose every failure is a 401, whatever the token claims."""

import functools
import uuid
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import AbstractBaseUser
from drf_spectacular.contrib.rest_framework_simplejwt import SimpleJWTScheme
from rest_framework.exceptions import AuthenticationFailed
from rest_framework_simplejwt import authentication
from rest_framework_simplejwt.exceptions import InvalidToken
from rest_framework_simplejwt.settings import api_settings
from rest_framework_simplejwt.tokens import Token
from rest_framework_simplejwt.utils import get_md5_hash_password

from hopla.compiled import CompiledModelGet


@functools.cache
def _user_by_id() -> CompiledModelGet:
    """Every authenticated request looks its user up by id: compiled once, not per request (BENCHMARKS.md)."""
    return CompiledModelGet(get_user_model())


class JWTAuthentication(authentication.JWTAuthentication):
    """simplejwt's user checks (exists, active, token not revoked by a password change), with the user
    read by a statement compiled once; a signed token whose user id is not a UUID is a 401, not a 400."""

    # simplejwt types this with a TypeVar that no override can satisfy.
    def get_user(self, validated_token: Token) -> AbstractBaseUser:  # type: ignore[override]
        try:
            user_id = validated_token[api_settings.USER_ID_CLAIM]
        except KeyError as error:
            raise InvalidToken("Token contained no recognizable user identification") from error
        try:
            user_uuid = uuid.UUID(str(user_id))
        except ValueError as error:
            raise AuthenticationFailed("User not found", code="user_not_found") from error
        user: Any = _user_by_id().get(user_uuid)
        if user is None:
            raise AuthenticationFailed("User not found", code="user_not_found")
        if api_settings.CHECK_USER_IS_ACTIVE and not user.is_active:
            raise AuthenticationFailed("User is inactive", code="user_inactive")
        if api_settings.CHECK_REVOKE_TOKEN and validated_token.get(
            api_settings.REVOKE_TOKEN_CLAIM
        ) != get_md5_hash_password(user.password):
            raise AuthenticationFailed("The user's password has been changed.", code="password_changed")
        return user


class JWTAuthenticationScheme(SimpleJWTScheme):
    """Documents hopla's JWT authentication as simplejwt's Bearer scheme (Swagger's "Authorize")."""

    target_class = "hopla.api.authentication.JWTAuthentication"
