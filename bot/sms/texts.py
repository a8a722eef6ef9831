"""Fixed SMS texts of the channel itself (keywords, privacy notice, safe fallback).

The safe fallback is the gateway's own (bot/gateway/fallback.py). They don't depend on Rasa, the action server or the database, so they work whatever is down.
National numbers only (sources: docs/sources.yml: silent-solution, ndah). All GSM-7 and checked by
tests/test_sms_segments.py. `{org_name}` comes from the organisation profile.
"""
from __future__ import annotations

# First, in a single segment: what to do in danger now.
EMERGENCY = "In danger now? Call 999. Can't speak? On a mobile call 999, listen, then press 55."

HELP = (
    "{org_name} domestic abuse text service. In danger now? Call 999. "
    "National Domestic Abuse Helpline, free, 24 hours: 0808 2000 247. "
    "Text your question in your own words, or reply with a number when you see options. "
    "Text STOP to stop all texts from us, START to begin again."
)

STARTED = (
    "You will get replies from {org_name} again. In danger now? Call 999. "
    "Text HELP for how this works, or text your question."
)

# Told once per number, gently, after the first reply.
PRIVACY = (
    "A note to keep you safe: our texts stay on your phone and someone else may read them. "
    "You can delete them: press and hold a message or the conversation, then choose Delete. "
    "You don't have to give your name."
)

ALL = {"EMERGENCY": EMERGENCY, "HELP": HELP, "STARTED": STARTED, "PRIVACY": PRIVACY}

STOP_WORDS = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT"})
HELP_WORDS = frozenset({"HELP", "INFO"})
START_WORDS = frozenset({"START", "UNSTOP"})


def keyword(body: str) -> str:
    """'stop', 'help', 'start' when the whole message is exactly one keyword (any case), else ''."""
    word = body.strip().upper()
    if word in STOP_WORDS:
        return "stop"
    if word in HELP_WORDS:
        return "help"
    if word in START_WORDS:
        return "start"
    return ""
