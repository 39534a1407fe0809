"""The error contract: every API error answers `{"detail", "code"}`, validation errors add `errors`.

Domain code raises `ApplicationError` with a stable `code`; DRF, Django and simplejwt errors are
reshaped here so that clients see one body shape whatever failed.
"""

from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.serializers import as_serializer_error
from rest_framework.views import exception_handler as drf_exception_handler


class ApplicationError(exceptions.APIException):
    """A domain rule was broken; `code` is the stable machine string clients switch on."""

    def __init__(
        self,
        message: str,
        *,
        code: str,
        status_code: int = status.HTTP_400_BAD_REQUEST,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(detail=message, code=code)
        self.status_code = status_code
        self.extra = extra or {}


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF's EXCEPTION_HANDLER: DRF's own handling (headers, status), then the contract's body."""
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(as_serializer_error(exc))
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()

    response = drf_exception_handler(exc, context)
    if response is None:
        return None  # not an API error: Django's handler500 answers (JSON on /api/, see urls.py)
    assert isinstance(exc, exceptions.APIException)
    response.data = error_body(exc)
    return response


def error_body(exc: exceptions.APIException) -> dict[str, Any]:
    if isinstance(exc, exceptions.ValidationError):
        errors = _field_errors(exc.get_full_details())
        fields = ", ".join(errors)
        return {"detail": f"Invalid input: {fields}.", "code": "invalid", "errors": errors}

    detail: Any = exc.detail
    if isinstance(detail, dict) and "detail" in detail:
        # simplejwt's errors carry {"detail", "code", "messages"} as their detail.
        code = detail.get("code") or exc.default_code
        detail = detail["detail"]
    else:
        if isinstance(detail, list) and detail:
            detail = detail[0]
        code = getattr(detail, "code", None) or exc.default_code
    body: dict[str, Any] = {"detail": str(detail), "code": str(code)}
    if isinstance(exc, ApplicationError):
        body.update(exc.extra)
    wait = getattr(exc, "wait", None)  # set by DRF on Throttled
    if isinstance(exc, exceptions.Throttled) and wait is not None:
        body["retry_after"] = int(wait + 0.999)
    return body


def _field_errors(details: Any) -> dict[str, Any]:
    """`get_full_details()` gives a list for non-field errors; the contract keys them by name."""
    if isinstance(details, dict):
        return details
    return {"non_field_errors": details if isinstance(details, list) else [details]}
