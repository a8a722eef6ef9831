"""Recording a concern from a third party (a friend, relative, neighbour or colleague).

Pure logic for the `concern_form` (actions/concern.py is the thin Rasa side). The form asks, with
consent first: what they are worried about; how they know the person; the person's area or address
only if the reporter chooses; whether the reporter wants a call back themselves (then the callback
booking form runs). The report is stored encrypted through the bookings repository as kind
'third_party_report' (status 'new', so it appears in the staff queue), once per form run.
Never log values.
"""
from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
from typing import Any, Dict, List, Optional, Tuple

from bot.callbacks import form as cb
from bot.callbacks import service

logger = logging.getLogger(__name__)

CONSENT = "concern_consent"
DETAILS = "concern_details"
RELATIONSHIP = "concern_relationship"
LOCATION = "concern_location"
CALLBACK = "concern_callback"
FORM_SLOTS = (CONSENT, DETAILS, RELATIONSHIP, LOCATION, CALLBACK)
DETAILS_MAX, LOCATION_MAX = 500, 200
SKIPPED = cb.SKIPPED
RELATIONSHIPS = (
    ("friend", r"\b(friend|mate|pal|bestie|bff)\b"),
    ("family", r"\b(family|relative|mum|mom|mother|dad|father|sister|brother|sis|bro|daughter|son|"
               r"aunt|auntie|uncle|cousin|niece|nephew|gran|granny|grandma|grandad|grandmother|"
               r"grandfather|grandchild|granddaughter|grandson|in-law|stepmum|stepdad|parent|child)\b"),
    ("neighbour", r"\b(neighbou?rs?|next door|upstairs|downstairs|across the (road|street)|same street|flat below|flat above)\b"),
    ("colleague", r"\b(colleague|co-?worker|work(s)? with|at work|workmate|boss|manager|employee|staff)\b"),
    ("other", r"\b(other|someone else|rather not say|prefer not|don'?t want to say|skip|none)\b"),
)

Messages = List[Tuple[str, Dict[str, Any]]]


def required_slots(slots: Dict[str, Any]) -> List[str]:
    """No to consent ends the form at once: nothing more is asked and nothing is stored."""
    if slots.get(CONSENT) is False:
        return [CONSENT]
    return list(FORM_SLOTS)


def validate(slot: str, value: Any, intent: Optional[str] = None) -> Tuple[Dict[str, Any], Messages]:
    ctx = cb.Context(intent=intent)
    if slot in (CONSENT, CALLBACK):
        answer = cb.yes_no(value, ctx)
        if answer is None:
            return {slot: None}, [("utter_concern_yes_no", {})]
        return {slot: answer}, []
    if slot == DETAILS:
        text = cb.clean_text(value)
        if cb.payload_intent(text) or len(text) < 2:
            return {DETAILS: None}, [("utter_concern_details_empty", {})]
        messages: Messages = []
        if len(text) > DETAILS_MAX:
            text = text[:DETAILS_MAX].rstrip()
            messages.append(("utter_concern_details_trimmed", {}))
        return {DETAILS: text}, messages
    if slot == RELATIONSHIP:
        text = cb.clean_text(value)
        return {RELATIONSHIP: cb.choose(text, RELATIONSHIPS) or "other"}, []
    if slot == LOCATION:
        text = cb.clean_text(value, LOCATION_MAX)
        if not text or cb.SKIP_RE.match(text) or cb.yes_no(text, ctx) is False \
                or cb.payload_intent(text) in ("deny", "skip") or intent == "deny":
            return {LOCATION: SKIPPED}, []
        return {LOCATION: text[:LOCATION_MAX]}, []
    return {slot: value}, []


def idempotency_key(sender_id: str, form_started: Optional[float], key: bytes) -> str:
    """One report per run of the form (confirming twice stores one), as an HMAC of the sender id."""
    material = f"concern:{sender_id}:{form_started or 0}".encode()
    return hmac.new(key, material, hashlib.sha256).hexdigest()


def new_report(slots: Dict[str, Any], channel: str, key: str):
    from bot.storage.bookings import NewBooking

    location = slots.get(LOCATION)
    return NewBooking(
        channel="sms" if channel == "sms" else "web",
        idempotency_key=key,
        kind="third_party_report",
        priority=0,
        note=slots.get(DETAILS),
        details={
            "third_party": True,
            "relationship": slots.get(RELATIONSHIP) or "other",
            "location": None if location in (None, SKIPPED) else location,
            "reporter_wants_callback": slots.get(CALLBACK) is True,
        },
    )


async def save(slots: Dict[str, Any], sender_id: str, form_started: Optional[float], channel: str,
               db=None, config=None) -> service.Outcome:
    """Store the report (encrypted). Never raises: a failure is Outcome('failed') and stores nothing."""
    from bot.storage.bookings import create_booking

    try:
        config = config or service.settings()
        db = db or service.engine()
        key = idempotency_key(sender_id, form_started, config.blind_index_key_bytes)
        created = await asyncio.wait_for(
            create_booking(db, new_report(slots, channel, key), config.blind_index_key_bytes),
            timeout=service.SAVE_TIMEOUT_SECONDS)
    except Exception as exc:
        logger.error("Third-party report could not be saved (%s)", type(exc).__name__)
        return service.Outcome("failed")
    logger.info("Third-party report %s (channel=%s)",
                "stored" if created.created else "already stored for this form", channel)
    return service.Outcome("created" if created.created else "duplicate", created.reference)
