"""The account pages' forms: the same fields and limits as the API's serializers; the rules themselves
(unique email, Django's password validators, reset tokens) live in accounts.services, which both call."""

from typing import Any

from django import forms

from hopla.api.exceptions import InvalidField


class ServiceForm(forms.Form):
    """A form that shows a service's refusal (InvalidField) under the field it names."""

    # The service's field name → this form's, where they differ.
    service_fields: dict[str, str] = {}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # Labels as the board's own forms write them: "Email", not "Email:".
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)

    def add_service_error(self, error: InvalidField) -> None:
        field = self.service_fields.get(error.field, error.field)
        for message, code in error.problems:
            self.add_error(field if field in self.fields else None, forms.ValidationError(message, code=code))


def _password(label: str, autocomplete: str = "new-password") -> forms.CharField:
    return forms.CharField(
        max_length=128, strip=False, label=label, widget=forms.PasswordInput(attrs={"autocomplete": autocomplete})
    )


def _email() -> forms.EmailField:
    return forms.EmailField(max_length=254, label="Email", widget=forms.EmailInput(attrs={"autocomplete": "email"}))


def _full_name() -> forms.CharField:
    return forms.CharField(max_length=150, label="Full name", widget=forms.TextInput(attrs={"autocomplete": "name"}))


class SignupForm(ServiceForm):
    """With `invited_email`, the sign-up of an invitation: the email is the invited one, shown read-only
    (the service refuses any other), and the link's token travels in a hidden field."""

    full_name = _full_name()
    email = _email()
    password = _password("Password")
    invitation = forms.CharField(max_length=200, required=False, widget=forms.HiddenInput)

    def __init__(self, *args: Any, invited_email: str | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if invited_email:
            self.fields["email"].initial = invited_email
            self.fields["email"].widget.attrs["readonly"] = True


class PasswordResetRequestForm(ServiceForm):
    email = _email()


class NewPasswordForm(ServiceForm):
    """A new password typed twice: a typo here would lock the person out."""

    service_fields = {"new_password": "new_password1"}

    new_password1 = _password("New password")
    new_password2 = _password("New password again")

    def clean(self) -> dict[str, object]:
        cleaned = super().clean() or {}
        first, second = cleaned.get("new_password1"), cleaned.get("new_password2")
        if first and second and first != second:
            self.add_error("new_password2", forms.ValidationError("The two passwords differ.", code="mismatch"))
        return cleaned


class PasswordChangeForm(NewPasswordForm):
    field_order = ["old_password", "new_password1", "new_password2"]

    old_password = _password("Current password", autocomplete="current-password")


class ProfileForm(ServiceForm):
    full_name = _full_name()


class NotificationPreferenceForm(ServiceForm):
    """`notification_email` of SPEC §11, as `auth/me/` takes it."""

    notification_email = forms.ChoiceField(
        label="Send me emails about the tickets I watch",
        choices=[
            ("instant", "As they happen (at most one email a minute, listing what is still unread)"),
            ("daily", "Once a day, a digest of what is still unread"),
            ("off", "Never"),
        ],
        widget=forms.RadioSelect,
    )
