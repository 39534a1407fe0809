"""Limit-offset pagination that refuses malformed `limit`/`offset` instead of ignoring them."""

from rest_framework import pagination
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request


class LimitOffsetPagination(pagination.LimitOffsetPagination):
    default_limit = 25
    max_limit = 100

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
