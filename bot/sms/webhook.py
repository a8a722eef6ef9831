"""Twilio webhooks on the gateway.

- `POST /webhooks/twilio`: an incoming SMS → one turn through Rasa's `sms` channel → TwiML reply.
- `POST /webhooks/twilio/status`: delivery status callbacks; failures are counted by error code.

Both check `X-Twilio-Signature` with Twilio's RequestValidator against PUBLIC_BASE_URL plus the path
(TLS ends at a proxy, so the URL the request arrived on is not the one Twilio signed), over every
form field as received. A missing or wrong signature gets 403 and never reaches the bot.

The conversation is keyed by an HMAC of the number (store.number_hash); the number itself never
becomes a sender id and is never logged or stored. Without TWILIO_AUTH_TOKEN (development only: the
production check refuses to start without it) requests must be signed with a development token
derived from SENDER_HASH_KEY; `python -m bot.sms.simulate` does that for local testing.
"""
from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
from typing import AsyncIterator, List, Optional

from aiohttp import web
from multidict import MultiDictProxy
from twilio.request_validator import RequestValidator
from twilio.twiml.messaging_response import MessagingResponse

from bot.gateway import keys
from bot.gateway.chat import MAX_MESSAGE_CHARS, converse, track_escalation
from bot.gateway.fallback import looks_like_danger, safe_fallback
from bot.sms import store, texts
from bot.sms.render import plain, render
from bot.sms.sender import STATUS_PATH, SmsSender
from bot.text_input import clean_text

logger = logging.getLogger(__name__)

INCOMING_PATH = "/webhooks/twilio"
# Twilio gives up after 15 seconds. The whole turn must answer well inside that.
DEADLINE = 11.0
BOT_BUDGET = 9.0
FAILED_STATUSES = {"failed", "undelivered"}

SENDER = web.AppKey("sms_sender", SmsSender)


class Forbidden(web.HTTPForbidden):
    def __init__(self) -> None:
        super().__init__(text="forbidden")


def auth_token(settings) -> str:
    """The Twilio auth token, or in development without one a token derived from SENDER_HASH_KEY."""
    if settings.twilio_auth_token:
        return settings.twilio_auth_token
    return hmac.new(settings.sender_hash_key_bytes, b"twilio-development-auth-token",
                    hashlib.sha256).hexdigest()[:32]


def public_base(settings) -> str:
    return settings.public_base_url or f"http://{settings.host}:{settings.port}"


def signed_url(settings, request: web.Request) -> str:
    return public_base(settings) + request.raw_path


async def verified_form(request: web.Request) -> MultiDictProxy:
    """The form fields, if and only if Twilio's signature over them is right (403 otherwise)."""
    signature = request.headers.get("X-Twilio-Signature")
    if not signature:
        raise Forbidden()
    try:
        form = await request.post()
    except web.HTTPException:
        raise
    except Exception:  # malformed body of any kind: it can't carry a valid signature anyway
        raise Forbidden() from None
    if any(not isinstance(v, str) for v in form.values()):  # file uploads are never Twilio's
        raise Forbidden()
    settings = request.app[keys.SETTINGS]
    try:
        valid = RequestValidator(auth_token(settings)).validate(signed_url(settings, request), form, signature)
    except Exception:
        valid = False
    if not valid:
        logger.warning("Twilio webhook refused: bad signature")
        raise Forbidden()
    return form


def twiml(messages: List[str]) -> web.Response:
    response = MessagingResponse()
    for body in messages:
        response.message(plain(body))  # GSM-7, no control characters (they are not valid XML)
    return web.Response(text=str(response), content_type="application/xml")


def profile_values(app: web.Application) -> dict:
    try:
        return app[keys.PROFILE].get().slots()
    except Exception:
        return {}


def fill(template: str, app: web.Application) -> str:
    values = {"org_name": "This"}
    values.update(profile_values(app))
    try:
        return template.format(**values)
    except (KeyError, IndexError, ValueError):
        return template.replace("{org_name}", values["org_name"])


async def quietly(what: str, coro, default=None):
    """Run a store call; a database problem must never stop the reply (or leak details)."""
    try:
        return await coro
    except Exception as exc:
        logger.warning("SMS store: %s failed (%s)", what, type(exc).__name__)
        return default


async def bot_turn(app: web.Application, number: str, text: str, original: str) -> List[dict]:
    try:
        return await asyncio.wait_for(converse(app, number, text, channel="sms", budget=BOT_BUDGET - 0.5),
                                      BOT_BUDGET)
    except asyncio.TimeoutError:
        logger.warning("Safe fallback used: the SMS turn ran out of time")
        replies = safe_fallback(number, looks_like_danger(app[keys.DANGER], original))
        track_escalation(app, replies, "sms")
        return replies


async def handle(app: web.Application, number: str, sid: str, body: str) -> web.Response:
    engine = app[keys.ENGINE]
    key = app[keys.SETTINGS].sender_hash_key_bytes
    # Insert first: a retry or a concurrent duplicate of the same MessageSid loses here.
    if not await quietly("dedupe", store.claim_message(engine, store.sid_hash(key, sid)), default=True):
        return twiml([])
    word = texts.keyword(body)
    if word == "stop":
        await quietly("opt-out", store.opt_out(engine, number))
        return twiml([])
    if word == "help":
        return twiml([fill(texts.HELP, app)])
    if word == "start":
        await quietly("opt-in", store.opt_in(engine, number))
        return twiml([fill(texts.STARTED, app)])
    if await quietly("opt-out check", store.is_opted_out(engine, number), default=False):
        return twiml([])
    payload = await quietly("choices", store.choice(engine, number, body))
    replies = await bot_turn(app, number, payload or body, body)
    extra = [texts.PRIVACY] if await quietly("notice", store.first_notice(engine, number), default=False) else []
    rendered = render(replies, extra)
    await quietly("choices", store.save_choices(engine, number, rendered.choices))
    return twiml(rendered.messages)


async def incoming(request: web.Request) -> web.Response:
    form = await verified_form(request)
    sid = form.get("MessageSid") or form.get("SmsSid") or ""
    sender = form.get("From") or ""
    if not sid or not sender:
        return web.Response(status=400, text="MessageSid and From are required")
    body = clean_text(form.get("Body") or "")[:MAX_MESSAGE_CHARS]
    app = request.app
    number = store.number_hash(app[keys.SETTINGS].sender_hash_key_bytes, sender)
    try:
        return await asyncio.wait_for(handle(app, number, sid, body), DEADLINE)
    except Exception as exc:  # including the overall timeout: the reply is always the safe one
        logger.warning("SMS safe fallback (%s)", type(exc).__name__)
        if texts.keyword(body) == "stop":
            return twiml([])
        danger = looks_like_danger(app[keys.DANGER], body)
        return twiml(render(safe_fallback(number, danger)).messages)


def error_code(value: Optional[str]) -> str:
    value = (value or "").strip()
    return value if value.isdigit() and len(value) <= 10 else ("none" if not value else "other")


async def status_callback(request: web.Request) -> web.Response:
    form = await verified_form(request)
    if (form.get("MessageStatus") or form.get("SmsStatus") or "").lower() in FAILED_STATUSES:
        await quietly("delivery failure", store.record_delivery_failure(
            request.app[keys.ENGINE], error_code(form.get("ErrorCode"))))
    return web.Response(status=204)


async def sms_context(app: web.Application) -> AsyncIterator[None]:
    """The outbound sender, and a periodic purge of expired MessageSids and choices."""
    settings = app[keys.SETTINGS]
    app[SENDER] = SmsSender(settings, app[keys.ENGINE])
    if settings.twilio_offline:
        logger.info("SMS channel offline: replies are TwiML only, outbound sends are recorded, not sent")

    async def purge_loop() -> None:
        while True:
            await quietly("purge", store.purge(app[keys.ENGINE]))
            await asyncio.sleep(settings.purge_interval_seconds)

    task = asyncio.get_running_loop().create_task(purge_loop())
    yield
    task.cancel()
    try:
        await task
    except asyncio.CancelledError:
        pass


def setup(app: web.Application) -> None:
    app.router.add_post(INCOMING_PATH, incoming)
    app.router.add_post(STATUS_PATH, status_callback)
    app.cleanup_ctx.append(sms_context)
