"""Project and membership writes. A project always keeps at least one admin."""

from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from accounts.models import User
from hopla.api.exceptions import InvalidField, StateConflict
from tickets.models import EventType, Image, Membership, Project, Role, Ticket
from tickets.serializers import MembershipSerializer, ProjectSerializer, TicketSerializer
from tickets.services.event_writing import event_record
from tickets.services.images import images_destroy_after_commit
from tickets.services.invitations import invitations_close_for
from tickets.services.watchers import watchers_forget_member, watchers_forget_project

_DUPLICATE_KEY = ("A project with this key already exists.", "unique")


def _project_data(project: Project) -> dict[str, Any]:
    data = dict(ProjectSerializer(project).data)
    data.pop("my_role")  # events go to every member: no per-user field
    return data


@transaction.atomic
def project_create(*, actor: User, key: str, name: str, description: str = "") -> Project:
    """Create a project with `actor` as its first admin."""
    if Project.objects.filter(key=key).exists():
        raise InvalidField("key", _DUPLICATE_KEY)
    try:
        with transaction.atomic():
            project = Project.objects.create(key=key, name=name.strip(), description=description, created_by=actor)
    except IntegrityError as error:  # the same key created concurrently
        raise InvalidField("key", _DUPLICATE_KEY) from error
    membership = Membership.objects.create(project=project, user=actor, role=Role.ADMIN)
    event_record(
        type=EventType.MEMBER_ADDED,
        project_id=project.pk,
        actor=actor,
        data=dict(MembershipSerializer(membership).data),
    )
    project.my_role = Role.ADMIN  # type: ignore[attr-defined]
    return project


@transaction.atomic
def project_update(*, project: Project, actor: User, data: dict[str, Any]) -> Project:
    locked = Project.objects.select_for_update(no_key=True).get(pk=project.pk)
    changes = {
        field: [getattr(locked, field), value] for field, value in data.items() if getattr(locked, field) != value
    }
    if not changes:
        return project
    for field, (_, new) in changes.items():
        setattr(locked, field, new)
    locked.save(update_fields=[*changes, "updated_at"])
    event_record(
        type=EventType.PROJECT_UPDATED, project_id=locked.pk, actor=actor, changes=changes, data=_project_data(locked)
    )
    locked.my_role = getattr(project, "my_role", None)  # type: ignore[attr-defined]
    return locked


@transaction.atomic
def project_delete(*, project: Project, actor: User) -> None:
    """Deletes the project with its tickets, comments and history, and (after commit) its stored images.

    What stays is one event, `project.deleted`, written after the rest is gone: it tells the members'
    open connections (which then forget the project) and whoever else reads the event table. The
    project's other events go with it, as its tickets and comments do, whose content they repeat.
    """
    image_ids = list(Image.objects.filter(ticket__project_id=project.pk).values_list("pk", flat=True))
    data = _project_data(project)
    watchers_forget_project(project=project)
    Project.objects.filter(pk=project.pk).delete()
    event_record(type=EventType.PROJECT_DELETED, project_id=project.pk, actor=actor, data=data)
    images_destroy_after_commit(image_ids)


def _lock_admins(project: Project) -> list[Membership]:
    """Lock the admin rows so two concurrent demotions cannot leave the project without an admin."""
    return list(Membership.objects.select_for_update().filter(project=project, role=Role.ADMIN).order_by("pk"))


def _refuse_removing_last_admin(project: Project, membership: Membership) -> None:
    admins = _lock_admins(project)
    # The locked rows are the truth: `membership` was read before the lock and its role may be stale.
    if any(admin.pk == membership.pk for admin in admins) and len(admins) <= 1:
        raise StateConflict("A project keeps at least one admin: make someone else admin first.", code="last_admin")


@transaction.atomic
def member_add(*, project: Project, actor: User, user: User, role: Role) -> Membership:
    try:
        with transaction.atomic():
            membership = Membership.objects.create(project=project, user=user, role=role)
    except IntegrityError as error:
        raise InvalidField("user", ("This user is already a member of the project.", "already_member")) from error
    invitations_close_for(project=project, email=user.email)  # a member now: the link has nothing left to do
    event_record(
        type=EventType.MEMBER_ADDED,
        project_id=project.pk,
        actor=actor,
        data=dict(MembershipSerializer(membership).data),
    )
    return membership


@transaction.atomic
def member_update(*, project: Project, actor: User, membership: Membership, role: Role) -> Membership:
    if membership.role == role:
        return membership
    if role != Role.ADMIN:
        _refuse_removing_last_admin(project, membership)
    old_role = membership.role
    membership.role = role
    membership.save(update_fields=["role", "updated_at"])
    event_record(
        type=EventType.MEMBER_UPDATED,
        project_id=project.pk,
        actor=actor,
        changes={"role": [old_role, role]},
        data=dict(MembershipSerializer(membership).data),
    )
    return membership


@transaction.atomic
def member_remove(*, project: Project, actor: User, membership: Membership) -> None:
    """Remove a member; the tickets assigned to them in this project become unassigned, and they stop
    watching its tickets."""
    _refuse_removing_last_admin(project, membership)
    data = dict(MembershipSerializer(membership).data)
    _unassign_tickets(project=project, user=membership.user, actor=actor)
    watchers_forget_member(project=project, user=membership.user)
    membership.delete()
    event_record(type=EventType.MEMBER_REMOVED, project_id=project.pk, actor=actor, data=data)


def _unassign_tickets(*, project: Project, user: User, actor: User) -> None:
    """An assignee must be a member; each unassignment is a ticket change with its own event."""
    tickets = list(
        Ticket.objects.select_for_update(no_key=True, of=("self",))
        .filter(project=project, assignee=user)
        .select_related("project", "reporter")
    )
    if not tickets:
        return
    now = timezone.now()
    Ticket.objects.filter(pk__in=[ticket.pk for ticket in tickets]).update(
        assignee=None, version=F("version") + 1, updated_at=now
    )
    for ticket in tickets:
        ticket.assignee = None
        ticket.version += 1
        ticket.updated_at = now
        event_record(
            type=EventType.TICKET_UPDATED,
            project_id=project.pk,
            ticket_id=ticket.pk,
            actor=actor,
            changes={"assignee": [str(user.pk), None]},
            data=dict(TicketSerializer(ticket).data),
        )
