"""Serializers with prototype fields (hopla.api.input) build and validate as DRF's own `get_fields` does.

PrototypeFields copies DRF's private `_declared_fields` once per class and hands out shallow copies
(DEPARTURES.md). Each serializer that takes it is compared here with a twin that builds its fields the
stock way, on the same bodies, one after another, so that state shared between copies would show.
"""

from typing import Any

import pytest
from rest_framework import serializers

from accounts.tests.factories import UserFactory
from hopla.api.input import PrototypeFields
from tickets.serializers import TicketCreateSerializer, TicketUpdateSerializer

SERIALIZERS = [TicketCreateSerializer, TicketUpdateSerializer]


def _stock_twin(serializer_class: type[PrototypeFields]) -> type[serializers.Serializer]:
    stock_get_fields = serializers.Serializer.get_fields
    return type(f"Stock{serializer_class.__name__}", (serializer_class,), {"get_fields": stock_get_fields})


def _bodies(assignee_id: str) -> list[dict[str, Any]]:
    return [
        {"project": "OPS", "title": "Fine", "labels": [" A  b ", "a b"], "priority": "high"},
        {"project": "OPS", "title": "", "labels": ["a,b"], "priority": "nope", "status": "nowhere"},
        {"title": "x" * 201, "description": "  kept  ", "due_date": "2030-02-30", "assignee": assignee_id},
        {"project": "OPS", "title": "Assigned", "assignee": assignee_id, "due_date": None, "status": "closed"},
        {"labels": "not a list", "assignee": "00000000-0000-0000-0000-000000000000"},
        {},
    ]


def _outcome(serializer: serializers.Serializer) -> tuple[Any, ...]:
    valid = serializer.is_valid()
    return valid, serializer.errors, dict(serializer.validated_data) if valid else None


@pytest.mark.django_db
@pytest.mark.parametrize("serializer_class", SERIALIZERS, ids=lambda cls: cls.__name__)
@pytest.mark.parametrize("partial", [False, True], ids=["full", "partial"])
def test_fields_and_validation_are_drfs_own(serializer_class: type[PrototypeFields], partial: bool) -> None:
    stock_class = _stock_twin(serializer_class)
    fields = serializer_class().fields
    assert {name: repr(field) for name, field in fields.items()} == {
        name: repr(field) for name, field in stock_class().fields.items()
    }
    for body in _bodies(str(UserFactory().pk)) * 2:
        hopla = serializer_class(data=body, partial=partial)
        stock = stock_class(data=body, partial=partial)
        assert _outcome(hopla) == _outcome(stock), body
