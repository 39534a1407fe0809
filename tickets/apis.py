"""Projects, members, tickets, comments and history endpoints (SPEC §4, §5).

Views resolve and permission-check objects through selectors, hand writes to services and render
with serializers; none of them touches the ORM on user input directly.
"""

from collections.abc import Callable
from typing import Any

from django.db.models import QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    PolymorphicProxySerializer,
    extend_schema,
    extend_schema_view,
)
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ErrorDetail, PermissionDenied, ValidationError
from rest_framework.parsers import MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import Serializer

from accounts.actor import ActorMixin
from hopla.api.conditional import if_match_version, version_etag
from hopla.api.exceptions import ObjectNotFound
from hopla.api.pagination import CursorOrLimitOffsetPagination, LimitOffsetPagination
from tickets import list_etag, list_rows, selectors
from tickets.filters import TicketFilter
from tickets.image_validation import clean_filename, validate_image_upload
from tickets.models import Comment, Image, Invitation, Membership, Project, Role, Ticket
from tickets.serializers import (
    CommentSerializer,
    EventSerializer,
    ImageSerializer,
    ImageUploadSerializer,
    InvitationSerializer,
    MemberAddSerializer,
    MembershipSerializer,
    MemberUpdateSerializer,
    ProjectCreateSerializer,
    ProjectSerializer,
    ProjectUpdateSerializer,
    TicketCreateSerializer,
    TicketUpdateSerializer,
    TicketWatchingSerializer,
    UserSummarySerializer,
)
from tickets.services import comments as comment_services
from tickets.services import images as image_services
from tickets.services import invitations as invitation_services
from tickets.services import projects as project_services
from tickets.services import tickets as ticket_services
from tickets.services import watchers as watcher_services

IF_MATCH = OpenApiParameter(
    "If-Match",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    description="The ETag from a GET; a stale one answers 412 precondition_failed.",
)


class HoplaViewSet(ActorMixin, viewsets.GenericViewSet):
    """Resolves projects and tickets through the selectors (404 for outsiders, 403 below the role);
    `actor` is the signed-in user.

    No PUT anywhere: writes are partial (PATCH).
    """

    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def project_for(self, reference: str, minimum_role: Role = Role.VIEWER, action: str = "") -> Project:
        return selectors.project_get(
            user=self.actor,
            reference=reference,
            minimum_role=minimum_role,
            action=action,
        )

    def ticket_for(self, reference: str, minimum_role: Role = Role.VIEWER, action: str = "") -> Ticket:
        return selectors.ticket_get(
            user=self.actor,
            reference=reference,
            minimum_role=minimum_role,
            action=action,
        )

    def paginated(
        self,
        queryset: QuerySet[Any],
        serializer_class: type[Serializer],
        *,
        count: Callable[[], int] | None = None,
        **context: Any,
    ) -> Response:
        """One page of `queryset`; `count`, if given, answers the total instead of a COUNT(*) of it."""
        assert self.paginator is not None
        page = self.paginator.paginate_queryset(queryset, self.request, view=self, count=count)  # type: ignore[call-arg]
        return self.get_paginated_response(serializer_class(page, many=True, context=context).data)


@extend_schema_view(
    list=extend_schema(summary="Projects you are a member of"),
    create=extend_schema(
        request=ProjectCreateSerializer,
        responses={201: ProjectSerializer},
        summary="Create a project (you become admin)",
    ),
    retrieve=extend_schema(summary="A project, by id or key"),
    partial_update=extend_schema(request=ProjectUpdateSerializer, summary="Edit a project (admins)"),
    destroy=extend_schema(summary="Delete a project with its tickets (admins)"),
)
@extend_schema(tags=["projects"])
class ProjectViewSet(HoplaViewSet):
    queryset = Project.objects.none()  # tells the schema the model; get_queryset() scopes to the user
    serializer_class = ProjectSerializer
    lookup_value_regex = "[^/]+"
    lookup_url_kwarg = "project"

    def list(self, request: Request) -> Response:
        projects = selectors.project_list(user=self.actor).select_related("created_by")
        return self.paginated(projects, ProjectSerializer)

    def create(self, request: Request) -> Response:
        serializer = ProjectCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        project = project_services.project_create(actor=self.actor, **serializer.validated_data)
        return Response(ProjectSerializer(project).data, status=status.HTTP_201_CREATED)

    def retrieve(self, request: Request, project: str) -> Response:
        return Response(ProjectSerializer(self.project_for(project)).data)

    def partial_update(self, request: Request, project: str) -> Response:
        instance = self.project_for(project, Role.ADMIN, "edit the project")
        serializer = ProjectUpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        updated = project_services.project_update(project=instance, actor=self.actor, data=serializer.validated_data)
        return Response(ProjectSerializer(updated).data)

    def destroy(self, request: Request, project: str) -> Response:
        project_services.project_delete(
            project=self.project_for(project, Role.ADMIN, "delete the project"),
            actor=self.actor,
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema_view(
    list=extend_schema(summary="The project's members"),
    create=extend_schema(
        request=MemberAddSerializer,
        responses={
            201: PolymorphicProxySerializer(
                component_name="MemberOrInvitation",
                serializers=[MembershipSerializer, InvitationSerializer],
                resource_type_field_name=None,
            ),
            200: InvitationSerializer,
        },
        summary="Add a member by id or email, or invite an email that has no account (admins)",
        description=(
            "A user's id or the email of an active account adds that user (201, the membership). An email "
            "with no account is invited: 201 with the invitation, and the worker emails a single-use link "
            "valid `INVITATION_TTL_DAYS` that signs up and joins with `role`. Inviting an email whose "
            "invitation is still open refreshes it (the new role, a new expiry) and emails the link again: "
            "200 with the same invitation."
        ),
        examples=[
            OpenApiExample(
                "Add a user by email", value={"user": "ann@example.com", "role": "member"}, request_only=True
            ),
            OpenApiExample(
                "Invite an email with no account",
                value={"user": "new.hire@example.com", "role": "viewer"},
                request_only=True,
            ),
            OpenApiExample(
                "The invitation made",
                value={
                    "id": "5b0f5c1e-8f7e-4a43-9d2b-0c4f3c1e2a11",
                    "email": "new.hire@example.com",
                    "role": "viewer",
                    "invited_by": {
                        "id": "0b6f2f7c-3f1e-4d8a-a7f5-2d1f9f0e6c3b",
                        "email": "ada@example.com",
                        "full_name": "Ada Admin",
                    },
                    "created_at": "2031-01-15T09:30:00Z",
                    "expires_at": "2031-01-22T09:30:00Z",
                },
                response_only=True,
                status_codes=["201", "200"],
            ),
        ],
    ),
    retrieve=extend_schema(summary="One member"),
    partial_update=extend_schema(request=MemberUpdateSerializer, summary="Change a member's role (admins)"),
    destroy=extend_schema(summary="Remove a member (admins), or leave the project yourself"),
)
@extend_schema(tags=["projects"])
class MemberViewSet(HoplaViewSet):
    queryset = Membership.objects.none()
    serializer_class = MembershipSerializer
    lookup_url_kwarg = "user_id"

    def list(self, request: Request, project: str) -> Response:
        return self.paginated(selectors.member_list(project=self.project_for(project)), MembershipSerializer)

    def create(self, request: Request, project: str) -> Response:
        instance = self.project_for(project, Role.ADMIN, "add members")
        serializer = MemberAddSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        target, role = serializer.validated_data["user"], serializer.validated_data["role"]
        if isinstance(target, str):  # an email with no account: invite it (SPEC §4)
            sent = invitation_services.invitation_send(project=instance, actor=self.actor, email=target, role=role)
            answer = status.HTTP_201_CREATED if sent.created else status.HTTP_200_OK
            return Response(InvitationSerializer(sent.invitation).data, status=answer)
        membership = project_services.member_add(project=instance, actor=self.actor, user=target, role=role)
        return Response(MembershipSerializer(membership).data, status=status.HTTP_201_CREATED)

    def retrieve(self, request: Request, project: str, user_id: str) -> Response:
        return Response(
            MembershipSerializer(selectors.member_get(project=self.project_for(project), user_id=user_id)).data
        )

    def partial_update(self, request: Request, project: str, user_id: str) -> Response:
        instance = self.project_for(project, Role.ADMIN, "change roles")
        membership = selectors.member_get(project=instance, user_id=user_id)
        serializer = MemberUpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        updated = project_services.member_update(
            project=instance,
            actor=self.actor,
            membership=membership,
            role=serializer.validated_data["role"],
        )
        return Response(MembershipSerializer(updated).data)

    def destroy(self, request: Request, project: str, user_id: str) -> Response:
        instance = self.project_for(project)
        membership = selectors.member_get(project=instance, user_id=user_id)
        selectors.require_owner_or_admin(  # anyone may leave; removing others is for admins
            user=self.actor, owner_id=membership.user_id, scope=instance, action="remove other members"
        )
        project_services.member_remove(project=instance, actor=self.actor, membership=membership)
        return Response(status=status.HTTP_204_NO_CONTENT)


_INVITATION_EXAMPLE = {
    "id": "5b0f5c1e-8f7e-4a43-9d2b-0c4f3c1e2a11",
    "email": "new.hire@example.com",
    "role": "member",
    "invited_by": {"id": "0b6f2f7c-3f1e-4d8a-a7f5-2d1f9f0e6c3b", "email": "ada@example.com", "full_name": "Ada Admin"},
    "created_at": "2031-01-15T09:30:00Z",
    "expires_at": "2031-01-22T09:30:00Z",
}


@extend_schema_view(
    list=extend_schema(
        summary="The project's pending invitations (admins)",
        description="Neither accepted, revoked nor expired; oldest first. Members and viewers get 403.",
        examples=[
            OpenApiExample(
                "One pending invitation",
                value=_INVITATION_EXAMPLE,
                response_only=True,
            )
        ],
    ),
    destroy=extend_schema(
        summary="Revoke a pending invitation (admins): its link stops working",
        description="An invitation that is not pending (accepted, revoked, expired, of another project) is 404.",
        responses={204: None},
    ),
)
@extend_schema(tags=["projects"])
class InvitationViewSet(HoplaViewSet):
    queryset = Invitation.objects.none()
    serializer_class = InvitationSerializer
    lookup_url_kwarg = "invitation_id"
    http_method_names = ["get", "delete", "head", "options"]

    def list(self, request: Request, project: str) -> Response:
        instance = self.project_for(project, Role.ADMIN, "see the project's invitations")
        return self.paginated(selectors.invitation_list(project=instance), InvitationSerializer)

    def destroy(self, request: Request, project: str, invitation_id: str) -> Response:
        instance = self.project_for(project, Role.ADMIN, "revoke invitations")
        invitation_services.invitation_revoke(
            invitation=selectors.invitation_get(project=instance, invitation_id=invitation_id)
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


def _with_etag(response: Response, ticket: Ticket) -> Response:
    response["ETag"] = version_etag(ticket.version)
    return response


def _as_reader_sees_it(body: dict[str, Any], *, is_watching: bool, watcher_count: int) -> dict[str, Any]:
    """A write's answer (the representation its event carries) with the reader's watching fields,
    as TicketWatchingSerializer renders them on a read."""
    return {**body, "is_watching": is_watching, "watcher_count": watcher_count}


@extend_schema_view(
    list=extend_schema(
        summary="Tickets of all your projects, filtered and ordered; answers an ETag",
        parameters=[
            OpenApiParameter(
                "If-None-Match",
                OpenApiTypes.STR,
                OpenApiParameter.HEADER,
                description="The ETag of a page you have: 304 (no body) while nothing on it changed for you.",
            )
        ],
        responses={
            200: TicketWatchingSerializer(many=True),
            304: OpenApiResponse(description="Not modified: the page you have (its ETag in If-None-Match) is current."),
        },
    ),
    create=extend_schema(
        request=TicketCreateSerializer,
        responses={201: TicketWatchingSerializer},
        summary="Create a ticket (it starts open)",
        examples=[
            OpenApiExample(
                "Assigned to yourself",
                value={"project": "OPS", "title": "Printer on fire", "priority": "urgent", "assignee": "me"},
                request_only=True,
            ),
            OpenApiExample(
                "Assigned by email, with labels and a due date",
                value={
                    "project": "OPS",
                    "title": "Replace the toner",
                    "labels": ["hardware"],
                    "assignee": "ann@example.com",
                    "due_date": "2031-01-31",
                },
                request_only=True,
            ),
        ],
    ),
    retrieve=extend_schema(summary="A ticket, by id or key (OPS-12); answers an ETag"),
    partial_update=extend_schema(
        request=TicketUpdateSerializer, parameters=[IF_MATCH], summary="Edit a ticket or move its status"
    ),
    destroy=extend_schema(parameters=[IF_MATCH], summary="Delete a ticket (admins)"),
    history=extend_schema(responses={200: EventSerializer(many=True)}, summary="The ticket's events, oldest first"),
    watch=extend_schema(
        request=None,
        responses={204: None},
        summary="Watch the ticket (PUT) or stop watching it (DELETE); any member, viewers included",
    ),
    watchers=extend_schema(responses={200: UserSummarySerializer(many=True)}, summary="Who watches the ticket"),
)
@extend_schema(tags=["tickets"])
class TicketViewSet(HoplaViewSet):
    queryset = Ticket.objects.none()
    serializer_class = TicketWatchingSerializer
    # PUT only for `watch/` (no `update` action: the router maps no PUT on the ticket itself).
    http_method_names = [*HoplaViewSet.http_method_names, "put"]
    filterset_class = TicketFilter
    pagination_class = CursorOrLimitOffsetPagination  # the list and the history
    lookup_value_regex = "[^/]+"
    lookup_url_kwarg = "ticket"

    def get_queryset(self) -> QuerySet[Ticket]:
        return selectors.ticket_list(user=self.actor)

    def list(self, request: Request) -> Response:
        # Taken before the page is read (tickets.list_etag): a polling client that has this page gets a
        # 304 for the price of this one statement.
        state = list_etag.ticket_list_state(user=self.actor, request=request)
        if state is not None and list_etag.none_match(request.headers.get("If-None-Match"), state.etag):
            return Response(status=status.HTTP_304_NOT_MODIFIED, headers={"ETag": state.etag})
        # The projects the tag's statement read, named as constants (selectors._in_projects).
        project_ids = state.project_ids if state is not None else None
        tickets = self.filter_queryset(selectors.ticket_list_rows(user=self.actor, project_ids=project_ids))
        filtered = TicketFilter.narrows(request.query_params)
        # Read as plain rows and answered by a function (tickets.list_rows): TicketWatchingSerializer's
        # JSON, without a model instance per row nor DRF's walk of each field.
        assert self.paginator is not None
        page = self.paginator.paginate_queryset(  # type: ignore[call-arg]
            tickets,
            request,
            view=self,
            # The rows' own COUNT(*): Django drops their columns and the reader's annotations from it,
            # and PostgreSQL the two LEFT JOINs of the users (unique keys, nothing read); filtering a
            # model queryset again for it ran the FilterSet twice (~2 ms of Python per request, cProfile).
            count=lambda: selectors.ticket_count(user=self.actor, tickets=tickets, filtered=filtered),
        )
        response = self.get_paginated_response([list_rows.ticket_answer(row) for row in page or []])
        if state is not None:
            response["ETag"] = state.etag
        return response

    def create(self, request: Request) -> Response:
        serializer = TicketCreateSerializer(data=request.data, context={"actor": self.actor})
        serializer.is_valid(raise_exception=True)
        fields = dict(serializer.validated_data)
        try:
            # The service resolves and checks the project in the statement that numbers the ticket.
            ticket, body = ticket_services.ticket_create(
                project_reference=fields.pop("project"),
                actor=self.actor,
                **fields,
            )
        except ObjectNotFound as error:  # a body reference to a project the user cannot see: 400 on the field
            raise ValidationError(
                {"project": [ErrorDetail("No such project among yours.", code="does_not_exist")]}
            ) from error
        # Its reporter and assignee watch it (tickets.services.watchers, in the creating statement).
        watchers = watcher_services.creation_watcher_ids(ticket)
        body = _as_reader_sees_it(body, is_watching=True, watcher_count=len(watchers))
        return _with_etag(Response(body, status=status.HTTP_201_CREATED), ticket)

    def retrieve(self, request: Request, ticket: str) -> Response:
        instance = self.ticket_for(ticket)
        return _with_etag(Response(TicketWatchingSerializer(instance).data), instance)

    def partial_update(self, request: Request, ticket: str) -> Response:
        instance = self.ticket_for(ticket, Role.MEMBER, "edit tickets")
        serializer = TicketUpdateSerializer(data=request.data, partial=True, context={"actor": self.actor})
        serializer.is_valid(raise_exception=True)
        updated, body = ticket_services.ticket_update(
            ticket=instance,
            actor=self.actor,
            data=dict(serializer.validated_data),
            expected_version=if_match_version(request.headers.get("If-Match"), read_version=instance.version),
        )
        body = _as_reader_sees_it(body, is_watching=updated.is_watching, watcher_count=updated.watcher_count)  # type: ignore[attr-defined]
        return _with_etag(Response(body), updated)

    def destroy(self, request: Request, ticket: str) -> Response:
        instance = self.ticket_for(ticket, Role.ADMIN, "delete tickets")
        ticket_services.ticket_delete(
            ticket=instance,
            actor=self.actor,
            expected_version=if_match_version(request.headers.get("If-Match"), read_version=instance.version),
        )
        return Response(status=status.HTTP_204_NO_CONTENT)

    @action(detail=True, methods=["get"], filterset_class=None)
    def history(self, request: Request, ticket: str) -> Response:
        return self.paginated(selectors.ticket_history(ticket=self.ticket_for(ticket)), EventSerializer)

    @action(detail=True, methods=["put", "delete"], filterset_class=None, pagination_class=None)
    def watch(self, request: Request, ticket: str) -> Response:
        instance = self.ticket_for(ticket)  # any member may watch: viewers too (SPEC §11)
        if request.method == "PUT":
            watcher_services.ticket_watch(ticket=instance, user=self.actor)
        else:
            watcher_services.ticket_unwatch(ticket=instance, user=self.actor)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @action(detail=True, methods=["get"], filterset_class=None, pagination_class=LimitOffsetPagination)
    def watchers(self, request: Request, ticket: str) -> Response:
        return self.paginated(selectors.watcher_list(ticket=self.ticket_for(ticket)), UserSummarySerializer)


@extend_schema_view(
    list=extend_schema(summary="The ticket's comments, oldest first"),
    create=extend_schema(responses={201: CommentSerializer}, summary="Comment on a ticket"),
    retrieve=extend_schema(summary="One comment"),
    partial_update=extend_schema(summary="Edit your comment"),
    destroy=extend_schema(summary="Delete a comment (its author or an admin)"),
)
@extend_schema(tags=["comments"])
class CommentViewSet(HoplaViewSet):
    queryset = Comment.objects.none()
    serializer_class = CommentSerializer
    lookup_url_kwarg = "comment_id"

    def list(self, request: Request, ticket: str) -> Response:
        return self.paginated(selectors.comment_list(ticket=self.ticket_for(ticket)), CommentSerializer)

    def create(self, request: Request, ticket: str) -> Response:
        instance = self.ticket_for(ticket, Role.MEMBER, "comment")
        serializer = CommentSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        comment = comment_services.comment_create(ticket=instance, author=self.actor, **serializer.validated_data)
        return Response(CommentSerializer(comment).data, status=status.HTTP_201_CREATED)

    def retrieve(self, request: Request, ticket: str, comment_id: str) -> Response:
        return Response(
            CommentSerializer(selectors.comment_get(ticket=self.ticket_for(ticket), comment_id=comment_id)).data
        )

    def partial_update(self, request: Request, ticket: str, comment_id: str) -> Response:
        instance = self.ticket_for(ticket, Role.MEMBER, "edit comments")
        comment = selectors.comment_get(ticket=instance, comment_id=comment_id)
        if comment.author_id != self.actor.pk:
            raise _not_author("edit")
        serializer = CommentSerializer(comment, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        body = serializer.validated_data.get("body", comment.body)
        updated = comment_services.comment_update(comment=comment, actor=self.actor, body=body)
        return Response(CommentSerializer(updated).data)

    def destroy(self, request: Request, ticket: str, comment_id: str) -> Response:
        instance = self.ticket_for(ticket, Role.MEMBER, "delete comments")
        comment = selectors.comment_get(ticket=instance, comment_id=comment_id)
        selectors.require_owner_or_admin(
            user=self.actor, owner_id=comment.author_id, scope=instance, action="delete other people's comments"
        )
        comment_services.comment_delete(comment=comment, actor=self.actor)
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema_view(
    list=extend_schema(summary="The ticket's images"),
    retrieve=extend_schema(summary="One image, with its status"),
    destroy=extend_schema(summary="Delete an image and its stored file (its uploader or an admin)"),
    create=extend_schema(
        request={"multipart/form-data": ImageUploadSerializer},
        responses={202: ImageSerializer},
        summary="Upload an image; it is stored by a background job (status pending, then ready or failed)",
    ),
)
@extend_schema(tags=["images"])
class ImageViewSet(HoplaViewSet):
    queryset = Image.objects.none()
    serializer_class = ImageSerializer
    parser_classes = [MultiPartParser]
    lookup_url_kwarg = "image_id"
    http_method_names = ["get", "post", "delete", "head", "options"]

    def list(self, request: Request, ticket: str) -> Response:
        images = selectors.image_list(ticket=self.ticket_for(ticket))
        return self.paginated(images, ImageSerializer, request=request)

    def create(self, request: Request, ticket: str) -> Response:
        instance = self.ticket_for(ticket, Role.MEMBER, "upload images")
        extra_files = set(request.FILES) - {"image"}
        if extra_files and "image" not in request.FILES:
            message = f"Send the file in the multipart field `image`, not in {sorted(extra_files)}."
            raise ValidationError({"image": [ErrorDetail(message, code="required")]})
        upload = request.FILES.get("image")
        valid = validate_image_upload(upload)
        image = image_services.image_upload(
            ticket=instance,
            uploader=self.actor,
            upload=valid,
            filename=clean_filename(upload.name if upload else ""),
        )
        return Response(ImageSerializer(image, context={"request": request}).data, status=status.HTTP_202_ACCEPTED)

    def retrieve(self, request: Request, ticket: str, image_id: str) -> Response:
        image = selectors.image_get(ticket=self.ticket_for(ticket), image_id=image_id)
        return Response(ImageSerializer(image, context={"request": request}).data)

    def destroy(self, request: Request, ticket: str, image_id: str) -> Response:
        instance = self.ticket_for(ticket, Role.MEMBER, "delete images")
        image = selectors.image_get(ticket=instance, image_id=image_id)
        selectors.require_owner_or_admin(
            user=self.actor, owner_id=image.uploaded_by_id, scope=instance, action="delete other people's images"
        )
        image_services.image_delete(image=image, actor=self.actor)
        return Response(status=status.HTTP_204_NO_CONTENT)


def _not_author(verb: str) -> PermissionDenied:
    return PermissionDenied(f"Only the author can {verb} a comment.")
