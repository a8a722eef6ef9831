"""A turn the person was told had failed must not change their conversation afterwards.

The gateway gives Rasa a deadline with each turn (the `X-Turn-Deadline` header, seconds since the
epoch): when it passes, the gateway has already answered with its safe fallback. Our input
channels (bot/rasa_channels.py) hold the deadline for the turn, and our tracker stores
(bot/rasa_trackers.py) refuse to start a turn whose deadline has passed (it may have waited behind
the conversation's lock) and do not save one that finished too late, so the conversation stays as
the person last saw it. An action the action server already ran for that late turn is not undone
(see README, Security).
"""
from __future__ import annotations

import math
import time
from contextvars import ContextVar, Token
from typing import Optional

HEADER = "X-Turn-Deadline"
# A deadline further ahead than this is not one the gateway sent (it waits 10 s by default).
MAX_AHEAD_SECONDS = 300.0

_deadline: ContextVar[Optional[float]] = ContextVar("turn_deadline", default=None)


class TurnExpired(Exception):
    """The gateway has stopped waiting for this turn."""


def parse(value: Optional[str], now: Optional[float] = None) -> Optional[float]:
    """The header's deadline, or None when it is missing or not a plausible time."""
    if not value or len(value) > 32:
        return None
    try:
        deadline = float(value)
    except ValueError:
        return None
    now = time.time() if now is None else now
    if not math.isfinite(deadline) or deadline > now + MAX_AHEAD_SECONDS:
        return None
    return deadline


def start(deadline: Optional[float]) -> Token:
    return _deadline.set(deadline)


def finish(token: Token) -> None:
    _deadline.reset(token)


def expired_at(deadline: float, now: Optional[float] = None) -> bool:
    return (time.time() if now is None else now) > deadline


def expired(now: Optional[float] = None) -> bool:
    deadline = _deadline.get()
    return deadline is not None and expired_at(deadline, now)


def check() -> None:
    if expired():
        raise TurnExpired()
