"""Optimistic concurrency on versioned objects: ETag and If-Match in views, the version check in services."""

from hopla.api.exceptions import StaleVersion

# Versions start at 1: an expected version no object has, for a precondition that cannot hold.
NO_VERSION = 0


def version_etag(version: int) -> str:
    return f'"{version}"'


def if_match_version(if_match: str | None, *, read_version: int) -> int | None:
    """The version a write's If-Match header lets it apply to: a service's `expected_version`.

    No header means "write anyway" (SPEC §5) and `*` matches any existing object: None. Otherwise the
    version the view read (`read_version`) if the header names its tag (weak tags compare too; a list
    may name several), else NO_VERSION (a stale, unknown or malformed tag: 412). The service compares
    again under its row lock, so a write that raced the view's read is refused as well.
    """
    if if_match is None:
        return None
    offered = {tag.strip().removeprefix("W/") for tag in if_match.split(",")}
    if "*" in offered:
        return None
    return read_version if version_etag(read_version) in offered else NO_VERSION


def require_version(expected_version: int | None, version: int) -> None:
    """412 `precondition_failed` unless the object is at `expected_version` (None: any version)."""
    if expected_version is None or expected_version == version:
        return
    raise StaleVersion(version)
