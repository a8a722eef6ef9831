"""Outbound SMS (for example a text before a callback, if the person agreed to one).

With Twilio credentials the message is sent through Twilio's REST API with a status callback; without
them (offline mode: `make run`, the tests) the send is recorded instead, and nothing leaves the
machine. Either way the record holds the recipient's HMAC, the length and the segment count: never
the number or the body. Opted-out numbers get nothing ("blocked").
"""
from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Optional

from sqlalchemy.ext.asyncio import AsyncEngine

from bot.settings import Settings
from bot.sms import gsm, store

logger = logging.getLogger(__name__)

STATUS_PATH = "/webhooks/twilio/status"


class SmsRefused(ValueError):
    """The text is not GSM-7 or is longer than 3 segments."""


@dataclass(frozen=True)
class Outcome:
    status: str  # "recorded" (offline), "sent", "blocked" (opted out) or "failed"
    segments: int


class SmsSender:
    def __init__(self, settings: Settings, engine: AsyncEngine, client: Optional[object] = None) -> None:
        self.settings = settings
        self.engine = engine
        self._client = client

    @property
    def offline(self) -> bool:
        return self.settings.twilio_offline or not self.settings.twilio_from_number

    def client(self) -> object:
        if self._client is None:
            from twilio.rest import Client

            self._client = Client(self.settings.twilio_account_sid, self.settings.twilio_auth_token)
        return self._client

    async def send(self, to_number: str, body: str, purpose: str = "message") -> Outcome:
        body = gsm.to_gsm7(body)
        checked = gsm.check(body)
        if not checked.ok:
            raise SmsRefused(checked.reason())
        number = store.number_hash(self.settings.sender_hash_key_bytes, to_number)
        if await store.is_opted_out(self.engine, number):
            status = "blocked"
        elif self.offline:
            status = "recorded"
        else:
            status = await self._send(store.e164(to_number), body)
        await store.record_outbound(self.engine, number, status, checked.septets, checked.segments, purpose)
        return Outcome(status, checked.segments)

    async def _send(self, to: str, body: str) -> str:
        callback = (self.settings.public_base_url + STATUS_PATH) if self.settings.public_base_url else None
        kwargs = dict(to=to, from_=self.settings.twilio_from_number, body=body)
        if callback:
            kwargs["status_callback"] = callback
        try:
            await asyncio.get_running_loop().run_in_executor(
                None, lambda: self.client().messages.create(**kwargs))
            return "sent"
        except Exception as exc:  # the Twilio error text can hold the number: log the type and code only
            logger.warning("Outbound SMS failed (%s, code %s)", type(exc).__name__, getattr(exc, "code", None))
            return "failed"
