"""Invitations (SPEC §4): adding a member by an email with no account invites it; the worker emails a
signed, single-use link through a real SMTP server process; registering through it (API or page) joins
the project with the invited role, atomically; admins list and revoke the pending ones."""

import datetime
import re
from urllib.parse import parse_qs, urlsplit

import pytest
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import User
from accounts.tests.factories import PASSWORD, UserFactory
from accounts.tests.test_passwords import run_queued_jobs
from tickets.invitation_tokens import invitation_token
from tickets.models import Event, Invitation, Membership, Role
from tickets.services.invitations import invitation_send
from tickets.tests.conftest import client_for
from tickets.tests.factories import MembershipFactory, ProjectFactory
from tickets.tests.test_concurrency import run_concurrently

pytestmark = pytest.mark.django_db

REGISTER = "/api/v1/auth/register/"
INVITATION = ("id", "email", "role", "invited_by", "created_at", "expires_at")


def members_url(project) -> str:
    return f"/api/v1/projects/{project.key}/members/"


def invitations_url(project, invitation=None) -> str:
    tail = f"{invitation.pk}/" if invitation is not None else ""
    return f"/api/v1/projects/{project.key}/invitations/{tail}"


def invite(team, email: str, role: str = "member", capture=None):
    """The admin adds `email`; with `capture`, the after-commit callbacks run (the job is queued)."""
    if capture is None:
        return team.client("admin").post(members_url(team.project), {"user": email, "role": role}, format="json")
    with capture(execute=True):
        return team.client("admin").post(members_url(team.project), {"user": email, "role": role}, format="json")


def register(token: str, email: str = "new.hire@example.com", client=None):
    body = {"email": email, "password": PASSWORD, "full_name": "New Hire", "invitation": token}
    return (client or APIClient()).post(REGISTER, body, format="json")


def token_for(team, email: str = "new.hire@example.com", role: Role = Role.MEMBER) -> str:
    sent = invitation_send(project=team.project, actor=team.admin, email=email, role=role)
    return invitation_token(sent.invitation)


def link_in(message) -> str:
    parts = {
        part.get_content_type(): part.get_payload(decode=True).decode()
        for part in message.walk()
        if not part.is_multipart()
    }
    assert set(parts) >= {"text/plain", "text/html"}
    match = re.search(r"(http://\S+/signup/\?invitation=\S+)", parts["text/plain"])
    assert match, parts["text/plain"]
    assert match.group(1).replace("&", "&amp;") in parts["text/html"]
    return match.group(1)


def nothing_written(email: str = "new.hire@example.com") -> bool:
    return not User.objects.filter(email=email).exists() and not Event.objects.filter(type="member.added").exists()


# --- The whole way: invite, email, register, member ---------------------------------------------------


def test_an_invited_email_gets_a_link_that_registers_and_joins_with_the_role(
    team, smtp, django_capture_on_commit_callbacks
):
    response = invite(team, "New.Hire@Example.com", "viewer", django_capture_on_commit_callbacks)
    assert response.status_code == 201, response.content
    body = response.json()
    assert set(body) == set(INVITATION)
    assert body["email"] == "new.hire@example.com"  # compared and stored lower-cased, as accounts are
    assert body["role"] == "viewer"
    assert body["invited_by"]["id"] == str(team.admin.pk)
    expires = datetime.datetime.fromisoformat(body["expires_at"])
    assert abs(expires - timezone.now() - datetime.timedelta(days=7)) < datetime.timedelta(minutes=1)
    assert smtp.messages() == []  # the worker sends it, not the request

    run_queued_jobs()
    (message,) = smtp.messages()
    assert message["To"] == "new.hire@example.com"
    assert message["Subject"] == "Ada Admin invited you to Operations on hopla"
    link = link_in(message)
    assert link.startswith("http://localhost:8000/signup/?invitation=")  # PUBLIC_BASE_URL
    token = parse_qs(urlsplit(link).query)["invitation"][0]

    response = register(token, "NEW.HIRE@example.com")
    assert response.status_code == 201, response.content
    user = User.objects.get(email="new.hire@example.com")
    assert response.json()["id"] == str(user.pk)
    assert Membership.objects.get(project=team.project, user=user).role == Role.VIEWER
    assert client_for(user).get(f"/api/v1/projects/{team.project.key}/").json()["my_role"] == "viewer"
    event = Event.objects.get(type="member.added", project=team.project, data__user__id=str(user.pk))
    assert event.actor_id == user.pk
    invitation = Invitation.objects.get()
    assert invitation.accepted_at is not None
    assert invitation.accepted_by == user
    assert team.client("admin").get(invitations_url(team.project)).json()["count"] == 0


def test_an_email_with_an_account_is_added_as_before_and_closes_its_open_invitation(team):
    token = token_for(team, "later@example.com")
    newcomer = UserFactory(email="later@example.com")  # signed up without the link meanwhile
    response = invite(team, "LATER@example.com", "viewer")
    assert response.status_code == 201
    assert response.json()["user"]["id"] == str(newcomer.pk)
    assert Invitation.objects.get().revoked_at is not None
    assert register(token, "later@example.com").json()["code"] == "invitation_revoked"


def test_an_inactive_account_or_a_non_email_is_still_a_400(team):
    UserFactory(email="gone@example.com", is_active=False)
    for value in ("gone@example.com", "not an email", "00000000-0000-0000-0000-000000000000"):
        response = invite(team, value)
        assert response.status_code == 400, value
        assert response.json()["errors"]["user"][0]["code"] == "does_not_exist"
    assert not Invitation.objects.exists()


def test_inviting_an_open_invitation_again_refreshes_it_and_sends_it_again(
    team, smtp, django_capture_on_commit_callbacks
):
    first = invite(team, "new.hire@example.com", "viewer", django_capture_on_commit_callbacks).json()
    Invitation.objects.update(expires_at=timezone.now() - datetime.timedelta(minutes=1))  # even once expired
    again = invite(team, "new.hire@example.com", "member", django_capture_on_commit_callbacks)
    assert again.status_code == 200
    assert again.json()["id"] == first["id"]
    assert again.json()["role"] == "member"
    assert again.json()["expires_at"] > first["expires_at"]
    run_queued_jobs()
    first_link, second_link = (link_in(message) for message in smtp.messages())
    assert first_link == second_link  # the same invitation: either email's link works, once
    assert Invitation.objects.count() == 1


def test_the_job_sends_nothing_for_an_invitation_revoked_before_it_ran(team, smtp, django_capture_on_commit_callbacks):
    invitation = invite(team, "new.hire@example.com", capture=django_capture_on_commit_callbacks).json()
    assert team.client("admin").delete(f"{invitations_url(team.project)}{invitation['id']}/").status_code == 204
    run_queued_jobs()
    assert smtp.messages() == []


# --- Links that cannot be used: a clear refusal, nothing written ---------------------------------------


def test_an_expired_link_is_refused(team):
    token = token_for(team)
    Invitation.objects.update(expires_at=timezone.now() - datetime.timedelta(seconds=1))
    response = register(token)
    assert response.status_code == 400
    assert response.json()["code"] == "invitation_expired"
    assert response.json()["errors"]["invitation"][0]["code"] == "invitation_expired"
    assert nothing_written()
    assert team.client("admin").get(invitations_url(team.project)).json()["count"] == 0  # expired: not pending


def test_a_used_link_is_refused(team):
    token = token_for(team)
    assert register(token).status_code == 201
    response = register(token, "someone.else@example.com")
    assert response.status_code == 400
    assert response.json()["code"] == "invitation_used"
    assert not User.objects.filter(email="someone.else@example.com").exists()


def test_a_revoked_link_is_refused(team):
    token = token_for(team)
    invitation = Invitation.objects.get()
    assert team.client("admin").delete(invitations_url(team.project, invitation)).status_code == 204
    assert team.client("admin").delete(invitations_url(team.project, invitation)).status_code == 404
    response = register(token)
    assert response.status_code == 400
    assert response.json()["code"] == "invitation_revoked"
    assert nothing_written()


@pytest.mark.parametrize(
    "tamper",
    [
        lambda token: token[:-1] + ("A" if token[-1] != "A" else "B"),  # the signature changed
        lambda token: "00000000-0000-0000-0000-000000000000" + token[36:],  # another id, same signature
        lambda token: token.split(":")[0],  # no signature
        lambda token: "garbage",
    ],
)
def test_a_tampered_link_is_refused(team, tamper):
    response = register(tamper(token_for(team)))
    assert response.status_code == 400
    assert response.json()["code"] == "invitation_invalid"
    assert nothing_written()
    assert Invitation.objects.get().accepted_at is None


def test_a_token_signed_for_something_else_is_refused(team):
    from django.core import signing

    response = register(signing.Signer(salt="hopla.notifications.unsubscribe").sign(str(Invitation().pk)))
    assert response.json()["code"] == "invitation_invalid"


def test_another_email_than_the_invited_one_is_refused(team):
    token = token_for(team)
    response = register(token, "someone.else@example.com")
    assert response.status_code == 400
    assert response.json()["code"] == "invitation_email_mismatch"
    assert nothing_written("someone.else@example.com")
    assert Invitation.objects.get().accepted_at is None


def test_a_bad_password_writes_nothing_and_leaves_the_link_usable(team):
    token = token_for(team)
    response = APIClient().post(
        REGISTER,
        {"email": "new.hire@example.com", "password": "123", "full_name": "New Hire", "invitation": token},
        format="json",
    )
    assert response.status_code == 400
    assert "password" in response.json()["errors"]
    assert nothing_written()
    assert register(token).status_code == 201


@pytest.mark.django_db(transaction=True)
def test_two_uses_of_one_link_at_once_make_one_member(team):
    """Both registrations wait on the invitation's row; the first commits, the second sees it used."""
    token = token_for(team)
    invitation = Invitation.objects.filter(pk=Invitation.objects.get().pk)
    responses = run_concurrently([lambda: register(token), lambda: register(token)], queued_behind=invitation)
    assert sorted(response.status_code for response in responses) == [201, 400]
    (refused,) = [response for response in responses if response.status_code == 400]
    assert refused.json()["code"] == "invitation_used"
    assert User.objects.filter(email="new.hire@example.com").count() == 1
    assert Membership.objects.filter(project=team.project, user__email="new.hire@example.com").count() == 1
    assert Event.objects.filter(type="member.added", project=team.project).count() == 1


# --- Listing and revoking: admins only -----------------------------------------------------------------


def test_admins_list_pending_invitations_paginated(team):
    for n in range(3):
        token_for(team, f"person{n}@example.com")
    response = team.client("admin").get(f"{invitations_url(team.project)}?limit=2")
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 3
    assert [row["email"] for row in body["results"]] == ["person0@example.com", "person1@example.com"]
    assert set(body["results"][0]) == set(INVITATION)
    assert body["next"] is not None


def test_the_list_costs_the_same_queries_whatever_its_length(team, django_assert_num_queries):
    admin = team.client("admin")
    token_for(team, "one@example.com")
    with django_assert_num_queries(4) as small:  # the user (JWT), the project with the role, the count, the page
        assert admin.get(invitations_url(team.project)).json()["count"] == 1
    for n in range(30):
        token_for(team, f"person{n}@example.com")
    with django_assert_num_queries(len(small.captured_queries)):
        assert len(admin.get(invitations_url(team.project)).json()["results"]) == 25


@pytest.mark.parametrize("role", ["member", "viewer"])
def test_members_and_viewers_may_not_see_invite_or_revoke(team, role):
    token_for(team)
    invitation = Invitation.objects.get()
    client = team.client(role)
    assert client.get(invitations_url(team.project)).status_code == 403
    assert client.delete(invitations_url(team.project, invitation)).status_code == 403
    assert client.post(members_url(team.project), {"user": "x@example.com"}, format="json").status_code == 403
    assert Invitation.objects.get().revoked_at is None


def test_outsiders_get_404(team):
    token_for(team)
    invitation = Invitation.objects.get()
    client = team.client("outsider")
    assert client.get(invitations_url(team.project)).status_code == 404
    assert client.delete(invitations_url(team.project, invitation)).status_code == 404
    assert Invitation.objects.get().revoked_at is None


def test_another_projects_invitation_is_404(team):
    other = ProjectFactory(key="SEC")
    MembershipFactory(project=other, user=team.admin, role=Role.ADMIN)
    invitation = invitation_send(project=other, actor=team.admin, email="x@example.com", role=Role.MEMBER).invitation
    response = team.client("admin").delete(invitations_url(team.project, invitation))
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
    assert team.client("admin").delete(f"{invitations_url(team.project)}not-a-uuid/").status_code == 404
    assert Invitation.objects.get().revoked_at is None


def test_a_project_deleted_takes_its_invitations_and_their_links(team):
    token = token_for(team)
    assert team.client("admin").delete(f"/api/v1/projects/{team.project.key}/").status_code == 204
    assert register(token).json()["code"] == "invitation_invalid"


# --- The sign-up page ----------------------------------------------------------------------------------


def _signup_form(client: Client, token: str) -> dict[str, str]:
    page = client.get(f"/signup/?invitation={token}")
    assert page.status_code == 200
    return {"invitation": token, "email": "new.hire@example.com", "full_name": "New Hire", "password": PASSWORD}


def test_the_page_names_the_project_prefills_the_email_and_joins(team):
    token = token_for(team, role=Role.VIEWER)
    client = Client()
    page = client.get(f"/signup/?invitation={token}")
    content = page.content.decode()
    assert "Join Operations" in content
    assert "as viewer" in content
    assert 'value="new.hire@example.com"' in content
    assert "readonly" in content
    response = client.post("/signup/", _signup_form(client, token))
    assert response.status_code == 302
    assert response["Location"] == "/board/OPS/"
    user = User.objects.get(email="new.hire@example.com")
    assert Membership.objects.get(project=team.project, user=user).role == Role.VIEWER
    assert client.get("/board/OPS/").status_code == 200  # signed in, and a member


@pytest.mark.parametrize("spoil", ["expire", "revoke", "tamper"])
def test_the_page_says_clearly_when_a_link_does_not_work(team, spoil):
    token = token_for(team)
    if spoil == "expire":
        Invitation.objects.update(expires_at=timezone.now() - datetime.timedelta(seconds=1))
    elif spoil == "revoke":
        Invitation.objects.update(revoked_at=timezone.now())
    else:
        token = token[:-2] + "xx"
    page = Client().get(f"/signup/?invitation={token}")
    assert page.status_code == 400
    assert "This invitation does not work" in page.content.decode()
    assert b'name="password"' not in page.content


def test_the_page_refuses_a_link_used_meanwhile_in_another_tab(team):
    token = token_for(team)
    client = Client()
    form = _signup_form(client, token)
    assert register(token).status_code == 201
    response = client.post("/signup/", form)
    assert response.status_code == 400
    assert "already been used" in response.content.decode()


def test_a_signed_in_account_of_the_invited_email_accepts_on_the_page(team):
    token = token_for(team, "later@example.com", Role.MEMBER)
    user = UserFactory(email="later@example.com")
    client = Client()
    client.force_login(user)
    page = client.get(f"/signup/?invitation={token}")
    assert page.status_code == 200
    assert "Join OPS" in page.content.decode()
    response = client.post("/signup/", {"invitation": token})
    assert response.status_code == 302
    assert response["Location"] == "/board/OPS/"
    assert Membership.objects.get(project=team.project, user=user).role == Role.MEMBER
    assert Invitation.objects.get().accepted_by == user


def test_a_signed_in_account_of_another_email_is_told_and_cannot_accept(team):
    token = token_for(team, "later@example.com")
    client = Client()
    client.force_login(team.outsider)
    page = client.get(f"/signup/?invitation={token}")
    assert "This invitation was sent to later@example.com" in page.content.decode()
    response = client.post("/signup/", {"invitation": token})
    assert response.status_code == 400
    assert not Membership.objects.filter(project=team.project, user=team.outsider).exists()


# --- Admin ---------------------------------------------------------------------------------------------


def test_the_admin_lists_invitations_by_status_without_the_token_and_revokes(team):
    token = token_for(team)
    token_for(team, "old@example.com")
    Invitation.objects.filter(email="old@example.com").update(expires_at=timezone.now() - datetime.timedelta(days=1))
    staff = Client()
    staff.force_login(UserFactory(is_staff=True, is_superuser=True))
    for status, shown in (("pending", "new.hire@example.com"), ("expired", "old@example.com")):
        page = staff.get(f"/admin/tickets/invitation/?status={status}")
        assert page.status_code == 200
        assert shown in page.content.decode()
    page = staff.get(f"/admin/tickets/invitation/?project__id__exact={team.project.pk}")
    assert page.status_code == 200
    pending = Invitation.objects.get(email="new.hire@example.com")
    detail = staff.get(f"/admin/tickets/invitation/{pending.pk}/change/")
    assert detail.status_code == 200
    signature = token.split(":")[1]
    for content in (page.content.decode(), detail.content.decode()):
        assert signature not in content
    response = staff.post(
        "/admin/tickets/invitation/", {"action": "revoke", "_selected_action": [str(pending.pk)]}, follow=True
    )
    assert "1 invitation revoked." in response.content.decode()
    assert register(token).json()["code"] == "invitation_revoked"
