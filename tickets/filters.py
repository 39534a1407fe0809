"""Ticket list filters and ordering (SPEC §5). Every bad value is a 400 that names its parameter."""

import datetime
from typing import Any

import django_filters
from django import forms
from django.db import connection
from django.db.models import F, OrderBy, Q, QuerySet, Subquery
from django.utils import timezone
from django_filters.fields import IsoDateTimeField
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field

from hopla.api.filters import FilterSet
from tickets.models import Priority, Project, Status, Ticket
from tickets.search import ticket_search_query
from tickets.selectors import TICKET_KEY, as_uuid, project_lookup


class CommaSeparatedChoiceField(forms.Field):
    """`a,b,c` where each item must be one of `allowed`; answers the list of items."""

    def __init__(self, *, allowed: list[str], **kwargs: Any) -> None:
        self.valid = allowed
        super().__init__(**kwargs)

    def to_python(self, value: Any) -> list[str] | None:
        if value in (None, ""):
            return None
        items = [item.strip() for item in str(value).split(",") if item.strip()]
        wrong = [item for item in items if item not in self.valid]
        if wrong or not items:
            # User text goes in `params`, never into the message itself: django-filter %-formats the message.
            raise forms.ValidationError(
                "Unknown value(s) %(wrong)s; choose from: %(allowed)s.",
                code="invalid_choice",
                params={"wrong": ", ".join(wrong) or repr(value), "allowed": ", ".join(self.valid)},
            )
        return items


class UserReferenceField(forms.Field):
    """A user id, or one of the words in `keywords` (`me`, `none`)."""

    def __init__(self, *, keywords: tuple[str, ...], **kwargs: Any) -> None:
        self.keywords = keywords
        super().__init__(**kwargs)

    def to_python(self, value: Any) -> Any:
        if value in (None, ""):
            return None
        if value in self.keywords:
            return value
        user_id = as_uuid(value)
        if user_id is None:
            raise forms.ValidationError(f"Expected a user id or one of: {', '.join(self.keywords)}.", code="invalid")
        return user_id


class ProjectReferenceField(forms.CharField):
    def to_python(self, value: Any) -> Any:
        value = super().to_python(value)
        if not value:
            return None
        lookup = project_lookup(value)
        if lookup is None:
            raise forms.ValidationError("Expected a project id or key.", code="invalid")
        # An id compared in the WHERE clause (not a join on the key) lets PostgreSQL pick the
        # per-project indexes; an unknown key selects nothing.
        return {"project_id": Subquery(Project.objects.filter(**lookup).values("pk")[:1])}


class StrictBooleanField(forms.Field):
    """`true` or `false` (`1`/`0` too); anything else is a 400, not a filter silently dropped."""

    widget = forms.TextInput  # NullBooleanSelect would turn unknown words into None before validation
    WORDS = {"true": True, "1": True, "false": False, "0": False}

    def to_python(self, value: Any) -> bool | None:
        if value in (None, ""):
            return None
        word = str(value).strip().lower()
        if word not in self.WORDS:
            raise forms.ValidationError("Expected `true` or `false`.", code="invalid")
        return self.WORDS[word]


class UtcIsoDateTimeField(IsoDateTimeField):
    """An ISO 8601 time, as UTC: Python accepts offsets up to ±23:59 but PostgreSQL only to ±15:59,
    and a time near year 1 or 9999 may not exist in UTC at all (a 400, not a database error)."""

    def to_python(self, value: Any) -> datetime.datetime | None:
        parsed = super().to_python(value)
        if parsed is None:
            return None
        try:
            return parsed.astimezone(datetime.UTC)
        except OverflowError:
            raise forms.ValidationError("Out of the supported date range.", code="invalid") from None


class UtcIsoDateTimeFilter(django_filters.IsoDateTimeFilter):
    field_class = UtcIsoDateTimeField


@extend_schema_field(OpenApiTypes.BOOL)
class StrictBooleanFilter(django_filters.Filter):
    field_class = StrictBooleanField


@extend_schema_field(OpenApiTypes.STR)
class CommaSeparatedChoiceFilter(django_filters.Filter):
    field_class = CommaSeparatedChoiceField


@extend_schema_field(OpenApiTypes.STR)
class UserReferenceFilter(django_filters.Filter):
    field_class = UserReferenceField


@extend_schema_field(OpenApiTypes.STR)
class ProjectReferenceFilter(django_filters.Filter):
    field_class = ProjectReferenceField


# What each `ordering` name sorts by; `key` sorts by project key, then by number (OPS-9 before OPS-10).
ORDERING_FIELDS = {
    "created_at": ("created_at",),
    "updated_at": ("updated_at",),
    "priority": ("priority",),
    "due_date": ("due_date",),
    "status": ("status_rank",),
    "key": ("project__key", "number"),
}


NULLABLE_ORDERING_FIELDS = {"due_date"}


class TicketOrderingFilter(django_filters.OrderingFilter):
    """A comma list of ORDERING_FIELDS names, each with an optional `-`; ties break by id."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(fields={name: name for name in ORDERING_FIELDS}, **kwargs)

    def filter(self, qs: QuerySet[Ticket], value: list[str] | None) -> QuerySet[Ticket]:
        ordering: list[OrderBy] = []
        descending = True
        # Empty items (`ordering=,` or a trailing comma) are ignored, as in the other comma lists.
        for param in [param for param in value or [] if param] or ["-created_at"]:
            descending = param.startswith("-")
            for field in ORDERING_FIELDS[param.removeprefix("-")]:
                # Tickets without a due date sort last both ways. Only nullable fields say NULLS LAST:
                # on a NOT NULL column it stops PostgreSQL from reading the btree indexes in order.
                nulls_last = True if field in NULLABLE_ORDERING_FIELDS else None
                ordering.append(OrderBy(F(field), descending=descending, nulls_last=nulls_last))
        # The tie-break runs the same way as the last key, so an index on (key, id) serves the whole order.
        return qs.order_by(*ordering, "-id" if descending else "id")


class TicketFilter(FilterSet):
    project = ProjectReferenceFilter(method="filter_project", help_text="A project id or key, e.g. `OPS`.")
    status = CommaSeparatedChoiceFilter(
        field_name="status",
        lookup_expr="in",
        allowed=[status.value for status in Status],
        help_text="Comma-separated: `open`, `in_progress`, `resolved`, `closed`.",
    )
    priority = CommaSeparatedChoiceFilter(
        method="filter_priority",
        allowed=[label for _, label in Priority.choices],
        help_text="Comma-separated: `low`, `medium`, `high`, `urgent`.",
    )
    assignee = UserReferenceFilter(
        method="filter_user", keywords=("me", "none"), help_text="A user id, `me`, or `none` (unassigned)."
    )
    reporter = UserReferenceFilter(method="filter_user", keywords=("me",), help_text="A user id or `me`.")
    label = django_filters.CharFilter(method="filter_label", max_length=50, help_text="Tickets carrying this label.")
    created_after = UtcIsoDateTimeFilter(
        field_name="created_at", lookup_expr="gte", help_text="ISO 8601 date or time, inclusive."
    )
    created_before = UtcIsoDateTimeFilter(
        field_name="created_at", lookup_expr="lt", help_text="ISO 8601 date or time, exclusive."
    )
    updated_after = UtcIsoDateTimeFilter(
        field_name="updated_at", lookup_expr="gte", help_text="ISO 8601 date or time, inclusive."
    )
    updated_before = UtcIsoDateTimeFilter(
        field_name="updated_at", lookup_expr="lt", help_text="ISO 8601 date or time, exclusive."
    )
    due_after = django_filters.DateFilter(field_name="due_date", lookup_expr="gte", help_text="A date, inclusive.")
    due_before = django_filters.DateFilter(field_name="due_date", lookup_expr="lte", help_text="A date, inclusive.")
    overdue = StrictBooleanFilter(
        method="filter_overdue", help_text="`true`: past their due date and neither resolved nor closed."
    )
    search = django_filters.CharFilter(
        method="filter_search",
        max_length=200,
        help_text="Words in the key, title or description: full-text search in web-search syntax (every word, "
        '`"a phrase"`, `-without`, `or`) where the last word also matches as a prefix, for type-ahead (`login cras` '
        'finds "Login crashes"). A ticket key (`OPS-12`) finds that ticket. Substring matching on SQLite.',
    )
    ordering = TicketOrderingFilter(
        help_text="Comma-separated: `created_at`, `updated_at`, `priority`, `due_date`, `status`, `key`; "
        "`-` for descending. Default `-created_at`."
    )

    class Meta:
        model = Ticket
        fields: list[str] = []

    @classmethod
    def narrows(cls, query_params: Any) -> bool:
        """Whether the query names a filter (not just an ordering): an empty value filters nothing."""
        return any(query_params.get(name) for name in cls.base_filters if name != "ordering")

    def filter_project(self, queryset: QuerySet[Ticket], name: str, value: dict[str, Any]) -> QuerySet[Ticket]:
        return queryset.filter(**value)

    def filter_priority(self, queryset: QuerySet[Ticket], name: str, value: list[str]) -> QuerySet[Ticket]:
        numbers = [number for number, label in Priority.choices if label in value]
        return queryset.filter(priority__in=numbers)

    def filter_user(self, queryset: QuerySet[Ticket], name: str, value: Any) -> QuerySet[Ticket]:
        if value == "me":
            return queryset.filter(**{name: self.request.user})
        if value == "none":
            return queryset.filter(**{f"{name}__isnull": True})
        return queryset.filter(**{f"{name}_id": value})

    def filter_label(self, queryset: QuerySet[Ticket], name: str, value: str) -> QuerySet[Ticket]:
        label = " ".join(value.lower().split())
        if connection.vendor == "postgresql":
            return queryset.filter(labels__contains=[label])  # jsonb @>, served by the GIN index
        # SQLite has no JSON containment; labels are stored as a JSON array of plain strings.
        return queryset.filter(labels__icontains=f'"{label}"')

    def filter_overdue(self, queryset: QuerySet[Ticket], name: str, value: bool) -> QuerySet[Ticket]:
        overdue = Q(due_date__lt=timezone.localdate()) & ~Q(status__in=[Status.RESOLVED, Status.CLOSED])
        return queryset.filter(overdue) if value else queryset.exclude(overdue)

    def filter_search(self, queryset: QuerySet[Ticket], name: str, value: str) -> QuerySet[Ticket]:
        words = value.strip()
        if not words:
            return queryset
        by_key = Q(key=words.upper()) if TICKET_KEY.match(words) else Q(pk__in=[])
        if connection.vendor == "postgresql":
            return queryset.filter(Q(search_vector=ticket_search_query(words)) | by_key)
        matches = Q()
        for word in words.split():
            matches &= Q(title__icontains=word) | Q(description__icontains=word) | Q(key__icontains=word)
        return queryset.filter(matches | by_key)
