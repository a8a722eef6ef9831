"""Input channels that the Rasa server loads from credentials.yml. Rasa's own REST channel is not
enabled: it takes any sender and any size from anyone who can reach the port.

- `ChatInput` ("chat"): web chat turns from the gateway, with Rasa's REST reply format.
- `SmsInput` ("sms"): the gateway forwards SMS turns here so that responses can carry SMS-specific
  variations (`channel: sms` in domain/). The sender id is already an HMAC of the number.
- `ForgetInput` ("forget"): deletes a conversation's tracker when someone uses the quick exit.

All three require the shared `GATEWAY_TOKEN` in the `X-Gateway-Token` header (the Rasa server
listens on loopback or a private network only, and only the gateway knows the token), refuse bodies
over MAX_BODY_BYTES before reading them as JSON, clean the text as the gateway does
(bot/text_input.py), and hold the gateway's deadline for the turn (bot/turn_deadline.py).
"""
from __future__ import annotations

import hmac
import json
import logging
import re
from typing import Any, Awaitable, Callable, Dict, Optional, Text

from rasa.core.channels.channel import CollectingOutputChannel, InputChannel, UserMessage
from rasa.core.channels.rest import RestInput
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot import turn_deadline
from bot.text_input import clean_text

logger = logging.getLogger(__name__)

SENDER_RE = re.compile(r"[A-Za-z0-9_-]{16,128}")
# The gateway's own limits are 16 KiB and 2,000 characters; Sanic's REQUEST_MAX_SIZE (set by
# bot.stack and docker-compose.yml) refuses anything larger before it is read.
MAX_BODY_BYTES = 16 * 1024
MAX_MESSAGE_CHARS = 2000


def valid_sender(value: Any) -> bool:
    return isinstance(value, str) and SENDER_RE.fullmatch(value) is not None


def _read_json(request: Request) -> Optional[Dict[str, Any]]:
    if len(request.body or b"") > MAX_BODY_BYTES:
        return None
    try:
        body = json.loads(request.body or b"{}")
    except (ValueError, RecursionError):
        return None
    return body if isinstance(body, dict) else None


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


class ChatOutputChannel(CollectingOutputChannel):
    @classmethod
    def name(cls) -> Text:
        return "chat"


class GatewayInput(RestInput):
    """A turn from the gateway: token, size, sender and text checked; text cleaned; deadline held."""

    output_channel = ChatOutputChannel

    @classmethod
    def name(cls) -> Text:
        return cls.output_channel.name()

    def __init__(self, token: Optional[str] = None) -> None:
        self.token = token or _token()

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> InputChannel:
        return cls((credentials or {}).get("token"))

    def get_output_channel(self) -> CollectingOutputChannel:
        return self.output_channel()

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[None]]) -> Blueprint:
        bp = Blueprint(f"{self.name()}_webhook", __name__)

        @bp.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            if not _authorised(request, self.token):
                return response.json({"error": "forbidden"}, status=403)
            body = _read_json(request)
            if body is None:
                return response.json({"error": "body must be a JSON object of at most 16 KiB"},
                                     status=400)
            sender, text = body.get("sender"), body.get("message")
            if not valid_sender(sender) or not isinstance(text, str) or len(text) > MAX_MESSAGE_CHARS:
                return response.json({"error": "sender and message (2000 characters at most) "
                                               "are required"}, status=400)
            deadline = turn_deadline.parse(request.headers.get(turn_deadline.HEADER))
            if deadline is not None and turn_deadline.expired_at(deadline):
                return response.json({"error": "the gateway stopped waiting"}, status=504)
            collector = self.output_channel()
            token = turn_deadline.start(deadline)
            try:
                await on_new_message(UserMessage(clean_text(text), collector, sender,
                                                 input_channel=self.name(), metadata={}))
            except turn_deadline.TurnExpired:
                logger.warning("A turn waited past the gateway's deadline and was not run")
                return response.json({"error": "the gateway stopped waiting"}, status=504)
            finally:
                turn_deadline.finish(token)
            return response.json(collector.messages)

        return bp


class ChatInput(GatewayInput):
    output_channel = ChatOutputChannel


class SmsInput(GatewayInput):
    output_channel = SmsOutputChannel


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
            sender = (_read_json(request) or {}).get("sender")
            if not valid_sender(sender):
                return response.json({"error": "sender is required"}, status=400)
            agent = request.app.ctx.agent
            await delete_tracker(agent.tracker_store, sender)
            exists = await agent.tracker_store.exists(sender) if hasattr(
                agent.tracker_store, "exists"
            ) else False
            logger.info("Conversation forgotten at the person's request")
            return response.json({"forgotten": True, "exists": bool(exists)})

        return bp
