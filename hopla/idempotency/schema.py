"""OpenAPI post-processing: the Idempotency-Key header and its answers on every authenticated POST."""

from typing import Any

from hopla.api.schema import ERROR_REF, JWT_SCHEME
from hopla.idempotency.api import HEADER, REPLAYED_HEADER, RETRY_AFTER_SECONDS

KEY_PARAMETER = {
    "name": HEADER,
    "in": "header",
    "required": False,
    "description": "1 to 255 visible ASCII characters, unique per request you mean (a UUID is good). A repeat "
    "with the same key, method, path and body runs nothing again and answers the first answer, with "
    f"`{REPLAYED_HEADER}: true`, for `IDEMPOTENCY_TTL_HOURS` (24 h by default). Server errors (5xx) are not "
    "kept: a retry runs again. Keys are per user.",
    "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[\\x21-\\x7e]+$"},
    "example": "4f9d7c2e-8b1a-4c3d-9e5f-0a1b2c3d4e5f",
}
REPLAYED = {
    "schema": {"type": "string", "enum": ["true"]},
    "description": f"Present on a replay: this is the kept answer of the first request with this {HEADER}.",
}
ERRORS = {
    400: (
        "`invalid_idempotency_key`: the Idempotency-Key header is empty, too long or not visible ASCII.",
        {
            "detail": "Idempotency-Key must be 1 to 255 visible ASCII characters (no spaces or control characters).",
            "code": "invalid_idempotency_key",
        },
    ),
    409: (
        "`idempotency_in_progress`: the first request with this Idempotency-Key is still running; "
        f"repeat it after `Retry-After` ({RETRY_AFTER_SECONDS} s).",
        {
            "detail": "A request with this Idempotency-Key is still running; repeat it once that one has answered.",
            "code": "idempotency_in_progress",
            "retry_after": RETRY_AFTER_SECONDS,
        },
    ),
    422: (
        "`idempotency_key_reused`: this Idempotency-Key was sent with another method, path or body.",
        {
            "detail": "This Idempotency-Key was used for another request (method, path or body); use a new key.",
            "code": "idempotency_key_reused",
        },
    ),
}


def document_idempotency_keys(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict[str, Any]:
    """drf-spectacular POSTPROCESSING_HOOKS entry, after hopla.api.schema.add_error_responses."""
    for operations in result.get("paths", {}).values():
        operation = operations.get("post")
        if operation is None or not any(JWT_SCHEME in needed for needed in operation.get("security") or []):
            continue
        operation.setdefault("parameters", []).append(KEY_PARAMETER)
        responses = operation.setdefault("responses", {})
        for status, response in responses.items():
            if status.startswith("2"):
                response.setdefault("headers", {})[REPLAYED_HEADER] = REPLAYED
        for status, (description, example) in ERRORS.items():
            existing = responses.get(str(status))
            if existing is not None:
                existing["description"] += f" Or {description}"
            else:
                content = {"application/json": {"schema": ERROR_REF, "example": example}}
                existing = responses[str(status)] = {"description": description, "content": content}
            if status == 409:
                existing.setdefault("headers", {})["Retry-After"] = {
                    "schema": {"type": "integer"},
                    "description": "With `idempotency_in_progress`: seconds to wait before repeating.",
                }
    return result
