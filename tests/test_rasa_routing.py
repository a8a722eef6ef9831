"""Each conversation sticks to one Rasa instance; a refused connection fails over to the next."""
import asyncio
import collections
import secrets

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from bot.gateway.rasa_client import RasaClient, RasaUnavailable, instance_order


def test_order_is_stable_and_spreads_conversations():
    urls = ["http://a:5005", "http://b:5005", "http://c:5005"]
    senders = [secrets.token_hex(16) for _ in range(3000)]
    firsts = collections.Counter(instance_order(s, urls)[0] for s in senders)
    assert set(firsts) == set(urls)
    assert min(firsts.values()) > 800  # roughly even
    assert all(instance_order(s, urls) == instance_order(s, list(reversed(urls))) for s in senders[:50])
    # Removing one instance only moves the conversations that were on it.
    moved = sum(instance_order(s, urls)[0] != instance_order(s, urls[:2])[0] for s in senders)
    assert moved == firsts["http://c:5005"]


async def _server(name, seen):
    async def webhook(request):
        body = await request.json()
        seen[name].append(body["sender"])
        return web.json_response([{"recipient_id": body["sender"], "text": name}])

    app = web.Application()
    app.router.add_post("/webhooks/chat/webhook", webhook)
    server = TestServer(app)
    await server.start_server()
    return server


async def test_sticky_then_failover_when_refused():
    seen = collections.defaultdict(list)
    a, b = await _server("a", seen), await _server("b", seen)
    urls = [str(a.make_url("")).rstrip("/"), str(b.make_url("")).rstrip("/")]
    async with aiohttp.ClientSession() as session:
        client = RasaClient(session, urls, timeout=2)
        sender = secrets.token_hex(16)
        first = [(await client.send(sender, "hi"))[0]["text"] for _ in range(5)]
        assert len(set(first)) == 1
        await (a if first[0] == "a" else b).close()
        after = (await client.send(sender, "hi"))[0]["text"]
        assert after != first[0]
        await (b if first[0] == "a" else a).close()
        with pytest.raises(RasaUnavailable):
            await client.send(sender, "hi")


async def test_an_instance_that_dropped_a_connection_is_avoided_for_a_while(monkeypatch):
    from bot.gateway import rasa_client

    seen = collections.defaultdict(list)
    dropped = []

    async def dropping(request):
        dropped.append((await request.json())["sender"])
        request.transport.close()  # like a Rasa process killed mid-turn
        return web.Response()

    app = web.Application()
    app.router.add_post("/webhooks/chat/webhook", dropping)
    bad = TestServer(app)
    await bad.start_server()
    good = await _server("good", seen)
    urls = [str(bad.make_url("")).rstrip("/"), str(good.make_url("")).rstrip("/")]
    sender = next(s for s in (secrets.token_hex(16) for _ in range(100))
                  if instance_order(s, urls)[0] == urls[0])
    monkeypatch.setattr(rasa_client, "SUSPECT_SECONDS", 0.5)
    async with aiohttp.ClientSession() as session:
        client = RasaClient(session, urls, timeout=2)
        with pytest.raises(RasaUnavailable, match="dropped"):
            await client.send(sender, "hi")  # the in-flight turn is not retried elsewhere
        assert (await client.send(sender, "hi"))[0]["text"] == "good"  # the next one avoids it
        assert dropped == [sender]
        await asyncio.sleep(0.6)  # the cool-down is over: back to its own instance
        assert client.order(sender)[0] == urls[0]
    await bad.close()
    await good.close()


async def test_discovery_expands_hosts():
    async with aiohttp.ClientSession() as session:
        client = RasaClient(session, ["http://localhost:5005"], timeout=2)
        await client.discover()
        assert client.urls and all(u.endswith(":5005") for u in client.urls)
        assert "localhost" not in " ".join(client.urls)
