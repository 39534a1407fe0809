"""Input serializers that build their fields once per class.

DRF gives every serializer instance fresh fields by deep-copying the class's declared fields, and a
deep copy of a field calls its constructor again (a LabelsField builds its child, a related field
copies its queryset): about 110 µs of the 150 µs that validating a ticket creation's body took
(bench/, W3). A serializer that takes `PrototypeFields` deep-copies them once per class and gives each
instance shallow copies of those prototypes, which DRF then binds to the instance as usual.

A shallow copy shares what the constructor built: validators, choices, error messages, a list field's
child, a related field's queryset (DRF reads it through `.all()`). Those are read, never written, while
validating; the per-instance state (`field_name`, `parent`, `source`, `label`) is set by `bind` on
the copy. So only for serializers whose fields are not changed after construction (no `fields[...]`
edits in `__init__`) and whose nested serializers, if any, do not take this mixin themselves.
"""

import copy
from typing import Any, ClassVar

from rest_framework import serializers


# No class docstring: the schema would show it as the description of every serializer without one.
class PrototypeFields(serializers.Serializer):
    _prototypes_by_class: ClassVar[dict[type, dict[str, serializers.Field]]] = {}

    def get_fields(self) -> dict[str, Any]:
        cls = type(self)
        prototypes = PrototypeFields._prototypes_by_class.get(cls)
        if prototypes is None:
            prototypes = copy.deepcopy(self._declared_fields)  # type: ignore[attr-defined]
            PrototypeFields._prototypes_by_class[cls] = prototypes
        return {name: _shallow_copy(field) for name, field in prototypes.items()}


def _shallow_copy(field: serializers.Field) -> serializers.Field:
    clone = object.__new__(type(field))
    clone.__dict__.update(field.__dict__)
    return clone
