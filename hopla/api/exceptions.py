"""The error contract: every API error answers `{"detail", "code"}`, validation errors add `errors`.

Domain code (services, selectors) raises `ApplicationError` or one of its kinds below, never DRF's
own exceptions; DRF, Django and simplejwt errors are reshaped here so that clients see one body
shape whatever failed.
"""

from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.serializers import as_serializer_error
from rest_framework.views import exception_handler as drf_exception_handler

from hopla.api.parsers import RequestTooLarge


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


class ObjectNotFound(ApplicationError):
    """404 `not_found`: no such object among those the actor may see (outsiders learn nothing more)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, code="not_found", status_code=status.HTTP_404_NOT_FOUND)


class ActionForbidden(ApplicationError):
    """403 `permission_denied`: the actor sees the object but may not do this to it."""

    def __init__(self, message: str) -> None:
        super().__init__(message, code="permission_denied", status_code=status.HTTP_403_FORBIDDEN)


class StateConflict(ApplicationError):
    """409: the change does not fit the object's current state (a workflow move, the last admin)."""

    def __init__(self, message: str, *, code: str, extra: dict[str, Any] | None = None) -> None:
        super().__init__(message, code=code, status_code=status.HTTP_409_CONFLICT, extra=extra)


class StaleVersion(ApplicationError):
    """412 `precondition_failed`: the object is no longer at the version the client last read."""

    def __init__(self, version: int) -> None:
        super().__init__(
            f"The object has changed since you read it (it is now at version {version}); read it again.",
            code="precondition_failed",
            status_code=status.HTTP_412_PRECONDITION_FAILED,
            extra={"version": version},
        )


class InvalidField(ApplicationError):
    """A value a domain rule refuses, answered as a validation error of its field (400 `invalid`, with
    `errors`): one or more (message, code) pairs."""

    def __init__(self, field: str, *problems: tuple[str, str]) -> None:
        message, code = problems[0]
        super().__init__(message, code=code)
        self.field = field
        self.problems = problems

    def as_validation_error(self) -> exceptions.ValidationError:
        return exceptions.ValidationError(
            {self.field: [exceptions.ErrorDetail(message, code=code) for message, code in self.problems]}
        )


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF's EXCEPTION_HANDLER: DRF's own handling (headers, status), then the contract's body."""
    if isinstance(exc, InvalidField):
        exc = exc.as_validation_error()
    elif isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(as_serializer_error(exc))
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    elif isinstance(exc, RequestDataTooBig):
        exc = RequestTooLarge(str(exc))
    elif isinstance(exc, SuspiciousOperation):  # TooManyFieldsSent, TooManyFilesSent while parsing a body
        exc = exceptions.ParseError(str(exc))

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


def _field_errors(details: Any) -> dict[str, list[dict[str, str]]]:
    """The contract's `{"field": [{"message", "code"}]}` from `get_full_details()`.

    DRF answers a list for non-field errors (keyed `non_field_errors` here) and nests the errors of
    list items and nested objects (`{"labels": {"0": [...]}}`): those become messages that say where.
    """
    if not isinstance(details, dict):
        return {"non_field_errors": _flat(details, "")}
    return {str(field): _flat(errors, "") for field, errors in details.items()}


def _flat(errors: Any, where: str) -> list[dict[str, str]]:
    if isinstance(errors, dict) and set(errors) == {"message", "code"}:
        message = f"{where}: {errors['message']}" if where else str(errors["message"])
        return [{"message": message, "code": str(errors["code"])}]
    if isinstance(errors, dict):
        return [item for key, value in errors.items() for item in _flat(value, _join(where, key))]
    if isinstance(errors, list):
        return [item for value in errors for item in _flat(value, where)]
    return [{"message": f"{where}: {errors}" if where else str(errors), "code": "invalid"}]


def _join(where: str, key: Any) -> str:
    label = f"item {key}" if str(key).isdigit() else str(key)
    return f"{where}, {label}" if where else label
