"""JWT authentication whose every failure is a 401, whatever the token claims."""

from django.contrib.auth.base_user import AbstractBaseUser
from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.contrib.rest_framework_simplejwt import SimpleJWTScheme
from rest_framework.exceptions import AuthenticationFailed
from rest_framework_simplejwt import authentication
from rest_framework_simplejwt.tokens import Token


class JWTAuthentication(authentication.JWTAuthentication):
    """simplejwt lets a signed token whose user id is not a UUID escape as a validation error (400)."""

    # simplejwt types this with a TypeVar that no override can satisfy.
    def get_user(self, validated_token: Token) -> AbstractBaseUser:  # type: ignore[override]
        try:
            return super().get_user(validated_token)
        except DjangoValidationError as error:
            raise AuthenticationFailed("User not found", code="user_not_found") from error


class JWTAuthenticationScheme(SimpleJWTScheme):
    """Documents hopla's JWT authentication as simplejwt's Bearer scheme (Swagger's "Authorize")."""

    target_class = "hopla.api.authentication.JWTAuthentication"
