"""One JSON object per log line, so that request and job logs can be searched by field."""

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


class RedactTokensFilter(logging.Filter):
    """WebSocket clients pass their JWT as `?token=`; servers log that query string. Never keep it."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "token=" in message:
            record.msg, record.args = _TOKEN_IN_TEXT.sub(r"\1[redacted]", message), None
        return True
