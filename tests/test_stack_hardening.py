"""Issue 16 on the real stack (gateway, Rasa server and action server from tests/conftest.py)."""
from __future__ import annotations

import json
import secrets
import time
import urllib.error
import urllib.request

import pytest

from bot.settings import load_settings
from tests.conftest import base_env

INVENTED_NAME = "Wilhelmina Quenby-Ashcroft"
INVENTED_TEXT = f"he hurt me again last night, I am {INVENTED_NAME} at 14 Larkspur Row"


def post(url, body: bytes, headers=None, timeout=20):
    req = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json",
                                                          **(headers or {})})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, resp.read(), dict(resp.headers)
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read(), dict(exc.headers)


def logs(stack_dir) -> str:
    return "\n".join(p.read_text(errors="replace") for p in (stack_dir / "logs").glob("*.log"))


def token(stack_dir) -> str:
    return load_settings(base_env(stack_dir), dotenv=False).gateway_token


def test_surrogates_are_answered_and_nothing_typed_reaches_any_log(stack, stack_dir):
    senders = [secrets.token_hex(16) for _ in range(3)]
    bodies = [
        '{"sender": "%s", "message": "%s \\ud83d"}' % (senders[0], INVENTED_TEXT),
        '{"sender": "%s", "message": "\\udc00\\ud83d %s"}' % (senders[1], INVENTED_TEXT),
        '{"sender": "%s", "message": "hello \\ud83d\\u0000"}' % senders[2],
    ]
    for body in bodies:
        status, raw, _ = post(stack.url + "/webhooks/rest/webhook", body.encode())
        assert status == 200
        replies = json.loads(raw)
        assert replies and not any((r["custom"] or {}).get("fallback") for r in replies), replies
    # The same straight into Rasa's chat channel (the gateway's cleaning bypassed): still answered.
    status, raw, _ = post(stack.rasa_url() + "/webhooks/chat/webhook",
                          ('{"sender": "%s", "message": "%s \\ud83d"}'
                           % (secrets.token_hex(16), INVENTED_TEXT)).encode(),
                          {"X-Gateway-Token": token(stack_dir)})
    assert status == 200 and json.loads(raw)
    time.sleep(1)  # let the processes flush their logs
    text = logs(stack_dir)
    assert INVENTED_NAME not in text and "Larkspur" not in text
    for sender in senders:
        assert sender not in text
    assert '"locals"' not in text


def test_rasa_takes_turns_only_through_the_token_checked_channels(stack, stack_dir):
    body = json.dumps({"sender": secrets.token_hex(16), "message": "hello"}).encode()
    status, _, _ = post(stack.rasa_url() + "/webhooks/rest/webhook", body)
    assert status == 404  # Rasa's open REST channel is not enabled
    for channel in ("chat", "sms", "forget"):
        status, _, _ = post(stack.rasa_url() + f"/webhooks/{channel}/webhook", body)
        assert status == 403, channel
        status, _, _ = post(stack.rasa_url() + f"/webhooks/{channel}/webhook", body,
                            {"X-Gateway-Token": "not-the-token-" + "x" * 30})
        assert status == 403, channel


def test_rasa_refuses_big_bodies_before_reading_them(stack, stack_dir):
    big = json.dumps({"sender": secrets.token_hex(16), "message": "a" * 200_000}).encode()
    status, _, _ = post(stack.rasa_url() + "/webhooks/chat/webhook", big,
                        {"X-Gateway-Token": token(stack_dir)})
    assert status == 413
    medium = json.dumps({"sender": secrets.token_hex(16), "message": "a" * 20_000}).encode()
    status, _, _ = post(stack.rasa_url() + "/webhooks/chat/webhook", medium,
                        {"X-Gateway-Token": token(stack_dir)})
    assert status == 400
    newline = json.dumps({"sender": secrets.token_hex(16) + "\n", "message": "hi"}).encode()
    status, _, _ = post(stack.rasa_url() + "/webhooks/chat/webhook", newline,
                        {"X-Gateway-Token": token(stack_dir)})
    assert status == 400


def test_a_turn_past_its_deadline_is_refused_by_rasa(stack, stack_dir):
    body = json.dumps({"sender": secrets.token_hex(16), "message": "hello"}).encode()
    status, _, _ = post(stack.rasa_url() + "/webhooks/chat/webhook", body,
                        {"X-Gateway-Token": token(stack_dir), "X-Turn-Deadline": f"{time.time() - 1:.3f}"})
    assert status == 504


def test_gateway_sends_no_server_header_and_logs_status_codes(stack, stack_dir):
    status, _, headers = post(stack.url + "/webhooks/rest/webhook", b"[" * 990)
    assert status == 400 and "Server" not in headers
    time.sleep(0.5)
    gateway_log = (stack_dir / "logs" / "gateway.log").read_text(errors="replace")
    assert '"POST /webhooks/rest/webhook" 400' in gateway_log
