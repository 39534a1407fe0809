"""Accounts endpoints (SPEC §3): thin views that validate, call a service and render."""

from typing import Any

from drf_spectacular.utils import OpenApiExample, extend_schema, extend_schema_view
from rest_framework import generics, status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework_simplejwt.views import TokenObtainPairView, TokenRefreshView

from accounts import services
from accounts.actor import ActorMixin
from accounts.models import User
from accounts.serializers import (
    PasswordChangeSerializer,
    PasswordResetConfirmSerializer,
    PasswordResetSerializer,
    RefreshTokenSerializer,
    RegisterSerializer,
    TokenPairSerializer,
    UserSerializer,
)
from accounts.throttles import LoginEmailThrottle, LoginIPThrottle, PasswordResetThrottle, RegisterThrottle
from tickets.services.invitations import invitation_register


# Reachable without a token; a stale Authorization header must not turn it into a 401. (A comment,
# not a docstring: the schema would show a docstring as every public endpoint's description.)
class PublicApi(APIView):
    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]


class RegisterApi(PublicApi):
    throttle_classes = [RegisterThrottle]

    @extend_schema(
        request=RegisterSerializer,
        responses={201: UserSerializer},
        tags=["auth"],
        summary="Create an account, and join a project with an invitation",
        description=(
            "With `invitation` (the token of an emailed invitation link) the account is created and joins "
            "the project with the invited role, or nothing happens: a link that was changed is 400 "
            "`invitation_invalid`, an expired one `invitation_expired`, a used one `invitation_used`, a "
            "revoked one `invitation_revoked`, and another email than the invited one "
            "`invitation_email_mismatch`."
        ),
        examples=[
            OpenApiExample(
                "Sign up",
                value={"email": "ann@example.com", "password": "correct horse battery", "full_name": "Ann Lee"},
                request_only=True,
            ),
            OpenApiExample(
                "Sign up through an invitation",
                value={
                    "email": "new.hire@example.com",
                    "password": "correct horse battery",
                    "full_name": "New Hire",
                    "invitation": "5b0f5c1e-8f7e-4a43-9d2b-0c4f3c1e2a11:Qm9yzV6o2n3xk0c1xT7o3Jd8a0bG0dK7m1Yt5c2Vn4E",
                },
                request_only=True,
            ),
        ],
    )
    def post(self, request: Request) -> Response:
        serializer = RegisterSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        fields = dict(serializer.validated_data)
        token = fields.pop("invitation", None)
        if token is None:
            user = services.user_register(**fields)
        else:
            user, _ = invitation_register(token=token, **fields)
        return Response(UserSerializer(user).data, status=status.HTTP_201_CREATED)


class LoginApi(TokenObtainPairView):
    throttle_classes = [LoginIPThrottle, LoginEmailThrottle]

    @extend_schema(responses={200: TokenPairSerializer}, tags=["auth"], summary="Log in: an access and a refresh token")
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().post(request, *args, **kwargs)


class RefreshApi(TokenRefreshView):
    @extend_schema(
        responses={200: TokenPairSerializer}, tags=["auth"], summary="New tokens; the old refresh stops working"
    )
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().post(request, *args, **kwargs)


class LogoutApi(ActorMixin, APIView):
    @extend_schema(
        request=RefreshTokenSerializer,
        responses={204: None},
        tags=["auth"],
        summary="Log out: the refresh token stops working",
    )
    def post(self, request: Request) -> Response:
        serializer = RefreshTokenSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.user_logout(user=self.actor, refresh=serializer.validated_data["refresh"])
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema_view(
    get=extend_schema(summary="Your profile"),
    patch=extend_schema(summary="Edit your name or how notifications reach you by email (off, instant, daily)"),
)
@extend_schema(tags=["auth"])
class MeApi(ActorMixin, generics.RetrieveUpdateAPIView):
    serializer_class = UserSerializer
    http_method_names = ["get", "patch", "head", "options"]

    def get_object(self) -> User:
        return self.actor

    def perform_update(self, serializer: UserSerializer) -> None:  # type: ignore[override]
        user = self.get_object()
        services.user_update_profile(
            user=user,
            full_name=serializer.validated_data.get("full_name", user.full_name),
            notification_email=serializer.validated_data.get("notification_email", user.notification_email),
        )


class PasswordChangeApi(ActorMixin, APIView):
    @extend_schema(
        request=PasswordChangeSerializer,
        responses={204: None},
        tags=["auth"],
        summary="Change your password (ends your other sessions)",
    )
    def post(self, request: Request) -> Response:
        serializer = PasswordChangeSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.user_change_password(user=self.actor, **serializer.validated_data)
        return Response(status=status.HTTP_204_NO_CONTENT)


class PasswordResetApi(PublicApi):
    throttle_classes = [PasswordResetThrottle]

    @extend_schema(
        request=PasswordResetSerializer,
        responses={202: None},
        tags=["auth"],
        summary="Email a password reset link (202 whether or not the account exists)",
    )
    def post(self, request: Request) -> Response:
        serializer = PasswordResetSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.password_reset_request(email=serializer.validated_data["email"])
        return Response(status=status.HTTP_202_ACCEPTED)


class PasswordResetConfirmApi(PublicApi):
    throttle_classes = [PasswordResetThrottle]

    @extend_schema(
        request=PasswordResetConfirmSerializer,
        responses={204: None},
        tags=["auth"],
        summary="Set a new password with the emailed uid and token",
    )
    def post(self, request: Request) -> Response:
        serializer = PasswordResetConfirmSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.password_reset_confirm(**serializer.validated_data)
        return Response(status=status.HTTP_204_NO_CONTENT)
