"""Saving a confirmed booking from the action server, and what to tell the person.

The action server creates its own engine lazily from settings (and configures the encryption keys).
One transaction per booking; the idempotency key is per conversation session, so confirming twice
creates one booking. On any storage failure nothing is stored and the person is told honestly.

Before anything is stored the booking is checked again (`form.check_for_saving`), whoever called:
the action server's token keeps strangers out, and this keeps out anything that did not come through
the form's validators. A refused booking stores nothing and logs only which checks failed.
"""
from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import hmac
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Optional, Tuple

from bot.callbacks import form

logger = logging.getLogger(__name__)

_state: Dict[str, Any] = {}
SAVE_TIMEOUT_SECONDS = 10.0


def settings():
    if "settings" not in _state:
        from bot.settings import load_settings
        from bot.storage import crypto

        _state["settings"] = load_settings()
        crypto.configure_from_settings(_state["settings"])
    return _state["settings"]


def profile(config=None):
    """The organisation profile of `config` (default: these settings), reloaded when it changes."""
    from bot.profile import ProfileCache

    path = Path((config or settings()).profile_path)
    cache = _state.get("profile")
    if cache is None or cache.path != path:
        cache = _state["profile"] = ProfileCache(path)
    return cache.get()


def engine():
    if "engine" not in _state:
        from bot.storage.db import create_engine

        _state["engine"] = create_engine(settings().database_url)
    return _state["engine"]


def reset() -> None:
    """Forget the cached settings, profile and engine (tests)."""
    _state.clear()


def idempotency_key(sender_id: str, session_started: Optional[float], key: bytes) -> str:
    """One booking per conversation session: an HMAC, so the sender id itself is not stored."""
    material = f"callback:{sender_id}:{session_started or 0}".encode()
    return hmac.new(key, material, hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class Outcome:
    status: str  # 'created', 'duplicate', 'failed' (storage) or 'refused' (the check at saving)
    reference: Optional[str] = None
    problems: Tuple[str, ...] = ()  # why it was refused: names of checks, never values


def new_booking(slots: Dict[str, Any], channel: str, key: str, tz: str):
    from bot.storage.bookings import NewBooking

    windows = []
    for value in slots.get(form.TIMES) or []:
        w = form.times.Window.from_slot(value)
        windows.append((w.start.astimezone(dt.timezone.utc), w.end.astimezone(dt.timezone.utc),
                        value.get("tz") or tz))
    note = slots.get(form.NOTE)
    return NewBooking(
        channel="sms" if channel == "sms" else "web",
        idempotency_key=key,
        kind="callback",
        priority=form.priority(slots),
        name=slots.get(form.NAME),
        phone_e164=slots.get(form.PHONE),
        note=None if note in (None, form.SKIPPED) else note,
        voicemail_wording=slots.get(form.WORDING) if slots.get(form.VOICEMAIL) else None,
        cover_story=slots.get(form.COVER) if slots.get(form.OTHER) == "cover" else None,
        details=form.booking_details(slots),
        windows=windows,
    )


def check(slots: Dict[str, Any], config=None, tz: Optional[str] = None, org_profile=None,
          now: Optional[dt.datetime] = None):
    """(problems, slots to store): `form.check_for_saving` with the profile's hours and the time now
    (`tz`: the profile's timezone unless given)."""
    org_profile = org_profile or profile(config)
    ctx = form.Context(profile=org_profile, tz=tz or org_profile.timezone,
                       now=now or dt.datetime.now(dt.timezone.utc))
    return form.check_for_saving(slots, ctx)


async def save(slots: Dict[str, Any], sender_id: str, session_started: Optional[float], channel: str,
               db=None, config=None, tz: Optional[str] = None, org_profile=None,
               now: Optional[dt.datetime] = None) -> Outcome:
    """Check the booking again, then store it. Never raises: a booking that fails the check is
    Outcome('refused', problems=...) and a storage failure Outcome('failed'); neither stores anything.
    Windows that ended while the person was answering are left out; if none is left the problems are
    ('times_passed',)."""
    from bot.storage.bookings import create_booking

    try:
        config = config or settings()
        org_profile = org_profile or profile(config)
        tz = tz or org_profile.timezone
    except Exception as exc:  # bad keys or profile: say so honestly, store nothing
        logger.error("Callback booking could not be saved (%s)", type(exc).__name__)
        return Outcome("failed")
    try:
        problems, slots = check(slots, config, tz, org_profile, now)
    except Exception as exc:  # a value of a type nothing expected: refuse it, never store it
        logger.warning("Callback booking refused: unreadable answers (%s); nothing stored", type(exc).__name__)
        return Outcome("refused", problems=("unreadable",))
    if problems:
        logger.warning("Callback booking refused: %s; nothing stored", ", ".join(problems))
        return Outcome("refused", problems=tuple(problems))
    try:
        db = db or engine()
        key = idempotency_key(sender_id, session_started, config.blind_index_key_bytes)
        data = new_booking(slots, channel, key, tz)
        created = await asyncio.wait_for(
            create_booking(db, data, config.blind_index_key_bytes), timeout=SAVE_TIMEOUT_SECONDS)
    except Exception as exc:  # database down, timeout, bad keys: say so honestly, store nothing
        logger.error("Callback booking could not be saved (%s)", type(exc).__name__)
        return Outcome("failed")
    logger.info("Callback booking %s (channel=%s, priority=%d)",
                "stored" if created.created else "already stored for this conversation",
                data.channel, data.priority)
    return Outcome("created" if created.created else "duplicate", created.reference)
