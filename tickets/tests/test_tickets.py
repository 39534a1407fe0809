"""Tickets through the API: keys, fields, the status workflow and optimistic concurrency (SPEC §5)."""

import pytest

from hopla.api.exceptions import StaleVersion
from tickets.models import Status, Ticket
from tickets.services.tickets import ticket_delete, ticket_update
from tickets.tests.factories import TicketFactory
from tickets.workflow import ALLOWED_TRANSITIONS

pytestmark = pytest.mark.django_db

TICKETS = "/api/v1/tickets/"
# In the order the API writes them (test_filters checks the order of a page's tickets).
TICKET_FIELDS = (
    "id",
    "key",
    "project",
    "title",
    "description",
    "status",
    "priority",
    "labels",
    "assignee",
    "reporter",
    "due_date",
    "version",
    "comment_count",
    "image_count",
    "created_at",
    "updated_at",
    "closed_at",
    "is_watching",  # the reader's (SPEC §11); events carry the ticket without these two
    "watcher_count",
)


def create(client, **fields):
    return client.post(TICKETS, {"project": "OPS", "title": "Printer on fire", **fields}, format="json")


def test_create_answers_the_full_ticket_with_a_key_and_an_etag(team):
    response = create(
        team.client("member"),
        description="Smoke everywhere",
        priority="urgent",
        labels=["Hardware", " hardware ", "Fire  Hazard"],
        assignee=str(team.admin.id),
        due_date="2030-01-31",
    )
    assert response.status_code == 201
    body = response.json()
    assert set(body) == set(TICKET_FIELDS)
    assert (body["is_watching"], body["watcher_count"]) == (True, 2)  # the reporter and the assignee
    assert body["key"] == "OPS-1"
    assert body["project"] == str(team.project.id)
    assert (body["status"], body["priority"], body["version"]) == ("open", "urgent", 1)
    assert body["labels"] == ["hardware", "fire hazard"]
    assert body["assignee"]["id"] == str(team.admin.id)
    assert body["reporter"] == {
        "id": str(team.member.id),
        "email": team.member.email,
        "full_name": team.member.full_name,
    }
    assert body["due_date"] == "2030-01-31"
    assert (body["comment_count"], body["image_count"], body["closed_at"]) == (0, 0, None)
    assert response["ETag"] == '"1"'


def test_keys_are_sequential_per_project_and_never_reused(team):
    client = team.client("member")
    keys = [create(client).json()["key"] for _ in range(3)]
    assert keys == ["OPS-1", "OPS-2", "OPS-3"]
    assert team.client("admin").delete(f"{TICKETS}OPS-3/").status_code == 204
    assert create(client).json()["key"] == "OPS-4"


def test_refused_creations_use_up_no_number(team):
    """The counter is bumped in the statement that checks the role: a refusal must roll it back."""
    assert create(team.client("viewer")).status_code == 403
    assert create(team.client("outsider")).json()["errors"]["project"][0]["code"] == "does_not_exist"
    assert create(team.client("member"), assignee=str(team.outsider.id)).status_code == 400
    assert create(team.client("member")).json()["key"] == "OPS-1"


def test_the_project_can_be_given_by_id(team):
    response = team.client("member").post(TICKETS, {"project": str(team.project.id), "title": "T"}, format="json")
    assert response.status_code == 201


def test_the_reporter_is_the_caller_whatever_the_body_says(team):
    response = create(team.client("member"), reporter=str(team.admin.id))
    assert response.json()["reporter"]["id"] == str(team.member.id)


@pytest.mark.parametrize(
    ("fields", "field", "code"),
    [
        ({"title": ""}, "title", "blank"),
        ({"title": "x" * 201}, "title", "max_length"),
        ({"title": None}, "title", "null"),
        ({"title": ["a"]}, "title", "invalid"),
        ({"description": "x" * 50_001}, "description", "max_length"),
        ({"priority": "critical"}, "priority", "invalid_choice"),
        ({"priority": 3}, "priority", "invalid_choice"),
        ({"labels": "bug"}, "labels", "not_a_list"),
        ({"labels": ["x" * 51]}, "labels", "max_length"),
        ({"labels": [f"l{n}" for n in range(21)]}, "labels", "max_length"),
        ({"labels": ["a,b"]}, "labels", "invalid"),
        ({"labels": [""]}, "labels", "blank"),
        ({"labels": [{"a": 1}]}, "labels", "invalid"),
        ({"due_date": "tomorrow"}, "due_date", "invalid"),
        ({"assignee": ["me"]}, "assignee", "invalid"),
        ({"assignee": "not-a-uuid"}, "assignee", "does_not_exist"),  # neither an id nor a known email
        ({"assignee": "nobody@nowhere.io"}, "assignee", "does_not_exist"),
        ({"assignee": "00000000-0000-0000-0000-000000000000"}, "assignee", "does_not_exist"),
        ({"assignee": "x" * 250 + "@x.io"}, "assignee", "max_length"),
        ({"status": "in_progress"}, "status", "status_on_create"),
        ({"status": "open"}, "status", "status_on_create"),  # tickets start open: never silently dropped
        ({"project": "NOPE"}, "project", "does_not_exist"),
        ({"project": None}, "project", "null"),
    ],
)
def test_bad_fields_are_400_naming_the_field(team, fields, field, code):
    response = create(team.client("member"), **fields)
    assert response.status_code == 400, response.json()
    codes = [error["code"] for error in _flatten(response.json()["errors"][field])]
    assert code in codes
    assert not Ticket.objects.exists()


def _flatten(errors):
    """ListField child errors come keyed by index: {"0": [...]}."""
    if isinstance(errors, dict):
        return [error for value in errors.values() for error in _flatten(value)]
    return errors


def test_the_assignee_must_be_a_member_of_the_project(team):
    response = create(team.client("member"), assignee=str(team.outsider.id))
    assert response.status_code == 400
    assert response.json()["errors"]["assignee"][0]["code"] == "not_a_member"


@pytest.mark.parametrize("write", ["create", "update"])
def test_the_assignee_is_named_by_id_email_in_any_case_or_me(team, write):
    client = team.client("member")

    def assign(assignee):
        if write == "create":
            return create(client, assignee=assignee)
        return client.patch(f"{TICKETS}OPS-1/", {"assignee": assignee}, format="json")

    if write == "update":
        create(client)
    for reference, expected in [
        (str(team.admin.id), team.admin),
        (team.viewer.email.upper(), team.viewer),
        (f"  {team.admin.email} ", team.admin),
        ("me", team.member),
    ]:
        response = assign(reference)
        assert response.status_code in (200, 201), (reference, response.json())
        assert response.json()["assignee"]["id"] == str(expected.id), reference
    outsider = assign(team.outsider.email)
    unknown = assign("nobody@nowhere.io")
    assert (outsider.status_code, outsider.json()["errors"]["assignee"][0]["code"]) == (400, "not_a_member")
    assert (unknown.status_code, unknown.json()["errors"]["assignee"][0]) == (
        400,
        {"message": "No active user with this id or email.", "code": "does_not_exist"},
    )


def test_a_status_in_a_create_body_is_refused_not_dropped(team):
    client = team.client("member")
    response = create(client, status="resolved")
    assert response.status_code == 400
    assert response.json()["errors"] == {
        "status": [
            {"message": "A ticket starts open; change its status once it exists (PATCH).", "code": "status_on_create"}
        ]
    }
    assert not Ticket.objects.exists()
    assert create(client).json()["key"] == "OPS-1"  # the refusal took no number


def test_the_services_take_the_expected_version_not_the_header(team):
    """The view turns If-Match into `expected_version`; the service compares it under the row lock."""
    ticket = TicketFactory(project=team.project, reporter=team.member)
    with pytest.raises(StaleVersion) as stale:
        ticket_update(ticket=ticket, actor=team.member, data={"title": "New"}, expected_version=2)
    assert stale.value.extra == {"version": 1}
    updated, body = ticket_update(ticket=ticket, actor=team.member, data={"title": "New"}, expected_version=1)
    assert (updated.version, body["title"]) == (2, "New")
    with pytest.raises(StaleVersion):
        ticket_delete(ticket=ticket, actor=team.admin, expected_version=1)
    ticket_delete(ticket=ticket, actor=team.admin, expected_version=None)
    assert not Ticket.objects.exists()


def test_get_by_uuid_or_key_in_any_case(team):
    ticket_id = create(team.client("member")).json()["id"]
    client = team.client("viewer")
    for reference in (ticket_id, "OPS-1", "ops-1"):
        response = client.get(f"{TICKETS}{reference}/")
        assert response.status_code == 200, reference
        assert response.json()["id"] == ticket_id
        assert response["ETag"] == '"1"'


@pytest.mark.parametrize("reference", ["OPS-999", "OPS-0", "nothing", "00000000-0000-0000-0000-000000000000", "OPS-1x"])
def test_unknown_tickets_are_404(team, reference):
    create(team.client("member"))
    response = team.client("member").get(f"{TICKETS}{reference}/")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_patch_bumps_the_version_and_answers_the_new_etag(team):
    client = team.client("member")
    create(client)
    response = client.patch(f"{TICKETS}OPS-1/", {"title": "Printer fixed?", "priority": "low"}, format="json")
    assert response.status_code == 200
    assert (response.json()["title"], response.json()["priority"], response.json()["version"]) == (
        "Printer fixed?",
        "low",
        2,
    )
    assert response["ETag"] == '"2"'


def test_a_patch_that_changes_nothing_keeps_the_version(team):
    client = team.client("member")
    create(client, priority="high")
    response = client.patch(f"{TICKETS}OPS-1/", {"priority": "high", "title": "Printer on fire"}, format="json")
    assert response.status_code == 200
    assert response.json()["version"] == 1


def test_if_match_stale_is_412_and_changes_nothing(team):
    client = team.client("member")
    create(client)
    client.patch(f"{TICKETS}OPS-1/", {"title": "Second"}, format="json")
    stale = client.patch(f"{TICKETS}OPS-1/", {"title": "Third"}, format="json", HTTP_IF_MATCH='"1"')
    assert stale.status_code == 412
    assert stale.json()["code"] == "precondition_failed"
    assert Ticket.objects.get().title == "Second"
    deleted = team.client("admin").delete(f"{TICKETS}OPS-1/", HTTP_IF_MATCH='"1"')
    assert deleted.status_code == 412
    assert Ticket.objects.exists()


@pytest.mark.parametrize("if_match", ['"2"', 'W/"2"', '"7", "2"', "*"])
def test_if_match_fresh_applies(team, if_match):
    client = team.client("member")
    create(client)
    client.patch(f"{TICKETS}OPS-1/", {"title": "Second"}, format="json")
    response = client.patch(f"{TICKETS}OPS-1/", {"title": "Third"}, format="json", HTTP_IF_MATCH=if_match)
    assert response.status_code == 200
    assert response.json()["version"] == 3


@pytest.mark.parametrize("if_match", ["garbage", '"abc"', ""])
def test_if_match_that_names_no_version_is_412(team, if_match):
    client = team.client("member")
    create(client)
    response = client.patch(f"{TICKETS}OPS-1/", {"title": "X"}, format="json", HTTP_IF_MATCH=if_match)
    assert response.status_code == 412


ALL_MOVES = [(source, target) for source in Status for target in Status if source != target]


def _ticket_in(team, status: Status) -> Ticket:
    return TicketFactory(project=team.project, status=status, reporter=team.member)


@pytest.mark.parametrize(("source", "target"), ALL_MOVES, ids=[f"{s}->{t}" for s, t in ALL_MOVES])
def test_every_workflow_move_is_allowed_or_409(team, source, target):
    ticket = _ticket_in(team, source)
    response = team.client("member").patch(f"{TICKETS}{ticket.key}/", {"status": target}, format="json")
    allowed = ALLOWED_TRANSITIONS[source]
    if target in allowed:
        assert response.status_code == 200
        assert response.json()["status"] == target
    else:
        assert response.status_code == 409
        body = response.json()
        assert body["code"] == "invalid_transition"
        assert body["allowed"] == list(allowed)
        for name in allowed:
            assert name in body["detail"]
        ticket.refresh_from_db()
        assert (ticket.status, ticket.version) == (source, 1)


def test_the_allowed_moves_are_those_of_the_spec():
    assert {source: set(targets) for source, targets in ALLOWED_TRANSITIONS.items()} == {
        "open": {"in_progress"},
        "in_progress": {"open", "resolved"},
        "resolved": {"closed", "open"},
        "closed": {"open"},
    }


def test_closing_sets_closed_at_and_reopening_clears_it(team):
    ticket = _ticket_in(team, Status.RESOLVED)
    client = team.client("member")
    closed = client.patch(f"{TICKETS}{ticket.key}/", {"status": "closed"}, format="json").json()
    assert closed["closed_at"] is not None
    reopened = client.patch(f"{TICKETS}{ticket.key}/", {"status": "open"}, format="json").json()
    assert reopened["closed_at"] is None


def test_an_invalid_move_with_other_fields_changes_nothing(team):
    ticket = _ticket_in(team, Status.OPEN)
    response = team.client("member").patch(
        f"{TICKETS}{ticket.key}/", {"status": "closed", "title": "Sneaky"}, format="json"
    )
    assert response.status_code == 409
    ticket.refresh_from_db()
    assert ticket.title != "Sneaky"


def test_a_ticket_cannot_move_to_another_project(team):
    create(team.client("member"))
    response = team.client("member").patch(f"{TICKETS}OPS-1/", {"project": "OTHER"}, format="json")
    assert response.status_code == 400
    assert response.json()["errors"]["project"][0]["code"] == "immutable"


def test_assignee_can_be_cleared_and_must_stay_a_member(team):
    client = team.client("member")
    create(client, assignee=str(team.member.id))
    outsider = client.patch(f"{TICKETS}OPS-1/", {"assignee": str(team.outsider.id)}, format="json")
    assert outsider.status_code == 400
    cleared = client.patch(f"{TICKETS}OPS-1/", {"assignee": None}, format="json")
    assert cleared.json()["assignee"] is None


def test_only_admins_delete_tickets(team):
    create(team.client("member"))
    forbidden = team.client("member").delete(f"{TICKETS}OPS-1/")
    assert forbidden.status_code == 403
    assert forbidden.json()["code"] == "permission_denied"
    assert team.client("admin").delete(f"{TICKETS}OPS-1/").status_code == 204
    assert team.client("admin").get(f"{TICKETS}OPS-1/").status_code == 404


def test_put_is_not_offered(team):
    create(team.client("member"))
    response = team.client("member").put(f"{TICKETS}OPS-1/", {"title": "X"}, format="json")
    assert response.status_code == 405
