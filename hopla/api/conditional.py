"""Optimistic concurrency through ETag / If-Match on versioned objects."""

from rest_framework import status

from hopla.api.exceptions import ApplicationError


def version_etag(version: int) -> str:
    return f'"{version}"'


def check_if_match(if_match: str | None, version: int) -> None:
    """412 `precondition_failed` when the client's If-Match names none of the current version's tags.

    No header means "write anyway" (SPEC §5); `*` matches any existing object; weak tags compare too.
    """
    if if_match is None:
        return
    offered = {tag.strip().removeprefix("W/") for tag in if_match.split(",")}
    if "*" in offered or version_etag(version) in offered:
        return
    raise ApplicationError(
        f"The object has changed since you read it (it is now at version {version}); read it again.",
        code="precondition_failed",
        status_code=status.HTTP_412_PRECONDITION_FAILED,
        extra={"version": version},
    )
