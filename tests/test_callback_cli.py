"""Operator commands (python -m bot.cli) and the gateway's scheduled retention purge."""
from __future__ import annotations

import asyncio
import datetime as dt
import subprocess
import sys

import pytest
from cryptography.fernet import Fernet

from bot import cli
from bot.settings import ROOT
from bot.storage import crypto
from bot.storage.bookings import NewBooking, create_booking, get_booking, purge_totals
from bot.storage.db import create_engine
from bot.storage.migrate import upgrade
from tests.conftest import base_env

UTC = dt.timezone.utc


def new(key, name="Imogen"):
    return NewBooking(channel="web", idempotency_key=key, name=name, phone_e164="+447700900321",
                      note="a note", windows=[(dt.datetime(2026, 3, 3, 9, tzinfo=UTC),
                                               dt.datetime(2026, 3, 3, 11, tzinfo=UTC), "Europe/London")])


async def _book(url, key, when=None):
    engine = create_engine(url)
    try:
        return (await create_booking(engine, new(key), b"b" * 32, now=when)).reference
    finally:
        await engine.dispose()


async def _get(url, ref):
    engine = create_engine(url)
    try:
        return await get_booking(engine, ref)
    finally:
        await engine.dispose()


@pytest.fixture
def env(tmp_path, monkeypatch):
    values = base_env(tmp_path)
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    upgrade(values["DATABASE_URL"])
    return values


def test_generate_key_prints_a_fernet_key():
    out = subprocess.run([sys.executable, "-m", "bot.cli", "generate-key"], cwd=ROOT, capture_output=True,
                         text=True, check=True).stdout.strip()
    Fernet(out.encode())


def test_rotate_keys_command_reencrypts_under_the_newest_key(env, monkeypatch, capsys):
    old, new_key = Fernet.generate_key(), Fernet.generate_key()
    monkeypatch.setenv("ENCRYPTION_KEYS", old.decode())
    crypto.configure([old])
    ref = asyncio.run(_book(env["DATABASE_URL"], "cli-rot"))
    monkeypatch.setenv("ENCRYPTION_KEYS", f"{new_key.decode()},{old.decode()}")
    assert cli.main(["rotate-keys"]) == 0
    assert "Re-encrypted 4 stored values" in capsys.readouterr().out
    crypto.configure([new_key])
    booking = asyncio.run(_get(env["DATABASE_URL"], ref))
    assert booking.name == "Imogen" and booking.phone == "+447700900321"


def test_purge_command_deletes_expired_bookings_and_prints_counts_only(env, capsys):
    crypto.configure([Fernet.generate_key()])
    old = dt.datetime.now(UTC) - dt.timedelta(days=15)
    stale = asyncio.run(_book(env["DATABASE_URL"], "cli-old", when=old))
    fresh = asyncio.run(_book(env["DATABASE_URL"], "cli-new"))
    assert cli.main(["purge"]) == 0
    out = capsys.readouterr().out
    assert out.strip() == "Purged 0 completed or closed and 1 untouched bookings."
    assert asyncio.run(_get(env["DATABASE_URL"], stale)) is None
    assert asyncio.run(_get(env["DATABASE_URL"], fresh)) is not None


async def test_gateway_runs_the_purge_on_a_schedule(aiohttp_client, make_settings):
    from bot.gateway.app import create_app

    settings = make_settings(PURGE_INTERVAL_SECONDS="1", RASA_URLS="http://127.0.0.1:9")
    await asyncio.to_thread(upgrade, settings.database_url)
    crypto.configure_from_settings(settings)
    engine = create_engine(settings.database_url)
    stale = (await create_booking(engine, new("gw-old"), settings.blind_index_key_bytes,
                                  now=dt.datetime.now(UTC) - dt.timedelta(days=20))).reference
    await aiohttp_client(create_app(settings))
    for _ in range(40):
        if await get_booking(engine, stale) is None:
            break
        await asyncio.sleep(0.1)
    assert await get_booking(engine, stale) is None
    assert sum((await purge_totals(engine)).values()) == 1
    await engine.dispose()
