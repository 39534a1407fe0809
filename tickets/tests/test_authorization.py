"""Who may do what: every project, member, ticket, comment, history and webhook route, for every role.

The routes come from the URL conf, so an endpoint added without a row in MATRIX fails
`test_the_matrix_covers_every_route_and_method` instead of shipping unchecked.
"""

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from rest_framework.test import APIClient

from accounts.models import User
from accounts.tests.factories import UserFactory
from hopla.api.exceptions import ActionForbidden
from tickets import selectors
from tickets.image_validation import validate_image_bytes
from tickets.models import Comment, Event, Image, Invitation, Membership, Project, Role, Ticket, TicketImport, Watcher
from tickets.services.comments import comment_create
from tickets.services.images import image_upload
from tickets.services.invitations import invitation_send
from tickets.tests.conftest import Team, client_for
from tickets.tests.factories import MembershipFactory, ProjectFactory, TicketFactory
from tickets.tests.images import png_bytes, uploaded_png
from webhooks.models import Delivery, DeliveryStatus, Webhook
from webhooks.secrets import secret_generate

pytestmark = pytest.mark.django_db

API_PREFIX = "api/v1/"
ROLES = ("anonymous", "outsider", "viewer", "member", "admin")
# Projects and tickets are addressed by UUID or by key (`OPS`, `OPS-1`): every case runs with both.
REFERENCE_FORMS = ("id", "key")
# The apps whose routes live under a project or a ticket, and so under its roles.
PROJECT_SCOPED_APPS = ("tickets.", "webhooks.")


def _walk(patterns: list[Any], prefix: str = "") -> Iterator[tuple[str, URLPattern]]:
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            yield from _walk(pattern.url_patterns, prefix + str(pattern.pattern))
        else:
            yield prefix + str(pattern.pattern), pattern


def _methods(pattern: URLPattern) -> list[str]:
    """The HTTP methods a route answers: a viewset's action map, or an APIView's handlers."""
    actions = getattr(pattern.callback, "actions", None)
    if actions is not None:
        # DRF adds `head` to a viewset's action map once the view has served a request.
        return sorted(method for method in actions if method not in ("head", "options"))
    view_class = pattern.callback.cls  # type: ignore[attr-defined]
    return sorted(m for m in view_class.http_method_names if m not in ("head", "options") and hasattr(view_class, m))


def project_scoped_routes() -> dict[tuple[str, str], URLPattern]:
    """(URL name, method) → pattern, for every route of PROJECT_SCOPED_APPS under /api/v1/."""
    routes = {}
    for route, pattern in _walk(get_resolver().url_patterns):
        view_class = getattr(pattern.callback, "cls", pattern.callback)
        if route.startswith(API_PREFIX) and view_class.__module__.startswith(PROJECT_SCOPED_APPS):
            for method in _methods(pattern):
                routes[(pattern.name, method)] = pattern
    return routes


@dataclass
class World:
    """The `team` project with one ticket, one comment by the member, a webhook with a failed delivery,
    and two more users."""

    team: Team
    ticket: Ticket
    comment: Comment
    image: Image
    webhook: Webhook
    delivery: Delivery
    ticket_import: TicketImport
    colleague: User  # another member of the project: the subject of the member detail routes
    newcomer: User  # in no project: the user admins add
    invitation: Invitation  # pending: what admins list and revoke

    def client(self, role: str) -> APIClient:
        return APIClient() if role == "anonymous" else self.team.client(role)

    def project_reference(self, form: str) -> str:
        return str(self.team.project.pk) if form == "id" else self.team.project.key

    def url_kwargs(self, names: list[str], form: str) -> dict[str, str]:
        values = {
            "project": self.project_reference(form),
            "ticket": str(self.ticket.pk) if form == "id" else self.ticket.key,
            "user_id": str(self.colleague.pk),
            "comment_id": str(self.comment.pk),
            "image_id": str(self.image.pk),
            "webhook_id": str(self.webhook.pk),
            "delivery_id": str(self.delivery.pk),
            "import_id": str(self.ticket_import.pk),
            "invitation_id": str(self.invitation.pk),
        }
        return {name: values[name] for name in names}


@pytest.fixture
def world(team: Team, settings) -> World:  # type: ignore[no-untyped-def]
    settings.WEBHOOK_ALLOWED_NETWORKS = ["127.0.0.1/32"]  # the webhooks' receiver
    ticket = TicketFactory(project=team.project, reporter=team.member, assignee=team.member)
    webhook = Webhook.objects.create(project=team.project, url=HOOK_URL, events=["*"], secret=secret_generate())
    return World(
        team=team,
        ticket=ticket,
        # Through the service, not CommentFactory, so that the ticket's comment_count counts it.
        comment=comment_create(ticket=ticket, author=team.member, body="First!"),
        image=image_upload(
            ticket=ticket, uploader=team.member, upload=validate_image_bytes(png_bytes()), filename="shot.png"
        ),
        webhook=webhook,
        # Failed, so that a redelivery is accepted (a pending one answers 409).
        delivery=Delivery.objects.create(
            webhook=webhook, event_id=uuid.uuid4(), event_type="ticket.created", status=DeliveryStatus.FAILED
        ),
        ticket_import=TicketImport.objects.create(project=team.project, created_by=team.admin, format="hopla-csv"),
        colleague=MembershipFactory(project=team.project, role=Role.MEMBER).user,
        newcomer=UserFactory(),
        invitation=invitation_send(
            project=team.project, actor=team.admin, email="invited@example.com", role=Role.MEMBER
        ).invitation,
    )


Body = Callable[[World, str], dict[str, Any]] | None


def statuses(outsider: int, viewer: int, member: int, admin: int) -> dict[str, int]:
    return {"anonymous": 401, "outsider": outsider, "viewer": viewer, "member": member, "admin": admin}


READ = statuses(outsider=404, viewer=200, member=200, admin=200)
HOOK_URL = "https://127.0.0.1/hooks/hopla"


def admins(status: int) -> dict[str, int]:
    """A webhook route: the project's admins only, for reading too (SPEC §9)."""
    return statuses(outsider=404, viewer=403, member=403, admin=status)


# (URL name, method) → (expected status per role, request body).
MATRIX: dict[tuple[str, str], tuple[dict[str, int], Body]] = {
    ("project-list", "get"): (statuses(200, 200, 200, 200), None),
    # Anyone signed in may create a project (and becomes its admin).
    ("project-list", "post"): (statuses(201, 201, 201, 201), lambda w, f: {"key": "NEWP", "name": "New project"}),
    ("project-detail", "get"): (READ, None),
    ("project-detail", "patch"): (statuses(404, 403, 403, 200), lambda w, f: {"name": "Renamed"}),
    ("project-detail", "delete"): (statuses(404, 403, 403, 204), None),
    ("project-members", "get"): (READ, None),
    ("project-members", "post"): (
        statuses(404, 403, 403, 201),
        lambda w, f: {"user": w.newcomer.email, "role": "viewer"},
    ),
    ("project-member", "get"): (READ, None),
    ("project-member", "patch"): (statuses(404, 403, 403, 200), lambda w, f: {"role": "viewer"}),
    ("project-member", "delete"): (statuses(404, 403, 403, 204), None),
    # Outsiders see their own (empty) list; a body naming a project they are not in is a field error.
    ("ticket-list", "get"): (statuses(200, 200, 200, 200), None),
    ("ticket-list", "post"): (
        statuses(400, 403, 201, 201),
        lambda w, f: {"project": w.project_reference(f), "title": "A new ticket"},
    ),
    # Everyone signed in exports the tickets of their own projects (an outsider's file has a header only).
    ("ticket-export", "get"): (statuses(200, 200, 200, 200), None),
    # Refused per ticket inside a 200 (`errors`: not_found for outsiders, permission_denied for viewers).
    ("ticket-bulk", "post"): (
        statuses(200, 200, 200, 200),
        lambda w, f: {"tickets": [str(w.ticket.pk) if f == "id" else w.ticket.key], "set": {"priority": "urgent"}},
    ),
    ("ticket-detail", "get"): (READ, None),
    ("ticket-detail", "patch"): (statuses(404, 403, 200, 200), lambda w, f: {"title": "Retitled"}),
    ("ticket-detail", "delete"): (statuses(404, 403, 403, 204), None),
    ("ticket-history", "get"): (READ, None),
    ("ticket-comments", "get"): (READ, None),
    ("ticket-comments", "post"): (statuses(404, 403, 201, 201), lambda w, f: {"body": "A comment"}),
    ("ticket-comment", "get"): (READ, None),
    # The comment is the member's: only its author edits it; its author or an admin deletes it.
    ("ticket-comment", "patch"): (statuses(404, 403, 200, 403), lambda w, f: {"body": "Edited"}),
    ("ticket-comment", "delete"): (statuses(404, 403, 204, 204), None),
    ("ticket-images", "get"): (READ, None),
    ("ticket-images", "post"): (statuses(404, 403, 202, 202), lambda w, f: {"image": uploaded_png()}),
    ("ticket-image", "get"): (READ, None),
    # The image is the member's: its uploader or an admin deletes it.
    ("ticket-image", "delete"): (statuses(404, 403, 204, 204), None),
    ("project-imports", "post"): (
        admins(202),
        lambda w, f: {"file": SimpleUploadedFile("t.csv", b"key,title\nX-1,Imported\n"), "format": "hopla-csv"},
    ),
    ("project-import", "get"): (admins(200), None),
    # Invitations (SPEC §4): admins only, for reading too, as members' management is theirs.
    ("project-invitations", "get"): (admins(200), None),
    ("project-invitation", "delete"): (admins(204), None),
    # Any member may watch a ticket, viewers too (SPEC §11); PREPARE makes each write a change.
    ("ticket-watch", "put"): (statuses(404, 204, 204, 204), None),
    ("ticket-watch", "delete"): (statuses(404, 204, 204, 204), None),
    ("ticket-watchers", "get"): (READ, None),
    ("project-webhooks", "get"): (admins(200), None),
    ("project-webhooks", "post"): (admins(201), lambda w, f: {"url": HOOK_URL, "events": ["ticket.created"]}),
    ("project-webhook", "get"): (admins(200), None),
    ("project-webhook", "patch"): (admins(200), lambda w, f: {"description": "Renamed"}),
    ("project-webhook", "delete"): (admins(204), None),
    ("project-webhook-ping", "post"): (admins(202), None),
    ("project-webhook-rotate-secret", "post"): (admins(200), None),
    ("project-webhook-deliveries", "get"): (admins(200), None),
    ("project-webhook-delivery", "get"): (admins(200), None),
    ("project-webhook-delivery-redeliver", "post"): (admins(202), None),
}

# Writes that answer 200 with a refusal per item: for these roles nothing may change.
REFUSED_PER_ITEM = {("ticket-bulk", "post"): {"outsider": "not_found", "viewer": "permission_denied"}}
# Writes that change nothing when already done (watching): the requester's state is set to the
# opposite first, so that an accepted one must change something.
PREPARE: dict[tuple[str, str], Callable[[Ticket, User], Any]] = {
    ("ticket-watch", "put"): lambda ticket, user: Watcher.objects.filter(ticket=ticket, user=user).delete(),
    ("ticket-watch", "delete"): lambda ticket, user: Watcher.objects.get_or_create(ticket=ticket, user=user),
}

# Routes whose body is a multipart form rather than JSON.
MULTIPART = {("ticket-images", "post"), ("project-imports", "post")}

ERROR_CODES = {401: "not_authenticated", 403: "permission_denied", 404: "not_found"}


def _cases() -> list[Any]:
    cases = []
    for (name, method), pattern in sorted(project_scoped_routes().items()):
        url_kwargs = list(pattern.pattern.regex.groupindex)
        by_reference = {("ticket-list", "post"), ("ticket-bulk", "post")}
        forms = REFERENCE_FORMS if url_kwargs or (name, method) in by_reference else ("id",)
        for form in forms:
            for role in ROLES:
                case_id = f"{method.upper()} {name} by {form} {role}"
                cases.append(pytest.param(name, method, url_kwargs, form, role, id=case_id))
    return cases


def state() -> tuple[Any, ...]:
    """Everything a write on these routes can change."""
    return (
        sorted(Project.objects.values_list("id", "name", "description")),
        sorted(Membership.objects.values_list("id", "role")),
        sorted(Ticket.objects.values_list("id", "title", "version")),
        sorted(TicketImport.objects.values_list("id", flat=True)),
        sorted(Comment.objects.values_list("id", "body")),
        sorted(Image.objects.values_list("id", flat=True)),
        Event.objects.count(),
        sorted(Webhook.objects.values_list("id", "url", "events", "description", "active", "secret")),
        sorted(Delivery.objects.values_list("id", "status", "next_attempt_at")),
        sorted(Watcher.objects.values_list("ticket_id", "user_id")),
        sorted(Invitation.objects.values_list("id", "role", "expires_at", "revoked_at", "accepted_at")),
    )


def test_the_matrix_covers_every_route_and_method():
    routes = set(project_scoped_routes())
    assert routes, "no tickets routes found under /api/v1/"
    assert set(MATRIX) == routes, f"missing from MATRIX: {routes - set(MATRIX)}; stale: {set(MATRIX) - routes}"


@pytest.mark.parametrize(("name", "method", "url_kwargs", "form", "role"), _cases())
def test_authorization_matrix(world, name, method, url_kwargs, form, role):
    expected, body = MATRIX[(name, method)]
    url = reverse(name, kwargs=world.url_kwargs(url_kwargs, form))
    prepare = PREPARE.get((name, method))
    if prepare is not None and role != "anonymous":
        prepare(world.ticket, getattr(world.team, role))
    before = state()

    request_format = "multipart" if (name, method) in MULTIPART else "json"
    response = getattr(world.client(role), method)(url, body(world, form) if body else None, format=request_format)

    assert response.status_code == expected[role], response.content
    if response.status_code in ERROR_CODES:
        assert response.data["code"] == ERROR_CODES[response.status_code]
    if response.status_code == 400:
        assert response.data["errors"]["project"][0]["code"] == "does_not_exist"
    refused_as = REFUSED_PER_ITEM.get((name, method), {}).get(role)
    if refused_as:
        assert [error["code"] for error in response.json()["errors"]] == [refused_as]
    if method == "get" or response.status_code >= 400 or refused_as:
        assert state() == before, "a read or a refused write changed something"
    else:
        assert state() != before, "an accepted write changed nothing"


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/projects/{project}/",
        "/api/v1/projects/{project}/members/",
        "/api/v1/tickets/{ticket}/",
        "/api/v1/tickets/{ticket}/history/",
        "/api/v1/tickets/{ticket}/watchers/",
        "/api/v1/tickets/{ticket}/comments/",
        "/api/v1/tickets/{ticket}/comments/{comment}/",
        "/api/v1/projects/{project}/webhooks/",
    ],
)
@pytest.mark.parametrize("form", REFERENCE_FORMS)
def test_an_outsider_cannot_tell_a_hidden_object_from_a_missing_one(world, path, form):
    """The 404 an outsider gets is the one a member gets for something that does not exist."""
    hidden = path.format(**world.url_kwargs(["project", "ticket"], form), comment=world.comment.pk)
    missing_ticket = "00000000-0000-4000-8000-000000000000" if form == "id" else "OPS-999"
    missing_project = "00000000-0000-4000-8000-000000000000" if form == "id" else "NOPE"
    missing = path.format(project=missing_project, ticket=missing_ticket, comment=world.comment.pk)

    outsider = world.client("outsider").get(hidden)
    member = world.client("member").get(missing)

    assert outsider.status_code == member.status_code == 404
    assert outsider.data == member.data


def test_a_second_project_is_invisible_in_lists(team):
    elsewhere = ProjectFactory(key="SEC", name="Secret")
    MembershipFactory(project=elsewhere, role=Role.ADMIN)
    TicketFactory.create_batch(3, project=elsewhere)
    TicketFactory(project=team.project, reporter=team.member)
    client = team.client("member")

    projects = client.get("/api/v1/projects/")
    tickets = client.get("/api/v1/tickets/")

    assert projects.status_code == tickets.status_code == 200
    assert projects.data["count"] == 1
    assert [project["key"] for project in projects.data["results"]] == ["OPS"]
    assert tickets.data["count"] == 1
    assert [ticket["key"] for ticket in tickets.data["results"]] == ["OPS-1"]


def test_an_outsider_lists_nothing_of_the_project(team):
    TicketFactory(project=team.project, reporter=team.member)
    client = team.client("outsider")

    assert client.get("/api/v1/projects/").data["count"] == 0
    assert client.get("/api/v1/tickets/").data["count"] == 0


def test_filtering_tickets_by_a_hidden_project_answers_like_an_unknown_one(team):
    elsewhere = ProjectFactory(key="SEC")
    TicketFactory(project=elsewhere)
    client = team.client("member")

    hidden = client.get("/api/v1/tickets/", {"project": "SEC"})
    hidden_by_id = client.get("/api/v1/tickets/", {"project": str(elsewhere.pk)})
    unknown = client.get("/api/v1/tickets/", {"project": "NOPE"})

    assert hidden.status_code == hidden_by_id.status_code == unknown.status_code
    assert hidden.data == hidden_by_id.data == unknown.data


def test_a_comment_is_reachable_only_under_its_own_ticket(world):
    other_ticket = TicketFactory(project=world.team.project, reporter=world.team.member)
    url = f"/api/v1/tickets/{other_ticket.key}/comments/{world.comment.pk}/"
    client = world.client("admin")

    assert client.get(url).status_code == 404
    assert client.delete(url).status_code == 404
    assert Comment.objects.filter(pk=world.comment.pk).exists()


def test_a_user_outside_the_project_is_not_a_member_resource(world):
    url = f"/api/v1/projects/OPS/members/{world.newcomer.pk}/"
    client = world.client("admin")

    assert client.get(url).status_code == 404
    assert client.patch(url, {"role": "admin"}, format="json").status_code == 404
    assert client.delete(url).status_code == 404
    assert not Membership.objects.filter(user=world.newcomer).exists()


# --- members: leaving, removing, the last admin ---------------------------------------------------


@pytest.mark.parametrize("role", ["viewer", "member"])
def test_anyone_may_leave_a_project(team, role):
    user = getattr(team, role)
    client = team.client(role)

    response = client.delete(f"/api/v1/projects/{team.project.pk}/members/{user.pk}/")

    assert response.status_code == 204
    assert not Membership.objects.filter(project=team.project, user=user).exists()
    assert client.get(f"/api/v1/projects/{team.project.pk}/").status_code == 404


def test_the_last_admin_cannot_leave(team):
    response = team.client("admin").delete(f"/api/v1/projects/{team.project.pk}/members/{team.admin.pk}/")

    assert response.status_code == 409
    assert response.data["code"] == "last_admin"
    assert Membership.objects.get(project=team.project, user=team.admin).role == Role.ADMIN


def test_the_last_admin_cannot_step_down(team):
    url = f"/api/v1/projects/{team.project.pk}/members/{team.admin.pk}/"

    response = team.client("admin").patch(url, {"role": "member"}, format="json")

    assert response.status_code == 409
    assert response.data["code"] == "last_admin"
    assert Membership.objects.get(project=team.project, user=team.admin).role == Role.ADMIN


def test_an_admin_may_leave_when_another_admin_remains(team):
    MembershipFactory(project=team.project, role=Role.ADMIN)

    response = team.client("admin").delete(f"/api/v1/projects/{team.project.pk}/members/{team.admin.pk}/")

    assert response.status_code == 204
    assert Membership.objects.filter(project=team.project, role=Role.ADMIN).count() == 1


def test_an_admin_removes_another_admin_but_a_member_cannot(team):
    other_admin = MembershipFactory(project=team.project, role=Role.ADMIN).user
    url = f"/api/v1/projects/{team.project.pk}/members/{other_admin.pk}/"

    refused = team.client("member").delete(url)
    removed = team.client("admin").delete(url)

    assert refused.status_code == 403
    assert refused.data["code"] == "permission_denied"
    assert removed.status_code == 204
    assert not Membership.objects.filter(project=team.project, user=other_admin).exists()


def test_a_member_cannot_promote_themselves(team):
    url = f"/api/v1/projects/{team.project.pk}/members/{team.member.pk}/"

    response = team.client("member").patch(url, {"role": "admin"}, format="json")

    assert response.status_code == 403
    assert Membership.objects.get(project=team.project, user=team.member).role == Role.MEMBER


# --- comments: authors and admins -----------------------------------------------------------------


def test_a_member_cannot_edit_or_delete_another_members_comment(world):
    url = f"/api/v1/tickets/{world.ticket.key}/comments/{world.comment.pk}/"
    client = client_for(world.colleague)

    edited = client.patch(url, {"body": "Not mine"}, format="json")
    deleted = client.delete(url)

    assert edited.status_code == deleted.status_code == 403
    assert Comment.objects.get(pk=world.comment.pk).body == world.comment.body


def test_an_author_demoted_to_viewer_can_no_longer_edit_their_comment(world):
    Membership.objects.filter(project=world.team.project, user=world.team.member).update(role=Role.VIEWER)
    url = f"/api/v1/tickets/{world.ticket.key}/comments/{world.comment.pk}/"

    response = world.client("member").patch(url, {"body": "Edited"}, format="json")

    assert response.status_code == 403
    assert Comment.objects.get(pk=world.comment.pk).body == world.comment.body


def test_an_author_who_left_the_project_cannot_reach_their_comment(world):
    Membership.objects.filter(project=world.team.project, user=world.team.member).delete()
    url = f"/api/v1/tickets/{world.ticket.key}/comments/{world.comment.pk}/"
    client = world.client("member")

    assert client.patch(url, {"body": "Edited"}, format="json").status_code == 404
    assert client.delete(url).status_code == 404
    assert Comment.objects.filter(pk=world.comment.pk).exists()


@pytest.mark.parametrize(
    ("role", "owns", "allowed"),
    [
        ("viewer", True, True),  # anyone may act on what they own (a viewer leaving the project)
        ("member", True, True),
        ("admin", False, True),
        ("member", False, False),
        ("viewer", False, False),
    ],
)
def test_owner_or_admin_is_one_check(team, role, owns, allowed):
    """Comments (author), images (uploader) and memberships (the member) share one selector."""
    user = getattr(team, role)
    scope = selectors.ticket_get(user=user, reference=TicketFactory(project=team.project, reporter=team.admin).key)
    owner_id = user.pk if owns else UserFactory().pk
    check = partial(selectors.require_owner_or_admin, user=user, owner_id=owner_id, scope=scope, action="do it")
    if allowed:
        check()
    else:
        with pytest.raises(ActionForbidden, match=f"Only project admins and above can do it; you are a {role}."):
            check()
