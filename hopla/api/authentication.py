"""JWT authentication whose every failure is a 401, whatever the token claims."""

import functools
import uuid
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import AbstractBaseUser
from django.db import connection
from drf_spectacular.contrib.rest_framework_simplejwt import SimpleJWTScheme
from rest_framework.exceptions import AuthenticationFailed
from rest_framework_simplejwt import authentication
from rest_framework_simplejwt.exceptions import InvalidToken
from rest_framework_simplejwt.settings import api_settings
from rest_framework_simplejwt.tokens import Token
from rest_framework_simplejwt.utils import get_md5_hash_password


@functools.cache
def _user_select() -> tuple[str, tuple[str, ...]]:
    """The SQL the ORM writes for `User.objects.filter(pk=...).order_by()`, and the fields of its columns.

    Every authenticated request looks its user up by id: written once from the model's metadata, the
    statement costs a quarter of the Python of building and compiling the queryset each time
    (BENCHMARKS.md, "Contain"). hopla/tests/test_sql_constants.py fails when the ORM would write
    anything else.
    """
    model, quote = get_user_model(), connection.ops.quote_name
    table = quote(model._meta.db_table)
    # Every concrete field has a column (typed optional for fields that have none).
    fields = {field.attname: f"{table}.{quote(field.column)}" for field in model._meta.concrete_fields if field.column}
    key = fields[model._meta.pk.attname]
    return f"SELECT {', '.join(fields.values())} FROM {table} WHERE {key} = %s", tuple(fields)


def user_by_id(user_id: uuid.UUID) -> AbstractBaseUser | None:
    """The user whose primary key is `user_id`, built as the ORM builds it; None when there is none."""
    model = get_user_model()
    if connection.vendor != "postgresql":  # SQLite keeps UUIDs as text, which the ORM converts
        return model._default_manager.filter(pk=user_id).first()
    sql, field_names = _user_select()
    with connection.cursor() as cursor:
        cursor.execute(sql, [user_id])
        row = cursor.fetchone()
    return None if row is None else model.from_db(connection.alias, field_names, row)


class JWTAuthentication(authentication.JWTAuthentication):
    """simplejwt's user checks (exists, active, token not revoked by a password change), with the user
    read by a statement written once; a signed token whose user id is not a UUID is a 401, not a 400."""

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
        user: Any = user_by_id(user_uuid)
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
