"""Forwarding turns to Rasa's REST channel, with stickiness and failover across instances.

Each conversation goes to the same Rasa instance (rendezvous hashing of the sender id over the
configured URLs) because the open-source lock store is not safe across servers (rasa issue 9213).
If that instance refuses the connection, the next one in the sender's order takes over, reading the
same tracker store. A timeout or a dropped connection is not retried elsewhere: the turn may already
have been processed. But an instance that refused or dropped a connection is put last in every
order for SUSPECT_SECONDS, so the next turns do not hit it while it is dying or restarting.
"""
from __future__ import annotations

import asyncio
import hashlib
import logging
import socket
import time
from typing import Any, Dict, List, Optional, Sequence

import aiohttp
from yarl import URL

from bot import turn_deadline

logger = logging.getLogger(__name__)

SUSPECT_SECONDS = 5.0


class RasaUnavailable(Exception):
    """Rasa could not give a usable answer. The message says why, never what the person wrote."""


def instance_order(sender_id: str, urls: Sequence[str]) -> List[str]:
    def score(url: str) -> bytes:
        return hashlib.sha256(f"{url}|{sender_id}".encode()).digest()

    return sorted(urls, key=score, reverse=True)


class RasaClient:
    def __init__(self, session: aiohttp.ClientSession, urls: Sequence[str], timeout: float,
                 token: str = "") -> None:
        self.session = session
        self.configured = list(urls)
        self.urls = list(urls)
        self.timeout = aiohttp.ClientTimeout(total=timeout)
        self.token = token
        self._suspect_until: Dict[str, float] = {}

    def _suspect(self, url: str) -> None:
        self._suspect_until[url] = time.monotonic() + SUSPECT_SECONDS

    def order(self, sender_id: str) -> List[str]:
        """The sender's instances, any recently failing ones moved to the end (still tried last)."""
        now = time.monotonic()
        ranked = instance_order(sender_id, self.urls)
        return sorted(ranked, key=lambda u: self._suspect_until.get(u, 0.0) > now)

    async def _post(self, url: str, path: str, payload: Dict[str, Any], turn: bool = False,
                    budget: Optional[float] = None) -> Any:
        """`turn`: a conversation turn, sent with its deadline (Rasa neither runs nor saves the
        turn after it, bot/turn_deadline.py); `budget` shortens the timeout for it."""
        headers = {"X-Gateway-Token": self.token} if self.token else {}
        timeout = self.timeout
        if budget is not None:
            timeout = aiohttp.ClientTimeout(total=min(budget, self.timeout.total or budget))
        if turn:
            headers[turn_deadline.HEADER] = f"{time.time() + (timeout.total or 0):.3f}"
        async with self.session.post(url + path, json=payload, headers=headers,
                                     timeout=timeout) as resp:
            if resp.status != 200:
                raise RasaUnavailable(f"Rasa at {url} answered HTTP {resp.status}")
            return await resp.json(content_type=None)

    async def _send(self, path: str, payload: Dict[str, Any], sender_id: str,
                    budget: Optional[float] = None) -> Any:
        last_error = "no Rasa instance configured"
        for url in self.order(sender_id):
            try:
                return await self._post(url, path, payload, turn=True, budget=budget)
            except (aiohttp.ClientConnectionError, ConnectionError) as exc:
                self._suspect(url)
                if isinstance(exc, aiohttp.ServerDisconnectedError):
                    raise RasaUnavailable(f"Rasa at {url} dropped the connection") from None
                last_error = f"Rasa at {url} is unreachable ({type(exc).__name__})"
                logger.warning("%s; trying the next instance", last_error)
            except asyncio.TimeoutError:
                raise RasaUnavailable(f"Rasa at {url} timed out") from None
            except (aiohttp.ClientError, ValueError) as exc:
                raise RasaUnavailable(f"Rasa at {url} failed ({type(exc).__name__})") from None
        raise RasaUnavailable(last_error)

    async def send(self, sender_id: str, text: str, channel: str = "chat",
                   metadata: Dict[str, Any] | None = None,
                   budget: Optional[float] = None) -> List[Dict[str, Any]]:
        payload: Dict[str, Any] = {"sender": sender_id, "message": text}
        if metadata:
            payload["metadata"] = metadata
        replies = await self._send(f"/webhooks/{channel}/webhook", payload, sender_id, budget)
        if not isinstance(replies, list) or not replies:
            raise RasaUnavailable("Rasa returned no reply")
        return replies

    async def forget(self, sender_id: str) -> bool:
        """Delete the conversation on every instance's tracker store (they may differ in dev).
        True when every instance that answered confirms the tracker no longer exists."""
        errors, gone = [], True
        for url in self.urls:
            try:
                answer = await self._post(url, "/webhooks/forget/webhook", {"sender": sender_id})
                gone = gone and isinstance(answer, dict) and not answer.get("exists", False)
            except (RasaUnavailable, aiohttp.ClientError, asyncio.TimeoutError) as exc:
                errors.append(str(exc) or type(exc).__name__)
        if len(errors) == len(self.urls):
            raise RasaUnavailable("; ".join(errors))
        return gone

    async def discover(self) -> None:
        """Expand each configured host to every address it resolves to (e.g. the replicas of a
        `docker compose --scale rasa=N` service), so conversations spread and stick per replica."""
        loop = asyncio.get_running_loop()
        expanded: List[str] = []
        for url in self.configured:
            parsed = URL(url)
            try:
                infos = await loop.getaddrinfo(parsed.host, parsed.port, type=socket.SOCK_STREAM)
            except OSError:
                continue
            for ip in sorted({info[4][0] for info in infos}):
                expanded.append(str(parsed.with_host(ip)).rstrip("/"))
        if expanded and expanded != self.urls:
            logger.info("Rasa instances: %d", len(expanded))
            self.urls = expanded

    async def status(self, url: str) -> bool:
        try:
            async with self.session.get(url + "/", timeout=aiohttp.ClientTimeout(total=2)) as resp:
                return resp.status == 200
        except (aiohttp.ClientError, asyncio.TimeoutError):
            return False
