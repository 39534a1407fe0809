"""The ticket detail's ETag (tickets.detail_etag): If-None-Match answers 304 without the ticket, every
change the reader could see gives a new tag, and If-Match still compares the version alone."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from tickets.models import Comment, Image, Role
from tickets.tests.conftest import client_for
from tickets.tests.factories import MembershipFactory, TicketFactory
from tickets.tests.images import png_bytes

pytestmark = pytest.mark.django_db

TICKET = "/api/v1/tickets/OPS-1/"


@pytest.fixture
def ticket(team):  # type: ignore[no-untyped-def]
    """OPS-1, assigned to the member and reported by the admin; the viewer reads it."""
    return TicketFactory(project=team.project, assignee=team.member, reporter=team.admin)


def _read(team, role="viewer", **headers):  # type: ignore[no-untyped-def]
    response = team.client(role).get(TICKET, **headers)
    assert response.status_code == 200, response.content
    return response


def _changes_the_tag(team, change) -> None:  # type: ignore[no-untyped-def]
    """After `change`, the viewer's old tag answers the whole ticket again, with the new tag."""
    before = _read(team)
    answer = change()
    if answer is not None:
        assert answer.status_code < 300, answer.content
    after = team.client("viewer").get(TICKET, HTTP_IF_NONE_MATCH=before["ETag"])
    assert after.status_code == 200
    assert after["ETag"] != before["ETag"]
    assert after.json() != before.json()
    assert after["ETag"] == _read(team)["ETag"]
    # And the new tag is current again.
    assert team.client("viewer").get(TICKET, HTTP_IF_NONE_MATCH=after["ETag"]).status_code == 304


def test_if_none_match_answers_304_without_the_ticket(team, ticket, django_assert_num_queries) -> None:  # type: ignore[no-untyped-def]
    etag = _read(team)["ETag"]
    client = team.client("viewer")

    # The user, then the tag's one statement: no ticket read, no serializer.
    with django_assert_num_queries(2):
        response = client.get(TICKET, HTTP_IF_NONE_MATCH=etag)

    assert response.status_code == 304
    assert response.content == b""
    assert response["ETag"] == etag
    for reference in (str(ticket.pk), "ops-1"):
        assert client.get(f"/api/v1/tickets/{reference}/", HTTP_IF_NONE_MATCH=etag).status_code == 304
    assert client.get(TICKET, HTTP_IF_NONE_MATCH=f'"other", W/{etag}').status_code == 304
    assert client.get(TICKET, HTTP_IF_NONE_MATCH="*").status_code == 304
    assert client.get(TICKET, HTTP_IF_NONE_MATCH='"other"').status_code == 200


def test_the_tag_names_the_version_and_is_the_same_for_every_way_to_the_ticket(team, ticket) -> None:  # type: ignore[no-untyped-def]
    etag = _read(team)["ETag"]
    assert etag.startswith('"1.')
    assert etag.endswith('"')
    assert team.client("viewer").get(f"/api/v1/tickets/{ticket.pk}/")["ETag"] == etag
    # The answer of a write that changed nothing is the read's, tag included.
    unchanged = team.client("member").patch(TICKET, {"title": ticket.title}, format="json")
    assert unchanged.status_code == 200
    assert unchanged["ETag"] == _read(team, "member")["ETag"]


def test_the_tag_is_the_representations(team, ticket) -> None:  # type: ignore[no-untyped-def]
    etag = _read(team)["ETag"]
    assert _read(team, HTTP_ACCEPT="application/json; indent=2")["ETag"] != etag
    assert team.client("viewer").get(TICKET, {"format": "json"})["ETag"] != etag
    # The same answer to another reader has the same tag; once one watches, their answers differ.
    assert _read(team, "member")["ETag"] == etag
    assert team.client("member").put(f"{TICKET}watch/").status_code == 204
    assert _read(team, "member")["ETag"] not in (etag, _read(team)["ETag"])


def test_a_writes_answer_carries_the_tag_a_read_answers(team, ticket) -> None:  # type: ignore[no-untyped-def]
    member = team.client("member")
    patched = member.patch(TICKET, {"title": "Renamed"}, format="json")
    assert patched.status_code == 200
    assert member.get(TICKET, HTTP_IF_NONE_MATCH=patched["ETag"]).status_code == 304
    created = member.post("/api/v1/tickets/", {"project": "OPS", "title": "New"}, format="json")
    assert created.status_code == 201
    again = member.get(f"/api/v1/tickets/{created.json()['key']}/", HTTP_IF_NONE_MATCH=created["ETag"])
    assert again.status_code == 304


def test_if_match_takes_the_tag_and_the_bare_version(team, ticket) -> None:  # type: ignore[no-untyped-def]
    member = team.client("member")
    etag = _read(team, "member")["ETag"]
    assert member.patch(TICKET, {"title": "Two"}, format="json", HTTP_IF_MATCH=etag).status_code == 200
    stale = member.patch(TICKET, {"title": "Three"}, format="json", HTTP_IF_MATCH=etag)
    assert stale.status_code == 412
    assert stale.json()["code"] == "precondition_failed"
    assert member.patch(TICKET, {"title": "Three"}, format="json", HTTP_IF_MATCH='"2"').status_code == 200
    # Only the version counts for a write: a comment since the read changes the tag, not the precondition.
    etag = _read(team, "member")["ETag"]
    assert member.post(f"{TICKET}comments/", {"body": "Hi"}, format="json").status_code == 201
    assert member.patch(TICKET, {"title": "Four"}, format="json", HTTP_IF_MATCH=etag).status_code == 200
    assert member.patch(TICKET, {"title": "Five"}, format="json", HTTP_IF_MATCH='"3.0123"').status_code == 412


def test_an_edit_changes_the_tag(team, ticket) -> None:  # type: ignore[no-untyped-def]
    member = team.client("member")
    _changes_the_tag(team, lambda: member.patch(TICKET, {"status": "in_progress"}, format="json"))
    _changes_the_tag(team, lambda: member.patch(TICKET, {"description": "More"}, format="json"))
    _changes_the_tag(team, lambda: member.patch(TICKET, {"assignee": None}, format="json"))


def test_comments_change_the_tag(team, ticket) -> None:  # type: ignore[no-untyped-def]
    member = team.client("member")
    _changes_the_tag(team, lambda: member.post(f"{TICKET}comments/", {"body": "Hi"}, format="json"))
    comment = Comment.objects.get()
    _changes_the_tag(team, lambda: member.delete(f"{TICKET}comments/{comment.pk}/"))


def test_images_change_the_tag(team, ticket, settings, tmp_path) -> None:  # type: ignore[no-untyped-def]
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.CLOUDINARY_URL = ""
    member = team.client("member")
    upload = SimpleUploadedFile("photo.png", png_bytes(), content_type="image/png")
    _changes_the_tag(team, lambda: member.post(f"{TICKET}images/", {"image": upload}, format="multipart"))
    image = Image.objects.get()
    _changes_the_tag(team, lambda: team.client("admin").delete(f"{TICKET}images/{image.pk}/"))


def test_watching_changes_the_tag(team, ticket) -> None:  # type: ignore[no-untyped-def]
    admin = team.client("admin")  # someone else: watcher_count
    _changes_the_tag(team, lambda: admin.put(f"{TICKET}watch/"))
    _changes_the_tag(team, lambda: admin.delete(f"{TICKET}watch/"))
    viewer = team.client("viewer")  # the reader: is_watching too
    _changes_the_tag(team, lambda: viewer.put(f"{TICKET}watch/"))
    _changes_the_tag(team, lambda: viewer.delete(f"{TICKET}watch/"))


def test_renamed_users_change_the_tag(team, ticket) -> None:  # type: ignore[no-untyped-def]
    member = team.client("member")  # the assignee, through the API
    _changes_the_tag(team, lambda: member.patch("/api/v1/auth/me/", {"full_name": "Mem Ber"}, format="json"))

    def rename_the_reporter() -> None:  # the admin site's way: no service involved
        team.admin.email = "renamed@example.com"
        team.admin.save()

    _changes_the_tag(team, rename_the_reporter)


def test_a_deleted_assignee_changes_the_tag(team, ticket) -> None:  # type: ignore[no-untyped-def]
    def delete_the_assignee() -> None:  # OPS-1 loses its assignee, not its version
        team.member.delete()

    _changes_the_tag(team, delete_the_assignee)


def test_an_outsider_gets_a_404_never_a_304(team, ticket) -> None:  # type: ignore[no-untyped-def]
    etag = _read(team)["ETag"]  # the viewer's tag: not watching, as the outsider would not be
    for reference in ("OPS-1", str(ticket.pk)):
        response = team.client("outsider").get(f"/api/v1/tickets/{reference}/", HTTP_IF_NONE_MATCH=etag)
        assert response.status_code == 404
        assert response.json()["code"] == "not_found"
        assert team.client("outsider").get(f"/api/v1/tickets/{reference}/", HTTP_IF_NONE_MATCH="*").status_code == 404


def test_a_reader_who_left_or_a_deleted_ticket_gets_a_404(team, ticket) -> None:  # type: ignore[no-untyped-def]
    etag = _read(team)["ETag"]
    viewer = team.client("viewer")
    assert team.client("admin").delete(f"/api/v1/projects/OPS/members/{team.viewer.pk}/").status_code == 204
    assert viewer.get(TICKET, HTTP_IF_NONE_MATCH=etag).status_code == 404
    MembershipFactory(project=team.project, user=team.viewer, role=Role.VIEWER)
    etag = _read(team)["ETag"]
    assert team.client("admin").delete(TICKET).status_code == 204
    assert viewer.get(TICKET, HTTP_IF_NONE_MATCH=etag).status_code == 404
    assert viewer.get("/api/v1/tickets/nothing/", HTTP_IF_NONE_MATCH=etag).status_code == 404


def test_other_tickets_changes_leave_the_tag(team, ticket) -> None:  # type: ignore[no-untyped-def]
    etag = _read(team)["ETag"]
    TicketFactory(project=team.project, assignee=team.member)
    admin = client_for(team.admin)
    assert admin.post("/api/v1/tickets/OPS-2/comments/", {"body": "x"}, format="json").status_code == 201
    assert admin.put("/api/v1/tickets/OPS-2/watch/").status_code == 204
    assert team.client("viewer").get(TICKET, HTTP_IF_NONE_MATCH=etag).status_code == 304
