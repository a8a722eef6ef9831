"""`python -m bot.rasa_main run ...`: the `rasa` command, with no message text in its logs.

Rasa 3.6 logs some events through structlog with what the person typed in them: for example
`rest.message.received.timeout` at ERROR, with the message text, when a turn is cancelled because
the gateway gave up waiting. Its own anonymiser does nothing without Rasa Pro's plugin. So before
Rasa starts, every structlog configuration gets our processor in front, which replaces the values
of the keys Rasa lists as anonymisable (and a few more) with "[redacted]", and the standard
logging handlers get the same phone/email filter as our own processes (bot/logs.py).
"""
from __future__ import annotations

import logging
import sys
from typing import Any, Dict

import structlog

from bot.logs import RedactingFilter, redact

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


def redact_event(_: Any, __: str, event_dict: Dict[str, Any]) -> Dict[str, Any]:
    for key in SENSITIVE_KEYS & event_dict.keys():
        event_dict[key] = REDACTED
    event = event_dict.get("event")
    if isinstance(event, str):
        event_dict["event"] = redact(event)
    return event_dict


def install() -> None:
    """Put `redact_event` first in every later structlog configuration (idempotent)."""
    if getattr(structlog.configure, "_redacting", False):
        return
    original = structlog.configure

    def configure(*args: Any, **kwargs: Any) -> None:
        processors = kwargs.get("processors")
        if processors is not None:
            kwargs["processors"] = [redact_event] + [p for p in processors if p is not redact_event]
        original(*args, **kwargs)
        for handler in logging.getLogger().handlers:
            if not any(isinstance(f, RedactingFilter) for f in handler.filters):
                handler.addFilter(RedactingFilter())

    configure._redacting = True  # type: ignore[attr-defined]
    structlog.configure = configure
    # Rasa may already have been configured in this process (tests): apply it now too.
    current = structlog.get_config().get("processors") or []
    if redact_event not in current:
        structlog.configure(processors=list(current))


def main() -> None:
    install()
    from rasa.__main__ import main as rasa_main

    sys.argv[0] = "rasa"
    rasa_main()


if __name__ == "__main__":
    main()
