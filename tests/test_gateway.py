"""The gateway against a stand-in Rasa server (a real HTTP server on loopback that we control).

End-to-end tests against the real Rasa are in test_e2e_foundation.py.
"""
from __future__ import annotations

import asyncio
import json
import secrets

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from bot.gateway.app import create_app
from bot.gateway.fallback import FALLBACK_TEXT
from bot.storage.escalations import escalation_totals
from bot.storage.migrate import upgrade

CONTRACT_KEYS = {"recipient_id", "text", "buttons", "custom"}


def sender() -> str:
    return secrets.token_hex(16)


class FakeRasa:
    """Behaves like Rasa's REST channel; `mode` decides how it misbehaves."""

    def __init__(self):
        self.mode = "ok"
        self.received = []
        self.forgotten = []

    async def webhook(self, request):
        body = await request.json()
        self.received.append(body)
        self.headers = dict(request.headers)
        if self.mode == "slow":
            await asyncio.sleep(5)
        if self.mode == "error":
            return web.json_response({"error": "boom"}, status=500)
        if self.mode == "empty":
            return web.json_response([])
        if self.mode == "emergency":
            return web.json_response([
                {"recipient_id": body["sender"], "text": "If you are in danger now, call 999."},
                {"recipient_id": body["sender"], "custom": {"escalation": "emergency"}},
            ])
        return web.json_response([{"recipient_id": body["sender"], "text": "Hello.",
                                   "buttons": [{"title": "Menu", "payload": "/menu"}]}])

    async def forget(self, request):
        self.forgotten.append((request.headers.get("X-Gateway-Token"), (await request.json())["sender"]))
        return web.json_response({"forgotten": True})

    async def root(self, request):
        return web.Response(text="Hello from Rasa: 3.6.21")

    def app(self):
        app = web.Application()
        app.router.add_post("/webhooks/chat/webhook", self.webhook)
        app.router.add_post("/webhooks/forget/webhook", self.forget)
        app.router.add_get("/", self.root)
        return app


@pytest.fixture
async def fake_rasa():
    fake = FakeRasa()
    server = TestServer(fake.app())
    await server.start_server()
    fake.url = str(server.make_url("")).rstrip("/")
    yield fake
    await server.close()


@pytest.fixture
async def client(aiohttp_client, make_settings, fake_rasa):
    settings = make_settings(RASA_URLS=fake_rasa.url, RASA_TIMEOUT="1")
    await asyncio.to_thread(upgrade, settings.database_url)
    app = create_app(settings)
    c = await aiohttp_client(app)
    c.settings = settings
    return c


async def post(client, payload, raw=None):
    if raw is not None:
        return await client.post("/webhooks/rest/webhook", data=raw, headers={"Content-Type": "application/json"})
    return await client.post("/webhooks/rest/webhook", json=payload)


async def test_forwards_and_keeps_the_contract(client, fake_rasa):
    sid = sender()
    resp = await post(client, {"sender": sid, "message": "hello"})
    assert resp.status == 200
    replies = await resp.json()
    assert replies and all(set(r) == CONTRACT_KEYS for r in replies)
    assert replies[0]["text"] == "Hello." and replies[0]["recipient_id"] == sid
    assert replies[0]["buttons"] == [{"title": "Menu", "payload": "/menu"}]
    assert fake_rasa.received == [{"sender": sid, "message": "hello"}]


@pytest.mark.parametrize("bad_sender", [None, "", "short", "user1", "0" * 24, "07700900123",
                                        "a" * 129, "has spaces in it here ok", "ab/../cd" * 4, 12345678901234567890])
async def test_rejects_senders_that_are_not_random_tokens(client, fake_rasa, bad_sender):
    resp = await post(client, {"sender": bad_sender, "message": "hi"})
    assert resp.status == 400
    assert "sender" in (await resp.json())["error"]
    assert fake_rasa.received == []


@pytest.mark.parametrize("raw", [b"not json", b"[1,2]", b'"text"', b"\xff\xfe", b'{"sender": 1}'])
async def test_rejects_malformed_bodies_clearly(client, raw):
    resp = await post(client, None, raw=raw)
    assert resp.status == 400
    assert (await resp.json())["error"]


async def test_rejects_non_string_message(client):
    resp = await post(client, {"sender": sender(), "message": {"text": "hi"}})
    assert resp.status == 400


async def test_rejects_oversized_messages(client, fake_rasa):
    resp = await post(client, {"sender": sender(), "message": "x" * 2001})
    assert resp.status == 413
    assert "2000" in (await resp.json())["error"]
    ok = await post(client, {"sender": sender(), "message": "x" * 2000})
    assert ok.status == 200
    big = await post(client, None, raw=json.dumps({"sender": sender(), "message": "y" * 70000}).encode())
    assert big.status == 413
    assert len(fake_rasa.received) == 1


@pytest.mark.parametrize("mode", ["error", "empty", "slow", "down"])
async def test_safe_fallback_whenever_rasa_cannot_answer(client, fake_rasa, mode):
    if mode == "down":
        from bot.gateway import keys

        client.app[keys.RASA].urls = ["http://127.0.0.1:9"]  # nothing listens on the discard port
    fake_rasa.mode = mode
    resp = await post(client, {"sender": sender(), "message": "can you tell me about housing"})
    assert resp.status == 200
    replies = await resp.json()
    text = " ".join(r["text"] or "" for r in replies)
    assert "999" in text and "55" in text and "0808 2000 247" in text
    assert all(set(r) == CONTRACT_KEYS for r in replies)
    assert not any((r["custom"] or {}).get("escalation") for r in replies)


async def test_fallback_marks_danger(client, fake_rasa):
    fake_rasa.mode = "error"
    resp = await post(client, {"sender": sender(), "message": "hes got a knife help"})
    replies = await resp.json()
    assert replies[0]["custom"] == {"escalation": "emergency"}
    assert FALLBACK_TEXT in [r["text"] for r in replies]


async def test_emergency_replies_are_counted_without_text(client, fake_rasa):
    from bot.gateway import keys

    fake_rasa.mode = "emergency"
    for _ in range(2):
        resp = await post(client, {"sender": sender(), "message": "he is hitting me"})
        replies = await resp.json()
        assert {"escalation": "emergency"} in [r["custom"] for r in replies]
    await asyncio.sleep(0.2)
    totals = await escalation_totals(client.app[keys.ENGINE])
    assert sum(v for (day, channel), v in totals.items() if channel == "web") == 2


async def test_security_headers_and_no_cookies(client):
    for path in ("/", "/healthz", "/nope"):
        resp = await client.get(path)
        h = resp.headers
        assert "frame-ancestors 'none'" in h["Content-Security-Policy"]
        assert "default-src 'self'" in h["Content-Security-Policy"]
        assert h["X-Content-Type-Options"] == "nosniff"
        assert h["Referrer-Policy"] == "no-referrer"
        assert h["Cache-Control"] == "no-store"
        assert "Set-Cookie" not in h
    resp = await post(client, {"sender": sender(), "message": "hi"})
    assert resp.headers["Referrer-Policy"] == "no-referrer" and "Set-Cookie" not in resp.headers


async def test_healthz_reports_each_part(client, fake_rasa):
    resp = await client.get("/healthz")
    assert resp.status == 200
    report = await resp.json()
    assert report["checks"]["rasa"]["ok"] is True
    assert report["checks"]["database"]["ok"] is True
    assert report["checks"]["action_server"]["ok"] is False  # none running in this test
    assert report["status"] == "degraded"


async def test_forget_reaches_rasa_with_the_gateway_token(client, fake_rasa):
    sid = sender()
    resp = await client.post("/api/forget", data=json.dumps({"sender": sid}), headers={"Content-Type": "text/plain"})
    assert resp.status == 200 and (await resp.json()) == {"forgotten": True}
    assert fake_rasa.forgotten == [(client.settings.gateway_token, sid)]
    bad = await client.post("/api/forget", data=b"{}")
    assert bad.status == 400


def test_client_address_believes_only_trusted_proxies():
    from aiohttp.test_utils import make_mocked_request

    from bot.gateway.security import client_address

    def req(remote, xff=None):
        headers = {"X-Forwarded-For": xff} if xff else {}
        r = make_mocked_request("GET", "/", headers=headers)
        return r.clone(remote=remote)

    assert client_address(req("203.0.113.9", "198.51.100.1")) == "203.0.113.9"  # no proxies trusted
    trusted = ["172.30.0.0/24"]
    assert client_address(req("172.30.0.5", "198.51.100.1"), trusted) == "198.51.100.1"
    assert client_address(req("172.30.0.5", "6.6.6.6, 198.51.100.1, 172.30.0.9"), trusted) == "198.51.100.1"
    assert client_address(req("203.0.113.9", "198.51.100.1"), trusted) == "203.0.113.9"  # spoofed header
    assert client_address(req("172.30.0.5"), trusted) == "172.30.0.5"


async def test_forget_during_an_in_flight_turn_forgets_again_afterwards(client, fake_rasa):
    fake_rasa.mode = "slow"  # 5 s; the gateway's timeout here is 1 s
    sid = sender()
    turn = asyncio.ensure_future(post(client, {"sender": sid, "message": "hello"}))
    await asyncio.sleep(0.2)
    resp = await client.post("/api/forget", data=json.dumps({"sender": sid}))
    assert resp.status == 200
    await turn
    assert [s for _, s in fake_rasa.forgotten] == [sid, sid]


async def test_forget_reports_failure_when_rasa_still_has_the_conversation(client, fake_rasa):
    from bot.gateway import keys

    rasa = client.app[keys.RASA]

    async def fake_post(url, path, payload):
        return {"forgotten": True, "exists": True}

    rasa._post = fake_post
    resp = await client.post("/api/forget", data=json.dumps({"sender": sender()}))
    assert resp.status == 500 and (await resp.json()) == {"forgotten": False}


# ---- issue 16: hardening of the chat API ----

async def test_lone_surrogates_become_the_replacement_character(client, fake_rasa):
    sid = sender()
    raw = ('{"sender": "%s", "message": "help \\ud83d me\\u0000 now \\udc00"}' % sid).encode()
    resp = await post(client, None, raw=raw)
    assert resp.status == 200
    assert (await resp.json())[0]["text"] == "Hello."  # answered normally, not the fallback
    assert fake_rasa.received[-1]["message"] == "help \ufffd me\ufffd now \ufffd"
    fake_rasa.received[-1]["message"].encode("utf-8")  # encodable now


async def test_each_turn_carries_the_gateways_deadline_and_token(client, fake_rasa):
    import time

    await post(client, {"sender": sender(), "message": "hello"})
    deadline = float(fake_rasa.headers["X-Turn-Deadline"])
    assert time.time() < deadline <= time.time() + 1.5  # RASA_TIMEOUT is 1 s here
    assert fake_rasa.headers["X-Gateway-Token"] == client.settings.gateway_token


@pytest.mark.parametrize("raw", [
    b"[" * 990,
    b'{"sender": "' + b"a" * 32 + b'", "message": ' + b"[" * 1000 + b"]" * 1000 + b"}",
    b'{"sender": "' + b"a" * 32 + b'", "message": "hi", "n": ' + b"9" * 4301 + b"}",
    b'{"sender": "' + b"a" * 32 + b'\\n", "message": "hi"}',
    b'{"sender": "' + b"a" * 32 + b'\\u0000", "message": "hi"}',
])
async def test_unreadable_or_odd_bodies_are_400_with_the_headers(client, raw):
    resp = await post(client, None, raw=raw)
    assert resp.status == 400
    assert resp.headers["Content-Security-Policy"] and resp.headers["X-Content-Type-Options"] == "nosniff"
    assert "Server" not in resp.headers


@pytest.mark.parametrize("raw", [b"[" * 990, b'{"sender": ' + b"1" * 4400 + b"}",
                                 b'{"sender": "' + b"a" * 32 + b'\\n"}'])
async def test_forget_refuses_odd_bodies_with_400(client, raw):
    resp = await client.post("/api/forget", data=raw)
    assert resp.status == 400 and resp.headers["Referrer-Policy"] == "no-referrer"


async def test_no_server_header_anywhere(client):
    for path in ("/", "/healthz", "/static/chat/chat.js", "/no-such-page"):
        resp = await client.get(path)
        assert "Server" not in resp.headers, path


async def test_an_unexpected_error_is_a_plain_500_with_every_header(client, caplog):
    import logging
    import sys

    from bot import logs
    from bot.gateway import security

    previous, hook = logging.getLogRecordFactory(), sys.excepthook
    logs.install_record_factory()  # as `python -m bot.gateway` does (logs.configure)

    async def broken(request):
        raise RuntimeError("Invented Ada Lovelace-Smith, 07700 900123, typed this")

    client.server.app.router._frozen = False
    client.server.app.router.add_get("/broken-for-test", broken)
    resp = await client.get("/broken-for-test?name=Ada")
    assert resp.status == 500
    for name in security.HEADERS:
        assert name in resp.headers, name
    assert "999" in await resp.text()
    logging.setLogRecordFactory(previous)
    sys.excepthook = hook
    assert "Ada" not in caplog.text and "900123" not in caplog.text
    assert "RuntimeError" in caplog.text and "in broken" in caplog.text
