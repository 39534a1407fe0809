"""Delivery list filters (SPEC §9): a bad value is a 400 that names its parameter."""

from hopla.api.filters import FilterSet
from tickets.filters import CommaSeparatedChoiceFilter
from webhooks.models import Delivery, DeliveryStatus


class DeliveryFilter(FilterSet):
    status = CommaSeparatedChoiceFilter(
        field_name="status",
        lookup_expr="in",
        allowed=DeliveryStatus.values,
        help_text="Comma-separated: `pending`, `succeeded`, `failed`.",
    )

    class Meta:
        model = Delivery
        fields: list[str] = []
