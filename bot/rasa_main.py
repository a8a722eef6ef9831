"""`python -m bot.rasa_main run ...`: the `rasa` command, with no message text in its logs.

Rasa 3.6 logs some events through structlog with what the person typed in them: for example
`rest.message.received.timeout` at ERROR, with the message text, when a turn is cancelled because
the gateway gave up waiting. Its own anonymiser does nothing without Rasa Pro's plugin. So before
Rasa starts, every structlog configuration gets our processor in front, which replaces the values
of the keys Rasa lists as anonymisable (and a few more) with "[redacted]", at any depth, and masks
numbers and emails in every other string. Exceptions are rendered as their types and places only:
Rasa's JSON logs would otherwise carry every stack frame's local variables (structlog's
`dict_tracebacks` shows locals), and its console renderer prints them too. Standard logging records
are cleaned the same way as in our own processes (bot/logs.py).
"""
from __future__ import annotations

import logging
import os
import sys
from typing import Any, Dict, List

import structlog

from bot.logs import RedactingFilter, install_record_factory, redact, safe_traceback

# rasa.utils.log_utils._anonymizer's list (Rasa 3.6), plus the parse results and message ids.
SENSITIVE_KEYS = frozenset({
    "text", "response_text", "user_text", "slot_values", "parse_data_text", "parse_data_entities",
    "prediction_events", "tracker_latest_message", "prefilled_slots", "message", "response",
    "slot_candidates", "rasa_event", "rasa_events", "tracker_states", "current_states",
    "old_states", "successes", "current_entity", "next_entity", "states", "entity", "token_text",
    "user_message", "json_message", "parse_data", "events", "tracker", "slots", "metadata",
    "sender_id", "conversation_id",
})
REDACTED = "[redacted]"


def scrub(value: Any, depth: int = 0) -> Any:
    """A copy of a log value with sensitive keys redacted and strings masked, at any depth."""
    if depth > 20:
        return REDACTED
    if isinstance(value, dict):
        return {k: REDACTED if k in SENSITIVE_KEYS or k == "locals" else scrub(v, depth + 1)
                for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [scrub(v, depth + 1) for v in value]
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, (int, float, bool)) or value is None:
        return value
    return REDACTED  # objects (trackers, messages, events) may print what someone typed


def redact_event(_: Any, __: str, event_dict: Dict[str, Any]) -> Dict[str, Any]:
    for key in list(event_dict):
        if key in ("exc_info", "stack_info"):
            continue
        event_dict[key] = REDACTED if key in SENSITIVE_KEYS else scrub(event_dict[key])
    return event_dict


def safe_exception(_: Any, __: str, event_dict: Dict[str, Any]) -> Dict[str, Any]:
    """Replace exc_info (and any rendered exception) with the exception's types and places."""
    exc_info = event_dict.pop("exc_info", None)
    event_dict.pop("exception", None)
    if exc_info:
        if exc_info is True:
            exc_info = sys.exc_info()
        event_dict["exception"] = safe_traceback(exc_info)
    return event_dict


def _processors(processors: List[Any]) -> List[Any]:
    """Ours first; exception rendering replaced by safe_exception just before the renderer."""
    rest = [p for p in processors
            if p is not redact_event and p is not safe_exception
            and not isinstance(p, structlog.processors.ExceptionRenderer)]
    renderer = rest[-1:] if rest else []
    return [redact_event] + rest[:-1] + [safe_exception] + renderer


def install() -> None:
    """Put `redact_event` first in every later structlog configuration (idempotent)."""
    if getattr(structlog.configure, "_redacting", False):
        return
    original = structlog.configure

    def configure(*args: Any, **kwargs: Any) -> None:
        processors = kwargs.get("processors")
        if processors is not None:
            kwargs["processors"] = _processors(list(processors))
        original(*args, **kwargs)
        for handler in logging.getLogger().handlers:
            if not any(isinstance(f, RedactingFilter) for f in handler.filters):
                handler.addFilter(RedactingFilter())

    install_record_factory()
    configure._redacting = True  # type: ignore[attr-defined]
    structlog.configure = configure
    # Rasa may already have been configured in this process (tests): apply it now too.
    current = structlog.get_config().get("processors") or []
    if redact_event not in current or safe_exception not in current:
        structlog.configure(processors=list(current))


# Sanic refuses larger bodies before reading them (its default is 100 MB). The gateway's own limit
# is 16 KiB; the token-checked channels (bot/rasa_channels.py) allow no more.
REQUEST_MAX_SIZE = 64 * 1024


def main() -> None:
    # Sanic reads SANIC_* settings from the environment when Rasa creates its app.
    os.environ["SANIC_REQUEST_MAX_SIZE"] = str(REQUEST_MAX_SIZE)
    install()
    from rasa.__main__ import main as rasa_main

    sys.argv[0] = "rasa"
    rasa_main()


if __name__ == "__main__":
    main()
