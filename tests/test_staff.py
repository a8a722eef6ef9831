"""The staff dashboard through the aiohttp test client: sign-in with password and TOTP, throttling,
sessions, CSRF and Origin, roles, the queue workflow, audit, stored-XSS, reports and CSV.

The cookies are `__Host-` prefixed and Secure, which aiohttp's cookie jar will not send over
http://127.0.0.1, so `Browser` keeps them by hand and sends them explicitly. Time comes from an
injected clock. Invented people and Ofcom drama numbers only.
"""
from __future__ import annotations

import asyncio
import csv
import datetime as dt
import io
import re
import secrets
from http.cookies import SimpleCookie

import pytest
from sqlalchemy import select

from bot.gateway import keys as app_keys
from bot.gateway.app import create_app
from bot.gateway.staff import common
from bot.staff import passwords, queue, reports, store, totp
from bot.storage import crypto
from bot.storage.bookings import NewBooking, create_booking
from bot.storage.migrate import upgrade
from bot.storage.models import Booking, StaffAudit, StaffSession

UTC = dt.timezone.utc

def _this_monday() -> dt.datetime:
    """10:00 UTC on this week's Monday. Near real time on purpose: the gateway's retention purge runs
    on the real clock (in every app the test run starts, sharing one PostgreSQL database), and would
    delete test bookings dated long ago."""
    today = dt.datetime.now(UTC).replace(hour=10, minute=0, second=0, microsecond=0)
    return today - dt.timedelta(days=today.weekday())


START = _this_monday()
PASSWORD = "correct lantern harbour 42"
XSS = '<script>alert("x")</script>"><img src=x onerror=alert(1)>'


class Clock:
    def __init__(self, now: dt.datetime):
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **kwargs) -> None:
        self.now += dt.timedelta(**kwargs)


class Browser:
    """A test client that keeps the Secure cookies itself and posts from the right Origin."""

    def __init__(self, client, clock: Clock):
        self.client = client
        self.clock = clock
        self.cookies = {}
        self.origin = f"http://{client.server.host}:{client.server.port}"
        self.csrf = ""
        self.last_set_cookie = []

    def _absorb(self, resp) -> None:
        self.last_set_cookie = resp.headers.getall("Set-Cookie", [])
        for header in self.last_set_cookie:
            jar = SimpleCookie()
            jar.load(header)
            for name, morsel in jar.items():
                if morsel["max-age"] == "0" or not morsel.value:
                    self.cookies.pop(name, None)
                else:
                    self.cookies[name] = morsel.value

    def _headers(self, extra=None):
        headers = {}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        headers.update(extra or {})
        return headers

    async def get(self, path: str, **kwargs):
        resp = await self.client.get(path, headers=self._headers(kwargs.pop("headers", None)),
                                     allow_redirects=False, **kwargs)
        body = await resp.text()
        self._absorb(resp)
        m = re.search(r'name="csrf" value="([^"]+)"', body)
        if m:
            self.csrf = m.group(1)
        return resp, body

    async def post(self, path: str, data=None, csrf=True, origin=True, headers=None):
        data = dict(data or {})
        if csrf and "csrf" not in data:
            data["csrf"] = self.csrf
        extra = {"Origin": self.origin} if origin else {}
        extra.update(headers or {})
        resp = await self.client.post(path, data=data, headers=self._headers(extra), allow_redirects=False)
        body = await resp.text()
        self._absorb(resp)
        return resp, body

    async def login(self, username: str, password: str = PASSWORD, code=None, secret=None):
        resp, body = await self.get("/staff/login")
        token = re.search(r'name="login_token" value="([^"]+)"', body).group(1)
        if code is None:
            code = totp.code_at(secret, self.clock().timestamp())
        resp, body = await self.post("/staff/login", {"login_token": token, "username": username,
                                                      "password": password, "code": code}, csrf=False)
        if resp.status == 303:
            await self.get("/staff/")  # picks up the session's CSRF token
        return resp, body


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_kind(request):
    return request.param


@pytest.fixture
def db_overrides(request, db_kind):
    # pg_url is a synchronous session fixture: resolve it here, outside the event loop.
    return {"DATABASE_URL": request.getfixturevalue("pg_url")} if db_kind == "postgres" else {}


async def start_env(aiohttp_client, settings, cls):
    """The gateway with the given settings, migrated, on an injected clock; wrapped in `cls`."""
    await asyncio.to_thread(upgrade, settings.database_url)
    crypto.configure_from_settings(settings)
    clock = Clock(START)
    app = create_app(settings)
    app[common.CLOCK] = clock
    client = await aiohttp_client(app)
    return cls(app, client, clock, settings)


@pytest.fixture
async def env(aiohttp_client, make_settings, db_overrides):
    return await start_env(aiohttp_client, make_settings(**db_overrides), Env)


class Env:
    def __init__(self, app, client, clock, settings):
        self.app, self.client, self.clock, self.settings = app, client, clock, settings

    @property
    def engine(self):
        return self.app[app_keys.ENGINE]

    def browser(self) -> Browser:
        return Browser(self.client, self.clock)

    async def user(self, role="caseworker", password=PASSWORD):
        name = f"{role}-{secrets.token_hex(3)}"
        secret = totp.new_secret()
        await store.create_user(self.engine, name, role, await passwords.hash_password(password), secret,
                                now=self.clock())
        return name, secret

    async def signed_in(self, role="caseworker"):
        name, secret = await self.user(role)
        b = self.browser()
        resp, _ = await b.login(name, secret=secret)
        assert resp.status == 303, "sign-in failed"
        b.clock.advance(seconds=31)  # the next sign-in of any test user needs a fresh TOTP step
        return b, name, secret

    async def booking(self, **fields):
        data = dict(channel="web", idempotency_key=secrets.token_hex(8), name="Jo Example",
                    phone_e164="+447700900" + f"{secrets.randbelow(1000):03d}", note="Please call about housing.",
                    details={"text_first": "yes", "language": "English"},
                    windows=[(self.clock() - dt.timedelta(hours=1), self.clock() + dt.timedelta(hours=2),
                              "Europe/London")])
        data.update(fields)
        created = await create_booking(self.engine, NewBooking(**data), self.settings.blind_index_key_bytes,
                                       now=fields.pop("now", None) or self.clock())
        async with self.engine.connect() as conn:
            return (await conn.execute(select(Booking.id).where(Booking.reference == created.reference))).scalar_one(), created.reference


# ---------------------------------------------------------------- sign-in

async def test_sign_in_with_password_and_totp(env):
    name, secret = await env.user("caseworker")
    b = env.browser()
    resp, _ = await b.get("/staff/")
    assert resp.status == 303 and resp.headers["Location"] == "/staff/login"
    resp, body = await b.login(name, secret=secret)
    assert resp.status == 303 and resp.headers["Location"] == "/staff/"
    resp, body = await b.get("/staff/")
    assert resp.status == 200 and "Callback queue" in body and name in body
    csp = resp.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in csp and "script-src" not in csp and "'unsafe-inline'" not in csp
    assert resp.headers["Cache-Control"] == "no-store"
    assert resp.headers["Referrer-Policy"] == "no-referrer"
    assert resp.headers["X-Frame-Options"] == "DENY"


async def test_session_cookie_attributes_and_new_id_each_sign_in(env):
    name, secret = await env.user()
    b = env.browser()
    await b.get("/staff/login")
    token = b.cookies["__Host-staff-login"]
    resp, _ = await b.post("/staff/login", {"login_token": token, "username": name, "password": PASSWORD,
                                            "code": totp.code_at(secret, env.clock().timestamp())}, csrf=False)
    header = next(h for h in resp.headers.getall("Set-Cookie") if h.startswith("__Host-staff="))
    lowered = header.lower()
    for attribute in ("secure", "httponly", "samesite=strict", "path=/"):
        assert attribute in lowered
    assert "domain=" not in lowered and "max-age" not in lowered  # a session cookie, host-only
    first = b.cookies["__Host-staff"]
    env.clock.advance(seconds=31)
    await b.login(name, secret=secret)
    assert b.cookies["__Host-staff"] != first
    async with env.engine.connect() as conn:  # the old session is gone; the token itself is never stored
        ids = (await conn.execute(select(StaffSession.id))).scalars().all()
    assert first not in ids and b.cookies["__Host-staff"] not in ids


async def test_wrong_totp_refused_with_generic_message(env):
    name, secret = await env.user()
    b = env.browser()
    good = totp.code_at(secret, env.clock().timestamp())
    wrong = f"{(int(good) + 1) % 1000000:06d}"
    resp, body = await b.login(name, code=wrong)
    assert resp.status == 401 and "Sign-in failed" in body and "__Host-staff" not in b.cookies
    resp2, body2 = await b.login("nobody-" + name, code=good)
    resp3, body3 = await b.login(name, password="wrong password here", code=good)
    for r, text in ((resp2, body2), (resp3, body3)):
        assert r.status == 401 and "Sign-in failed" in text  # same message whatever was wrong


async def test_reused_totp_refused(env):
    name, secret = await env.user()
    code = totp.code_at(secret, env.clock().timestamp())
    b = env.browser()
    resp, _ = await b.login(name, code=code)
    assert resp.status == 303
    await b.post("/staff/logout")
    resp, body = await env.browser().login(name, code=code)
    assert resp.status == 401
    env.clock.advance(seconds=30)
    resp, _ = await env.browser().login(name, secret=secret)
    assert resp.status == 303


async def test_account_lockout_then_recovery(env, db_kind):
    if db_kind == "postgres":
        pytest.skip("the shared PostgreSQL database keeps the address counter between tests")
    name, secret = await env.user()
    for _ in range(store.PAIR_BACKOFF.free):  # from one address: that address is held back
        resp, _ = await env.browser().login(name, password="not the password!", secret=secret)
        assert resp.status == 401
    resp, body = await env.browser().login(name, secret=secret)  # right password and code, but held back
    assert resp.status == 401 and "Sign-in failed" in body
    env.clock.advance(minutes=16)  # more than any back-off (tests/test_staff_hardening.py has the rest)
    resp, _ = await env.browser().login(name, secret=secret)
    assert resp.status == 303


async def test_client_address_throttle(env, db_kind):
    if db_kind == "postgres":
        pytest.skip("the shared PostgreSQL database keeps the address counter between tests")
    name, secret = await env.user()
    for i in range(store.ADDRESS_FAILURE_LIMIT):
        await env.browser().login(f"guess{i}", password="not the password!", code="123456")
    resp, _ = await env.browser().login(name, secret=secret)
    assert resp.status == 401


async def test_login_form_needs_its_token_and_origin(env):
    name, secret = await env.user()
    b = env.browser()
    await b.get("/staff/login")
    data = {"username": name, "password": PASSWORD, "code": totp.code_at(secret, env.clock().timestamp())}
    resp, _ = await b.post("/staff/login", data, csrf=False)
    assert resp.status == 403
    data["login_token"] = b.cookies["__Host-staff-login"]
    resp, _ = await b.post("/staff/login", data, csrf=False, headers={"Origin": "https://evil.example"})
    assert resp.status == 403


# ---------------------------------------------------------------- sessions

async def test_logout_revokes_the_session(env):
    b, name, _ = await env.signed_in()
    stolen = dict(b.cookies)
    resp, _ = await b.post("/staff/logout")
    assert resp.status == 303 and "__Host-staff" not in b.cookies
    assert "cookies" in resp.headers.get("Clear-Site-Data", "")
    replay = env.browser()
    replay.cookies = stolen
    resp, body = await replay.get("/staff/")
    assert resp.status == 303 and resp.headers["Location"] == "/staff/login"


async def test_idle_timeout_and_absolute_limit(env):
    b, name, _ = await env.signed_in()
    env.clock.advance(minutes=14)
    assert (await b.get("/staff/"))[0].status == 200
    env.clock.advance(minutes=15, seconds=1)
    resp, _ = await b.get("/staff/")
    assert resp.status == 303 and resp.headers["Location"] == "/staff/login"

    b, name, _ = await env.signed_in()
    for _ in range(int(8 * 60 / 10)):  # active every 10 minutes for 8 hours
        env.clock.advance(minutes=10)
        resp, _ = await b.get("/staff/")
    assert resp.status == 303


async def test_password_change_and_admin_revoke_sessions(env):
    b1, name, secret = await env.signed_in()
    env.clock.advance(seconds=31)
    b2 = env.browser()
    assert (await b2.login(name, secret=secret))[0].status == 303
    new = "a different long passphrase 7"
    resp, body = await b1.post("/staff/password", {"current": PASSWORD, "new": "password1234", "repeat": "password1234"})
    assert resp.status == 400 and "too common" in body
    resp, _ = await b1.post("/staff/password", {"current": PASSWORD, "new": new, "repeat": new})
    assert resp.status == 303
    assert (await b1.get("/staff/"))[0].status == 200  # a fresh session for this browser
    assert (await b2.get("/staff/"))[0].status == 303  # the other one is gone

    lead, _, _ = await env.signed_in("lead")
    user = await store.find_user(env.engine, name)
    await lead.get("/staff/users")
    resp, _ = await lead.post(f"/staff/users/{user.id}", {"action": "deactivate"})
    assert resp.status == 303
    assert (await b1.get("/staff/"))[0].status == 303
    env.clock.advance(seconds=31)
    assert (await env.browser().login(name, password=new, secret=secret))[0].status == 401


# ---------------------------------------------------------------- CSRF, origin, roles

async def test_state_changes_need_csrf_and_same_origin(env):
    b, _, _ = await env.signed_in()
    booking_id, _ = await env.booking()
    resp, _ = await b.post(f"/staff/records/{booking_id}/claim", csrf=False)
    assert resp.status == 403
    resp, _ = await b.post(f"/staff/records/{booking_id}/claim", {"csrf": "forged"})
    assert resp.status == 403
    resp, _ = await b.post(f"/staff/records/{booking_id}/claim", headers={"Origin": "https://evil.example"})
    assert resp.status == 403
    resp, _ = await b.post(f"/staff/records/{booking_id}/claim", origin=False,
                           headers={"Origin": "null", "Sec-Fetch-Site": "cross-site"})
    assert resp.status == 403
    resp, _ = await b.post(f"/staff/logout", csrf=False)
    assert resp.status == 403
    async with env.engine.connect() as conn:
        assert (await conn.execute(select(Booking.claimed_by).where(Booking.id == booking_id))).scalar() is None
    # What browsers send under Referrer-Policy: no-referrer: Origin null plus Fetch Metadata.
    resp, _ = await b.post(f"/staff/records/{booking_id}/claim", origin=False,
                           headers={"Origin": "null", "Sec-Fetch-Site": "same-origin"})
    assert resp.status == 303


async def test_caseworker_refused_on_lead_pages(env):
    b, _, _ = await env.signed_in("caseworker")
    lead_user = await store.find_user(env.engine, (await env.user("lead"))[0])
    for path in ("/staff/users", "/staff/audit", "/staff/reports.csv"):
        resp, body = await b.get(path)
        assert resp.status == 403, path
    resp, _ = await b.post(f"/staff/users/{lead_user.id}", {"action": "deactivate"})
    assert resp.status == 403
    assert (await store.get_user(env.engine, lead_user.id)).active
    lead, _, _ = await env.signed_in("lead")
    for path in ("/staff/users", "/staff/audit", "/staff/reports.csv", "/staff/reports", "/staff/"):
        assert (await lead.get(path))[0].status == 200, path


async def test_every_route_refuses_anonymous_requests(env):
    booking_id, reference = await env.booking(name="Zed Anonymous-Check")
    anon = env.browser()
    await anon.get("/staff/login")  # has a pre-login cookie only
    public = {"/staff", "/staff/login", "/staff/static/staff.css"}
    checked = 0
    for route in env.app.router.routes():
        info = route.resource.get_info()
        path = (info.get("path") or info.get("formatter", "")).replace("{id}", str(booking_id))
        if not path.startswith("/staff") or path in public:
            continue
        if route.method == "GET":
            resp, body = await anon.get(path)
            assert resp.status == 303 and resp.headers["Location"] == "/staff/login", path
        else:
            resp, body = await anon.post(path, {"csrf": "x", "action": "deactivate", "outcome": "spoke"})
            assert resp.status == 403, path
        assert reference not in body and "Zed" not in body
        checked += 1
    assert checked >= 12


# ---------------------------------------------------------------- the queue

async def _audit_rows(env, booking_id, action="viewed"):
    async with env.engine.connect() as conn:
        return (await conn.execute(select(StaffAudit).where(StaffAudit.booking_id == booking_id,
                                                            StaffAudit.action == action))).all()


async def test_booking_in_queue_then_claimed_attempted_completed(env):
    b, name, _ = await env.signed_in()
    other, other_name, _ = await env.signed_in()
    booking_id, reference = await env.booking(name="Ada Queue-Test", phone_e164="+447700900555",
                                              note="Needs advice about a non-molestation order.")
    resp, body = await b.get("/staff/")
    assert reference in body and "Safe now" in body and "Callback booking" in body
    for secret_value in ("Ada Queue-Test", "+447700900555", "07700 900555", "non-molestation"):
        assert secret_value not in body  # no personal data in the list

    resp, body = await b.get(f"/staff/records/{booking_id}")
    assert resp.status == 200 and "Ada Queue-Test" in body and "+447700900555" in body
    assert "Before you call" in body and "Do not leave a voicemail" in body and "Text before calling" in body
    assert len(await _audit_rows(env, booking_id)) == 1
    resp, _ = await b.post(f"/staff/records/{booking_id}/claim")
    assert resp.status == 303
    resp, body = await other.get("/staff/")
    assert f"claimed ({name})" in body
    resp, body = await other.post(f"/staff/records/{booking_id}/attempt", {"outcome": "spoke"})
    assert resp.status == 409 and "Someone else has claimed" in body
    resp, _ = await b.post(f"/staff/records/{booking_id}/attempt", {"outcome": "no_answer", "note": "Rang once."})
    assert resp.status == 303
    env.clock.advance(minutes=10)  # within the 15-minute idle limit
    await b.post(f"/staff/records/{booking_id}/attempt", {"outcome": "spoke"})
    resp, _ = await b.post(f"/staff/records/{booking_id}/complete", {"outcome": "not-an-outcome"})
    assert resp.status == 409
    resp, _ = await b.post(f"/staff/records/{booking_id}/complete", {"outcome": "safety_plan"})
    assert resp.status == 303
    resp, body = await b.get("/staff/")
    assert reference not in body
    resp, body = await b.get("/staff/?view=done")
    assert reference in body
    async with env.engine.connect() as conn:
        row = (await conn.execute(select(Booking).where(Booking.id == booking_id))).first()
    assert row.status == "completed" and row.outcome == "safety_plan"
    assert row.first_attempt_at == START + dt.timedelta(seconds=62)
    resp, body = await b.post(f"/staff/records/{booking_id}/reopen")
    assert resp.status == 303
    await b.post(f"/staff/records/{booking_id}/close")
    async with env.engine.connect() as conn:
        assert (await conn.execute(select(Booking.status).where(Booking.id == booking_id))).scalar() == "closed"
    # Actions redirect without a view; the two refused actions (409) showed the record again: views.
    views = await _audit_rows(env, booking_id)
    assert len(views) == 3
    await b.get(f"/staff/records/{booking_id}")
    await other.get(f"/staff/records/{booking_id}")
    views = await _audit_rows(env, booking_id)
    assert len(views) == 5 and {v.user_id for v in views} == {
        (await store.find_user(env.engine, name)).id, (await store.find_user(env.engine, other_name)).id}
    assert all(v.detail is None for v in views)
    actions = [r["action"] for r in await store.audit_entries(env.engine, booking_id=booking_id)]
    for action in ("claimed", "attempt", "completed", "reopened", "closed", "viewed"):
        assert action in actions


async def test_queue_order_priority_then_earliest_window_and_repeat(env):
    b, _, _ = await env.signed_in()
    now = env.clock()
    later = [(now + dt.timedelta(hours=5), now + dt.timedelta(hours=6), "Europe/London")]
    sooner = [(now + dt.timedelta(hours=1), now + dt.timedelta(hours=2), "Europe/London")]
    _, normal_later = await env.booking(windows=later)
    _, normal_sooner = await env.booking(windows=sooner, phone_e164="+447700900321")
    _, urgent = await env.booking(windows=later, priority=1)
    _, third = await env.booking(windows=later, kind="third_party_report", phone_e164="+447700900321")
    resp, body = await b.get("/staff/")
    positions = [body.index(ref) for ref in (urgent, normal_sooner, normal_later)]
    assert positions == sorted(positions)
    assert "Third-party report" in body and "Repeat (1 other)" in body and "+447700900321" not in body
    assert f"Not now (next {(now + dt.timedelta(hours=1)).astimezone(queue.LONDON):%a %d %b %Y %H:%M})" in body


async def test_stale_claim_released_after_two_hours(env):
    b, _, _ = await env.signed_in()
    booking_id, _ = await env.booking()
    await b.post(f"/staff/records/{booking_id}/claim")
    env.clock.advance(hours=1, minutes=50)
    b, _, _ = await env.signed_in()  # the first session has idled out by now
    await b.get("/staff/")
    async with env.engine.connect() as conn:
        assert (await conn.execute(select(Booking.claimed_by).where(Booking.id == booking_id))).scalar() is not None
    env.clock.advance(minutes=11)
    await b.get("/staff/")  # the queue page releases stale claims (so does the housekeeping task)
    async with env.engine.connect() as conn:
        row = (await conn.execute(select(Booking.claimed_by, Booking.status).where(Booking.id == booking_id))).first()
    assert row.claimed_by is None and row.status == "new"


async def test_stored_xss_is_inert_in_list_and_record(env):
    b, _, _ = await env.signed_in()
    booking_id, reference = await env.booking(
        name=XSS, note=XSS, voicemail_wording=XSS, cover_story=XSS,
        details={"language": XSS, "gender": XSS, XSS: XSS},
    )
    await b.post(f"/staff/records/{booking_id}/claim")
    await b.post(f"/staff/records/{booking_id}/attempt", {"outcome": "unsafe", "note": XSS})
    await b.post(f"/staff/records/{booking_id}/notes", {"text": XSS})
    for path in ("/staff/", f"/staff/records/{booking_id}"):
        resp, body = await b.get(path)
        assert resp.status == 200
        assert "<script>alert" not in body and "<img src=x" not in body and 'onerror=alert(1)>' not in body
    assert body.count("&lt;script&gt;alert(") >= 8  # name, note, voicemail, cover, 3 details, attempt, note


async def test_long_note_and_unknown_record(env):
    b, _, _ = await env.signed_in()
    booking_id, _ = await env.booking()
    resp, body = await b.post(f"/staff/records/{booking_id}/notes", {"text": "x" * 5000})
    assert resp.status == 409 and "at most" in body
    assert (await b.get("/staff/records/999999"))[0].status == 404


# ---------------------------------------------------------------- reports

def test_response_time_figures_on_fixed_timestamps():
    class S:
        def __init__(self, created, first=None, done=None, outcome=None, kind="callback", high=False, closed=None):
            self.created_at, self.first_attempt_at, self.completed_at = created, first, done
            self.outcome, self.kind, self.high_priority, self.closed_at = outcome, kind, high, closed

    t = dt.datetime(2026, 3, 3, 9, 0, tzinfo=UTC)  # Tuesday of ISO week 10
    minutes = dt.timedelta(minutes=1)
    stats = [
        S(t, t + 10 * minutes, t + 60 * minutes, "advice"),
        S(t, t + 20 * minutes, t + 120 * minutes, "idva", high=True),
        S(t, t + 30 * minutes),
        S(t, t + 40 * minutes, t + 180 * minutes, "advice"),
        S(t, kind="third_party_report"),
        S(dt.datetime(2026, 2, 28, 23, 30, tzinfo=UTC), closed=t),  # February in London
    ]
    rep = reports.build(stats, [(dt.date(2026, 3, 4), 2), (dt.date(2026, 2, 1), 1)], [(dt.date(2026, 3, 5), 3)])
    march = rep.months[0].figures()
    assert march["period"] == "2026-03"
    assert march["requests"] == 5 and march["callback_bookings"] == 4 and march["third_party_reports"] == 1
    assert march["first_attempt_median_minutes"] == 25.0  # 10, 20, 30, 40
    assert march["first_attempt_p90_minutes"] == 40.0      # nearest rank: ceil(0.9 * 4) = 4th
    assert march["completion_median_minutes"] == 120.0     # 60, 120, 180
    assert march["completion_p90_minutes"] == 180.0
    assert march["outcome_advice"] == 2 and march["outcome_idva"] == 1 and march["high_priority"] == 1
    assert march["emergency_escalations"] == 2 and march["bookings_purged"] == 3
    feb = rep.months[1].figures()
    assert feb["period"] == "2026-02" and feb["requests"] == 1 and feb["closed"] == 1
    assert feb["first_attempt_median_minutes"] is None and feb["emergency_escalations"] == 1
    assert rep.weeks[0].period == "2026-W10" and rep.weeks[0].requests == 5
    assert reports.p90(list(range(1, 11))) == 9 and reports.p90(list(range(1, 12))) == 10


async def test_reports_page_and_csv_have_no_personal_data(env):
    lead, _, _ = await env.signed_in("lead")
    booking_id, reference = await env.booking(name="Cara Report-Test", phone_e164="+447700900777", note="Private words")
    await lead.post(f"/staff/records/{booking_id}/claim")
    env.clock.advance(minutes=10)
    await lead.post(f"/staff/records/{booking_id}/attempt", {"outcome": "spoke", "note": "Attempt words"})
    env.clock.advance(minutes=10)
    await lead.post(f"/staff/records/{booking_id}/complete", {"outcome": "housing"})
    resp, page = await lead.get("/staff/reports")
    assert resp.status == 200 and reports.month_of(START) in page
    resp, body = await lead.get("/staff/reports.csv")
    assert resp.status == 200 and resp.headers["Content-Type"].startswith("text/csv")
    assert "attachment" in resp.headers["Content-Disposition"]
    for text in (page, body):
        for secret_value in ("Cara", "+447700900777", "07700", "Private words", "Attempt words", reference):
            assert secret_value not in text
    rows = list(csv.DictReader(io.StringIO(body)))
    allowed = re.compile(r"^(|month|week|\d{4}-\d{2}|\d{4}-W\d{2}|\d+(\.\d+)?)$")
    assert rows and all(allowed.match(v) for row in rows for v in row.values())
    march = next(r for r in rows if r["period_type"] == "month" and r["period"] == reports.month_of(START))
    assert int(march["outcome_housing"]) >= 1


async def test_stats_survive_the_purge(env, db_kind):
    from bot.storage.bookings import purge_expired

    if db_kind == "postgres":
        pytest.skip("a purge 31 days ahead would delete other tests' rows in the shared database")

    booking_id, _ = await env.booking()
    user = await store.find_user(env.engine, (await env.user("lead"))[0])
    await queue.complete(env.engine, booking_id, user.id, True, "police", env.clock())
    await reports.sync_stats(env.engine)
    def march(rep):
        return next(p.figures() for p in rep.months if p.period == reports.month_of(env.clock()))

    before = march(await reports.report(env.engine))
    counts = await purge_expired(env.engine, 30, 14, now=env.clock() + dt.timedelta(days=31))
    assert counts["closed"] >= 1
    rep = await reports.report(env.engine)
    after = march(rep)
    assert after["outcome_police"] == before["outcome_police"] >= 1
    assert after["requests"] == before["requests"]
    assert next(p.purged for p in rep.months
                if p.period == reports.month_of(env.clock() + dt.timedelta(days=31))) >= 1


# ---------------------------------------------------------------- the admin commands

def test_cli_create_user_prints_totp_and_qr(monkeypatch, tmp_path, capsys):
    from bot import cli
    from tests.conftest import base_env

    for k, v in base_env(tmp_path).items():
        monkeypatch.setenv(k, v)
    upgrade(base_env(tmp_path)["DATABASE_URL"])
    monkeypatch.setattr("sys.stdin", io.StringIO(PASSWORD + "\n"))
    assert cli.main(["create-user", "--role", "lead", "Ruth.Lead"]) == 0
    out = capsys.readouterr().out
    assert "otpauth://totp/" in out and "ruth.lead" in out and "█" in out or "▀" in out
    assert PASSWORD not in out
    monkeypatch.setattr("sys.stdin", io.StringIO("password1234\n"))
    with pytest.raises(SystemExit):
        cli.main(["reset-password", "ruth.lead"])
    assert cli.main(["deactivate-user", "ruth.lead"]) == 0
    assert cli.main(["reset-totp", "ruth.lead"]) == 0


def test_password_policy():
    with pytest.raises(passwords.PasswordRejected):
        passwords.check_policy("short")
    with pytest.raises(passwords.PasswordRejected):
        passwords.check_policy("Password123456")
    with pytest.raises(passwords.PasswordRejected):
        passwords.check_policy("aaaaaaaaaaaaaaaa")
    with pytest.raises(passwords.PasswordRejected):
        passwords.check_policy("ruth-is-my-name-ok", "ruth")
    passwords.check_policy("é" * 3 + " long passphrase with spaces " + "x" * 100)  # 128+ characters allowed
    long_password = "🦊 lantern " * 20
    h = passwords.hash_password_sync(long_password)
    assert h.startswith("$argon2id$")
    assert passwords.verify_password_sync(h, long_password)
    assert not passwords.verify_password_sync(h, long_password[:-1])
    assert not passwords.verify_password_sync(None, long_password)


async def test_key_rotation_covers_totp_secrets_and_notes(env, db_kind):
    from cryptography.fernet import Fernet

    if db_kind == "postgres":
        pytest.skip("the shared PostgreSQL database holds other tests' rows under other keys")
    from sqlalchemy import text

    from bot.storage.bookings import rotate_keys

    name, secret = await env.user()
    booking_id, _ = await env.booking()
    user = await store.find_user(env.engine, name)
    await queue.add_note(env.engine, booking_id, user.id, "Note under the old key.", env.clock())
    new_key = Fernet.generate_key()
    await rotate_keys(env.engine, [new_key, *env.settings.fernet_keys])
    crypto.configure([new_key])  # the old key is retired
    try:
        _, _, stored_secret = await store.credentials(env.engine, name)
        assert stored_secret == secret
        record = await queue.open_record(env.engine, booking_id, user.id, env.clock())
        assert record.notes[0]["text"] == "Note under the old key."
        async with env.engine.connect() as conn:
            raw = (await conn.execute(text("SELECT totp_secret FROM staff_users WHERE id = :i"), {"i": user.id})).scalar()
            raw_note = (await conn.execute(text("SELECT text FROM booking_notes WHERE booking_id = :i"),
                                           {"i": booking_id})).scalar()
        assert secret not in raw and "old key" not in raw_note  # encrypted at rest
    finally:
        crypto.configure_from_settings(env.settings)
