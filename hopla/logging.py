"""Log lines with fields: JSON for machines (production), `key=value` text for people (development)."""

import json
import logging
import re
from datetime import UTC, datetime
from typing import Any


class JSONFormatter(logging.Formatter):
    """Formats a record as JSON; fields passed as `extra={"fields": {...}}` become top-level keys."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "at": datetime.fromtimestamp(record.created, tz=UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        line.update(getattr(record, "fields", {}))
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


_TOKEN_IN_TEXT = re.compile(r"(token=)[^&\s\"']+")


class TextFormatter(logging.Formatter):
    """`12:00:01 INFO hopla.request GET /api/v1/tickets/ 200 duration_ms=12.5 request_id=...`."""

    def format(self, record: logging.LogRecord) -> str:
        at = datetime.fromtimestamp(record.created, tz=UTC).strftime("%H:%M:%S")
        fields = getattr(record, "fields", {})
        shown = " ".join(f"{key}={value}" for key, value in fields.items() if value is not None)
        line = f"{at} {record.levelname} {record.name} {record.getMessage()}" + (f" {shown}" if shown else "")
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


class RedactTokensFilter(logging.Filter):
    """WebSocket clients pass their JWT as `?token=`; servers log that query string. Never keep it."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "token=" in message:
            record.msg, record.args = _TOKEN_IN_TEXT.sub(r"\1[redacted]", message), None
        return True
