"""Every HTTP route under Hypothesis (issue 16): whatever arrives, signed in or not, the gateway never
answers with a 5xx, and every answer carries the security headers.

The gateway (create_app, the real SQLite store and staff dashboard) and a stand-in Rasa run in a
background event loop for the module; requests go over loopback with aiohttp. A caseworker and a
lead are signed in (and signed in again whenever an example ended their session). Time for the
staff pages comes from an injected clock. 2,000+ examples a run across the tests below.
"""
from __future__ import annotations

import asyncio
import re
import secrets
from http.cookies import SimpleCookie
from typing import Dict, Optional

import aiohttp
import pytest
from aiohttp import web
from hypothesis import HealthCheck, given, settings as hsettings, strategies as st

from bot.gateway import security
from bot.gateway.app import create_app
from bot.gateway.staff import common
from bot.settings import load_settings
from bot.stack import free_port
from bot.staff import passwords, store, totp
from bot.storage import crypto
from bot.storage.migrate import upgrade
from tests.conftest import base_env, serve_in_background
from tests.test_staff import PASSWORD, START, Clock

ROUTES = [
    ("GET", "/"), ("GET", "/safety"), ("GET", "/embed"), ("GET", "/embed/safety"),
    ("GET", "/embed.js"), ("GET", "/healthz"), ("GET", "/static/chat/chat.js"),
    ("POST", "/webhooks/rest/webhook"), ("POST", "/api/forget"),
    ("POST", "/webhooks/twilio"), ("POST", "/webhooks/twilio/status"),
    ("GET", "/staff"), ("GET", "/staff/"), ("GET", "/staff/login"), ("POST", "/staff/login"),
    ("POST", "/staff/logout"), ("GET", "/staff/password"), ("POST", "/staff/password"),
    ("GET", "/staff/records/{id}"), ("POST", "/staff/records/{id}/claim"),
    ("POST", "/staff/records/{id}/release"), ("POST", "/staff/records/{id}/attempt"),
    ("POST", "/staff/records/{id}/complete"), ("POST", "/staff/records/{id}/close"),
    ("POST", "/staff/records/{id}/reopen"), ("POST", "/staff/records/{id}/notes"),
    ("GET", "/staff/reports"), ("GET", "/staff/reports.csv"), ("GET", "/staff/users"),
    ("POST", "/staff/users/{id}"), ("GET", "/staff/audit"), ("GET", "/staff/static/staff.css"),
]
CONTENT_TYPES = ["application/json", "application/x-www-form-urlencoded", "multipart/form-data",
                 "multipart/form-data; boundary=xyz", "multipart/form-data; boundary=",
                 "application/x-www-form-urlencoded; charset=evil-charset", "text/plain", ""]
FIELDS = ["csrf", "login_token", "username", "password", "code", "new_password", "confirm",
          "current_password", "note", "outcome", "reason", "role", "action", "page", "record",
          "sender", "message", "Body", "From", "MessageSid"]


async def fake_rasa(request: web.Request) -> web.Response:
    body = await request.json()
    return web.json_response([{"recipient_id": body.get("sender"), "text": "Hello.",
                               "buttons": [{"title": "Menu", "payload": "/menu"}]}])


async def fake_forget(request: web.Request) -> web.Response:
    return web.json_response({"forgotten": True, "exists": False})


class Live:
    """The running gateway, and signed-in sessions kept by hand (the cookies are Secure)."""

    def __init__(self, loop, url, app, clock):
        self.loop, self.url, self.app, self.clock = loop, url, app, clock
        self.session: Optional[aiohttp.ClientSession] = None
        self.cookies: Dict[str, Dict[str, str]] = {"anonymous": {}, "caseworker": {}, "lead": {}}
        self.csrf: Dict[str, str] = {}

    def run(self, coro):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(60)

    async def request(self, method, path, role="anonymous", data=None, headers=None):
        jar = self.cookies[role]
        sent = dict(headers or {})
        if jar:
            sent["Cookie"] = "; ".join(f"{k}={v}" for k, v in jar.items())
        async with self.session.request(method, self.url + path, data=data, headers=sent,
                                        allow_redirects=False) as resp:
            body = await resp.read()
            for header in resp.headers.getall("Set-Cookie", []):
                cookie = SimpleCookie()
                cookie.load(header)
                for name, morsel in cookie.items():
                    if morsel["max-age"] == "0" or not morsel.value:
                        jar.pop(name, None)
                    else:
                        jar[name] = morsel.value
            m = re.search(rb'name="csrf" value="([^"]+)"', body)
            if m and role != "anonymous":
                self.csrf[role] = m.group(1).decode()
            return resp.status, resp.headers, body

    async def sign_in(self, role):
        from bot.gateway import keys

        engine = self.app[keys.ENGINE]
        name = f"fuzz-{role}-{secrets.token_hex(3)}"
        secret = totp.new_secret()
        await store.create_user(engine, name, role, await passwords.hash_password(PASSWORD), secret,
                                now=self.clock())
        self.cookies[role] = {}
        self.clock.advance(seconds=31)
        _, _, body = await self.request("GET", "/staff/login", role)
        token = re.search(rb'name="login_token" value="([^"]+)"', body).group(1).decode()
        status, _, _ = await self.request(
            "POST", "/staff/login", role,
            data={"login_token": token, "username": name, "password": PASSWORD,
                  "code": totp.code_at(secret, self.clock().timestamp())},
            headers={"Origin": self.url})
        assert status == 303, "fuzz sign-in failed"
        await self.request("GET", "/staff/", role)

    async def ensure_signed_in(self, role):
        if role == "anonymous":
            return
        status, _, _ = await self.request("GET", "/staff/", role)
        if status != 200:
            await self.sign_in(role)


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("httpfuzz")
    rasa_port, port = free_port(), free_port()
    env = base_env(tmp)
    env.update(RASA_URLS=f"http://127.0.0.1:{rasa_port}", RASA_TIMEOUT="2",
               TWILIO_AUTH_TOKEN="fuzz-auth-token-made-up")
    settings = load_settings(env, dotenv=False)
    upgrade(settings.database_url)
    crypto.configure_from_settings(settings)
    clock = Clock(START)
    app = create_app(settings)
    app[common.CLOCK] = clock
    fake = web.Application()
    for channel in ("chat", "sms"):
        fake.router.add_post(f"/webhooks/{channel}/webhook", fake_rasa)
    fake.router.add_post("/webhooks/forget/webhook", fake_forget)
    fake.router.add_get("/", lambda r: web.Response(text="Hello from Rasa: 3.6.21"))
    with serve_in_background([(fake, rasa_port), (app, port)]) as loop:
        live = Live(loop, f"http://127.0.0.1:{port}", app, clock)

        async def open_session():
            live.session = aiohttp.ClientSession()

        async def close_session():
            await live.session.close()

        live.run(open_session())
        live.run(live.sign_in("caseworker"))
        live.run(live.sign_in("lead"))
        yield live
        live.run(close_session())


def check(status, headers, where):
    assert status < 500, f"{where}: HTTP {status}"
    for name in security.HEADERS:
        if name == "X-Frame-Options" and where.split()[1].startswith("/embed"):
            continue  # the embed pages name their frame ancestors in the CSP instead
        assert name in headers, f"{where}: no {name}"
    assert "Server" not in headers, where


ids = (st.integers(min_value=-(10 ** 25), max_value=10 ** 25).map(str)
       | st.integers(min_value=0, max_value=5).map(str)
       | st.text(alphabet=st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=30)
       .map(lambda s: s.replace("/", "").replace("?", "").replace("#", "") or "x"))
query = st.dictionaries(st.sampled_from(["page", "record", "q", "from", "to", "status", "sort", "id"]),
                        st.text(max_size=30) | st.integers(-(10 ** 30), 10 ** 30).map(str), max_size=3)
form = st.dictionaries(st.sampled_from(FIELDS) | st.text(min_size=1, max_size=15),
                       st.text(max_size=200) | st.integers(-(10 ** 30), 10 ** 30).map(str), max_size=8)
fuzz = hsettings(max_examples=700, deadline=None, suppress_health_check=list(HealthCheck))


def build_path(template: str, record_id: str, params: Dict[str, str]) -> str:
    from urllib.parse import quote, urlencode

    path = template.replace("{id}", quote(record_id, safe=""))
    return path + ("?" + urlencode(params) if params else "")


@fuzz
@given(route=st.sampled_from(ROUTES), record_id=ids, params=query, fields=form,
       role=st.sampled_from(["anonymous", "caseworker", "lead"]), good_csrf=st.booleans(),
       good_origin=st.booleans())
def test_forms_and_queries_never_cause_a_5xx(live, route, record_id, params, fields, role,
                                              good_csrf, good_origin):
    method, template = route
    live.run(live.ensure_signed_in(role))
    path = build_path(template, record_id, params)
    data = None
    headers = {"Origin": live.url if good_origin else "https://evil.example"}
    if method == "POST":
        data = dict(fields)
        if good_csrf and role in live.csrf:
            data["csrf"] = live.csrf[role]
    status, resp_headers, _ = live.run(live.request(method, path, role, data=data, headers=headers))
    check(status, resp_headers, f"{method} {template}")


@fuzz
@given(route=st.sampled_from([r for r in ROUTES if r[0] == "POST"]), record_id=ids,
       body=st.binary(max_size=4000) | st.sampled_from([b"[" * 990, b'{"a":' * 1200,
                                                        b'{"sender": ' + b"7" * 4400 + b"}"]),
       content_type=st.sampled_from(CONTENT_TYPES), role=st.sampled_from(["anonymous", "caseworker", "lead"]))
def test_raw_bodies_never_cause_a_5xx(live, route, record_id, body, content_type, role):
    method, template = route
    live.run(live.ensure_signed_in(role))
    headers = {"Origin": live.url}
    if content_type:
        headers["Content-Type"] = content_type
    status, resp_headers, _ = live.run(
        live.request(method, build_path(template, record_id, {}), role, data=body, headers=headers))
    check(status, resp_headers, f"{method} {template}")


@fuzz
@given(sender=st.text(max_size=140), message=st.text(max_size=2100) | st.integers() | st.none(),
       extra=st.dictionaries(st.text(max_size=10), st.text(max_size=20), max_size=3))
def test_chat_turns_never_cause_a_5xx(live, sender, message, extra):
    import json

    body = json.dumps({"sender": sender, "message": message, **extra}).encode()
    status, headers, raw = live.run(live.request("POST", "/webhooks/rest/webhook", data=body,
                                                 headers={"Content-Type": "application/json"}))
    check(status, headers, "POST /webhooks/rest/webhook")
    if status == 200:
        assert isinstance(json.loads(raw), list)
