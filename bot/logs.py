"""Logging for every process. No log line may hold what a person typed or their contact details.

The code never logs message text. As further lines of defence, in every process that calls
`configure()` or `install_record_factory()` (the gateway, Rasa through bot.rasa_main, the action
server):

- every log record, whoever wrote it and whichever handler prints it, has anything that looks like
  a phone number or an email address masked (`redact`);
- an exception attached to a record (`logger.exception`, `exc_info=True`) is printed as its types
  and places only (file, line, function): never the exception's message, which can quote a
  person's words, and never a frame's local variables;
- an uncaught exception is printed the same way (`sys.excepthook`).
"""
from __future__ import annotations

import logging
import re
import sys
import traceback
from types import TracebackType
from typing import Any, Optional, Tuple, Type, Union

PHONE_RE = re.compile(r"(?<![\w])(?:\+|00)?\d[\d\s().-]{8,}\d")
EMAIL_RE = re.compile(r"[\w.+-]+@[\w-]+\.[\w.-]+")
ACCESS_LOGGER = "aiohttp.access"  # bot.gateway.access_log writes it already cleaned

ExcInfo = Tuple[Optional[Type[BaseException]], Optional[BaseException], Optional[TracebackType]]


def redact(text: str) -> str:
    return EMAIL_RE.sub("[email]", PHONE_RE.sub("[number]", text))


def safe_traceback(exc: Union[BaseException, ExcInfo, None]) -> str:
    """An exception as its chain of types and the places they were raised: no messages, no locals."""
    if isinstance(exc, tuple):
        exc = exc[1]
    if exc is None:
        return ""
    lines, seen = [], set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        frames = traceback.extract_tb(exc.__traceback__, limit=30)
        lines.append(f"{type(exc).__module__}.{type(exc).__qualname__} (message not logged)")
        lines.extend(f"  at {f.filename}:{f.lineno} in {f.name}" for f in frames)
        exc = exc.__cause__ or (None if exc.__suppress_context__ else exc.__context__)
        if exc is not None:
            lines.append("while handling:")
    return "\n".join(lines)


def clean_record(record: logging.LogRecord) -> logging.LogRecord:
    """Mask numbers and emails in the message, and replace an attached exception by its types and
    places. Idempotent."""
    if getattr(record, "_cleaned", False):
        return record
    record._cleaned = True  # type: ignore[attr-defined]
    if record.name == ACCESS_LOGGER:
        return record
    try:
        message = record.getMessage()
    except Exception:  # a broken format string: keep only where it came from
        message = f"(unprintable log message from {record.name})"
    if record.exc_info:
        message = f"{message}\n{safe_traceback(record.exc_info)}"
        record.exc_info, record.exc_text = None, None
    record.msg, record.args = redact(message), ()
    return record


class RedactingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        clean_record(record)
        return True


def _safe_excepthook(kind: Type[BaseException], value: BaseException, tb: Optional[TracebackType]) -> None:
    if value is not None and value.__traceback__ is None:
        value = value.with_traceback(tb)
    print(f"Uncaught exception:\n{safe_traceback(value)}", file=sys.stderr)


def install_record_factory() -> None:
    """Clean every record when it is made, so handlers we never see (Sanic's, Rasa's, libraries')
    print only cleaned records. Idempotent."""
    previous = logging.getLogRecordFactory()
    if getattr(previous, "_cleaning", False):
        return

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        return clean_record(previous(*args, **kwargs))

    factory._cleaning = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(factory)
    sys.excepthook = _safe_excepthook


def configure(level: str = "INFO") -> None:
    install_record_factory()
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactingFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # aiohttp's access log would record client addresses; we log method, path and status only.
    logging.getLogger(ACCESS_LOGGER).setLevel(level)
