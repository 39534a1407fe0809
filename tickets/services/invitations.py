"""Invitations into a project of emails that have no account yet (SPEC §4): sent, refreshed, revoked,
emailed by the worker, and accepted, by registering through the link or by the account of that email.

Accepting locks the invitation's row and checks it in the same transaction that creates the account
and the membership, so two uses of one link cannot both succeed, and a refused one writes nothing.
"""

import datetime
import logging
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.template.loader import render_to_string
from django.utils import timezone
from rest_framework import status

from accounts.models import User, normalize_email
from accounts.services import user_register
from hopla.api.exceptions import ApplicationError
from hopla.jobs import enqueue
from tickets.invitation_tokens import invitation_id, invitation_token, invitation_url
from tickets.models import EventType, Invitation, InvitationStatus, Membership, Project, Role
from tickets.serializers import MembershipSerializer
from tickets.services.event_writing import event_record

logger = logging.getLogger("hopla.invitations")


class InvitationRefused(ApplicationError):
    """400 with a stable code saying why a link cannot be used; `errors` names the `invitation` field,
    as a validation error would, for clients that read field errors."""

    def __init__(self, message: str, *, code: str) -> None:
        super().__init__(
            message,
            code=code,
            status_code=status.HTTP_400_BAD_REQUEST,
            extra={"errors": {"invitation": [{"message": message, "code": code}]}},
        )


_REFUSALS = {
    InvitationStatus.EXPIRED: (
        "This invitation has expired: ask the project's admins for a new one.",
        "invitation_expired",
    ),
    InvitationStatus.ACCEPTED: ("This invitation has already been used.", "invitation_used"),
    InvitationStatus.REVOKED: ("This invitation has been withdrawn by the project's admins.", "invitation_revoked"),
}
_INVALID = ("This invitation link is not valid: it may have been cut or changed.", "invitation_invalid")


def open_invitations() -> QuerySet[Invitation]:
    """Neither accepted nor revoked (maybe expired): what the unique constraint allows one of."""
    return Invitation.objects.filter(accepted_at__isnull=True, revoked_at__isnull=True)


def _ttl() -> datetime.timedelta:
    return datetime.timedelta(days=settings.INVITATION_TTL_DAYS)


@dataclass(frozen=True)
class InvitationSent:
    invitation: Invitation
    created: bool  # False: the email had an open invitation, which was refreshed and sent again


@transaction.atomic
def invitation_send(*, project: Project, actor: User, email: str, role: Role) -> InvitationSent:
    """Invite `email` (which has no account) into `project` with `role`, and email the link after commit.

    Inviting an email that already has an open invitation (pending or expired) refreshes that one: the
    new role, inviter and a new `expires_at`, and the email goes again with the same link. An admin
    who asks again wants the person to get in; a 409 would only make them revoke first.
    """
    email = normalize_email(email)
    expires_at = timezone.now() + _ttl()
    invitation = open_invitations().select_for_update().filter(project=project, email=email).first()
    created = invitation is None
    if invitation is None:
        try:
            with transaction.atomic():
                invitation = Invitation.objects.create(
                    project=project, email=email, role=role, invited_by=actor, expires_at=expires_at
                )
        except IntegrityError:  # the same email invited concurrently: refresh the winner's
            invitation, created = open_invitations().select_for_update().get(project=project, email=email), False
    if not created:
        invitation.role, invitation.invited_by, invitation.expires_at = role, actor, expires_at
        invitation.save(update_fields=["role", "invited_by", "expires_at"])
    transaction.on_commit(lambda: _email_later(invitation.pk))
    return InvitationSent(invitation=invitation, created=created)


def _email_later(pk: Any) -> None:
    if not enqueue(
        "tickets.jobs.send_invitation_email", str(pk), retry_intervals=settings.NOTIFY_EMAIL_RETRY_INTERVALS
    ):
        logger.warning("invitation email not queued", extra={"fields": {"invitation": str(pk)}})


def invitation_revoke(*, invitation: Invitation) -> None:
    """Close a pending invitation: its link stops working. Closing twice changes nothing."""
    open_invitations().filter(pk=invitation.pk).update(revoked_at=timezone.now())


def invitations_close_for(*, project: Project, email: str) -> int:
    """Withdraw the open invitations of `email` into `project`: it has become a member another way."""
    return open_invitations().filter(project=project, email=normalize_email(email)).update(revoked_at=timezone.now())


def invitation_for_token(token: str, *, lock: bool = False) -> Invitation:
    """The pending invitation a link's token names, or InvitationRefused saying why it cannot be used."""
    pk = invitation_id(token)
    invitations = Invitation.objects.select_related("project", "invited_by")
    if lock:
        invitations = invitations.select_for_update(of=("self",))
    invitation = invitations.filter(pk=pk).first() if pk else None
    if invitation is None:  # not signed by us, or its project (and so the invitation) was deleted
        raise InvitationRefused(_INVALID[0], code=_INVALID[1])
    state = invitation.status_at(timezone.now())
    if state != InvitationStatus.PENDING:
        message, code = _REFUSALS[state]
        raise InvitationRefused(message, code=code)
    return invitation


def _refuse_other_email(invitation: Invitation, email: str) -> None:
    if normalize_email(email) != invitation.email:
        raise InvitationRefused(
            "This invitation was sent to another email address: use the address it was sent to.",
            code="invitation_email_mismatch",
        )


def _join(invitation: Invitation, user: User) -> Membership:
    """Make the invitee a member with the invited role and close the invitation: its single use."""
    membership = Membership.objects.create(project=invitation.project, user=user, role=invitation.role)
    event_record(
        type=EventType.MEMBER_ADDED,
        project_id=invitation.project_id,
        actor=user,
        data=dict(MembershipSerializer(membership).data),
    )
    invitation.accepted_at, invitation.accepted_by = timezone.now(), user
    invitation.save(update_fields=["accepted_at", "accepted_by"])
    return membership


@transaction.atomic
def invitation_register(*, token: str, email: str, password: str, full_name: str) -> tuple[User, Membership]:
    """Create the account of an invited email and join the project with the invited role, or nothing.

    The email must be the invited one: the link proves access to that mailbox, not to another."""
    invitation = invitation_for_token(token, lock=True)
    _refuse_other_email(invitation, email)
    user = user_register(email=email, password=password, full_name=full_name)
    return user, _join(invitation, user)


@transaction.atomic
def invitation_accept(*, token: str, user: User) -> Membership:
    """The signed-in account of the invited email joins the project (it registered another way)."""
    invitation = invitation_for_token(token, lock=True)
    _refuse_other_email(invitation, user.email)
    existing = Membership.objects.filter(project=invitation.project, user=user).first()
    if existing is not None:  # added meanwhile by an admin: the invitation has served its purpose
        invitation.accepted_at, invitation.accepted_by = timezone.now(), user
        invitation.save(update_fields=["accepted_at", "accepted_by"])
        return existing
    return _join(invitation, user)


def invitation_email_send(*, invitation_id: Any) -> bool:
    """The worker's job: email the link of a still pending invitation; answers whether it sent.
    Raises what the email backend raises, and RQ retries."""
    invitation = Invitation.objects.select_related("project", "invited_by").filter(pk=invitation_id).first()
    if invitation is None or invitation.status_at(timezone.now()) != InvitationStatus.PENDING:
        return False  # revoked, accepted or gone since: a link that would not work is not worth sending
    _message(invitation).send()
    logger.info("invitation emailed", extra={"fields": {"invitation": str(invitation.pk)}})
    return True


def _message(invitation: Invitation) -> EmailMultiAlternatives:
    inviter = invitation.invited_by.full_name if invitation.invited_by is not None else "An admin"
    context = {
        "invitation": invitation,
        "project": invitation.project,
        "inviter": inviter,
        "url": invitation_url(invitation),
        "token": invitation_token(invitation),
    }
    message = EmailMultiAlternatives(
        subject=f"{inviter} invited you to {invitation.project.name} on hopla",
        body=render_to_string("tickets/invitation_email.txt", context),
        to=[invitation.email],
    )
    message.attach_alternative(render_to_string("tickets/invitation_email.html", context), "text/html")
    return message
