"""A faster read path for output serializers whose fields render the same whatever the request.

DRF builds a serializer's fields again for every serializer instance (a ModelSerializer introspects
its model and deep-copies every declared field) and walks each object through generic per-field
machinery; on the ticket list that was a fifth of a request's CPU (bench/, W1). A serializer that
takes `ContextFreeRepresentation` builds its fields once per class and renders an object with a
precomputed list of (name, attribute, to_representation) steps. The values are still rendered by
DRF's own field objects; an object the plain steps do not fit (a missing attribute, a callable, a
mapping) goes through DRF's generic path, so the output and the errors stay DRF's.

Only for serializers whose fields read nothing but the value: no request in the context, no
SerializerMethodField, no hyperlinks or file URLs. The class's first use checks this.
"""

from collections.abc import Callable, Mapping
from typing import Any, ClassVar

from django.core.exceptions import ImproperlyConfigured
from rest_framework import serializers

# Fields whose to_representation depends on the value and their own options only.
_CONTEXT_FREE_FIELDS = (
    serializers.BooleanField,
    serializers.CharField,  # and EmailField, RegexField, SlugField, URLField...
    serializers.ChoiceField,
    serializers.DateField,
    serializers.DateTimeField,
    serializers.DecimalField,
    serializers.FloatField,
    serializers.IntegerField,
    serializers.JSONField,
    serializers.UUIDField,
)
_MISSING = object()

Step = tuple[str, str, Callable[[Any], Any]]


# Renders with steps computed once per class (see the module docstring). No class docstring: the schema
# would show it as the description of every serializer without one of its own.
class ContextFreeRepresentation(serializers.Serializer):
    _steps_by_class: ClassVar[dict[type, list[Step]]] = {}

    @classmethod
    def _representation_steps(cls) -> list[Step]:
        steps = ContextFreeRepresentation._steps_by_class.get(cls)
        if steps is None:
            # One instance lives on in the steps: its fields, bound to it, render every later object.
            template = cls()
            steps = [_step(cls, field) for field in template._readable_fields]
            ContextFreeRepresentation._steps_by_class[cls] = steps
        return steps

    def to_representation(self, instance: Any) -> dict[str, Any]:
        if isinstance(instance, Mapping):
            return super().to_representation(instance)
        representation: dict[str, Any] = {}
        for name, attribute, render in self._representation_steps():
            # DRF's get_attribute, for one plain attribute; anything else is left to DRF itself.
            value = getattr(instance, attribute, _MISSING)
            if value is None:
                representation[name] = None
            elif value is _MISSING or callable(value):
                return super().to_representation(instance)
            else:
                representation[name] = render(value)
        return representation


def _step(serializer_class: type, field: serializers.Field) -> Step:
    plain_source = len(field.source_attrs) == 1
    if plain_source and isinstance(field, (*_CONTEXT_FREE_FIELDS, ContextFreeRepresentation)):
        return (str(field.field_name), field.source_attrs[0], field.to_representation)
    raise ImproperlyConfigured(
        f"{serializer_class.__name__}.{field.field_name} ({type(field).__name__}) may depend on the request: "
        "ContextFreeRepresentation renders only plain-attribute fields of the context-free kinds."
    )
