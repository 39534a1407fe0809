"""The admin's forms for projects, memberships, tickets and comments: input checked by the API's serializers."""

from typing import Any

from django import forms
from rest_framework import serializers

from hopla.service_admin import ApiInputForm
from tickets.models import Priority
from tickets.serializers import (
    CommentSerializer,
    MemberAddSerializer,
    MemberUpdateSerializer,
    ProjectCreateSerializer,
    ProjectUpdateSerializer,
    TicketUpdateSerializer,
)


class ProjectForm(ApiInputForm):
    def api_input(self, data: dict[str, Any]) -> serializers.Serializer:
        # `_state.adding` is documented (model instance reference): a new row, its UUID key set already.
        if self.instance._state.adding:
            return ProjectCreateSerializer(data=data)
        return ProjectUpdateSerializer(data=data, partial=True)


class MembershipForm(ApiInputForm):
    """A membership is who in which project: on an existing one only the role changes (another user
    is a removal and an addition, each with its event)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not self.instance._state.adding:
            for name in ("project", "user"):
                if name in self.fields:
                    self.fields[name].disabled = True

    def api_input(self, data: dict[str, Any]) -> serializers.Serializer:
        if self.instance._state.adding:
            return MemberAddSerializer(data=data)
        return MemberUpdateSerializer(data=data, partial=True)

    def api_value(self, field: str, value: Any) -> Any:
        return str(value.pk) if field == "user" else value


class TicketForm(ApiInputForm):
    # The version the page showed. Fields left as shown are sent back too: saved over a newer version,
    # they would undo changes made meanwhile that the editor never saw (what If-Match spares the API).
    read_version = forms.IntegerField(widget=forms.HiddenInput, required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["read_version"].initial = self.instance.version

    def clean(self) -> dict[str, Any]:
        if self.cleaned_data.get("read_version") != self.instance.version:
            raise forms.ValidationError(
                f"The ticket has changed since this page was loaded (it is now at version"
                f" {self.instance.version}); load it again to see the changes.",
                code="precondition_failed",
            )
        return super().clean()

    def api_input(self, data: dict[str, Any]) -> serializers.Serializer:
        return TicketUpdateSerializer(data=data, partial=True)

    def api_value(self, field: str, value: Any) -> Any:
        if value is None:
            return None
        if field == "priority":
            return Priority(value).label
        if field == "assignee":
            return str(value.pk)
        if field == "due_date":
            return value.isoformat()
        return value


class CommentForm(ApiInputForm):
    def api_input(self, data: dict[str, Any]) -> serializers.Serializer:
        return CommentSerializer(data=data, partial=True)
