"""OpenAPI post-processing: the error responses of SPEC §2, documented once for every operation.

drf-spectacular documents only the success answer of each view. This hook adds the errors an
operation can answer, all in the contract's body shape (`Error`), so that clients, Swagger users and
schema-driven tests (`hopla/tests/test_schemathesis.py`) know them. Which errors an operation can
answer follows from what its schema already says (a body, query parameters, path parameters, the JWT
requirement, a write method), plus a short table of the domain errors named by SPEC §4 and §5.
"""

from typing import Any

ERROR_SCHEMA = "Error"
ERROR_ITEM_SCHEMA = "ErrorItem"
ERROR_REF = {"$ref": f"#/components/schemas/{ERROR_SCHEMA}"}

SAFE_METHODS = {"get", "head", "options"}
JWT_SCHEME = "jwtAuth"

# Public endpoints that still answer 401: bad credentials, a bad or blacklisted refresh token.
CREDENTIAL_ENDPOINTS = {"/api/v1/auth/login/", "/api/v1/auth/refresh/"}
# Public endpoints throttled per client address or per email (the signed-in write throttle covers the rest).
THROTTLED_PUBLIC_ENDPOINTS = {
    "/api/v1/auth/login/",
    "/api/v1/auth/register/",
    "/api/v1/auth/password/reset/",
    "/api/v1/auth/password/reset/confirm/",
}
# Writes any signed-in user may make: no role is checked, so no 403.
OPEN_WRITES = {("post", "/api/v1/projects/")}
# Paths whose reads are refused below a role too (403): a project's webhooks are for its admins (SPEC §9).
ADMIN_ONLY_PREFIXES = ("/api/v1/projects/{project}/webhooks/",)
# Domain errors of SPEC §4 (a project keeps one admin), §5 (workflow, If-Match) and §9 (redelivery).
DOMAIN_ERRORS: dict[tuple[str, str], dict[int, str]] = {
    ("patch", "/api/v1/tickets/{ticket}/"): {
        409: "`invalid_transition`: the status cannot move there; `allowed` lists the targets.",
        412: "`precondition_failed`: the `If-Match` ETag is stale; `version` is the current one.",
    },
    ("delete", "/api/v1/tickets/{ticket}/"): {
        412: "`precondition_failed`: the `If-Match` ETag is stale; `version` is the current one.",
    },
    ("patch", "/api/v1/projects/{project}/members/{user_id}/"): {
        409: "`last_admin`: the project would be left without an admin.",
    },
    ("delete", "/api/v1/projects/{project}/members/{user_id}/"): {
        409: "`last_admin`: the project would be left without an admin.",
    },
    ("post", "/api/v1/projects/{project}/webhooks/"): {
        400: "Invalid input (`invalid`, with `errors` per field), a malformed body (`parse_error`), or "
        "`unsafe_url`: the URL is not https, or its host resolves to an address hopla does not send to.",
    },
    ("patch", "/api/v1/projects/{project}/webhooks/{webhook_id}/"): {
        400: "Invalid input (`invalid`, with `errors` per field), a malformed body (`parse_error`), or "
        "`unsafe_url`: the URL is not https, or its host resolves to an address hopla does not send to.",
    },
    ("post", "/api/v1/projects/{project}/imports/"): {
        413: "`too_large`: the file is over `IMPORT_MAX_BYTES`.",
    },
    ("post", "/api/v1/projects/{project}/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver/"): {
        409: "`delivery_pending`: the delivery's next attempt is already scheduled.",
    },
}

DESCRIPTIONS = {
    400: "Invalid input: `code` is `invalid` with `errors` per field, `invalid_cursor` for a bad `cursor` "
    "(lists that page by cursor), or `parse_error` for a malformed body.",
    401: "Not authenticated, or the credentials or token are not valid.",
    403: "Your role in the project does not allow this.",
    404: "No such object among those you may see.",
    413: "`request_too_large`: the JSON body is over `API_MAX_JSON_BYTES`.",
    415: "`unsupported_media_type`: send JSON (or multipart/form-data where documented).",
    429: "`throttled`: too many requests; wait `retry_after` seconds (also in `Retry-After`).",
}


def error_components() -> dict[str, Any]:
    return {
        ERROR_ITEM_SCHEMA: {
            "type": "object",
            "properties": {"message": {"type": "string"}, "code": {"type": "string"}},
            "required": ["message", "code"],
        },
        ERROR_SCHEMA: {
            "type": "object",
            "description": "Every API error (SPEC §2). Some codes carry extra members, e.g. `version` "
            "with `precondition_failed`, `allowed` with `invalid_transition`, `retry_after` with `throttled`.",
            "properties": {
                "detail": {"type": "string", "description": "A human sentence."},
                "code": {"type": "string", "description": "A stable machine string."},
                "errors": {
                    "type": "object",
                    "description": "Validation errors by field (`non_field_errors` for the others). The "
                    "message of an error in a list item or nested object says where (`item 0: ...`).",
                    "additionalProperties": {
                        "type": "array",
                        "items": {"$ref": f"#/components/schemas/{ERROR_ITEM_SCHEMA}"},
                    },
                },
            },
            "required": ["detail", "code"],
        },
    }


# One example body per status, as Swagger and Redoc show them.
EXAMPLES: dict[int, dict[str, Any]] = {
    400: {
        "detail": "Invalid input: title, labels.",
        "code": "invalid",
        "errors": {
            "title": [{"message": "This field may not be blank.", "code": "blank"}],
            "labels": [{"message": "item 0: Ensure this field has no more than 50 characters.", "code": "max_length"}],
        },
    },
    401: {"detail": "Authentication credentials were not provided.", "code": "not_authenticated"},
    403: {"detail": "Only project members and above can edit tickets; you are a viewer.", "code": "permission_denied"},
    404: {"detail": "No such ticket.", "code": "not_found"},
    409: {
        "detail": "A ticket cannot move from open to closed; from open it can move to: in_progress.",
        "code": "invalid_transition",
        "from": "open",
        "to": "closed",
        "allowed": ["in_progress"],
    },
    412: {
        "detail": "The object has changed since you read it (it is now at version 4); read it again.",
        "code": "precondition_failed",
        "version": 4,
    },
    413: {"detail": "JSON bodies are limited to 1048576 bytes.", "code": "request_too_large"},
    415: {"detail": 'Unsupported media type "text/plain" in request.', "code": "unsupported_media_type"},
    429: {"detail": "Request was throttled. Expected available in 42 seconds.", "code": "throttled", "retry_after": 42},
}
# Examples of the domain errors, by the code their description names (`last_admin`).
DOMAIN_EXAMPLES: dict[str, dict[str, Any]] = {
    "last_admin": {
        "detail": "A project keeps at least one admin: make someone else admin first.",
        "code": "last_admin",
    },
    "unsafe_url": {
        "detail": "The webhook's host resolves to an address hopla does not send to: 10.0.0.8 is a private address.",
        "code": "unsafe_url",
    },
    "too_large": {"detail": "Import files are limited to 10485760 bytes (IMPORT_MAX_BYTES).", "code": "too_large"},
    "delivery_pending": {
        "detail": "This delivery is still pending: its next attempt is already scheduled.",
        "code": "delivery_pending",
    },
}


def _error_response(description: str, example: dict[str, Any]) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": ERROR_REF, "example": example}}}


def operation_error_codes(path: str, method: str, operation: dict[str, Any]) -> dict[int, str]:
    """The error statuses `operation` can answer, each with its description."""
    parameters = operation.get("parameters", [])
    requires_jwt = any(JWT_SCHEME in requirement for requirement in operation.get("security") or [])
    writes = method not in SAFE_METHODS
    codes: set[int] = set()
    if "requestBody" in operation:
        codes |= {400, 413, 415}
    if any(parameter["in"] == "query" for parameter in parameters):
        codes.add(400)
    if requires_jwt or path in CREDENTIAL_ENDPOINTS:
        codes.add(401)
    if requires_jwt and writes and not path.startswith("/api/v1/auth/") and (method, path) not in OPEN_WRITES:
        codes.add(403)
    if requires_jwt and path.startswith(ADMIN_ONLY_PREFIXES):
        codes.add(403)
    if any(parameter["in"] == "path" for parameter in parameters):
        codes.add(404)
    if writes and (requires_jwt or path in THROTTLED_PUBLIC_ENDPOINTS):
        codes.add(429)
    if (
        "multipart/form-data" in operation.get("requestBody", {}).get("content", {})
        and len(operation["requestBody"]["content"]) == 1
    ):
        codes.discard(413)  # uploads have their own limit, answered 400 `too_large` (SPEC §6)
    described = {code: DESCRIPTIONS[code] for code in codes}
    described.update(DOMAIN_ERRORS.get((method, path), {}))
    return described


def _domain_example(description: str) -> dict[str, Any] | None:
    """The example of the last domain error code `description` names, if it names one."""
    named = [example for code, example in DOMAIN_EXAMPLES.items() if f"`{code}`" in description]
    return named[-1] if named else None


def add_error_responses(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict[str, Any]:
    """drf-spectacular POSTPROCESSING_HOOKS entry: adds `Error` and every operation's error responses."""
    result.setdefault("components", {}).setdefault("schemas", {}).update(error_components())
    for path, operations in result.get("paths", {}).items():
        for method, operation in operations.items():
            responses = operation.setdefault("responses", {})
            for code, description in sorted(operation_error_codes(path, method, operation).items()):
                example = _domain_example(description) or EXAMPLES[code]
                response = responses.setdefault(str(code), _error_response(description, example))
                if code == 429:
                    response.setdefault("headers", {})["Retry-After"] = {
                        "schema": {"type": "integer"},
                        "description": "Seconds to wait before trying again.",
                    }
    return result
