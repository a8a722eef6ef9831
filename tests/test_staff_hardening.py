"""Issue 16, the staff side: sign-in limits a stranger cannot use to keep an account locked (ASVS:
only checked attempts count against the account, a per-(account, address) limit, growing delays with
a cap, an audited unlock by a lead or on the server, the state shown to leads), reopen only by the
record's holder or a lead, a bounded number of current-password guesses per session, and a 400 (not
a 500) for forms and numbers no handler can use.

Time comes from an injected clock; nothing sleeps. Client addresses come from X-Forwarded-For through
a trusted proxy (127.0.0.1, the test client), each test using its own invented addresses so the
shared PostgreSQL database does not mix their counters. Invented people only.
"""
from __future__ import annotations

import asyncio
import datetime as dt
import logging
import re
import secrets

import pytest
from sqlalchemy import select

from bot.gateway.staff import common
from bot.staff import passwords, store
from bot.storage import crypto
from bot.storage.migrate import upgrade
from bot.storage.models import Booking, StaffAudit
from tests.test_staff import (  # noqa: F401
    PASSWORD, Browser, Env, db_kind, db_overrides, start_env)

WRONG = "not the password at all"


class At(Browser):
    """A browser at one client address (seen through the trusted proxy)."""

    def __init__(self, client, clock, address: str):
        super().__init__(client, clock)
        self.address = address

    def _headers(self, extra=None):
        headers = super()._headers(extra)
        headers.setdefault("X-Forwarded-For", self.address)
        return headers


class HEnv(Env):
    def at(self, address: str) -> At:
        return At(self.client, self.clock, address)

    def browser(self) -> At:  # signed_in() and friends: each browser at an address of its own
        return self.at(new_address())


def new_address() -> str:
    return f"2001:db8:{secrets.token_hex(2)}:{secrets.token_hex(2)}::{secrets.randbelow(9999) + 1}"


@pytest.fixture
async def henv(aiohttp_client, make_settings, db_overrides):
    return await start_env(aiohttp_client, make_settings(TRUSTED_PROXIES="127.0.0.1", **db_overrides),
                           HEnv)


async def checked_failures(env, username: str) -> int:
    """Sign-in attempts whose password was actually checked: each writes a sign_in_failed audit row."""
    user = await store.find_user(env.engine, username)
    async with env.engine.connect() as conn:
        rows = (await conn.execute(select(StaffAudit.id).where(StaffAudit.user_id == user.id,
                                                              StaffAudit.action == "sign_in_failed"))).all()
    return len(rows)


def user_row(body: str, username: str) -> str:
    m = re.search(r"<tr><td>" + re.escape(username) + r"</td>.*?</tr>", body, re.S)
    assert m, f"no row for {username}"
    return m.group(0)


def secret_key(env) -> bytes:
    return env.settings.session_secret.encode()


# ---------------------------------------------------------------- item 3: sign-in limits

def test_backoff_delays_grow_and_are_capped():
    for policy in (store.ACCOUNT_BACKOFF, store.PAIR_BACKOFF):
        delays = [policy.delay(n) for n in range(policy.free + 40)]
        assert delays[:policy.free] == [dt.timedelta(0)] * policy.free
        assert delays[policy.free] == policy.base and delays[policy.free + 1] == 2 * policy.base
        assert delays == sorted(delays) and max(delays) == policy.cap
        assert policy.delay(10 ** 9) == policy.cap  # no overflow, however many
        assert policy.cap <= store.FAILURE_WINDOW
    # A single address cannot move the whole account into back-off: it is held up long before.
    assert store.PAIR_BACKOFF.free < store.ACCOUNT_BACKOFF.free


async def test_a_stranger_cannot_keep_an_account_locked(henv, caplog):
    caplog.set_level(logging.INFO)
    name, secret = await henv.user()
    stranger = henv.at(new_address())
    for _ in range(120):  # a guess every 30 seconds for an hour, most refused by the limits
        resp, body = await stranger.login(name, password=WRONG, code="123456")
        assert resp.status == 401 and "Sign-in failed" in body
        henv.clock.advance(seconds=30)
    checked = await checked_failures(henv, name)
    assert store.PAIR_BACKOFF.free <= checked < store.ACCOUNT_BACKOFF.free
    # The real person, at their own address, is not held up at all.
    resp, _ = await henv.at(new_address()).login(name, secret=secret)
    assert resp.status == 303
    assert WRONG not in caplog.text and name not in caplog.text and stranger.address not in caplog.text


async def test_one_address_is_held_back_with_growing_delays_and_others_are_not(henv):
    name, secret = await henv.user()
    me = henv.at(new_address())
    free, base = store.PAIR_BACKOFF.free, store.PAIR_BACKOFF.base
    for _ in range(free):
        assert (await me.login(name, password=WRONG, code="123456"))[0].status == 401
    assert await checked_failures(henv, name) == free
    # Held back: even the right password is not checked (nor counted) until the delay has passed.
    assert (await me.login(name, secret=secret))[0].status == 401
    assert (await me.login(name, password=WRONG, code="123456"))[0].status == 401
    assert await checked_failures(henv, name) == free
    for expected_delay in (base, 2 * base, 4 * base):
        henv.clock.advance(seconds=expected_delay.total_seconds() - 1)
        await me.login(name, password=WRONG, code="123456")
        before = await checked_failures(henv, name)
        henv.clock.advance(seconds=1)
        await me.login(name, password=WRONG, code="123456")
        assert await checked_failures(henv, name) == before + 1, expected_delay
    # The same account from another address is not held up by this one.
    resp, _ = await henv.at(new_address()).login(name, secret=secret)
    assert resp.status == 303


async def test_many_addresses_back_the_account_off_and_a_lead_sees_and_unlocks_it(henv):
    lead, lead_name, _ = await henv.signed_in("lead")
    caseworker, _, _ = await henv.signed_in("caseworker")
    name, secret = await henv.user()
    victim = await store.find_user(henv.engine, name)
    for _ in range(store.ACCOUNT_BACKOFF.free):  # a guess from each of many addresses
        assert (await henv.at(new_address()).login(name, password=WRONG, code="123456"))[0].status == 401
    resp, _ = await henv.at(new_address()).login(name, secret=secret)
    assert resp.status == 401  # right password and code, but the account is held back

    resp, body = await lead.get("/staff/users")
    row = user_row(body, name)
    assert f"{store.ACCOUNT_BACKOFF.free} failed" in row and "held back until" in row.lower()
    assert 'value="unlock"' in row
    assert "held back" not in user_row(body, lead_name).lower()

    resp, _ = await caseworker.post(f"/staff/users/{victim.id}", {"action": "unlock"})
    assert resp.status == 403
    resp, _ = await lead.post(f"/staff/users/{victim.id}", {"action": "unlock"}, csrf=False)
    assert resp.status == 403
    resp, _ = await lead.post(f"/staff/users/{victim.id}", {"action": "unlock"})
    assert resp.status == 303
    entries = await store.audit_entries(henv.engine)
    assert any(e["action"] == "user_unlocked" and e["actor"] == lead_name and e["target"] == name
               for e in entries)
    resp, body = await lead.get("/staff/users")
    assert "held back" not in user_row(body, name).lower()
    resp, _ = await henv.at(new_address()).login(name, secret=secret)
    assert resp.status == 303


async def test_account_state_counts_only_checked_failures(henv):
    key = secret_key(henv)
    account = store.account_key(key, "ada.invented")
    here, there = store.address_key(key, new_address()), store.address_key(key, new_address())
    now = henv.clock()
    for _ in range(3):
        await store.record_failure(henv.engine, account, here, now)
    await store.record_refused(henv.engine, there, now)
    state = await store.account_state(henv.engine, account, now)
    assert state.failures == 3 and state.addresses == 1 and state.held_until is None
    assert await store.sign_in_refusal(henv.engine, account, here, now) is None


def test_cli_unlock_user_clears_the_back_off_and_is_audited(monkeypatch, tmp_path, capsys):
    from bot import cli
    from bot.settings import load_settings
    from bot.storage.db import create_engine
    from tests.conftest import base_env

    for k, v in base_env(tmp_path).items():
        monkeypatch.setenv(k, v)
    upgrade(base_env(tmp_path)["DATABASE_URL"])
    settings = load_settings()
    crypto.configure_from_settings(settings)
    key = settings.session_secret.encode()
    now = store.utcnow()

    async def setup():
        engine = create_engine(settings.database_url)
        user = await store.create_user(engine, "bea.invented", "caseworker",
                                       passwords.hash_password_sync(PASSWORD), "JBSWY3DPEHPK3PXP")
        for _ in range(store.ACCOUNT_BACKOFF.free):
            await store.record_failure(engine, store.account_key(key, "bea.invented"),
                                       store.address_key(key, new_address()), now, user_id=user.id)
        state = await store.account_state(engine, store.account_key(key, "bea.invented"), now)
        await engine.dispose()
        return user, state

    user, state = asyncio.run(setup())
    assert state.held_until is not None
    assert cli.main(["unlock-user", "Bea.Invented"]) == 0
    out = capsys.readouterr().out
    assert "bea.invented" in out and "2001:db8" not in out

    async def after():
        engine = create_engine(settings.database_url)
        state = await store.account_state(engine, store.account_key(key, "bea.invented"), store.utcnow())
        async with engine.connect() as conn:
            rows = (await conn.execute(select(StaffAudit.user_id).where(
                StaffAudit.action == "user_unlocked", StaffAudit.target_user_id == user.id))).all()
        await engine.dispose()
        return state, rows

    state, rows = asyncio.run(after())
    assert state.failures == 0 and state.held_until is None
    assert [r.user_id for r in rows] == [None]  # done on the server: the actor is "system"
    with pytest.raises(SystemExit):
        cli.main(["unlock-user", "nobody.invented"])


# ---------------------------------------------------------------- item 5: reopen

async def test_only_the_holder_or_a_lead_may_reopen(henv):
    a, a_name, _ = await henv.signed_in()
    b, _, _ = await henv.signed_in()
    lead, lead_name, _ = await henv.signed_in("lead")
    booking_id, _ = await henv.booking(name="Cai Reopen-Test")
    a_user = await store.find_user(henv.engine, a_name)
    for path, data in (("claim", {}), ("complete", {"outcome": "advice"})):
        assert (await a.post(f"/staff/records/{booking_id}/{path}", data))[0].status == 303

    resp, body = await b.get(f"/staff/records/{booking_id}")
    assert "/reopen" not in body  # no button for someone who may not use it
    resp, body = await b.post(f"/staff/records/{booking_id}/reopen")
    assert resp.status == 409 and "reopen" in body.lower()
    async with henv.engine.connect() as conn:
        row = (await conn.execute(select(Booking.status, Booking.claimed_by).where(Booking.id == booking_id))).first()
    assert row.status == "completed" and row.claimed_by == a_user.id
    assert "reopened" not in [e["action"] for e in await store.audit_entries(henv.engine, booking_id=booking_id)]

    resp, body = await a.get(f"/staff/records/{booking_id}")
    assert "/reopen" in body
    assert (await a.post(f"/staff/records/{booking_id}/reopen"))[0].status == 303
    assert (await a.post(f"/staff/records/{booking_id}/complete", {"outcome": "advice"}))[0].status == 303
    assert (await lead.post(f"/staff/records/{booking_id}/reopen"))[0].status == 303
    async with henv.engine.connect() as conn:
        row = (await conn.execute(select(Booking.status, Booking.claimed_by).where(Booking.id == booking_id))).first()
    assert row.status != "completed" and row.claimed_by == (await store.find_user(henv.engine, lead_name)).id


# ---------------------------------------------------------------- item 6: change-password guesses

async def test_wrong_current_passwords_are_counted_audited_and_end_the_session(henv, caplog):
    caplog.set_level(logging.INFO)
    b, name, secret = await henv.signed_in()
    limit = store.PASSWORD_CHECKS_PER_SESSION
    new = "another invented passphrase 9"
    for i in range(limit - 1):
        resp, body = await b.post("/staff/password", {"current": f"{WRONG} {i}", "new": new, "repeat": new})
        assert resp.status == 400 and "current password is not right" in body
    resp, body = await b.post("/staff/password", {"current": f"{WRONG} last", "new": new, "repeat": new})
    assert resp.status == 303 and resp.headers["Location"] == "/staff/login"
    assert "__Host-staff" not in b.cookies
    assert (await b.get("/staff/"))[0].status == 303  # the session is gone
    entries = await store.audit_entries(henv.engine)
    mine = [e for e in entries if e["actor"] == name]
    assert sum(e["action"] == "password_check_failed" for e in mine) == limit
    assert any(e["action"] == "signed_out" and e["detail"] == "password_checks" for e in mine)
    state = await store.account_state(henv.engine, store.account_key(secret_key(henv), name), henv.clock())
    assert state.failures == limit  # counted in the account limit like failed sign-ins
    assert WRONG not in caplog.text and new not in caplog.text
    # The password did not change.
    henv.clock.advance(seconds=31)
    assert (await henv.browser().login(name, secret=secret))[0].status == 303


async def test_change_password_waits_while_the_account_is_held_back(henv):
    b, name, _ = await henv.signed_in()
    key = secret_key(henv)
    for _ in range(store.ACCOUNT_BACKOFF.free):
        await store.record_failure(henv.engine, store.account_key(key, name),
                                   store.address_key(key, new_address()), henv.clock())
    new = "another invented passphrase 9"
    resp, body = await b.post("/staff/password", {"current": PASSWORD, "new": new, "repeat": new})
    assert resp.status == 429 and "wait" in body.lower()
    henv.clock.advance(seconds=store.ACCOUNT_BACKOFF.base.total_seconds())
    resp, _ = await b.post("/staff/password", {"current": PASSWORD, "new": new, "repeat": new})
    assert resp.status == 303


# ---------------------------------------------------------------- item 4: unreadable input is a 400

BAD_BODIES = [
    ("multipart/form-data", b"--x\r\n\r\n--x--\r\n"),  # no boundary
    ("multipart/form-data; boundary=", b"--\r\n"),
    ("multipart/form-data; boundary=zz", b"not a multipart body"),
    ("multipart/form-data; boundary=zz",
     b'--zz\r\nContent-Disposition: form-data; name="a"\r\nContent-Type: text/plain; charset=evil-charset\r\n'
     b"\r\nb\r\n--zz--\r\n"),
    ("multipart/form-data; boundary=zz", b"--zz\r\nContent-Disposition: form-data\r\n\r\nb\r\n--zz--\r\n"),
    ("multipart/form-data; boundary=zz",
     b'--zz\r\nContent-Disposition: form-data; name="a"\r\nContent-Transfer-Encoding: evil\r\n\r\nb\r\n--zz--\r\n'),
    ("application/x-www-form-urlencoded; charset=evil-charset", b"username=a&password=b"),
]


def assert_staff_400(resp, body):
    assert resp.status == 400, body[:200]
    assert resp.headers["Content-Security-Policy"] == common.STAFF_CSP  # the dashboard's own page
    assert resp.headers["X-Frame-Options"] == "DENY" and resp.headers["X-Content-Type-Options"] == "nosniff"
    assert resp.headers["Cache-Control"] == "no-store" and resp.headers["Referrer-Policy"] == "no-referrer"
    assert "Traceback" not in body


async def test_unreadable_forms_are_a_400_on_every_staff_post(henv, caplog):
    caplog.set_level(logging.INFO)
    b, _, _ = await henv.signed_in()
    anon = henv.browser()
    await anon.get("/staff/login")
    for content_type, data in BAD_BODIES:
        for who, path in ((anon, "/staff/login"), (b, "/staff/logout"), (b, "/staff/password")):
            resp = await henv.client.post(path, data=data, allow_redirects=False, headers=who._headers(
                {"Content-Type": content_type, "Origin": who.origin}))
            assert_staff_400(resp, await resp.text())
    assert (await b.get("/staff/"))[0].status == 200  # still signed in: nothing was done
    assert "Traceback" not in caplog.text and "evil-charset" not in caplog.text
    assert not [r for r in caplog.records if r.name == "bot.gateway.security"]  # handled here, not there


async def test_numbers_in_lead_pages_are_bounded(henv, caplog):
    caplog.set_level(logging.INFO)
    lead, _, _ = await henv.signed_in("lead")
    for query in ("page=99999999999999999999", "page=-1", "page=1_0", "page=%EF%BC%91", "page=" + "9" * 5000,
                  "record=99999999999999999999", "record=abc", "record=-3", "record=%D9%A1", "record=1.5",
                  "record=" + "1" * 5000):
        resp, body = await lead.get("/staff/audit?" + query)
        assert_staff_400(resp, body)
    for query in ("", "page=0", "page=3", "record=1", "page=2&record=7"):
        assert (await lead.get("/staff/audit?" + query))[0].status == 200, query
    for path in ("/staff/users/99999999999999999999", "/staff/users/2147483648", "/staff/users/%D9%A1",
                 "/staff/users/" + "9" * 5000, "/staff/records/99999999999999999999/claim",
                 "/staff/records/%D9%A1/claim"):
        resp, body = await lead.post(path, {"action": "revoke"})
        assert resp.status == 404, path
        assert resp.headers["X-Frame-Options"] == "DENY" and resp.headers["Cache-Control"] == "no-store"
    resp, body = await lead.get("/staff/records/%D9%A1")
    assert resp.status == 404
    assert not [r for r in caplog.records if r.name == "bot.gateway.security"]
