"""The chat API: Rasa's REST channel contract at /webhooks/rest/webhook, and the quick-exit forget.

Request `{"sender", "message"}` → a list of `{"recipient_id", "text", "buttons", "custom"}`.
Whatever happens behind it, the answer is never a 500 or an empty list (see fallback.py).
"""
from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from typing import Any, Dict, List, Optional, Tuple

from aiohttp import web

from bot.gateway import keys
from bot.gateway.fallback import looks_like_danger, message, safe_fallback
from bot.gateway.rasa_client import RasaUnavailable
from bot.text_input import clean_text

logger = logging.getLogger(__name__)

MAX_MESSAGE_CHARS = 2000
MAX_BODY_BYTES = 16 * 1024
# Random tokens only: 20-128 URL-safe characters, not all digits (a phone number is not a token).
SENDER_RE = re.compile(r"[A-Za-z0-9_-]{20,128}")


class BadRequest(web.HTTPBadRequest):
    def __init__(self, reason: str, status: int = 400) -> None:
        super().__init__(text=json.dumps({"error": reason}), content_type="application/json")
        self.set_status(status, reason="Request Entity Too Large" if status == 413 else "Bad Request")


def parse_json(raw: bytes) -> Any:
    """The JSON value in a request body, or None when it is not valid UTF-8 JSON. Deep nesting
    (RecursionError) and integers too long to convert (ValueError) are bad input too."""
    try:
        return json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None


def valid_sender(value: Any) -> bool:
    return isinstance(value, str) and SENDER_RE.fullmatch(value) is not None and not value.isdigit()


async def read_turn(request: web.Request) -> Tuple[str, str]:
    if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
        raise BadRequest("message is too long (2000 characters at most)", status=413)
    raw = await request.content.read(MAX_BODY_BYTES + 1)
    if len(raw) > MAX_BODY_BYTES:
        raise BadRequest("message is too long (2000 characters at most)", status=413)
    body = parse_json(raw)
    if body is None:
        raise BadRequest("body must be JSON: {\"sender\": ..., \"message\": ...}")
    if not isinstance(body, dict):
        raise BadRequest("body must be a JSON object with sender and message")
    sender, text = body.get("sender"), body.get("message")
    if not valid_sender(sender):
        raise BadRequest("sender must be a random token of 20-128 letters, digits, - or _")
    if not isinstance(text, str):
        raise BadRequest("message must be a string")
    text = clean_text(text)
    if len(text) > MAX_MESSAGE_CHARS:
        raise BadRequest("message is too long (2000 characters at most)", status=413)
    return sender, text


def normalise(replies: List[Dict[str, Any]], sender: str) -> List[Dict[str, Any]]:
    """Every reply carries exactly the four contract keys."""
    out = []
    for reply in replies:
        if not isinstance(reply, dict):
            continue
        buttons = reply.get("buttons") or []
        out.append(message(sender, reply.get("text"), buttons if isinstance(buttons, list) else [],
                           reply.get("custom") if isinstance(reply.get("custom"), dict) else None))
    return out


def is_emergency(replies: List[Dict[str, Any]]) -> bool:
    return any((r.get("custom") or {}).get("escalation") == "emergency" for r in replies)


async def count_escalation(app: web.Application, channel: str) -> None:
    from bot.storage.escalations import record_escalation

    try:
        await record_escalation(app[keys.ENGINE], channel)
    except Exception as exc:  # the count must never delay or break the reply
        logger.warning("Could not count an escalation (%s)", type(exc).__name__)


def track_escalation(app: web.Application, replies: List[Dict[str, Any]], channel: str) -> None:
    if is_emergency(replies):
        task = asyncio.get_running_loop().create_task(count_escalation(app, channel))
        app.setdefault("_background", set()).add(task)  # keep a reference until it finishes
        task.add_done_callback(app["_background"].discard)


FORGET_MEMORY_SECONDS = 600


def _forgotten(app: web.Application) -> Dict[str, float]:
    """Senders forgotten recently (quick exit), with when. Process memory only, ids only."""
    recent = app.setdefault("_forgotten", {})
    cutoff = time.monotonic() - FORGET_MEMORY_SECONDS
    for sender in [s for s, at in recent.items() if at < cutoff]:
        del recent[sender]
    return recent


async def _forget_again(app: web.Application, sender: str) -> None:
    try:
        await app[keys.RASA].forget(sender)
    except RasaUnavailable as exc:
        logger.warning("Repeat forget could not reach Rasa: %s", exc)


async def converse(app: web.Application, sender: str, text: str, channel: str = "chat",
                   budget: Optional[float] = None) -> List[Dict[str, Any]]:
    """One turn through Rasa, or the safe fallback. Shared by the web chat and SMS. `budget`: how
    long the caller waits for Rasa (default: RASA_TIMEOUT); past it Rasa will not run or save the
    turn (bot/turn_deadline.py), since the person gets the fallback instead."""
    started = time.monotonic()
    try:
        replies = normalise(await app[keys.RASA].send(sender, text, channel=channel, budget=budget),
                            sender)
        if not replies:
            raise RasaUnavailable("Rasa returned nothing usable")
    except RasaUnavailable as exc:
        logger.warning("Safe fallback used: %s", exc)
        replies = safe_fallback(sender, looks_like_danger(app[keys.DANGER], text))
    track_escalation(app, replies, "sms" if channel == "sms" else "web")
    # A quick exit while this turn was in flight: Rasa may have re-created the tracker after the
    # forget, so forget again now that the turn is done.
    if _forgotten(app).get(sender, -1.0) >= started:
        await _forget_again(app, sender)
    return replies


async def rest_webhook(request: web.Request) -> web.Response:
    sender, text = await read_turn(request)
    return web.json_response(await converse(request.app, sender, text))


async def forget(request: web.Request) -> web.Response:
    """Quick exit: delete the conversation on the server. Called with navigator.sendBeacon, which
    posts text/plain or JSON; either carries {"sender": ...}."""
    body = parse_json(await request.content.read(1024))
    if not isinstance(body, dict):
        raise BadRequest("body must be JSON: {\"sender\": ...}")
    sender = body.get("sender")
    if not valid_sender(sender):
        raise BadRequest("sender must be a random token")
    _forgotten(request.app)[sender] = time.monotonic()
    try:
        gone = await request.app[keys.RASA].forget(sender)
    except RasaUnavailable as exc:
        logger.warning("Forget could not reach Rasa: %s", exc)
        return web.json_response({"forgotten": False}, status=503)
    if not gone:
        logger.error("Forget: Rasa still reports the conversation after deleting it")
        return web.json_response({"forgotten": False}, status=500)
    return web.json_response({"forgotten": True})


def setup(app: web.Application) -> None:
    app.router.add_post("/webhooks/rest/webhook", rest_webhook)
    app.router.add_post("/api/forget", forget)
