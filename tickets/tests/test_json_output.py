"""The API's JSON is orjson's encoding of exactly what DRF's JSONRenderer wrote (hopla.api.renderers)."""

import datetime
import decimal
import uuid

import pytest
from django.utils.translation import gettext_lazy
from rest_framework.renderers import JSONRenderer

from hopla.api.renderers import OrjsonRenderer
from tickets.tests.factories import CommentFactory, MembershipFactory, TicketFactory

AWKWARD_TITLE = 'Ümlaut \u2028 line\u2029para "quoted" \\ </script> \U0001f600 tab\t \x1f'


def _same_bytes_as_drf(response) -> None:  # type: ignore[no-untyped-def]
    assert response["Content-Type"] == "application/json"
    assert response.content == JSONRenderer().render(response.data)


@pytest.mark.django_db
def test_responses_are_the_bytes_drf_wrote(team) -> None:  # type: ignore[no-untyped-def]
    ticket = TicketFactory(
        project=team.project,
        title=AWKWARD_TITLE,
        labels=["ops", "ünï"],
        assignee=MembershipFactory(project=team.project).user,
        due_date=datetime.date(2026, 12, 31),
    )
    CommentFactory(ticket=ticket, body=AWKWARD_TITLE)
    client = team.client("member")
    for path in (
        "/api/v1/tickets/",
        f"/api/v1/tickets/{ticket.key}/",
        f"/api/v1/tickets/{ticket.key}/comments/",
        f"/api/v1/tickets/{ticket.key}/history/",
        "/api/v1/projects/",
        "/api/v1/auth/me/",
    ):
        response = client.get(path)
        assert response.status_code == 200, path
        _same_bytes_as_drf(response)
    assert "\\u2028" in client.get(f"/api/v1/tickets/{ticket.key}/").content.decode()


@pytest.mark.django_db
def test_errors_are_the_bytes_drf_wrote(team) -> None:  # type: ignore[no-untyped-def]
    client = team.client("member")
    # A list item's error is keyed by the item's index, an integer the JSON writes as a string.
    invalid = client.post("/api/v1/tickets/", {"project": "OPS", "title": "x", "labels": ["ok", 7, ""]}, format="json")
    assert invalid.status_code == 400
    _same_bytes_as_drf(invalid)
    missing = client.get("/api/v1/tickets/NOPE-1/")
    assert missing.status_code == 404
    _same_bytes_as_drf(missing)


def test_what_orjson_would_write_its_own_way_is_written_as_drf_does() -> None:
    data = {
        "at": datetime.datetime(2026, 11, 28, 8, 30, 1, 123456, tzinfo=datetime.UTC),
        "naive": datetime.datetime(2026, 11, 28, 8, 30),
        "day": datetime.date(2026, 11, 28),
        "time": datetime.time(8, 30, 1, 500000),
        "amount": decimal.Decimal("12.50"),
        "lazy": gettext_lazy("Not found."),
        "id": uuid.UUID("00000000-0000-4000-8000-000000000001"),
        "nested": {0: ["index keys"], "set": {"only"}},
        "separators": "\u2028\u2029",
        "bytes": b"raw",
        "elapsed": datetime.timedelta(seconds=1.5),
    }
    assert OrjsonRenderer().render(data) == JSONRenderer().render(data)


def test_what_orjson_refuses_goes_to_drf() -> None:
    beyond_64_bits = {"big": 2**70, "negative": -(2**70)}
    assert (
        OrjsonRenderer().render(beyond_64_bits)
        == JSONRenderer().render(beyond_64_bits)
        == (b'{"big":1180591620717411303424,"negative":-1180591620717411303424}')
    )
    with pytest.raises(ValueError, match="timezone-aware"):
        OrjsonRenderer().render({"time": datetime.time(8, tzinfo=datetime.UTC)})


def test_indented_json_is_still_served_on_request() -> None:
    data = {"a": [1, 2]}
    accept = "application/json; indent=2"
    indented = OrjsonRenderer().render(data, accept)
    assert indented == JSONRenderer().render(data, accept) == b'{\n  "a": [\n    1,\n    2\n  ]\n}'
    assert OrjsonRenderer().render(None) == b""
