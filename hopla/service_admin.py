"""Admin pages that write through the services: input checked as the API checks it, refusals shown, not 500s.

The services keep the rules (workflow, `version`, last admin, events); the admin's own saves would skip
them. A `ServiceAdmin` subclass saves and deletes in `save_model`, `save_formset` and `delete_model` by
calling the service with the staff user as actor. A service refuses by raising (as it does for the
API); Django's admin runs each POST in a transaction, so the raise rolls back the whole save (main form,
inlines, log entry), and the page answers with the refusal instead of a server error: on the form for
a save, as a message for a deletion or a list action.

Who may write here is the admin's own permission (staff, model permissions), not a project role: the
services take the role checks as done (the API's views make them), so a staff user who is no member of
a project writes to it as an operator, under the same workflow, versions, events and last-admin rule.
"""

from collections.abc import Callable
from contextvars import ContextVar
from typing import Any, ClassVar

from django import forms
from django.contrib import admin, messages
from django.db import models, transaction
from django.db.models import Model, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from rest_framework import serializers
from rest_framework.exceptions import APIException

from hopla.api.exceptions import InvalidField, error_body

# The refusal of the save being shown again; set only while `changeform_view` renders its second pass.
_refusal: ContextVar[APIException | None] = ContextVar("admin_refusal", default=None)


class TextAsTyped(forms.CharField):
    """A textarea's text as the API keeps it: not stripped, with the CRLF line ends a browser submits
    turned back into LF; else saving an untouched multi-line text would record it as changed."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**{**kwargs, "strip": False})

    def to_python(self, value: Any) -> str:
        return str(super().to_python(value)).replace("\r\n", "\n")


# formfield_overrides of the admins (and inlines) whose forms feed services.
TEXT_AS_TYPED: dict[type[models.Field], dict[str, Any]] = {models.TextField: {"form_class": TextAsTyped}}


def stored(instance: Model) -> Any:
    """The row as the database holds it: a bound form has already written its input onto `instance`,
    and services compare the old value with the new one to record `changes`."""
    return type(instance)._default_manager.get(pk=instance.pk)


def refusal_errors(refusal: APIException) -> list[tuple[str | None, str, str]]:
    """(field or None, message, code) of a refusal, worded as the API words it."""
    if isinstance(refusal, InvalidField):  # as the API's exception handler answers it: on its field
        refusal = refusal.as_validation_error()
    body = error_body(refusal)
    if "errors" not in body:
        return [(None, body["detail"], body["code"])]
    return [
        (None if field == "non_field_errors" else field, error["message"], error["code"])
        for field, errors in body["errors"].items()
        for error in errors
    ]


def refusal_text(refusal: APIException) -> str:
    return " ".join(message for _, message, _ in refusal_errors(refusal))


def add_refusal(form: forms.BaseForm, refusal: APIException, fields_by_code: dict[str, str]) -> None:
    """The refusal on the field it names (or that `fields_by_code` gives for its code), else on the form."""
    for field, message, code in refusal_errors(refusal):
        target = fields_by_code.get(code, field)
        form.add_error(target if target in form.fields else None, forms.ValidationError(message, code=code))


class ApiInputForm(forms.ModelForm):
    """A model form whose changed fields are also validated by the API's input serializer, so the
    admin accepts what the API accepts (label shapes, lengths, active users); `api_data` is the
    serializer's validated data, the input the service takes."""

    api_data: dict[str, Any]

    def api_input(self, data: dict[str, Any]) -> serializers.Serializer:
        """The API's input serializer for `data`: each form names its own (an abstract hook; ModelForm's
        metaclass does not mix with ABCMeta)."""
        raise NotImplementedError(f"{type(self).__name__} names no API input serializer")

    def api_value(self, field: str, value: Any) -> Any:
        """`value` as a JSON client would send it to the API (a user by id, a priority by name)."""
        return value

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data
        if self.errors:  # the form's own errors first; the API's rules apply to otherwise valid input
            return cleaned
        data = {name: self.api_value(name, cleaned[name]) for name in self.changed_data if name in cleaned}
        serializer = self.api_input(data)
        if serializer.is_valid():
            self.api_data = dict(serializer.validated_data)
        else:
            add_refusal(self, serializers.ValidationError(serializer.errors), {})
        return cleaned


def api_data(form: forms.BaseForm) -> dict[str, Any]:
    """The validated input of an inline's `ApiInputForm` (a formset types its forms as plain model forms)."""
    assert isinstance(form, ApiInputForm)
    return form.api_data


class ServiceAdmin(admin.ModelAdmin):
    """Saves and deletes through services (subclasses say which); a refusal never leaves half a write."""

    formfield_overrides = TEXT_AS_TYPED
    # A refusal's field when the service names none: {"invalid_transition": "status"}.
    refusal_fields: ClassVar[dict[str, str]] = {}

    def changeform_view(
        self, request: HttpRequest, object_id: str | None = None, form_url: str = "", extra_context: Any = None
    ) -> HttpResponse:
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except APIException as refusal:
            # Django's transaction has rolled the save back. The same POST again, now with the refusal
            # as a form error (see get_form): the page shows what was typed and why it was refused.
            token = _refusal.set(refusal)
            try:
                return super().changeform_view(request, object_id, form_url, extra_context)
            finally:
                _refusal.reset(token)

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any) -> Any:
        form_class = super().get_form(request, obj, change, **kwargs)
        refusal = _refusal.get()
        if refusal is None:
            return form_class
        clean = _clean_with(form_class, refusal, self.refusal_fields)
        return type(form_class.__name__, (form_class,), {"clean": clean})

    def delete_view(self, request: HttpRequest, object_id: str, extra_context: Any = None) -> HttpResponse:
        try:
            return super().delete_view(request, object_id, extra_context)
        except APIException as refusal:  # rolled back with Django's transaction, the log entry included
            self.message_user(request, refusal_text(refusal), messages.ERROR)
            return HttpResponseRedirect(request.path)

    def changelist_view(self, request: HttpRequest, extra_context: Any = None) -> HttpResponse:
        """List actions ("delete selected") in one transaction: all of them apply, or none and a message."""
        if request.method != "POST":
            return super().changelist_view(request, extra_context)
        try:
            with transaction.atomic():
                return super().changelist_view(request, extra_context)
        except APIException as refusal:
            self.message_user(request, f"Nothing was changed: {refusal_text(refusal)}", messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())

    def save_formset(self, request: HttpRequest, form: Any, formset: Any, change: bool) -> None:
        """Writes nothing (an inline a subclass does not write through a service stays unsaved); lists
        the formset's changes, which the admin's log message reads. Subclasses call it, then write."""
        formset.save(commit=False)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        """One by one through `delete_model`, so each deletion is the service's, with its event."""
        for obj in queryset:
            self.delete_model(request, obj)


def _clean_with(
    form_class: type[forms.BaseForm], refusal: APIException, fields_by_code: dict[str, str]
) -> Callable[[forms.BaseForm], Any]:
    def clean(form: forms.BaseForm) -> Any:
        cleaned = form_class.clean(form)
        add_refusal(form, refusal, fields_by_code)
        return cleaned

    return clean
