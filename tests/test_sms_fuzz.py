"""Fuzzed Twilio webhook requests (Hypothesis) never cause a 5xx: unsigned junk, wrongly signed
forms, and correctly signed forms with arbitrary fields and text all get a 2xx or 4xx answer.

The gateway and a stand-in Rasa (which echoes the text back, buttons included) run in a background
event loop for the whole module; requests go over loopback with urllib.
"""
from __future__ import annotations

import secrets
import urllib.error
import urllib.parse
import urllib.request

import pytest
from aiohttp import web
from hypothesis import HealthCheck, given, settings as hsettings, strategies as st
from twilio.request_validator import RequestValidator

from bot.gateway.app import create_app
from bot.settings import load_settings
from bot.stack import free_port
from bot.storage.migrate import upgrade
from tests.conftest import base_env, serve_in_background

PUBLIC = "https://sms.northbrook.example"
TOKEN = "fuzz-auth-token-made-up"
PATHS = ["/webhooks/twilio", "/webhooks/twilio/status"]
FIELDS = ["MessageSid", "SmsSid", "From", "To", "Body", "NumMedia", "MessageStatus", "ErrorCode",
          "AccountSid", "NumSegments", "SmsStatus"]


async def echo(request):
    body = await request.json()
    return web.json_response([{"recipient_id": body["sender"], "text": body["message"] * 3,
                               "buttons": [{"title": body["message"][:40], "payload": "/menu"}]},
                              {"recipient_id": body["sender"], "custom": {"escalation": "emergency"}}])


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("smsfuzz")
    rasa_port, port = free_port(), free_port()
    env = base_env(tmp)
    env.update(RASA_URLS=f"http://127.0.0.1:{rasa_port}", PUBLIC_BASE_URL=PUBLIC, TWILIO_AUTH_TOKEN=TOKEN,
               RASA_TIMEOUT="2")
    settings = load_settings(env, dotenv=False)
    upgrade(settings.database_url)
    fake = web.Application()
    fake.router.add_post("/webhooks/sms/webhook", echo)
    with serve_in_background([(fake, rasa_port), (create_app(settings), port)]):
        yield f"http://127.0.0.1:{port}"


def post(url: str, data: bytes, headers: dict) -> int:
    req = urllib.request.Request(url, data=data, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=20) as resp:
            resp.read()
            return resp.status
    except urllib.error.HTTPError as err:
        return err.code


text = st.text(max_size=300)
forms = st.dictionaries(st.sampled_from(FIELDS) | st.text(min_size=1, max_size=20), text, max_size=12)
fuzz = hsettings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))


@fuzz
@given(path=st.sampled_from(PATHS), body=st.binary(max_size=3000),
       content_type=st.sampled_from(["application/x-www-form-urlencoded", "multipart/form-data",
                                     "multipart/form-data; boundary=xyz", "application/json", "text/plain", ""]),
       signature=st.none() | st.text(max_size=40).filter(lambda s: s.isascii() and "\n" not in s and "\r" not in s))
def test_junk_never_causes_a_5xx(live, path, body, content_type, signature):
    headers = {"Content-Type": content_type} if content_type else {}
    if signature is not None:
        headers["X-Twilio-Signature"] = signature
    assert post(live + path, body, headers) in (400, 403, 413)


@fuzz
@given(path=st.sampled_from(PATHS), form=forms, tamper=st.booleans())
def test_signed_forms_never_cause_a_5xx(live, path, form, tamper):
    sig = RequestValidator(TOKEN).compute_signature(PUBLIC + path, form)
    data = urllib.parse.urlencode(form).encode()
    if tamper:
        data += b"&x=1"
    status = post(live + path, data, {"Content-Type": "application/x-www-form-urlencoded",
                                      "X-Twilio-Signature": sig})
    assert status < 500
    if tamper:
        assert status == 403
    elif path == PATHS[1]:
        assert status == 204
    elif (form.get("MessageSid") or form.get("SmsSid")) and form.get("From"):
        assert status == 200
    else:
        assert status == 400


@fuzz
@given(body=text, sender=st.from_regex(r"\+447700900[0-9]{3}", fullmatch=True), sid=st.text(min_size=1, max_size=40))
def test_any_text_from_a_drama_number_gets_twiml(live, body, sender, sid):
    form = {"MessageSid": sid + secrets.token_hex(4), "From": sender, "Body": body}  # never a retry
    sig = RequestValidator(TOKEN).compute_signature(PUBLIC + PATHS[0], form)
    req = urllib.request.Request(live + PATHS[0], data=urllib.parse.urlencode(form).encode(),
                                 headers={"Content-Type": "application/x-www-form-urlencoded",
                                          "X-Twilio-Signature": sig}, method="POST")
    with urllib.request.urlopen(req, timeout=20) as resp:
        xml = resp.read().decode()
    assert resp.status == 200 and xml.startswith("<?xml")
    from xml.etree import ElementTree

    from bot.sms import gsm
    for message in ElementTree.fromstring(xml).iter("Message"):
        assert gsm.check(message.text or "").ok
