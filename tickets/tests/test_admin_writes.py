"""Admin writes go through the services: a staff user edits as a browser would, the ticket rules hold.

Each test loads an admin page, fills in its form as it renders and posts it back, like a person at
the admin; the staff user is no member of the project (the admin acts above project roles, the
workflow, `version` and events apply all the same).
"""

import asyncio

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from channels.layers import get_channel_layer
from django.contrib.admin.models import LogEntry
from django.test import Client

from accounts.tests.factories import UserFactory
from hopla.channel_groups import project_group
from tickets.models import Comment, Event, Image, Membership, Project, Role, Status, Ticket
from tickets.tests.browser_forms import post_form, read_forms, submit

pytestmark = pytest.mark.django_db

ADMIN = "/admin/tickets"


@pytest.fixture
def staff(db):  # type: ignore[no-untyped-def]
    return UserFactory(is_staff=True, is_superuser=True, full_name="Stella Staff")


@pytest.fixture
def browser(staff) -> Client:
    client = Client(enforce_csrf_checks=True)  # the forms' own CSRF tokens are posted back
    client.force_login(staff)
    return client


@pytest.fixture
def ticket(team) -> Ticket:
    response = team.client("member").post(
        "/api/v1/tickets/", {"project": "OPS", "title": "Printer", "description": "Jams.\n\nOn page 2. "}, format="json"
    )
    assert response.status_code == 201
    return Ticket.objects.get(key="OPS-1")


def change_ticket(browser: Client, ticket: Ticket, **changes: str):  # type: ignore[no-untyped-def]
    return submit(browser, f"{ADMIN}/ticket/{ticket.pk}/change/", {**changes, "_save": "Save"}, form_id="ticket_form")


def delete_selected(browser: Client, changelist: str, selected: list[str]):  # type: ignore[no-untyped-def]
    """Tick the rows, pick "Delete selected" and confirm, as a person does."""
    changes = {"action": "delete_selected", "_selected_action": selected}
    confirmation = submit(browser, changelist, changes, form_id="changelist-form")
    assert confirmation.status_code == 200
    assert "Are you sure" in confirmation.content.decode(), confirmation.content.decode()
    return post_form(browser, confirmation.content.decode(), changelist, {})


def history(team, ticket: Ticket) -> list[dict]:  # type: ignore[no-untyped-def]
    response = team.client("viewer").get(f"/api/v1/tickets/{ticket.key}/history/")
    assert response.status_code == 200
    return response.json()["results"]


def test_a_move_the_workflow_refuses_shows_on_the_status_field_and_changes_nothing(browser, team, ticket):
    before = Ticket.objects.values().get(pk=ticket.pk)
    response = change_ticket(browser, ticket, status="closed", title="Renamed on the way")
    assert response.status_code == 200
    form = response.context["adminform"].form
    assert form.errors["status"] == ["A ticket cannot move from open to closed; from open it can move to: in_progress."]
    assert "cannot move from open to closed" in response.content.decode()
    assert Ticket.objects.values().get(pk=ticket.pk) == before  # the title too: nothing half-written
    assert [event["type"] for event in history(team, ticket)] == ["ticket.created"]
    assert not LogEntry.objects.exists()


def test_workflow_moves_bump_the_version_set_closed_at_and_write_events(browser, team, ticket, staff):
    for status in ("in_progress", "resolved", "closed"):
        response = change_ticket(browser, ticket, status=status)
        assert response.status_code == 302, response.context["adminform"].form.errors
    ticket.refresh_from_db()
    assert (ticket.status, ticket.version) == (Status.CLOSED, 4)
    assert ticket.closed_at is not None
    events = history(team, ticket)
    assert [event["type"] for event in events] == ["ticket.created", *["ticket.updated"] * 3]
    assert events[1]["changes"] == {"status": ["open", "in_progress"]}
    assert events[1]["actor"]["id"] == str(staff.pk)
    assert events[3]["changes"]["status"] == ["resolved", "closed"]
    assert events[3]["changes"]["closed_at"] == [None, ticket.closed_at.isoformat()]
    assert events[3]["data"]["version"] == 4
    # If-Match of the API sees the admin's change: the ETag read before it is stale.
    stale = team.client("member").patch(
        f"/api/v1/tickets/{ticket.key}/", {"title": "x"}, format="json", HTTP_IF_MATCH='"1"'
    )
    assert stale.status_code == 412


def test_an_admin_change_is_sent_to_the_projects_sockets(browser, team, ticket, django_capture_on_commit_callbacks):
    def change_and_commit() -> None:
        with django_capture_on_commit_callbacks(execute=True):
            assert change_ticket(browser, ticket, status="in_progress", priority="4").status_code == 302

    layer = get_channel_layer()

    async def listen_while_changing() -> dict:
        channel = await layer.new_channel()
        await layer.group_add(project_group(team.project.pk), channel)
        await sync_to_async(change_and_commit)()
        # A bound for the failing case only (nothing sent): a passing run receives at once.
        return await asyncio.wait_for(layer.receive(channel), timeout=10)

    message = async_to_sync(listen_while_changing)()
    assert message["event"]["type"] == "ticket.updated"
    assert message["event"]["changes"] == {"priority": ["medium", "urgent"], "status": ["open", "in_progress"]}


def test_a_save_over_a_change_made_since_the_page_loaded_is_refused(browser, team, ticket):
    path = f"{ADMIN}/ticket/{ticket.pk}/change/"
    page = browser.get(path).content.decode()
    moved = team.client("member").patch(f"/api/v1/tickets/{ticket.key}/", {"status": "in_progress"}, format="json")
    assert moved.status_code == 200
    # Its form still shows "open": saved as it is, it would move the ticket back.
    response = post_form(browser, page, path, {"title": "Renamed", "_save": "Save"}, form_id="ticket_form")
    assert response.status_code == 200
    assert response.context["adminform"].form.non_field_errors() == [
        "The ticket has changed since this page was loaded (it is now at version 2); load it again to see the changes."
    ]
    ticket.refresh_from_db()
    assert (ticket.status, ticket.title, ticket.version) == (Status.IN_PROGRESS, "Printer", 2)


def test_input_is_checked_as_the_api_checks_it(browser, team, ticket):
    response = change_ticket(browser, ticket, labels='["ops", "a,b"]', assignee=str(team.outsider.pk))
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert errors["labels"] == ["Labels cannot contain commas or control characters."]
    assert Ticket.objects.get(pk=ticket.pk).labels == []

    response = change_ticket(browser, ticket, assignee=str(team.outsider.pk))
    errors = response.context["adminform"].form.errors
    assert errors["assignee"] == ["The assignee must be a member of the ticket's project."]

    response = change_ticket(browser, ticket, labels='[" Ops ", "ops", "On Call"]', assignee=str(team.viewer.pk))
    assert response.status_code == 302
    ticket.refresh_from_db()
    assert (ticket.labels, ticket.assignee, ticket.version) == (["ops", "on call"], team.viewer, 2)


def test_tickets_are_not_added_in_the_admin_and_keep_project_and_reporter(browser, ticket, team):
    assert browser.get(f"{ADMIN}/ticket/add/").status_code == 403
    (form,) = [form for form in read_forms(browser.get(f"{ADMIN}/ticket/{ticket.pk}/change/").content.decode())
               if form.attrs.get("id") == "ticket_form"]  # fmt: skip
    assert {"project", "reporter", "version", "closed_at"}.isdisjoint(form.values)
    assert {"title", "status", "priority", "labels", "assignee", "due_date"} <= set(form.values)


def test_comments_edited_and_deleted_in_the_admin_write_their_events(browser, team, ticket, staff):
    comments = f"/api/v1/tickets/{ticket.key}/comments/"
    for body in ("first", "second"):
        team.client("member").post(comments, {"body": body}, format="json")
    first, second = Comment.objects.order_by("created_at")

    response = submit(browser, f"{ADMIN}/comment/{first.pk}/change/", {"body": "first, edited"})
    assert response.status_code == 302
    # In the ticket's inline: one edited, one deleted, in one save.
    response = change_ticket(browser, ticket, **{"comments-0-body": "edited again", "comments-1-DELETE": "on"})
    assert response.status_code == 302

    assert list(Comment.objects.values_list("body", flat=True)) == ["edited again"]
    assert Ticket.objects.get(pk=ticket.pk).comment_count == 1
    events = [event for event in history(team, ticket) if event["type"].startswith("comment.")]
    assert [event["type"] for event in events] == [
        "comment.created", "comment.created", "comment.updated", "comment.updated", "comment.deleted"
    ]  # fmt: skip
    assert events[2]["changes"] == {"body": ["first", "first, edited"]}
    assert events[4]["data"]["id"] == str(second.pk)
    assert {event["actor"]["id"] for event in events[2:]} == {str(staff.pk)}


def test_a_blank_comment_is_refused_as_the_api_refuses_it(browser, team, ticket):
    team.client("member").post(f"/api/v1/tickets/{ticket.key}/comments/", {"body": "keep"}, format="json")
    comment = Comment.objects.get()
    response = submit(browser, f"{ADMIN}/comment/{comment.pk}/change/", {"body": "   "})
    assert response.status_code == 200
    assert Comment.objects.get().body == "keep"


def member_events(team) -> list[tuple[str, dict]]:  # type: ignore[no-untyped-def]
    types = ("member.added", "member.updated", "member.removed")
    return list(Event.objects.filter(project=team.project, type__in=types).values_list("type", "changes"))


def test_memberships_added_changed_and_removed_in_the_admin_write_member_events(browser, team):
    newcomer = UserFactory()
    fields = {"project": str(team.project.pk), "user": str(newcomer.pk), "role": "viewer", "_save": "Save"}
    response = submit(browser, f"{ADMIN}/membership/add/", fields, form_id="membership_form")
    assert response.status_code == 302
    membership = Membership.objects.get(user=newcomer)
    response = submit(browser, f"{ADMIN}/membership/{membership.pk}/change/", {"role": "member", "_save": "Save"},
                      form_id="membership_form")  # fmt: skip
    assert response.status_code == 302
    response = submit(browser, f"{ADMIN}/membership/{membership.pk}/delete/", {})
    assert response.status_code == 302
    assert not Membership.objects.filter(user=newcomer).exists()
    assert member_events(team) == [
        ("member.added", {}), ("member.updated", {"role": ["viewer", "member"]}), ("member.removed", {})
    ]  # fmt: skip


def test_an_existing_memberships_user_cannot_be_swapped(browser, team):
    membership = Membership.objects.get(user=team.viewer)
    path = f"{ADMIN}/membership/{membership.pk}/change/"
    response = submit(browser, path, {"user": str(team.outsider.pk), "_save": "Save"}, form_id="membership_form")
    assert response.status_code == 302
    assert Membership.objects.get(pk=membership.pk).user == team.viewer
    assert member_events(team) == []


def test_the_last_admin_is_kept_whichever_admin_page_tries(browser, team):
    only_admin = Membership.objects.get(user=team.admin)
    path = f"{ADMIN}/membership/{only_admin.pk}/change/"
    response = submit(browser, path, {"role": "member", "_save": "Save"}, form_id="membership_form")
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["role"] == [
        "A project keeps at least one admin: make someone else admin first."
    ]

    response = submit(browser, f"{ADMIN}/membership/{only_admin.pk}/delete/", {})
    assert response.status_code == 302
    page = browser.get(response["Location"])
    assert "A project keeps at least one admin" in page.content.decode()

    selected = [str(only_admin.pk), str(Membership.objects.get(user=team.viewer).pk)]
    response = delete_selected(browser, f"{ADMIN}/membership/", selected)
    assert response.status_code == 302
    assert (
        "Nothing was changed: A project keeps at least one admin" in browser.get(response["Location"]).content.decode()
    )

    assert Membership.objects.filter(project=team.project).count() == 3
    assert Membership.objects.get(pk=only_admin.pk).role == Role.ADMIN
    assert member_events(team) == []
    assert not LogEntry.objects.exists()


def test_in_the_project_inline_a_promotion_lets_the_old_admin_step_down_in_the_same_save(browser, team):
    path = f"{ADMIN}/project/{team.project.pk}/change/"
    rows = {membership.user_id: index for index, membership in enumerate(team.project.memberships.all())}
    admin_row, member_row = rows[team.admin.pk], rows[team.member.pk]
    newcomer = UserFactory()
    response = submit(browser, path, {f"memberships-{admin_row}-role": "viewer",
                      f"memberships-{member_row}-role": "admin", "memberships-TOTAL_FORMS": str(len(rows) + 1),
                      f"memberships-{len(rows)}-user": str(newcomer.pk), f"memberships-{len(rows)}-role": "member",
                      "_save": "Save"}, form_id="project_form")  # fmt: skip
    assert response.status_code == 302, response.context["adminform"].form.errors
    roles = dict(team.project.memberships.values_list("user_id", "role"))
    assert (roles[team.admin.pk], roles[team.member.pk], roles[newcomer.pk]) == ("viewer", "admin", "member")
    assert sorted(event_type for event_type, _ in member_events(team)) == [
        "member.added", "member.updated", "member.updated"
    ]  # fmt: skip


def test_a_project_made_in_the_admin_has_its_staff_creator_as_admin(browser, staff):
    colleague = UserFactory()
    fields = {"key": "NEW", "name": " New ", "memberships-TOTAL_FORMS": "1", "memberships-0-user": str(colleague.pk),
              "memberships-0-role": "viewer", "_save": "Save"}  # fmt: skip
    response = submit(browser, f"{ADMIN}/project/add/", fields, form_id="project_form")
    assert response.status_code == 302
    project = Project.objects.get(key="NEW")
    assert (project.name, project.created_by) == ("New", staff)
    assert dict(project.memberships.values_list("user", "role")) == {staff.pk: "admin", colleague.pk: "viewer"}
    assert Event.objects.filter(project=project, type="member.added").count() == 2

    response = submit(browser, f"{ADMIN}/project/add/", {"key": "bad key", "name": "x"}, form_id="project_form")
    assert response.status_code == 200
    assert "key" in response.context["adminform"].form.errors


def test_a_project_edited_then_deleted_in_the_admin_goes_through_its_services(browser, team, ticket, staff):
    path = f"{ADMIN}/project/{team.project.pk}/change/"
    response = submit(browser, path, {"name": "Ops and more", "_save": "Save"}, form_id="project_form")
    assert response.status_code == 302
    event = Event.objects.get(type="project.updated")
    assert (event.changes, event.actor) == ({"name": ["Operations", "Ops and more"]}, staff)

    Image.objects.create(ticket=ticket, content_type="image/png", status="ready")  # cascades too
    response = submit(browser, f"{ADMIN}/project/{team.project.pk}/delete/", {})
    assert response.status_code == 302
    assert not Project.objects.filter(pk=team.project.pk).exists()
    assert not Ticket.objects.exists()
    deleted = Event.objects.get(type="project.deleted")
    assert (deleted.project_id, deleted.actor) == (team.project.pk, staff)


def test_tickets_deleted_by_the_list_action_each_write_ticket_deleted(browser, team, ticket, staff):
    other = Ticket.objects.get(
        key=team.client("member")
        .post("/api/v1/tickets/", {"project": "OPS", "title": "B"}, format="json")
        .json()["key"]
    )
    Image.objects.create(ticket=other, content_type="image/png", status="ready")
    selected = [str(ticket.pk), str(other.pk)]
    assert delete_selected(browser, f"{ADMIN}/ticket/", selected).status_code == 302
    assert not Ticket.objects.exists()
    deleted = Event.objects.filter(type="ticket.deleted")
    assert sorted(str(event.ticket) for event in deleted) == sorted(selected)
    assert {event.actor for event in deleted} == {staff}


def test_an_image_deleted_in_the_admin_writes_image_deleted(browser, ticket, staff):
    image = Image.objects.create(ticket=ticket, content_type="image/png", status="ready")
    Ticket.objects.filter(pk=ticket.pk).update(image_count=1)
    response = submit(browser, f"{ADMIN}/image/{image.pk}/delete/", {})
    assert response.status_code == 302
    assert Ticket.objects.get(pk=ticket.pk).image_count == 0
    assert Event.objects.get(type="image.deleted").actor == staff


def test_users_are_deactivated_not_deleted(browser, team):
    assert browser.get(f"/admin/accounts/user/{team.member.pk}/delete/").status_code == 403
    assert Membership.objects.filter(user=team.member).exists()
