"""django-filter's backend and filterset, without the form work that is the same on every request."""

from typing import Any, ClassVar

import django_filters
from django import forms
from django.db.models import Model, QuerySet
from django.http import QueryDict
from django_filters.filters import QuerySetRequestMixin
from django_filters.rest_framework import DjangoFilterBackend
from rest_framework.request import Request


class FilterSet(django_filters.FilterSet):
    """Builds its form class once, where django-filter builds one per request: a field per filter,
    each with a label looked up in the model (a sixth of W2's filtering CPU, bench/)."""

    _form_classes: ClassVar[dict[tuple[type, type[Model]], type[forms.Form]]] = {}

    def get_form_class(self) -> type[forms.Form]:
        # The fields depend on the filters' declarations and the model (for labels) only, except
        # model-choice fields, whose queryset may be built from the request.
        if any(isinstance(filter_, QuerySetRequestMixin) for filter_ in self.filters.values()):
            return super().get_form_class()
        key = (type(self), self.queryset.model)
        form_class = FilterSet._form_classes.get(key)
        if form_class is None:
            form_class = FilterSet._form_classes[key] = super().get_form_class()
        return form_class


# filterset class -> what its form cleans an empty query string to (None: the form refuses it)
_empty_values: dict[type[FilterSet], dict[str, Any] | None] = {}


class FilterBackend(DjangoFilterBackend):
    """Builds and validates the filter form only when the query string may name one of the filters.

    django-filter deep-copies every filter, builds a form class and a form and cleans every field on
    each request, even for a plain `GET /tickets/`: 8 % of the list's CPU (bench/, W1). When no
    parameter starts with a filter's name (the prefix also covers range filters' `_min`/`_after`
    suffixes), the form would clean to the same values every time: those are computed once per
    filterset class, with the same form, and handed to the filters as the form would have.
    """

    def filter_queryset(self, request: Request, queryset: QuerySet[Any], view: Any) -> QuerySet[Any]:
        # Only a declared class: with `filterset_fields` django-filter makes a new class per request.
        filterset_class: type[FilterSet] | None = getattr(view, "filterset_class", None)
        if filterset_class is None or self.get_filterset_class(view, queryset) is not filterset_class:
            return super().filter_queryset(request, queryset, view)
        names = tuple(filterset_class.base_filters)
        empty = _cleaned_from_nothing(filterset_class, queryset)
        if empty is None or any(param.startswith(names) for param in request.query_params):
            return super().filter_queryset(request, queryset, view)
        queryset = queryset.all()
        for name, value in empty.items():
            # The class's own filters: an instance's copies differ only by `parent` and `model`, which
            # django-filter's filters read only for a value that is not empty.
            queryset = filterset_class.base_filters[name].filter(queryset, value)
        return queryset


def _cleaned_from_nothing(filterset_class: type[FilterSet], queryset: QuerySet[Any]) -> dict[str, Any] | None:
    if filterset_class not in _empty_values:
        filterset = filterset_class(QueryDict(), queryset=queryset.none())
        # A required filter makes the empty form invalid: then every request goes through the form.
        _empty_values[filterset_class] = dict(filterset.form.cleaned_data) if filterset.is_valid() else None
    return _empty_values[filterset_class]
