"""A JSON parser that turns every malformed or oversized body into a 400/413, never a 500."""

import json
from collections.abc import Mapping
from typing import IO, Any

from django.conf import settings
from rest_framework import status
from rest_framework.exceptions import APIException, ParseError
from rest_framework.parsers import JSONParser


class RequestTooLarge(APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The request body is too large."
    default_code = "request_too_large"


def _reject_lone_surrogates(data: Any) -> None:
    """`"\\ud800"` is valid JSON but no Unicode text: PostgreSQL, Redis and the JSON renderer all fail on it."""
    pending = [data]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            item.encode("utf-8")  # UnicodeEncodeError on a lone surrogate
        elif isinstance(item, dict):
            pending.extend(item)
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not valid JSON")


class SafeJSONParser(JSONParser):
    """DRF's JSONParser lets RecursionError (deep nesting) escape and reads unbounded bodies."""

    def parse(
        self, stream: IO[bytes], media_type: str | None = None, parser_context: Mapping[str, Any] | None = None
    ) -> Any:
        limit = settings.API_MAX_JSON_BYTES
        raw = stream.read(limit + 1) if stream is not None else b""
        if len(raw) > limit:
            raise RequestTooLarge(f"JSON bodies are limited to {limit} bytes.")
        try:
            text = raw.decode("utf-8")
            data = json.loads(text, parse_constant=_reject_constant)
            _reject_lone_surrogates(data)
            return data
        except UnicodeDecodeError as error:
            raise ParseError("The body is not UTF-8 encoded.") from error
        except UnicodeEncodeError as error:
            raise ParseError("The JSON body escapes a lone surrogate (such as \\ud800), which is not text.") from error
        except RecursionError as error:
            raise ParseError("The JSON body is nested too deeply.") from error
        except ValueError as error:
            raise ParseError(f"The JSON body is malformed: {error}") from error
