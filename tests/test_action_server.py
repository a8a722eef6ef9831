"""The real action server (`python -m actions`) runs actions only for whoever holds the shared secret
(issue 16 item 2): a made-up tracker posted to /webhook without ACTION_SERVER_TOKEN is refused and
stores nothing; with the token it runs; without a usable token the server does not start at all.

Started on its own (no Rasa), as the stack starts it, on SQLite in a temporary folder. Invented names
and Ofcom drama numbers only.
"""
from __future__ import annotations

import base64
import datetime as dt
import json
import os
import secrets
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from cryptography.fernet import Fernet

from bot.callbacks import form
from bot.profile import load_profile
from bot.settings import ROOT, load_settings
from bot.stack import Stack, free_port
from bot.storage.migrate import upgrade
from tests.conftest import base_env

pytestmark = pytest.mark.stack

NAME, PHONE = "Imogen Testperson", "+447700900417"


@pytest.fixture(scope="module")
def actions(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("actions")
    env = base_env(tmp)
    load_settings(env, dotenv=False)  # the development keys, before the process starts
    upgrade(env["DATABASE_URL"])
    stack = Stack(port=free_port(), action_port=free_port(), env=env, log_dir=tmp / "logs")
    stack.start("actions")
    deadline = time.monotonic() + 120
    while True:
        if stack.dead():
            pytest.fail("the action server stopped:\n" + (tmp / "logs" / "actions.log").read_text()[-3000:])
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{stack.action_port}/health", timeout=2) as resp:
                if resp.status == 200:
                    break
        except OSError:
            pass
        if time.monotonic() > deadline:
            stack.stop()
            pytest.fail("the action server did not answer /health")
        time.sleep(0.3)
    yield stack
    stack.stop()


def token_of(stack: Stack) -> str:
    return stack.environment()["ACTION_SERVER_TOKEN"]


def bookings(stack: Stack) -> int:
    path = stack.env["DATABASE_URL"].split("///", 1)[1]
    with sqlite3.connect(path) as conn:
        return conn.execute("SELECT count(*) FROM bookings").fetchone()[0]


def next_open_window(now: dt.datetime):
    """An hour within the team's hours on the next open day after today (London time)."""
    profile = load_profile(ROOT / "profiles" / "example.yml")
    zone = ZoneInfo(profile.timezone)
    day = now.astimezone(zone).date()
    for _ in range(14):
        day += dt.timedelta(days=1)
        opening = profile.team.hours.window(day.weekday())
        if opening:
            start = dt.datetime.combine(day, opening[0], tzinfo=zone)
            return {"start": start.astimezone(dt.timezone.utc).isoformat(),
                    "end": (start + dt.timedelta(hours=1)).astimezone(dt.timezone.utc).isoformat(),
                    "tz": profile.timezone}
    raise AssertionError("no open day")


def confirmed_slots():
    slots = {slot: None for slot in form.ALL_SLOTS}
    slots.update({form.CONSENT: True, form.NAME: NAME, form.PHONE: PHONE, form.DEFAULTS: True,
                  **form.SAFE_DEFAULTS, form.NOTE: form.SKIPPED, form.CHILDREN: "no", form.AFRAID: "no",
                  form.CONFIRM: True, form.TIMES: [next_open_window(dt.datetime.now(dt.timezone.utc))]})
    return slots


def action_call(slots, action="action_submit_callback"):
    """What Rasa posts to /webhook, made up by hand."""
    return {
        "next_action": action, "sender_id": secrets.token_hex(16), "version": "3.6.21",
        "domain": {"responses": {}},
        "tracker": {
            "sender_id": secrets.token_hex(16), "slots": slots,
            "latest_message": {"intent": {"name": "affirm", "confidence": 1.0}, "text": "/affirm"},
            "latest_event_time": time.time(), "followup_action": None, "paused": False,
            "events": [{"event": "session_started", "timestamp": 1.0}],
            "latest_input_channel": "rest", "active_loop": {}, "latest_action": {"action_name": "action_listen"},
            "latest_action_name": "action_listen",
        },
    }


def post(stack: Stack, path: str, body, headers=None, method="POST"):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(f"http://127.0.0.1:{stack.action_port}{path}", data=data, method=method,
                                 headers={"Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, json.loads(resp.read() or b"null")
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read() or b"null")


def bearer(token: str):
    return {"Authorization": f"Bearer {token}"}


@pytest.mark.parametrize("headers", [
    pytest.param({}, id="no-token"),
    pytest.param(bearer("wrong-" + "x" * 40), id="wrong-token"),
    pytest.param(bearer(""), id="empty-token"),
    pytest.param({"Authorization": "Basic dXNlcjpwYXNz"}, id="basic-auth"),
])
def test_a_made_up_tracker_without_the_token_is_refused_and_books_nothing(actions, headers):
    before = bookings(actions)
    status, body = post(actions, "/webhook", action_call(confirmed_slots()), headers)
    assert status == 401 and body == {"error": "unauthorised"}
    assert bookings(actions) == before


def test_the_token_in_the_query_string_or_a_prefix_of_it_is_not_enough(actions):
    token = token_of(actions)
    before = bookings(actions)
    assert post(actions, f"/webhook?token={token}", action_call(confirmed_slots()))[0] == 401
    assert post(actions, "/webhook", action_call(confirmed_slots()), bearer(token[:-1]))[0] == 401
    assert post(actions, "/webhook", action_call(confirmed_slots()), bearer(token + "x"))[0] == 401
    assert bookings(actions) == before


@pytest.mark.parametrize("method,path", [("GET", "/actions"), ("GET", "/webhook"), ("OPTIONS", "/webhook"),
                                         ("GET", "/anything-else"), ("POST", "/health")])
def test_every_other_route_needs_the_token_too(actions, method, path):
    status, _ = post(actions, path, None, {"Origin": "https://example.com",
                                          "Access-Control-Request-Method": "POST"}, method=method)
    assert status == 401


def test_health_is_open(actions):
    assert post(actions, "/health", None, method="GET") == (200, {"status": "ok"})


def test_with_the_token_the_action_runs_and_books(actions):
    before = bookings(actions)
    status, body = post(actions, "/webhook", action_call(confirmed_slots()), bearer(token_of(actions)))
    assert status == 200
    assert [r["response"] for r in body["responses"]] == ["utter_callback_booked"]
    assert bookings(actions) == before + 1


def test_with_the_token_a_booking_that_skipped_the_form_is_still_refused(actions):
    before = bookings(actions)
    crafted = dict(confirmed_slots(), **{
        form.CONSENT: None, form.NAME: "N" * 3000, form.PHONE: "+1 202 555 0143'; DROP TABLE bookings; --",
        form.TIMES: [{"start": "2020-01-06T10:00:00+00:00", "end": "2099-12-31T11:00:00+00:00",
                      "tz": "../../etc/passwd"}]})
    status, body = post(actions, "/webhook", action_call(crafted), bearer(token_of(actions)))
    assert status == 200
    assert [r["response"] for r in body["responses"]] == ["utter_callback_cancelled"]  # no consent: nothing kept
    crafted[form.CONSENT] = True
    status, body = post(actions, "/webhook", action_call(crafted), bearer(token_of(actions)))
    assert [r["response"] for r in body["responses"]] == ["utter_callback_save_failed"]
    assert bookings(actions) == before
    log = (Path(actions.log_dir) / "actions.log").read_text(errors="replace")
    assert "Callback booking refused" in log
    for secret in ("NNNNNNNN", "DROP", "202 555", "passwd", token_of(actions)):
        assert secret not in log


def run_actions(env_changes):
    env = {k: v for k, v in os.environ.items() if k != "ACTION_SERVER_TOKEN"}
    env.update(PYTHONPATH=str(ROOT), ACTION_PORT=str(free_port()), **env_changes)
    return subprocess.run([sys.executable, "-m", "actions"], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120)


@pytest.mark.parametrize("mode", ["development", "production"])
@pytest.mark.parametrize("token,says", [("", "ACTION_SERVER_TOKEN is missing"),
                                        ("short-token", "ACTION_SERVER_TOKEN is too short"),
                                        ("x" * 31, "ACTION_SERVER_TOKEN is too short"),
                                        ("a token with spaces in it, long enough though", "may hold only")])
def test_without_a_usable_token_the_action_server_does_not_start(tmp_path, mode, token, says):
    env = base_env(tmp_path)
    env["SERVICE_MODE"] = mode
    if mode == "production":  # real keys, so that the token is what stops it
        env.update(ENCRYPTION_KEYS=Fernet.generate_key().decode(),
                   **{name: base64.urlsafe_b64encode(os.urandom(32)).decode()
                      for name in ("BLIND_INDEX_KEY", "SENDER_HASH_KEY", "GATEWAY_TOKEN", "SESSION_SECRET")})
    result = run_actions(dict(env, ACTION_SERVER_TOKEN=token))
    assert result.returncode == 2
    assert says in result.stderr and "Action server not started" in result.stderr


def test_an_action_that_fails_echoes_and_logs_nothing_typed(actions):
    # rasa_sdk's own handler answers a failing action with a 500 carrying the whole request body
    # (the tracker, with what the person typed) and logs the exception with its message.
    typed = "Invented Rosalind Featherstonehaugh typed this at 12 Quill Lane"
    call = action_call(confirmed_slots())
    call["tracker"]["latest_message"]["text"] = typed
    call["tracker"]["events"] = "not a list of events: " + typed  # makes the action fail
    status, body = post(actions, "/webhook", call, bearer(token_of(actions)))
    assert status == 500
    assert typed not in json.dumps(body) and "Featherstonehaugh" not in json.dumps(body)
    time.sleep(0.5)
    log = (Path(actions.log_dir) / "actions.log").read_text(errors="replace")
    assert "Featherstonehaugh" not in log and "Quill" not in log
