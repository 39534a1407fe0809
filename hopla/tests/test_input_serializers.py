"""Input serializers with prototype fields: each instance still validates on its own."""

from tickets.serializers import TicketCreateSerializer, TicketUpdateSerializer


def test_each_instance_gets_its_own_bound_fields():
    first, second = TicketCreateSerializer(data={}), TicketCreateSerializer(data={})
    assert first.fields["title"] is not second.fields["title"]
    assert first.fields["title"].parent is first
    assert second.fields["labels"].parent is second


def test_instances_validate_independently_in_any_order():
    bad = TicketCreateSerializer(data={"project": "OPS", "title": "", "labels": ["a,b"], "priority": "nope"})
    good = TicketCreateSerializer(
        data={"project": "OPS", "title": "Fine", "labels": [" A  b ", "a b"], "priority": "high"}
    )
    assert not bad.is_valid()
    assert set(bad.errors) == {"title", "labels", "priority"}
    assert good.is_valid(), good.errors
    assert good.validated_data == {"project": "OPS", "title": "Fine", "labels": ["a b"], "priority": 3}


def test_partial_updates_still_skip_the_fields_left_out():
    partial = TicketUpdateSerializer(data={"labels": ["x"]}, partial=True)
    assert partial.is_valid(), partial.errors
    assert partial.validated_data == {"labels": ["x"]}
    full = TicketCreateSerializer(data={"labels": ["x"]})
    assert not full.is_valid()
    assert {"title", "project"} <= set(full.errors)
