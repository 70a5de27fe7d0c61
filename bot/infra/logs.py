"""Structured logs with a request id, and masking of mobile numbers and secrets.

Masking happens in a filter on the root handler, so no module can forget it: an 11-digit mobile
number becomes ``138****5678``; any configured secret (token, AppSecret, AES keys, admin token) becomes
``***``.
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
import secrets
import sys
from typing import Any

request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")

_MOBILE = re.compile(r"(?<!\d)(1\d{2})\d{4}(\d{4})(?!\d)")


def new_request_id() -> str:
    return secrets.token_hex(6)


def mask_mobiles(text: str) -> str:
    return _MOBILE.sub(r"\1****\2", text)


class MaskingFilter(logging.Filter):
    def __init__(self, secrets_to_hide: list[str]) -> None:
        super().__init__()
        self.secrets = [value for value in secrets_to_hide if value and len(value) >= 4]

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        for value in self.secrets:
            message = message.replace(value, "***")
        record.msg, record.args = mask_mobiles(message), None
        record.request_id = request_id.get()
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
            "level": record.levelname,
            "logger": record.name,
            "request_id": getattr(record, "request_id", "-"),
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["traceback"] = mask_mobiles(self.formatException(record.exc_info))
        return json.dumps(entry, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s [%(request_id)s] %(name)s: %(message)s")

    def formatException(self, ei: Any) -> str:
        return mask_mobiles(super().formatException(ei))


def configure_logging(
    level: str = "INFO", *, json_format: bool = False, secrets_to_hide: list[str] | None = None
) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if json_format else TextFormatter())
    handler.addFilter(MaskingFilter(secrets_to_hide or []))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    # aiohttp's access log duplicates ours and, at thousands of requests a second, costs real time.
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
