"""Projects and memberships through the API (SPEC §4)."""

import pytest

from accounts.tests.factories import UserFactory
from tickets.models import Event, Membership, Project, Role
from tickets.tests.conftest import client_for
from tickets.tests.factories import TicketFactory

pytestmark = pytest.mark.django_db

PROJECTS = "/api/v1/projects/"


def members_url(project, user=None) -> str:
    base = f"{PROJECTS}{project.id}/members/"
    return f"{base}{user.id}/" if user else base


def test_create_project_makes_the_creator_admin(auth_client, user):
    response = auth_client.post(PROJECTS, {"key": "OPS", "name": "Operations"}, format="json")
    assert response.status_code == 201
    body = response.json()
    assert set(body) == {"id", "key", "name", "description", "created_by", "created_at", "updated_at", "my_role"}
    assert body["my_role"] == "admin"
    assert body["created_by"]["id"] == str(user.id)
    assert Membership.objects.get(project_id=body["id"]).role == Role.ADMIN
    assert Event.objects.get(project_id=body["id"]).type == "member.added"


@pytest.mark.parametrize("key", ["ops", "O", "1OPS", "OPS-1", "ABCDEFGHIJK", "OP S", "", 12])
def test_project_key_must_be_2_to_10_uppercase_letters_or_digits(auth_client, key):
    response = auth_client.post(PROJECTS, {"key": key, "name": "X"}, format="json")
    assert response.status_code == 400
    assert "key" in response.json()["errors"]


def test_project_key_is_unique(auth_client, team):
    response = auth_client.post(PROJECTS, {"key": "OPS", "name": "Again"}, format="json")
    assert response.status_code == 400
    assert response.json()["errors"]["key"][0]["code"] == "unique"


def test_list_shows_only_my_projects_with_my_role(team):
    other = UserFactory()
    client_for(other).post(PROJECTS, {"key": "SECRET", "name": "Not yours"}, format="json")
    response = team.client("viewer").get(PROJECTS)
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 1
    assert [(project["key"], project["my_role"]) for project in body["results"]] == [("OPS", "viewer")]


def test_project_is_addressable_by_key(team):
    response = team.client("member").get(f"{PROJECTS}ops/")
    assert response.status_code == 200
    assert response.json()["id"] == str(team.project.id)


def test_admin_edits_the_project_and_an_event_records_the_change(team):
    response = team.client("admin").patch(
        f"{PROJECTS}{team.project.id}/", {"name": "Ops team", "description": "Runbooks"}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["name"] == "Ops team"
    assert response.json()["my_role"] == "admin"
    event = Event.objects.get(type="project.updated")
    assert event.changes == {"name": ["Operations", "Ops team"], "description": ["", "Runbooks"]}


def test_project_key_cannot_change(team):
    response = team.client("admin").patch(f"{PROJECTS}{team.project.id}/", {"key": "NEW"}, format="json")
    assert response.status_code == 400
    assert response.json()["errors"]["key"][0]["code"] == "immutable"


def test_admin_deletes_the_project_with_everything_in_it(team):
    TicketFactory(project=team.project)
    assert team.client("admin").delete(f"{PROJECTS}{team.project.id}/").status_code == 204
    assert not Project.objects.exists()
    assert team.client("admin").get(f"{PROJECTS}{team.project.id}/").status_code == 404


def test_a_deleted_projects_history_goes_with_it_but_one_project_deleted_event_stays(team):
    admin = team.client("admin")
    admin.patch(f"{PROJECTS}{team.project.id}/", {"name": "Ops team"}, format="json")
    ticket = admin.post("/api/v1/tickets/", {"project": "OPS", "title": "Gone too"}, format="json").json()
    assert admin.delete(f"{PROJECTS}{team.project.id}/").status_code == 204
    event = Event.objects.get()  # project.updated and ticket.created went with the project
    assert (event.type, event.project_id, event.actor_id, event.ticket) == (
        "project.deleted",
        team.project.id,
        team.admin.id,
        None,
    )
    assert event.data["key"] == "OPS"
    assert event.data["name"] == "Ops team"
    assert "my_role" not in event.data  # sent to every member alike
    assert admin.get(f"/api/v1/tickets/{ticket['id']}/history/").status_code == 404


@pytest.mark.parametrize("reference", ["email", "id", "EMAIL"])
def test_admin_adds_a_member_by_email_or_id(team, reference):
    newcomer = UserFactory()
    value = {"email": newcomer.email, "id": str(newcomer.id), "EMAIL": newcomer.email.upper()}[reference]
    response = team.client("admin").post(members_url(team.project), {"user": value, "role": "viewer"}, format="json")
    assert response.status_code == 201
    assert response.json()["user"]["id"] == str(newcomer.id)
    assert response.json()["role"] == "viewer"
    assert client_for(newcomer).get(f"{PROJECTS}{team.project.id}/").json()["my_role"] == "viewer"
    event = Event.objects.filter(type="member.added").latest("seq")
    assert event.data["user"]["id"] == str(newcomer.id)


@pytest.mark.parametrize("value", ["00000000-0000-0000-0000-000000000000", "garbage", "nobody@", ""])
def test_adding_an_unknown_user_is_a_400(team, value):
    response = team.client("admin").post(members_url(team.project), {"user": value}, format="json")
    assert response.status_code == 400
    assert "user" in response.json()["errors"]


def test_adding_an_existing_member_is_a_400(team):
    response = team.client("admin").post(members_url(team.project), {"user": team.member.email}, format="json")
    assert response.status_code == 400
    assert response.json()["errors"]["user"][0]["code"] == "already_member"


def test_adding_with_a_bad_role_is_a_400(team):
    newcomer = UserFactory()
    response = team.client("admin").post(
        members_url(team.project), {"user": newcomer.email, "role": "owner"}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["errors"]["role"][0]["code"] == "invalid_choice"


def test_admin_changes_a_role_and_the_event_says_so(team):
    response = team.client("admin").patch(members_url(team.project, team.viewer), {"role": "member"}, format="json")
    assert response.status_code == 200
    assert response.json()["role"] == "member"
    assert Event.objects.get(type="member.updated").changes == {"role": ["viewer", "member"]}


def test_the_last_admin_cannot_be_demoted_or_removed(team):
    admin = team.client("admin")
    demote = admin.patch(members_url(team.project, team.admin), {"role": "member"}, format="json")
    assert demote.status_code == 409
    assert demote.json()["code"] == "last_admin"
    leave = admin.delete(members_url(team.project, team.admin))
    assert leave.status_code == 409
    assert Membership.objects.get(project=team.project, user=team.admin).role == Role.ADMIN


def test_an_admin_can_step_down_once_there_is_another(team):
    admin = team.client("admin")
    assert admin.patch(members_url(team.project, team.member), {"role": "admin"}, format="json").status_code == 200
    assert admin.patch(members_url(team.project, team.admin), {"role": "viewer"}, format="json").status_code == 200


def test_a_member_may_leave_but_not_remove_others(team):
    member = team.client("member")
    assert member.delete(members_url(team.project, team.viewer)).status_code == 403
    assert member.delete(members_url(team.project, team.member)).status_code == 204
    assert member.get(f"{PROJECTS}{team.project.id}/").status_code == 404


def test_removing_a_member_unassigns_their_tickets_with_an_event(team):
    ticket = TicketFactory(project=team.project, assignee=team.member, reporter=team.admin)
    assert team.client("admin").delete(members_url(team.project, team.member)).status_code == 204
    ticket.refresh_from_db()
    assert ticket.assignee is None
    assert ticket.version == 2
    update = Event.objects.get(type="ticket.updated", ticket=ticket.id)
    assert update.changes == {"assignee": [str(team.member.id), None]}
    assert Event.objects.filter(type="member.removed").count() == 1


def test_member_detail_of_a_non_member_is_404(team):
    response = team.client("admin").get(members_url(team.project, team.outsider))
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
