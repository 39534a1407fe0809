"""Reads the event stream needs, scoped to the connected user: the projects it is in, and their history."""

from typing import Any

from accounts.models import User
from tickets.models import Event, Membership
from tickets.services.event_publishing import event_payload


def member_project_ids(*, user: User) -> set[str]:
    """The ids of the projects `user` is a member of now, as the event payloads spell them."""
    return {str(project_id) for project_id in Membership.objects.filter(user=user).values_list("project_id", flat=True)}


def event_replay_batch(*, user: User, after_seq: int, limit: int) -> list[dict[str, Any]]:
    """The first `limit` events after `after_seq` in the projects `user` is a member of now, in `seq` order."""
    events = (
        Event.objects.filter(project__memberships__user=user, seq__gt=after_seq)
        .select_related("actor")
        .order_by("seq")[:limit]
    )
    return [event_payload(event) for event in events]
