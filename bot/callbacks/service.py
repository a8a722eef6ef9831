"""Saving a confirmed booking from the action server, and what to tell the person.

The action server creates its own engine lazily from settings (and configures the encryption keys).
One transaction per booking; the idempotency key is per conversation session, so confirming twice
creates one booking. On any storage failure nothing is stored and the person is told honestly.
"""
from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import hmac
import logging
from dataclasses import dataclass
from typing import Any, Dict, Optional

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


def profile():
    if "profile" not in _state:
        from bot.profile import ProfileCache

        _state["profile"] = ProfileCache(settings().profile_path)
    return _state["profile"].get()


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
    status: str  # 'created', 'duplicate' or 'failed'
    reference: Optional[str] = None


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


async def save(slots: Dict[str, Any], sender_id: str, session_started: Optional[float], channel: str,
               db=None, config=None, tz: str = "Europe/London") -> Outcome:
    """Store the booking. Never raises: a failure is reported as Outcome('failed')."""
    from bot.storage.bookings import create_booking

    try:
        config = config or settings()
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
