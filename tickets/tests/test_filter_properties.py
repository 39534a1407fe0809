"""Property tests of the ticket list filters: whatever the query string, a 200 or a contract 400, never a 500."""

from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tickets.filters import TicketFilter
from tickets.models import Role
from tickets.tests.factories import MembershipFactory, ProjectFactory, TicketFactory

TICKETS = "/api/v1/tickets/"
FILTERS = sorted(TicketFilter.base_filters)
KNOWN_PARAMETERS = {*FILTERS, "limit", "offset", "cursor"}
# Reused across examples: the data is only read, and building it for every example would dominate.
PROPERTY_SETTINGS = settings(
    max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)

# Text as a client may send it: any code point but lone surrogates, which no UTF-8 query string carries.
any_text = st.text(st.characters(exclude_categories=["Cs"]), max_size=40)
control_text = st.text(st.characters(max_codepoint=0x1F), min_size=1, max_size=5)
numbers = st.one_of(st.integers(), st.floats(allow_nan=True, allow_infinity=True)).map(str)
odd_dates = st.one_of(
    st.dates().map(str),
    st.datetimes().map(lambda moment: moment.isoformat()),
    st.dates().map(lambda day: day.strftime("%d/%m/%Y")),
    st.dates().map(lambda day: day.strftime("%Y%m%d")),
    st.sampled_from(
        [
            "0000-01-01",
            "9999-12-31T23:59:59-14:00",
            "0001-01-01T00:00:00+01:00",
            "2024-02-30",
            "2024-13-01",
            "2024-01-01T24:00",
            "2024-01-01T10:00:00+25:00",
            "2024-W01",
            "yesterday",
            "1e10",
            "\uff12\uff10\uff12\uff14-01-01",  # full-width digits
            "٢٠٢٤-01-01",  # Arabic-Indic digits
            "2024-01-01\x00",
        ]
    ),
)
tricky_words = st.sampled_from(
    [
        "",
        " ",
        ",",
        ",,",
        "-",
        "--",
        "%",
        "%%",
        "%s",
        "%(x)s",
        "{}",
        "\\",
        "'",
        '"',
        "'; DROP TABLE tickets_ticket; --",
        "me",
        "none",
        "null",
        "true",
        "TRUE",
        "1",
        "0",
        "²",
        "٣",
        "OPS",
        "ops",
        "OPS-1",
        "ops-0",
        "open,closed",
        "open,,closed",
        " open , closed ",
        "urgent,low",
        "-priority,key",
        "created_at,",
        "status,-status",
        "\x00",
        "a\x00b",
        "\u200b",
        "\ufeff",
        "Ω≈ç√∫",
        "\U0001d518\U0001d52b\U0001d526",  # mathematical Fraktur letters
        "<script>alert(1)</script>",
        "!:&|()<>",
        "x" * 5000,
    ]
)
valid_words = st.sampled_from(
    ["open", "in_progress", "resolved", "closed", "low", "medium", "high", "urgent", "bug", "key", "-created_at"]
)
values = st.one_of(any_text, control_text, numbers, odd_dates, tricky_words, valid_words, st.text(max_size=3000))
parameter_names = st.one_of(st.sampled_from(sorted(KNOWN_PARAMETERS)), any_text)
# Each parameter may repeat (`?status=open&status=closed`): a list of values per name.
queries = st.lists(st.tuples(parameter_names, values), max_size=6)


def _query_string(pairs: list[tuple[str, str]]) -> str:
    return "&".join(f"{quote(name, safe='')}={quote(value, safe='')}" for name, value in pairs)


@pytest.fixture
def admin_client(team):  # type: ignore[no-untyped-def]
    TicketFactory(project=team.project, reporter=team.admin, labels=["bug"], due_date="2020-01-01")
    TicketFactory(project=team.project, reporter=team.member, assignee=team.admin, status="in_progress")
    other = ProjectFactory(key="SEC")
    MembershipFactory(project=other, user=team.outsider, role=Role.ADMIN)
    TicketFactory(project=other, reporter=team.outsider)
    client = team.client("admin")
    client.raise_request_exception = False  # a crash must show as the 500 a client would get
    return client


def assert_contract_answer(response: Any) -> None:
    assert response.status_code in (200, 400), (response.status_code, response.content[:500])
    body = response.json()
    if response.status_code == 200:
        # A cursor page has no count (`?cursor=`, see test_cursor_pagination.py).
        assert set(body) in ({"count", "next", "previous", "results"}, {"next", "previous", "results"})
        return
    assert isinstance(body["detail"], str)
    assert body["detail"]
    assert body["code"] in ("invalid", "invalid_cursor")
    assert body["errors"]
    if body["code"] == "invalid_cursor":
        assert list(body["errors"]) == ["cursor"]
    assert set(body["errors"]) <= KNOWN_PARAMETERS, body["errors"]
    for messages in body["errors"].values():
        for message in messages:
            assert isinstance(message["message"], str)
            assert isinstance(message["code"], str)


@PROPERTY_SETTINGS
@given(pairs=queries)
def test_any_query_string_answers_200_or_a_contract_400(admin_client, pairs):
    assert_contract_answer(admin_client.get(f"{TICKETS}?{_query_string(pairs)}"))


@PROPERTY_SETTINGS
@given(name=st.sampled_from(sorted(KNOWN_PARAMETERS)), value=values)
def test_each_parameter_alone_answers_200_or_a_400_naming_it(admin_client, name, value):
    response = admin_client.get(f"{TICKETS}?{_query_string([(name, value)])}")
    assert_contract_answer(response)
    if response.status_code == 400:
        assert set(response.json()["errors"]) == {name}


@settings(PROPERTY_SETTINGS, max_examples=60)
@given(name=st.sampled_from(sorted(KNOWN_PARAMETERS)), raw=st.binary(min_size=1, max_size=30))
def test_percent_encoded_bytes_that_are_not_utf8_are_handled(admin_client, name, raw):
    response = admin_client.get(f"{TICKETS}?{name}={quote(raw, safe='')}")
    assert_contract_answer(response)


@pytest.mark.parametrize(
    "query",
    ["ordering=,", "ordering=created_at,", "ordering=,-key", "limit=²", "offset=²", "limit=¹⁰"],
    ids=["ordering-comma", "ordering-trailing-comma", "ordering-leading-comma", "limit-2", "offset-2", "limit-10"],
)
def test_found_by_the_properties(admin_client, query):
    """Examples the properties found; kept so that they run on every build whatever Hypothesis draws."""
    name, value = query.split("=")
    assert_contract_answer(admin_client.get(f"{TICKETS}?{_query_string([(name, value)])}"))
