"""The SMS channel (Twilio webhook) against a stand-in Rasa server. No network, no Twilio account:
requests are signed with Twilio's own RequestValidator and a made-up auth token.

Invented people and Ofcom drama numbers only (07700 900000-900999).
"""
from __future__ import annotations

import asyncio
import re
import secrets
import sqlite3
from pathlib import Path
from xml.etree import ElementTree

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from twilio.request_validator import RequestValidator

from bot.gateway import keys
from bot.gateway.app import create_app
from bot.sms import gsm, store, texts, webhook
from bot.storage.migrate import upgrade

PUBLIC = "https://sms.northbrook.example"
TOKEN = "test-auth-token-not-a-real-one-00"
NUMBER = "+447700900123"
OTHER = "+447700900456"


def replies_of(xml: str):
    return [m.text or "" for m in ElementTree.fromstring(xml).iter("Message")]


class FakeRasa:
    """Rasa's sms channel as the gateway sees it; `mode` picks the answer."""

    def __init__(self):
        self.mode = "ok"
        self.received = []

    async def webhook(self, request):
        body = await request.json()
        self.received.append(body)
        s = body["sender"]
        if self.mode == "slow":
            await asyncio.sleep(5)
        if self.mode == "error":
            return web.json_response({"error": "boom"}, status=500)
        if self.mode == "emergency":  # like the domain: the marker rides on the first text
            return web.json_response([
                {"recipient_id": s, "text": "In danger now? Call 999. Can't speak? On a mobile call 999, listen, then press 55.",
                 "custom": {"escalation": "emergency"}},
                {"recipient_id": s, "text": "Can't call now? National Domestic Abuse Helpline, free, 24 hours: 0808 2000 247."},
            ])
        if self.mode == "emergency_late":  # marker after a long text, marker alone
            return web.json_response([
                {"recipient_id": s, "text": "A long and ordinary answer. " * 10},
                {"recipient_id": s, "custom": {"escalation": "emergency"}},
            ])
        if self.mode == "buttons":
            return web.json_response([{"recipient_id": s, "text": "Choose one.",
                                       "buttons": [{"title": "What is domestic abuse?", "payload": "/menu"},
                                                   {"title": "I\u2019m in danger now", "payload": "/emergency"}]}])
        return web.json_response([{"recipient_id": s, "text": "Hello \U0001F600 \u201cthere\u201d."}])

    def app(self):
        app = web.Application()
        app.router.add_post("/webhooks/sms/webhook", self.webhook)
        app.router.add_get("/", lambda r: web.Response(text="Hello from Rasa: 3.6.21"))
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
    settings = make_settings(RASA_URLS=fake_rasa.url, RASA_TIMEOUT="2", PUBLIC_BASE_URL=PUBLIC,
                             TWILIO_AUTH_TOKEN=TOKEN)
    await asyncio.to_thread(upgrade, settings.database_url)
    c = await aiohttp_client(create_app(settings))
    c.settings = settings
    return c


def fields(body="hello", sid=None, sender=NUMBER, **extra):
    data = {"ToCountry": "GB", "SmsMessageSid": sid or "SM" + secrets.token_hex(16), "NumMedia": "0",
            "From": sender, "To": "+447700900999", "Body": body, "NumSegments": "1",
            "MessageSid": "", "AccountSid": "AC" + "0" * 32, "ApiVersion": "2010-04-01"}
    data["MessageSid"] = data["SmsMessageSid"]
    data.update(extra)
    return data


def signature(data, url=PUBLIC + "/webhooks/twilio", token=TOKEN):
    return RequestValidator(token).compute_signature(url, data)


async def send(client, data, sig=..., path="/webhooks/twilio"):
    headers = {}
    if sig is ...:
        sig = signature(data, PUBLIC + path)
    if sig is not None:
        headers["X-Twilio-Signature"] = sig
    return await client.post(path, data=data, headers=headers)


async def text_turn(client, body, **kw):
    resp = await send(client, fields(body, **kw))
    assert resp.status == 200, await resp.text()
    assert resp.content_type == "application/xml"
    return replies_of(await resp.text())


def raw_db(settings) -> sqlite3.Connection:
    return sqlite3.connect(settings.database_url.split("///", 1)[1])


# --- signatures ---------------------------------------------------------------------------------

async def test_signed_request_reaches_the_bot_keyed_by_an_hmac(client, fake_rasa):
    out = await text_turn(client, "hello")
    assert out[0].startswith('Hello "there".\n')  # cleaned to GSM-7: no emoji, no curly quotes
    assert len(fake_rasa.received) == 1
    sender = fake_rasa.received[0]["sender"]
    assert re.fullmatch(r"[0-9a-f]{64}", sender)
    assert sender == store.number_hash(client.settings.sender_hash_key_bytes, "07700 900123")
    assert "7700" not in str(fake_rasa.received)


@pytest.mark.parametrize("tamper", ["field", "added_field", "url", "path", "http", "missing", "empty",
                                    "other_token", "garbage"])
async def test_bad_signatures_get_403_and_never_reach_the_bot(client, fake_rasa, tamper):
    data = fields("hello")
    sig = signature(data)
    if tamper == "field":
        data = dict(data, Body="hello!")
    elif tamper == "added_field":
        data = dict(data, Extra="1")
    elif tamper == "url":
        sig = signature(data, "https://evil.example/webhooks/twilio")
    elif tamper == "path":
        sig = signature(data, PUBLIC + "/webhooks/twilio/status")
    elif tamper == "http":
        sig = signature(data, "http://sms.northbrook.example/webhooks/twilio")
    elif tamper == "missing":
        sig = None
    elif tamper == "empty":
        sig = ""
    elif tamper == "other_token":
        sig = signature(data, token="another-made-up-token")
    elif tamper == "garbage":
        sig = "\u00e9\u00e9 not base64"
    resp = await send(client, data, sig=sig)
    assert resp.status == 403
    assert fake_rasa.received == []


async def test_the_arriving_url_is_not_what_is_verified(client, fake_rasa):
    data = fields("hello")
    arriving = str(client.make_url("/webhooks/twilio"))
    resp = await send(client, data, sig=signature(data, arriving))
    assert resp.status == 403


async def test_signature_with_the_port_is_accepted_too(client, fake_rasa):
    data = fields("hello")
    resp = await send(client, data, sig=signature(data, "https://sms.northbrook.example:443/webhooks/twilio"))
    assert resp.status == 200


async def test_query_string_is_part_of_the_signed_url(client, fake_rasa):
    data = fields("hello")
    resp = await send(client, data, sig=signature(data, PUBLIC + "/webhooks/twilio?x=1"),
                      path="/webhooks/twilio?x=1")
    assert resp.status == 200
    resp = await send(client, data, sig=signature(data, PUBLIC + "/webhooks/twilio"),
                      path="/webhooks/twilio?x=1")
    assert resp.status == 403


async def test_development_without_a_token_still_requires_a_signature(aiohttp_client, make_settings, fake_rasa):
    settings = make_settings(RASA_URLS=fake_rasa.url, PUBLIC_BASE_URL=PUBLIC)
    assert settings.twilio_offline
    await asyncio.to_thread(upgrade, settings.database_url)
    client = await aiohttp_client(create_app(settings))
    data = fields("hello")
    assert (await send(client, data, sig=None)).status == 403
    assert (await send(client, data, sig=signature(data))).status == 403
    dev = webhook.auth_token(settings)
    resp = await send(client, data, sig=signature(data, token=dev))
    assert resp.status == 200 and replies_of(await resp.text())


async def test_signed_but_incomplete_requests_are_refused_without_5xx(client, fake_rasa):
    data = {"Body": "hello"}
    resp = await send(client, data)
    assert resp.status == 400
    assert fake_rasa.received == []


# --- duplicates ---------------------------------------------------------------------------------

async def test_a_retried_message_sid_gets_no_second_reply(client, fake_rasa):
    data = fields("hello")
    first = await send(client, data)
    second = await send(client, data)
    assert replies_of(await first.text())
    assert replies_of(await second.text()) == []
    assert len(fake_rasa.received) == 1


async def test_concurrent_duplicates_produce_one_reply(client, fake_rasa):
    data = fields("hello")
    responses = await asyncio.gather(*[send(client, data) for _ in range(8)])
    bodies = [replies_of(await r.text()) for r in responses]
    assert all(r.status == 200 for r in responses)
    assert sum(1 for b in bodies if b) == 1
    assert len(fake_rasa.received) == 1


# --- keywords -----------------------------------------------------------------------------------

@pytest.mark.parametrize("word", ["STOP", "stop", " Stop ", "STOPALL", "unsubscribe", "CANCEL", "end", "Quit"])
async def test_stop_words_opt_out_silently_until_start(client, fake_rasa, word):
    assert await text_turn(client, word) == []
    assert fake_rasa.received == []
    assert await text_turn(client, "hello") == []  # nothing more, not even to the bot
    assert fake_rasa.received == []
    with raw_db(client.settings) as db:
        rows = db.execute("SELECT number_hash FROM sms_opt_outs").fetchall()
    assert rows == [(store.number_hash(client.settings.sender_hash_key_bytes, NUMBER),)]
    assert await text_turn(client, "hello", sender=OTHER)  # other numbers are not affected
    started = await text_turn(client, "START")
    assert started and "999" in started[0]
    assert await text_turn(client, "hello")
    assert len(fake_rasa.received) == 2


@pytest.mark.parametrize("word", ["HELP", "help", "Info"])
async def test_help_gives_999_the_helpline_and_how_to_use_it(client, fake_rasa, word):
    out = await text_turn(client, word)
    assert len(out) == 1
    assert "999" in out[0] and "0808 2000 247" in out[0] and "STOP" in out[0]
    assert "Northbrook City Council" in out[0]
    assert gsm.check(out[0]).ok
    assert fake_rasa.received == []


@pytest.mark.parametrize("body", ["stop please", "cancel my callback", "please stop", "help me understand",
                                  "start again", "STOP STOP", "end."])
async def test_sentences_with_keywords_are_ordinary_messages(client, fake_rasa, body):
    assert await text_turn(client, body)
    assert [r["message"] for r in fake_rasa.received] == [body]


# --- the conversation ---------------------------------------------------------------------------

async def test_buttons_become_numbered_options_and_numbers_map_back(client, fake_rasa):
    fake_rasa.mode = "buttons"
    out = await text_turn(client, "hello")
    assert "Reply 1 for What is domestic abuse?" in out[0]
    assert "Reply 2 for I'm in danger now" in out[0]
    fake_rasa.mode = "ok"
    await text_turn(client, "2")
    assert fake_rasa.received[-1]["message"] == "/emergency"
    await text_turn(client, "1", sender=OTHER)  # another number has no options: sent as typed
    assert fake_rasa.received[-1]["message"] == "1"
    await text_turn(client, "1")  # the last turn had no buttons: options are gone
    assert fake_rasa.received[-1]["message"] == "1"
    with raw_db(client.settings) as db:
        assert "7700" not in str(db.execute("SELECT * FROM sms_choices").fetchall())


async def test_privacy_notice_is_given_once(client, fake_rasa):
    first = await text_turn(client, "hello")
    assert first[-1] == texts.PRIVACY or texts.PRIVACY in first[-1]
    second = await text_turn(client, "hello again")
    assert not any("delete" in m.lower() for m in second)


@pytest.mark.parametrize("mode", ["emergency", "emergency_late"])
async def test_emergency_reply_is_sent_first_in_one_segment(client, fake_rasa, mode):
    fake_rasa.mode = mode
    out = await text_turn(client, "hes hitting me")
    assert "999" in out[0] and "55" in out[0]
    assert gsm.segments(out[0]) == 1
    assert out[-1].endswith(texts.PRIVACY)  # the notice comes after, never before
    await asyncio.sleep(0.2)
    from bot.storage.escalations import escalation_totals

    totals = await escalation_totals(client.app[keys.ENGINE])
    assert sum(v for (day, channel), v in totals.items() if channel == "sms") == 1


@pytest.mark.parametrize("mode", ["error", "slow", "down"])
async def test_bot_slow_or_down_gets_the_safe_fallback(client, fake_rasa, mode, monkeypatch):
    monkeypatch.setattr(webhook, "BOT_BUDGET", 0.5)
    if mode == "down":
        client.app[keys.RASA].urls = ["http://127.0.0.1:9"]
    fake_rasa.mode = mode
    out = await text_turn(client, "can you tell me about housing")
    joined = " ".join(out)
    assert "999" in joined and "0808 2000 247" in joined
    assert all(gsm.check(m).ok for m in out)


async def test_danger_when_the_bot_is_down_still_gets_the_emergency_text_first(client, fake_rasa):
    fake_rasa.mode = "error"
    out = await text_turn(client, "hes got a knife help")
    assert out[0] == texts.EMERGENCY
    assert gsm.segments(out[0]) == 1


async def test_whole_turn_has_a_deadline(client, fake_rasa, monkeypatch):
    async def stuck(*args, **kwargs):
        await asyncio.sleep(30)

    monkeypatch.setattr(webhook, "DEADLINE", 0.3)
    monkeypatch.setattr(webhook.store, "claim_message", stuck)
    out = await text_turn(client, "hello")
    assert "999" in " ".join(out)


async def test_database_down_still_replies(client, fake_rasa, monkeypatch):
    async def broken(*args, **kwargs):
        raise OSError("database unreachable")

    for name in ("claim_message", "is_opted_out", "first_notice", "save_choices", "choice"):
        monkeypatch.setattr(webhook.store, name, broken)
    assert await text_turn(client, "hello")
    monkeypatch.setattr(webhook.store, "opt_out", broken)
    assert await text_turn(client, "STOP") == []


async def test_no_number_or_message_text_in_logs(client, fake_rasa, caplog):
    caplog.set_level("DEBUG")
    await text_turn(client, "my secret words")
    fake_rasa.mode = "error"
    await text_turn(client, "more secret words")
    await send(client, fields("hello"), sig="wrong")
    logged = caplog.text
    assert "7700" not in logged and "secret" not in logged


# --- status callback ----------------------------------------------------------------------------

async def test_status_callback_counts_failures_by_code_without_the_number(client):
    path = "/webhooks/twilio/status"
    failed = {"MessageSid": "SM" + "1" * 32, "MessageStatus": "undelivered", "ErrorCode": "30003",
              "To": NUMBER, "From": "+447700900999", "AccountSid": "AC" + "0" * 32}
    assert (await send(client, failed, path=path)).status == 204
    assert (await send(client, dict(failed, MessageStatus="failed", ErrorCode="30005"), path=path)).status == 204
    assert (await send(client, dict(failed, MessageStatus="delivered", ErrorCode=""), path=path)).status == 204
    assert (await send(client, failed, sig=None, path=path)).status == 403
    assert (await send(client, dict(failed, ErrorCode="1"), sig=signature(failed, PUBLIC + path), path=path)).status == 403
    with raw_db(client.settings) as db:
        rows = db.execute("SELECT error_code, count FROM sms_delivery_failures ORDER BY error_code").fetchall()
        dump = "\n".join(db.iterdump())
    assert rows == [("30003", 1), ("30005", 1)]
    assert "7700" not in dump


# --- outbound -----------------------------------------------------------------------------------

async def test_offline_sends_are_recorded_not_sent_and_hold_no_number_or_body(client):
    from bot.sms.sender import SmsRefused

    sender = client.app[webhook.SENDER]
    assert sender.offline
    outcome = await sender.send("07700 900123", "Hello from the team \u2013 we\u2019ll call at 3.")
    assert outcome.status == "recorded" and outcome.segments == 1
    await text_turn(client, "STOP", sender=OTHER)
    assert (await sender.send(OTHER, "Hello")).status == "blocked"
    with pytest.raises(SmsRefused):
        await sender.send(NUMBER, "x" * 460)
    with raw_db(client.settings) as db:
        rows = db.execute("SELECT number_hash, status, septets, segments FROM sms_outbound ORDER BY id").fetchall()
        dump = "\n".join(db.iterdump())
    key = client.settings.sender_hash_key_bytes
    assert rows == [(store.number_hash(key, NUMBER), "recorded", 38, 1),
                    (store.number_hash(key, OTHER), "blocked", 5, 1)]
    assert "7700" not in dump and "Hello from" not in dump


async def test_online_sends_go_through_the_twilio_client_with_a_status_callback(make_settings):
    from bot.sms.sender import SmsSender

    settings = make_settings(TWILIO_ACCOUNT_SID="AC" + "0" * 32, TWILIO_AUTH_TOKEN=TOKEN,
                             TWILIO_FROM_NUMBER="+447700900999", PUBLIC_BASE_URL=PUBLIC)
    await asyncio.to_thread(upgrade, settings.database_url)
    sent = []

    class Messages:
        def create(self, **kwargs):
            sent.append(kwargs)

    class Client:
        messages = Messages()

    from bot.storage.db import create_engine

    engine = create_engine(settings.database_url)
    outcome = await SmsSender(settings, engine, client=Client()).send("07700 900123", "Hello")
    await engine.dispose()
    assert outcome.status == "sent"
    assert sent == [{"to": NUMBER, "from_": "+447700900999", "body": "Hello",
                     "status_callback": PUBLIC + "/webhooks/twilio/status"}]


# --- store --------------------------------------------------------------------------------------

async def test_purge_removes_expired_sids_and_choices(client):
    import datetime as dt

    engine = client.app[keys.ENGINE]
    assert await store.claim_message(engine, "a" * 64)
    await store.save_choices(engine, "b" * 64, ["/menu"])
    later = store.utcnow() + dt.timedelta(days=3)
    assert await store.purge(engine, now=later) == 2
    assert await store.claim_message(engine, "a" * 64)


def test_number_hash_is_the_same_for_every_format_of_a_number():
    key = b"k" * 32
    forms = ["+447700900123", "07700 900123", "07700-900-123", "00447700900123", " +44 7700 900123 "]
    assert len({store.number_hash(key, f) for f in forms}) == 1
    assert store.number_hash(key, NUMBER) != store.number_hash(b"j" * 32, NUMBER)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def any_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'app.db'}"
    return request.getfixturevalue("pg_url")


@pytest.fixture
async def any_engine(any_url):
    from bot.storage.db import create_engine

    await asyncio.to_thread(upgrade, any_url)
    engine = create_engine(any_url)
    yield engine
    await engine.dispose()


async def test_store_settles_races_on_sqlite_and_postgresql(any_engine):
    sid = secrets.token_hex(32)
    claims = await asyncio.gather(*[store.claim_message(any_engine, sid) for _ in range(10)])
    assert sorted(claims) == [False] * 9 + [True]
    number = secrets.token_hex(32)
    notices = await asyncio.gather(*[store.first_notice(any_engine, number) for _ in range(5)])
    assert notices.count(True) == 1
    await asyncio.gather(*[store.opt_out(any_engine, number) for _ in range(3)])
    assert await store.is_opted_out(any_engine, number)
    assert await store.opt_in(any_engine, number) and not await store.is_opted_out(any_engine, number)
    code = str(secrets.randbelow(10**6))
    await asyncio.gather(*[store.record_delivery_failure(any_engine, code) for _ in range(6)])
    assert sum(v for (day, c), v in (await store.delivery_failures(any_engine)).items() if c == code) == 6
    await store.save_choices(any_engine, number, ["/menu", "/emergency"])
    assert await store.choice(any_engine, number, " 2. ") == "/emergency"
    assert await store.choice(any_engine, number, "3") is None and await store.choice(any_engine, number, "\u0662") is None
