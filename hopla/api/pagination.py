"""List pagination: limit/offset with a `count` by default, keyset pages with `?cursor=` where offered.

Malformed `limit`/`offset`/`cursor` values are refused (400), never silently ignored.
"""

from collections.abc import Callable
from typing import Any

from django.db.models import QuerySet
from rest_framework import pagination
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.utils.urls import remove_query_param, replace_query_param

from hopla.api import keyset


class LimitOffsetPagination(pagination.LimitOffsetPagination):
    default_limit = 25
    max_limit = 100
    # Set by `paginate_queryset(count=...)` when the view knows a cheaper way to count than COUNT(*).
    _count: Callable[[], int] | None = None

    def paginate_queryset(  # type: ignore[override]
        self, queryset: QuerySet[Any], request: Request, view: Any = None, *, count: Callable[[], int] | None = None
    ) -> list[Any] | None:
        self._count = count
        return super().paginate_queryset(queryset, request, view)

    def get_count(self, queryset: Any) -> int:
        return self._count() if self._count is not None else super().get_count(queryset)

    def get_limit(self, request: Request) -> int:
        limit = self._non_negative_int(request, self.limit_query_param)
        if limit is None:
            return self.default_limit
        if limit == 0:
            raise ValidationError({self.limit_query_param: ["Must be at least 1."]}, code="min_value")
        return min(limit, self.max_limit)

    def get_offset(self, request: Request) -> int:
        return self._non_negative_int(request, self.offset_query_param) or 0

    @staticmethod
    def _non_negative_int(request: Request, name: str) -> int | None:
        raw = request.query_params.get(name)
        if raw is None or raw == "":
            return None
        if not (raw.isascii() and raw.isdigit()) or len(raw) > 12:
            raise ValidationError({name: ["Must be a non-negative integer."]}, code="invalid")
        return int(raw)


class CursorOrLimitOffsetPagination(LimitOffsetPagination):
    """Limit/offset as everywhere, or, with `?cursor=`, keyset pages that stay cheap deep into a big table.

    A cursor page answers `{next, previous, results}` without `count` (counting is what a deep page
    must not pay for). `?cursor=` (empty) is the first page; `next`/`previous` carry the cursors.
    """

    cursor_query_param = "cursor"
    cursor_query_description = (
        "Keyset pagination instead of limit/offset: send `cursor=` (empty) for the first page, then follow "
        "`next`/`previous`. The answer has no `count`, and a page costs the same however deep it is; rows "
        "added or deleted meanwhile never make a page repeat or skip a row. Works with every filter and "
        "`ordering`; a cursor is only valid for the `ordering` it was made with. Not with `offset`. "
        "A malformed or foreign cursor answers 400 `invalid_cursor`."
    )
    _keyset: bool = False

    def paginate_queryset(  # type: ignore[override]
        self, queryset: QuerySet[Any], request: Request, view: Any = None, *, count: Callable[[], int] | None = None
    ) -> list[Any] | None:
        self._keyset = self.cursor_query_param in request.query_params
        if not self._keyset:
            return super().paginate_queryset(queryset, request, view, count=count)
        if self.offset_query_param in request.query_params:
            raise keyset.invalid_cursor("`cursor` and `offset` cannot be combined.")
        self.request = request
        self.limit = self.get_limit(request)
        self._keys = keyset.sort_keys(queryset)
        text = request.query_params[self.cursor_query_param]
        cursor = keyset.decode(text, self._keys) if text else None
        rows, more = keyset.page(queryset, self._keys, cursor, self.limit)
        self._links = self._cursor_links(rows, cursor, more)
        return rows

    def _cursor_links(self, rows: list[Any], cursor: keyset.Cursor | None, more: bool) -> dict[str, str | None]:
        """`more` says whether rows lie further in the walk's direction; behind it, a cursor came from there.

        A page behind may since have emptied: following its link then answers an empty page, not an error.
        """
        if not rows:
            if cursor is None:
                return {"next": None, "previous": None}
            # Nothing from the position on: the way back starts at (and includes) the position.
            back = self._url(keyset.Cursor(cursor.position, not cursor.forward, inclusive=True))
            return {"next": None, "previous": back} if cursor.forward else {"next": back, "previous": None}
        after_last = self._url(keyset.Cursor(keyset.position_of(rows[-1], self._keys), forward=True))
        before_first = self._url(keyset.Cursor(keyset.position_of(rows[0], self._keys), forward=False))
        if cursor is None or cursor.forward:
            return {"next": after_last if more else None, "previous": None if cursor is None else before_first}
        return {"next": after_last, "previous": before_first if more else None}

    def _url(self, cursor: keyset.Cursor) -> str:
        assert self.request is not None
        url = remove_query_param(self.request.build_absolute_uri(), self.offset_query_param)
        url = replace_query_param(url, self.limit_query_param, self.limit)
        return replace_query_param(url, self.cursor_query_param, keyset.encode(self._keys, cursor))

    def get_paginated_response(self, data: Any) -> Response:
        if not self._keyset:
            return super().get_paginated_response(data)
        return Response({"next": self._links["next"], "previous": self._links["previous"], "results": data})

    def get_paginated_response_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        paginated = super().get_paginated_response_schema(schema)
        paginated["required"] = ["next", "previous", "results"]
        paginated["properties"]["count"]["description"] = "All matching rows; absent from `cursor` pages."
        return paginated

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        return [
            *super().get_schema_operation_parameters(view),
            {
                "name": self.cursor_query_param,
                "required": False,
                "in": "query",
                "description": self.cursor_query_description,
                "schema": {"type": "string"},
            },
        ]
