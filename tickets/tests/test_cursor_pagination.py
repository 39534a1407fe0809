"""Keyset pages of the ticket list and history (`?cursor=`), through GET like a client walks them."""

import base64
import json
import random
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rest_framework.test import APIClient

from tickets.filters import ORDERING_FIELDS
from tickets.models import Priority, Role, Status, Ticket
from tickets.tests.conftest import Team
from tickets.tests.factories import MembershipFactory, ProjectFactory, TicketFactory

URL = "/api/v1/tickets/"
ORDERINGS = [f"{sign}{name}" for name in ORDERING_FIELDS for sign in ("", "-")]
MIXED_ORDERINGS = ["-priority,due_date", "status,-key", "due_date,-priority,created_at", "-due_date,key"]
FILTERS = [
    {},
    {"status": "open,in_progress"},
    {"priority": "high,urgent", "ordering": "-priority,due_date"},
    {"search": "alpha"},
    {"project": "OPS"},
    {"assignee": "none", "ordering": "due_date"},
    {"overdue": "false", "ordering": "-due_date"},
]


@pytest.fixture
def crowd(team: Team) -> Team:
    """45 tickets in two projects with many ties: 3 creation times, 4 priorities, NULL due dates."""
    other = ProjectFactory(key="DEV")
    MembershipFactory(project=other, user=team.member, role=Role.MEMBER)
    chooser = random.Random(8)
    moments = [datetime(2024, 3, day, 12, tzinfo=UTC) for day in (1, 2, 3)]
    for index in range(45):
        ticket = TicketFactory(
            project=team.project if index % 3 else other,
            reporter=team.admin,
            title=chooser.choice(["alpha report", "beta report", "gamma"]),
            status=chooser.choice(list(Status)),
            priority=chooser.choice(list(Priority)),
            due_date=chooser.choice([None, None, date(2024, 5, 1), date(2024, 5, 2)]),
            assignee=chooser.choice([None, team.member]),
        )
        stamp = chooser.choice(moments)
        Ticket.objects.filter(pk=ticket.pk).update(created_at=stamp, updated_at=stamp + timedelta(hours=index % 2))
    return team


def offset_keys(client: APIClient, params: dict[str, Any]) -> list[str]:
    body = client.get(URL, {**params, "limit": 100}).json()
    assert body["count"] == len(body["results"])
    return [ticket["key"] for ticket in body["results"]]


def walk(client: APIClient, params: dict[str, Any], *, limit: int, backwards_from_the_end: bool = False) -> list[str]:
    """Every key, following `next` from the first cursor page (then `previous` back, if asked)."""
    response = client.get(URL, {**params, "limit": limit, "cursor": ""})
    pages = []
    while True:
        assert response.status_code == 200, response.content
        body = response.json()
        assert list(body) == ["next", "previous", "results"]
        assert len(body["results"]) <= limit
        pages.append([ticket["key"] for ticket in body["results"]])
        if body["next"] is None:
            break
        response = client.get(body["next"])
    if not backwards_from_the_end:
        return [key for page in pages for key in page]
    back = []
    while body["previous"] is not None:
        body = client.get(body["previous"]).json()
        back = [ticket["key"] for ticket in body["results"]] + back
    return back + pages[-1]


def cursor_of(link: str) -> str:
    return parse_qs(urlsplit(link).query)["cursor"][0]


def forged(document: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(document).encode()).decode().rstrip("=")


@pytest.mark.parametrize("ordering", ORDERINGS + MIXED_ORDERINGS)
def test_walking_by_cursor_answers_the_offset_rows_in_their_order(crowd: Team, ordering: str) -> None:
    client = crowd.client("member")
    expected = offset_keys(client, {"ordering": ordering})
    assert len(expected) == 45
    assert walk(client, {"ordering": ordering}, limit=7) == expected
    assert walk(client, {"ordering": ordering}, limit=7, backwards_from_the_end=True) == expected


@pytest.mark.parametrize("params", FILTERS, ids=[json.dumps(params) for params in FILTERS])
def test_cursor_pages_combine_with_every_filter(crowd: Team, params: dict[str, Any]) -> None:
    client = crowd.client("member")
    expected = offset_keys(client, params)
    assert walk(client, params, limit=4) == expected
    assert walk(client, params, limit=4, backwards_from_the_end=True) == expected


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    fields=st.lists(st.sampled_from(sorted(ORDERING_FIELDS)), min_size=1, max_size=3, unique=True),
    signs=st.lists(st.booleans(), min_size=3, max_size=3),
    limit=st.integers(min_value=1, max_value=50),
)
def test_any_ordering_walks_like_offset(crowd: Team, fields: list[str], signs: list[bool], limit: int) -> None:
    ordering = ",".join(("-" if sign else "") + field for field, sign in zip(fields, signs, strict=False))
    client = crowd.client("member")
    assert walk(client, {"ordering": ordering}, limit=limit) == offset_keys(client, {"ordering": ordering})


def test_first_page_shape_and_limits(crowd: Team) -> None:
    client = crowd.client("member")
    body = client.get(URL, {"cursor": ""}).json()
    assert list(body) == ["next", "previous", "results"]
    assert len(body["results"]) == 25
    assert body["previous"] is None
    assert "limit=25" in body["next"]
    assert "offset" not in body["next"]
    assert len(client.get(URL, {"cursor": "", "limit": 1000}).json()["results"]) == 45


def test_rows_added_and_removed_between_pages_neither_repeat_nor_skip_the_others(crowd: Team) -> None:
    client = crowd.client("member")
    params = {"ordering": "-priority"}
    before = offset_keys(client, params)
    first = client.get(URL, {**params, "limit": 10, "cursor": ""}).json()
    seen = [ticket["key"] for ticket in first["results"]]
    # Deleted: two already seen, three not yet; added: tickets that sort before, among and after the rest.
    deleted = {seen[0], seen[5], before[20], before[30], before[44]}
    Ticket.objects.filter(key__in=deleted).delete()
    for priority in Priority:
        TicketFactory(project=crowd.project, reporter=crowd.admin, priority=priority)
    response = client.get(first["next"])
    while True:
        body = response.json()
        seen += [ticket["key"] for ticket in body["results"]]
        if body["next"] is None:
            break
        response = client.get(body["next"])
    assert len(seen) == len(set(seen)), "a ticket came twice"
    throughout = [key for key in before if key not in deleted]
    assert [key for key in seen if key in throughout] == throughout
    assert not (set(seen[10:]) & deleted)


def test_an_emptied_page_still_leads_back(crowd: Team) -> None:
    client = crowd.client("member")
    params = {"ordering": "key", "limit": 40}
    first = client.get(URL, {**params, "cursor": ""}).json()
    rest = client.get(first["next"]).json()
    assert len(rest["results"]) == 5
    Ticket.objects.filter(key__in=[ticket["key"] for ticket in rest["results"]]).delete()
    emptied = client.get(first["next"]).json()
    assert emptied["results"] == []
    assert emptied["next"] is None
    # Back from the empty page: the page before, including the last row seen.
    back = client.get(emptied["previous"]).json()
    assert [ticket["key"] for ticket in back["results"]] == [ticket["key"] for ticket in first["results"]]


def test_history_pages_by_cursor(team: Team) -> None:
    client = team.client("admin")
    key = client.post(URL, {"project": "OPS", "title": "Walked"}, format="json").json()["key"]
    for number in range(6):
        assert client.patch(f"{URL}{key}/", {"title": f"Walked {number}"}, format="json").status_code == 200
    history = f"{URL}{key}/history/"
    expected = [event["seq"] for event in client.get(history).json()["results"]]
    assert len(expected) == 7
    body = client.get(history, {"cursor": "", "limit": 3}).json()
    walked = [event["seq"] for event in body["results"]]
    while body["next"]:
        body = client.get(body["next"]).json()
        walked += [event["seq"] for event in body["results"]]
    assert walked == expected
    assert [event["seq"] for event in client.get(body["previous"]).json()["results"]] == expected[3:6]


def _assert_invalid_cursor(response: Any) -> None:
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["code"] == "invalid_cursor"
    assert body["detail"].startswith("Invalid `cursor`")
    assert list(body["errors"]) == ["cursor"]
    assert body["errors"]["cursor"][0]["code"] == "invalid_cursor"


VALID = {"v": 1, "o": "-created_at,-id", "p": ["2024-03-01T12:00:00+00:00", "8f1c2a36-5c83-4a4e-9c55-0d1b2c3d4e5f"]}
BAD_CURSORS = {
    "not base64": "%%%",
    "not json": base64.urlsafe_b64encode(b"\xff\xfe").decode(),
    "a list": forged([1, 2]),
    "no version": forged({k: v for k, v in VALID.items() if k != "v"}),
    "other version": forged({**VALID, "v": 2}),
    "other ordering": forged({**VALID, "o": "-priority,-id"}),
    "short position": forged({**VALID, "p": VALID["p"][:1]}),
    "no direction": forged(VALID),
    "bad direction": forged({**VALID, "d": "sideways"}),
    "naive datetime": forged({**VALID, "d": "next", "p": ["2024-03-01T12:00:00", VALID["p"][1]]}),
    "number for a datetime": forged({**VALID, "d": "next", "p": [12, VALID["p"][1]]}),
    "bad uuid": forged({**VALID, "d": "next", "p": [VALID["p"][0], "nope"]}),
    "null in a required column": forged({**VALID, "d": "next", "p": [None, VALID["p"][1]]}),
    "year 10000": forged({**VALID, "d": "next", "p": ["10000-01-01T00:00:00+00:00", VALID["p"][1]]}),
    "extra member": forged({**VALID, "d": "next", "x": 1}),
    "too long": "A" * 3000,
}


@pytest.mark.parametrize("cursor", BAD_CURSORS.values(), ids=BAD_CURSORS.keys())
def test_bad_cursors_answer_400_invalid_cursor(crowd: Team, cursor: str) -> None:
    _assert_invalid_cursor(crowd.client("member").get(URL, {"cursor": cursor}))


def test_a_cursor_of_another_ordering_or_with_offset_is_refused(crowd: Team) -> None:
    client = crowd.client("member")
    following = client.get(URL, {"cursor": "", "limit": 5, "ordering": "-priority"}).json()["next"]
    _assert_invalid_cursor(client.get(URL, {"cursor": cursor_of(following), "ordering": "priority"}))
    _assert_invalid_cursor(client.get(URL, {"cursor": cursor_of(following), "ordering": "-priority", "offset": 5}))
    _assert_invalid_cursor(client.get(URL, {"cursor": "", "offset": 0}))


def test_wrong_types_for_each_kind_of_column(crowd: Team) -> None:
    client = crowd.client("member")
    ticket_id = VALID["p"][1]
    for ordering, columns, position in [
        ("-priority", "-priority,-id", ["high", ticket_id]),
        ("-priority", "-priority,-id", [True, ticket_id]),
        ("-priority", "-priority,-id", [2**70, ticket_id]),
        ("due_date", "due_date,id", ["2024-02-30", ticket_id]),
        ("due_date", "due_date,id", [20240101, ticket_id]),
        ("key", "project__key,number,id", ["OPS", "12", ticket_id]),
        ("key", "project__key,number,id", [["OPS"], 12, ticket_id]),
        ("key", "project__key,number,id", ["OPS\x00", 12, ticket_id]),
        ("status", "status_rank,id", ["open", ticket_id]),
    ]:
        document = {"v": 1, "o": columns, "p": position, "d": "next"}
        _assert_invalid_cursor(client.get(URL, {"ordering": ordering, "cursor": forged(document)}))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cursor=st.one_of(st.text(max_size=200), st.binary(max_size=150).map(lambda raw: forged_raw(raw))))
def test_any_cursor_answers_a_page_or_invalid_cursor(crowd: Team, cursor: str) -> None:
    response = crowd.client("member").get(URL, {"cursor": cursor})
    if cursor == "":
        assert response.status_code == 200
    else:
        _assert_invalid_cursor(response)


def forged_raw(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    position=st.lists(
        st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=30), st.dates().map(str)),
        min_size=2,
        max_size=2,
    ),
    direction=st.sampled_from(["next", "previous"]),
)
def test_forged_positions_answer_a_page_or_invalid_cursor(crowd: Team, position: list[Any], direction: str) -> None:
    """A well-formed cursor with any values: never a 500 (the database never sees a value it refuses)."""
    document = {"v": 1, "o": "due_date,id", "p": position, "d": direction}
    response = crowd.client("member").get(URL, {"ordering": "due_date", "cursor": forged(document)})
    if response.status_code != 200:
        _assert_invalid_cursor(response)
