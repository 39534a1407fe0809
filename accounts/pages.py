"""Account pages for people (SPEC §12): sign up, password reset request and confirm, profile.

Thin views over accounts.services, the API's own writes: the same email and password rules, the same
reset tokens, the same session revocation. POSTs count against the API's throttles (same scopes, same
counters), so a page is no way around them.
"""

import math
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login, update_session_auth_hash
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import LoginView
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.timesince import timeuntil
from django.views.decorators.http import require_http_methods, require_safe
from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle

from accounts import services
from accounts.forms import (
    NewPasswordForm,
    NotificationPreferenceForm,
    PasswordChangeForm,
    PasswordResetRequestForm,
    ProfileForm,
    SignupForm,
)
from accounts.models import User
from accounts.throttles import LoginIPThrottle, LoginPageEmailThrottle, PasswordResetThrottle, RegisterThrottle
from hopla.api.exceptions import InvalidField
from hopla.api.throttling import UserWriteThrottle
from tickets.models import Invitation
from tickets.services.invitations import (
    InvitationRefused,
    invitation_accept,
    invitation_for_token,
    invitation_register,
)

# The reset token moves from the emailed address into the session, then the page answers at this
# address instead, so the token is neither left in the address bar nor sent in a Referer (as Django's
# own PasswordResetConfirmView does).
RESET_TOKEN_SESSION_KEY = "_password_reset_token"
RESET_URL_TOKEN = "set-password"


def _throttled(request: HttpRequest, throttle: BaseThrottle) -> HttpResponse | None:
    """A 429 page with Retry-After when `throttle` (one of the API's) refuses this request, else None."""
    api_request = Request(request)
    api_request.user = request.user
    if throttle.allow_request(api_request, None):  # type: ignore[arg-type]
        return None
    seconds = math.ceil(throttle.wait() or 1)
    response = render(request, "accounts/throttled.html", {"minutes": math.ceil(seconds / 60)}, status=429)
    response["Retry-After"] = str(seconds)
    return response


class ThrottledLoginView(LoginView):
    """Django's session login, counted against the API login's throttles (per IP and per email): the
    page must not be the way around them for someone guessing passwords."""

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        for throttle in (LoginIPThrottle(), LoginPageEmailThrottle(request.POST.get("username"))):
            if refused := _throttled(request, throttle):
                return refused
        return super().post(request, *args, **kwargs)


@require_http_methods(["GET", "HEAD", "POST"])
def signup_page(request: HttpRequest) -> HttpResponse:
    """Sign up; with `?invitation=<token>` (the emailed link, SPEC §4) the page names the project, the
    email is the invited one, and the new account joins the project. A signed-in person opening a link
    sent to their own address accepts it instead."""
    token = request.POST.get("invitation", "") if request.method == "POST" else request.GET.get("invitation", "")
    invitation = None
    if token:
        try:
            invitation = invitation_for_token(token)
        except InvitationRefused as refusal:
            return _invitation_refused(request, refusal)
    if request.user.is_authenticated:
        if invitation is None:
            return redirect(settings.LOGIN_REDIRECT_URL)
        return _invitation_accept_page(request, invitation, token)
    if request.method == "POST":
        form = SignupForm(request.POST, invited_email=invitation.email if invitation else None)
    else:
        form = SignupForm(invited_email=invitation.email if invitation else None, initial={"invitation": token})
    if request.method == "POST":
        if refused := _throttled(request, RegisterThrottle()):
            return refused
        if form.is_valid():
            fields = {name: form.cleaned_data[name] for name in ("email", "password", "full_name")}
            try:
                if invitation is None:
                    user = services.user_register(**fields)
                else:
                    user, _ = invitation_register(token=token, **fields)
            except InvitationRefused as refusal:  # used, revoked or expired meanwhile
                return _invitation_refused(request, refusal)
            except InvalidField as error:
                form.add_service_error(error)
            else:
                login(request, user, backend="django.contrib.auth.backends.ModelBackend")
                if invitation is None:
                    messages.success(request, f"Welcome to hopla, {user.full_name}.")
                    return redirect(settings.LOGIN_REDIRECT_URL)
                return _joined(request, invitation, f"Welcome to hopla, {user.full_name}.")
    return render(request, "accounts/signup.html", {"form": form, "invitation": invitation})


def _invitation_accept_page(request: HttpRequest, invitation: Invitation, token: str) -> HttpResponse:
    user = request.user
    assert isinstance(user, User)
    if request.method == "POST":
        if refused := _throttled(request, UserWriteThrottle()):
            return refused
        try:
            invitation_accept(token=token, user=user)
        except InvitationRefused as refusal:
            return _invitation_refused(request, refusal)
        return _joined(request, invitation, "")
    context = {"invitation": invitation, "token": token, "for_you": user.email == invitation.email}
    return render(request, "accounts/invitation_accept.html", context)


def _joined(request: HttpRequest, invitation: Invitation, greeting: str) -> HttpResponse:
    role = invitation.get_role_display().lower()  # type: ignore[attr-defined]
    messages.success(request, f"{greeting} You have joined {invitation.project.name} as {role}.".strip())
    return redirect("board:board", project_key=invitation.project.key)


def _invitation_refused(request: HttpRequest, refusal: InvitationRefused) -> HttpResponse:
    return render(request, "accounts/invitation_invalid.html", {"problem": refusal.detail}, status=400)


@require_http_methods(["GET", "HEAD", "POST"])
def password_reset_page(request: HttpRequest) -> HttpResponse:
    form = PasswordResetRequestForm(request.POST) if request.method == "POST" else PasswordResetRequestForm()
    if request.method == "POST":
        if refused := _throttled(request, PasswordResetThrottle()):
            return refused
        if form.is_valid():
            services.password_reset_request(email=form.cleaned_data["email"])
            # The same answer whether or not the account exists (SPEC §3).
            return redirect("account:password-reset-sent")
    return render(request, "accounts/password_reset.html", {"form": form})


@require_safe
def password_reset_sent_page(request: HttpRequest) -> HttpResponse:
    now = timezone.now()
    valid_for = timeuntil(now + timedelta(seconds=settings.PASSWORD_RESET_TIMEOUT), now)
    return render(request, "accounts/password_reset_sent.html", {"valid_for": valid_for})


@require_http_methods(["GET", "HEAD", "POST"])
def password_reset_confirm_page(request: HttpRequest, uidb64: str, token: str) -> HttpResponse:
    if token != RESET_URL_TOKEN:
        request.session[RESET_TOKEN_SESSION_KEY] = token
        return redirect("account:password-reset-confirm", uidb64=uidb64, token=RESET_URL_TOKEN)
    token = request.session.get(RESET_TOKEN_SESSION_KEY, "")
    try:
        user = services.password_reset_user(uid=uidb64, token=token)
    except InvalidField:
        return _invalid_reset_link(request)
    form = NewPasswordForm(request.POST) if request.method == "POST" else NewPasswordForm()
    if request.method == "POST":
        if refused := _throttled(request, PasswordResetThrottle()):
            return refused
        if form.is_valid():
            try:
                services.password_reset_confirm(
                    uid=uidb64, token=token, new_password=form.cleaned_data["new_password1"]
                )
            except InvalidField as error:
                if error.field == "token":  # used or expired meanwhile (in another tab)
                    return _invalid_reset_link(request)
                form.add_service_error(error)
            else:
                del request.session[RESET_TOKEN_SESSION_KEY]
                messages.success(request, "Your password has been changed. Log in with it.")
                return redirect(settings.LOGIN_URL)
    return render(request, "accounts/password_reset_confirm.html", {"form": form, "email": user.email})


def _invalid_reset_link(request: HttpRequest) -> HttpResponse:
    return render(request, "accounts/password_reset_invalid.html")


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def profile_page(request: HttpRequest) -> HttpResponse:
    user = request.user
    assert isinstance(user, User)  # login_required
    profile_form = ProfileForm(initial={"full_name": user.full_name})
    password_form = PasswordChangeForm()
    preference_form = NotificationPreferenceForm(initial={"notification_email": user.notification_email})
    if request.method == "POST":
        if refused := _throttled(request, UserWriteThrottle()):
            return refused
        action = request.POST.get("action")
        if action == "profile":
            profile_form = ProfileForm(request.POST)
            if profile_form.is_valid():
                services.user_update_profile(user=user, full_name=profile_form.cleaned_data["full_name"])
                messages.success(request, "Your name has been saved.")
                return redirect("account:profile")
        elif action == "notifications":
            preference_form = NotificationPreferenceForm(request.POST)
            if preference_form.is_valid():
                choice = preference_form.cleaned_data["notification_email"]
                services.user_update_profile(user=user, full_name=user.full_name, notification_email=choice)
                messages.success(request, "Your email preference has been saved.")
                return redirect("account:profile")
        elif action == "password":
            password_form = PasswordChangeForm(request.POST)
            if password_form.is_valid():
                try:
                    services.user_change_password(
                        user=user,
                        old_password=password_form.cleaned_data["old_password"],
                        new_password=password_form.cleaned_data["new_password1"],
                    )
                except InvalidField as error:
                    password_form.add_service_error(error)
                else:
                    # This session stays signed in; every other one (pages and API refresh tokens) ends.
                    update_session_auth_hash(request, user)
                    messages.success(request, "Your password has been changed; your other sessions have ended.")
                    return redirect("account:profile")
        else:
            return HttpResponseBadRequest("Unknown form.")
    forms = {"profile_form": profile_form, "password_form": password_form, "preference_form": preference_form}
    return render(request, "accounts/profile.html", forms)
