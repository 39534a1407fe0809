"""Comment writes; each keeps the ticket's `comment_count` right in the same transaction."""

from typing import Any

from django.db import transaction
from django.db.models import F

from accounts.models import User
from tickets.models import Comment, EventType, Ticket
from tickets.serializers import CommentSerializer
from tickets.services.event_writing import event_record
from tickets.services.watchers import watchers_add


def _comment_data(comment: Comment) -> dict[str, Any]:
    return dict(CommentSerializer(comment).data)


def _bump_comment_count(ticket: Ticket, delta: int) -> None:
    Ticket.objects.filter(pk=ticket.pk).update(comment_count=F("comment_count") + delta)


@transaction.atomic
def comment_create(*, ticket: Ticket, author: User, body: str) -> Comment:
    comment = Comment.objects.create(ticket=ticket, author=author, body=body)
    _bump_comment_count(ticket, +1)
    watchers_add(ticket_id=ticket.pk, user_ids=[author.pk])  # whoever comments watches (SPEC §11)
    event_record(
        type=EventType.COMMENT_CREATED,
        project_id=ticket.project_id,
        ticket_id=ticket.pk,
        actor=author,
        data=_comment_data(comment),
    )
    return comment


@transaction.atomic
def comment_update(*, comment: Comment, actor: User, body: str) -> Comment:
    if comment.body == body:
        return comment
    old_body = comment.body
    comment.body = body
    comment.save(update_fields=["body", "updated_at"])
    event_record(
        type=EventType.COMMENT_UPDATED,
        project_id=comment.ticket.project_id,
        ticket_id=comment.ticket_id,
        actor=actor,
        changes={"body": [old_body, body]},
        data=_comment_data(comment),
    )
    return comment


@transaction.atomic
def comment_delete(*, comment: Comment, actor: User) -> None:
    data = _comment_data(comment)
    ticket = comment.ticket
    comment.delete()
    _bump_comment_count(ticket, -1)
    event_record(
        type=EventType.COMMENT_DELETED, project_id=ticket.project_id, ticket_id=ticket.pk, actor=actor, data=data
    )
