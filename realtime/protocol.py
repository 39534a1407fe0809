"""The event stream's client messages: parsing, validation, and the stable error codes it answers with."""

import json
import uuid
from dataclasses import dataclass
from typing import Any

# Client messages are a few dozen bytes; anything this long is a mistake or an attack, refused unparsed.
MAX_MESSAGE_CHARS = 4096


class ErrorCode:
    """The `code` of `{"type": "error"}` messages. Clients branch on these: never rename one."""

    INVALID_JSON = "invalid_json"
    INVALID_MESSAGE = "invalid_message"
    UNKNOWN_ACTION = "unknown_action"
    MESSAGE_TOO_LARGE = "message_too_large"
    PROJECT_NOT_FOUND = "project_not_found"
    RESUME_IN_PROGRESS = "resume_in_progress"
    RESUME_FAILED = "resume_failed"


class ProtocolError(Exception):
    """A client message the stream answers with an error, keeping the connection open."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail


@dataclass(frozen=True)
class Subscribe:
    project: str


@dataclass(frozen=True)
class Unsubscribe:
    project: str


@dataclass(frozen=True)
class Resume:
    after_seq: int


@dataclass(frozen=True)
class Ping:
    pass


ClientMessage = Subscribe | Unsubscribe | Resume | Ping


def client_message_parse(text_data: str | None, bytes_data: bytes | None) -> ClientMessage:
    """Turn one WebSocket frame into a client message, or raise `ProtocolError` saying what is wrong."""
    if text_data is None:
        size = len(bytes_data or b"")
        if size > MAX_MESSAGE_CHARS:
            raise ProtocolError(ErrorCode.MESSAGE_TOO_LARGE, f"Messages are at most {MAX_MESSAGE_CHARS} characters.")
        raise ProtocolError(ErrorCode.INVALID_JSON, "Messages are JSON objects sent as text frames.")
    if len(text_data) > MAX_MESSAGE_CHARS:
        raise ProtocolError(ErrorCode.MESSAGE_TOO_LARGE, f"Messages are at most {MAX_MESSAGE_CHARS} characters.")
    try:
        payload = json.loads(text_data)
    except (ValueError, RecursionError) as error:  # RecursionError: deeply nested arrays within the size limit
        raise ProtocolError(ErrorCode.INVALID_JSON, "The message is not valid JSON.") from error
    if not isinstance(payload, dict):
        raise ProtocolError(ErrorCode.INVALID_MESSAGE, 'A message is a JSON object such as {"action": "ping"}.')
    action = payload.get("action")
    if not isinstance(action, str):
        raise ProtocolError(ErrorCode.INVALID_MESSAGE, 'A message needs an "action" string.')
    if action == "ping":
        return Ping()
    if action == "subscribe":
        return Subscribe(project=_project_id(payload))
    if action == "unsubscribe":
        return Unsubscribe(project=_project_id(payload))
    if action == "resume":
        return Resume(after_seq=_after_seq(payload))
    raise ProtocolError(ErrorCode.UNKNOWN_ACTION, "The action must be one of subscribe, unsubscribe, resume or ping.")


def _project_id(payload: dict[str, Any]) -> str:
    """Projects are named by id, answered in the canonical form the server uses, whatever case the client sent."""
    value = payload.get("project")
    try:
        if isinstance(value, str):
            return str(uuid.UUID(value))
    except ValueError:
        pass
    raise ProtocolError(ErrorCode.INVALID_MESSAGE, '"project" must be a project id (a UUID string).')


def _after_seq(payload: dict[str, Any]) -> int:
    value = payload.get("after_seq")
    # bool is an int to Python, not to a client: `true` is no sequence number.
    if type(value) is not int or value < 0:
        raise ProtocolError(ErrorCode.INVALID_MESSAGE, '"after_seq" must be a non-negative integer.')
    return value
