"""Input channels that the Rasa server loads from credentials.yml.

- `SmsInput` ("sms"): the gateway forwards SMS turns here so that responses can carry SMS-specific
  variations (`channel: sms` in domain/). The sender id is already an HMAC of the number.
- `ForgetInput` ("forget"): deletes a conversation's tracker when someone uses the quick exit.

Both require the shared `GATEWAY_TOKEN` in the `X-Gateway-Token` header; the Rasa server listens on
loopback (or a private network) only, and only the gateway knows the token.
"""
from __future__ import annotations

import hmac
import logging
import re
from typing import Any, Awaitable, Callable, Dict, Optional, Text

from rasa.core.channels.channel import CollectingOutputChannel, InputChannel, UserMessage
from rasa.core.channels.rest import RestInput
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

logger = logging.getLogger(__name__)

SENDER_RE = re.compile(r"^[A-Za-z0-9_-]{16,128}$")


def _token() -> str:
    from bot.settings import load_settings

    return load_settings().gateway_token


def _authorised(request: Request, token: str) -> bool:
    given = request.headers.get("X-Gateway-Token", "")
    return bool(token) and hmac.compare_digest(given.encode(), token.encode())


class SmsOutputChannel(CollectingOutputChannel):
    @classmethod
    def name(cls) -> Text:
        return "sms"


class SmsInput(RestInput):
    @classmethod
    def name(cls) -> Text:
        return "sms"

    def __init__(self, token: Optional[str] = None) -> None:
        self.token = token or _token()

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> InputChannel:
        return cls((credentials or {}).get("token"))

    def get_output_channel(self) -> CollectingOutputChannel:
        return SmsOutputChannel()

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[None]]) -> Blueprint:
        bp = Blueprint("sms_webhook", __name__)

        @bp.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            if not _authorised(request, self.token):
                return response.json({"error": "forbidden"}, status=403)
            body = request.json or {}
            sender, text = body.get("sender"), body.get("message")
            if not isinstance(sender, str) or not SENDER_RE.match(sender) or not isinstance(text, str):
                return response.json({"error": "sender and message are required"}, status=400)
            collector = SmsOutputChannel()
            await on_new_message(
                UserMessage(text, collector, sender, input_channel=self.name(), metadata={})
            )
            return response.json(collector.messages)

        return bp


async def delete_tracker(tracker_store: Any, sender_id: str) -> None:
    """Delete every stored event of one conversation, whichever tracker store is configured."""
    store = getattr(tracker_store, "_tracker_store", tracker_store)  # unwrap AwaitableTrackerStore
    kind = type(store).__name__
    if hasattr(store, "red"):  # RedisTrackerStore
        store.red.delete(store.key_prefix + sender_id)
    elif hasattr(store, "store") and isinstance(store.store, dict):  # InMemoryTrackerStore
        store.store.pop(sender_id, None)
    elif kind == "SQLTrackerStore":
        from sqlalchemy import delete

        with store.session_scope() as session:
            session.execute(
                delete(store.SQLEvent).where(store.SQLEvent.sender_id == sender_id)
            )
            session.commit()
    else:
        raise NotImplementedError(f"cannot delete from {kind}")


class ForgetInput(InputChannel):
    @classmethod
    def name(cls) -> Text:
        return "forget"

    def __init__(self, token: Optional[str] = None) -> None:
        self.token = token or _token()

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> InputChannel:
        return cls((credentials or {}).get("token"))

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[None]]) -> Blueprint:
        bp = Blueprint("forget_webhook", __name__)

        @bp.route("/webhook", methods=["POST"])
        async def forget(request: Request) -> HTTPResponse:
            if not _authorised(request, self.token):
                return response.json({"error": "forbidden"}, status=403)
            sender = (request.json or {}).get("sender")
            if not isinstance(sender, str) or not SENDER_RE.match(sender):
                return response.json({"error": "sender is required"}, status=400)
            agent = request.app.ctx.agent
            await delete_tracker(agent.tracker_store, sender)
            exists = await agent.tracker_store.exists(sender) if hasattr(
                agent.tracker_store, "exists"
            ) else False
            logger.info("Conversation forgotten at the person's request")
            return response.json({"forgotten": True, "exists": bool(exists)})

        return bp
