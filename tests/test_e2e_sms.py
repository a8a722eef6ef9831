"""End to end through the real gateway, Rasa server and action server: SMS turns signed like
Twilio's (development token, as in offline mode: no Twilio account, no network).

Rasa test stories cannot choose the input channel, so the emergency on the SMS path is covered here.
"""
from __future__ import annotations

import secrets
import sqlite3
import urllib.parse
import urllib.request
from xml.etree import ElementTree

import pytest
from twilio.request_validator import RequestValidator

from bot.settings import load_settings
from bot.sms import gsm, texts, webhook

pytestmark = pytest.mark.stack


def sms(stack, body, number):
    settings = load_settings(dict(stack.env), dotenv=False)
    url = (settings.public_base_url or f"http://127.0.0.1:{stack.port}") + webhook.INCOMING_PATH
    form = {"MessageSid": "SM" + secrets.token_hex(16), "From": number, "To": "+447700900999", "Body": body}
    sig = RequestValidator(webhook.auth_token(settings)).compute_signature(url, form)
    req = urllib.request.Request(stack.url + webhook.INCOMING_PATH, data=urllib.parse.urlencode(form).encode(),
                                 headers={"X-Twilio-Signature": sig,
                                          "Content-Type": "application/x-www-form-urlencoded"})
    with urllib.request.urlopen(req, timeout=20) as resp:
        assert resp.status == 200
        messages = [m.text or "" for m in ElementTree.fromstring(resp.read()).iter("Message")]
    assert all(gsm.check(m).ok for m in messages), messages
    return messages


def drama_number() -> str:
    return f"+447700900{secrets.randbelow(1000):03d}"


def test_emergency_text_gets_the_emergency_reply_first(stack):
    out = sms(stack, "he's hitting me right now", drama_number())
    assert "999" in out[0] and "55" in out[0] and gsm.segments(out[0]) == 1
    rest = " ".join(out[1:])
    assert "0808 2000 247" in rest and "116 123" in rest and "register" in rest
    assert texts.PRIVACY in out[-1]


def test_emergency_in_the_middle_of_a_concern_still_comes_first(stack):
    number = drama_number()
    sms(stack, "report", number)
    out = sms(stack, "he's got a knife", number)
    assert "999" in out[0] and gsm.segments(out[0]) == 1


def test_unconfirmed_danger_words_get_the_short_danger_check_first_by_sms(stack):
    from tests.test_e2e_foundation import CHECKED_QUESTION

    out = sms(stack, CHECKED_QUESTION, drama_number())
    assert out[0].startswith("In danger right now? Call 999. Can't speak? From a mobile call 999, then press 55.")
    assert len(" ".join(out)) > 150  # the answer follows


def test_greeting_by_sms_uses_the_sms_variation_and_tells_about_deleting_texts_once(stack):
    number = drama_number()
    first = sms(stack, "hello", number)
    assert "private text service" in first[0] and "Northbrook City Council" in first[0]
    assert texts.PRIVACY in " ".join(first)
    second = sms(stack, "hello", number)
    assert texts.PRIVACY not in " ".join(second)


def test_stop_help_start(stack):
    number = drama_number()
    assert sms(stack, "STOP", number) == []
    assert sms(stack, "hello", number) == []
    help_ = sms(stack, "help", number)
    assert "999" in help_[0] and "0808 2000 247" in help_[0]
    assert sms(stack, "START", number)
    assert sms(stack, "hello", number)


def test_third_party_report_by_sms_reaches_the_store_encrypted(stack):
    number = drama_number()
    out = sms(stack, "i think my neighbour is being abused", number)
    assert "REPORT" in " ".join(out)  # the guidance offers to record a concern
    out = sms(stack, "report", number)
    assert "Shall I record your concern?" in " ".join(out)
    out = sms(stack, "yes", number)
    assert "What are you worried about?" in " ".join(out)
    out = sms(stack, "I hear Morwenna Testperson next door crying most nights", number)
    assert "Reply 3 for Neighbour" in " ".join(out)
    sms(stack, "3", number)  # mapped back to the button's payload by the gateway
    out = sms(stack, "14 Imaginary Close", number)
    assert "call you back" in " ".join(out)
    out = " ".join(sms(stack, "no", number))
    assert "concern is recorded" in out and "discreetly" in out and "999" in out
    db = sqlite3.connect(stack.env["DATABASE_URL"].split("///", 1)[1])
    try:
        rows = db.execute("SELECT kind, status, channel FROM bookings WHERE kind = 'third_party_report'").fetchall()
        dump = "\n".join(db.iterdump())
    finally:
        db.close()
    assert ("third_party_report", "new", "sms") in rows
    for secret in ("Morwenna", "Imaginary", "crying", number, number[3:]):
        assert secret not in dump
