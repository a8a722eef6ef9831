"""Logging for every process. No log line may hold what a person typed or their contact details.

The code never logs message text; as a second line of defence a filter masks anything that looks like
a phone number or an email address in every record, whoever wrote it.
"""
from __future__ import annotations

import logging
import re

PHONE_RE = re.compile(r"(?<![\w])(?:\+|00)?\d[\d\s().-]{8,}\d")
EMAIL_RE = re.compile(r"[\w.+-]+@[\w-]+\.[\w.-]+")


def redact(text: str) -> str:
    return EMAIL_RE.sub("[email]", PHONE_RE.sub("[number]", text))


class RedactingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:
            return True
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, ()
        return True


def configure(level: str = "INFO") -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactingFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # aiohttp's access log would record client addresses; we log method, path and status only.
    logging.getLogger("aiohttp.access").setLevel(level)
