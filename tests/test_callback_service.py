"""Saving a confirmed booking from the action server: idempotency per conversation, the
database-down path (honest message, nothing stored, nothing personal logged), slots cleared."""
from __future__ import annotations

import asyncio
import datetime as dt
import logging

import pytest
from sqlalchemy import func, select

from bot.callbacks import form, service
from bot.storage import crypto
from bot.storage.db import create_engine
from bot.storage.migrate import upgrade
from bot.storage.models import Booking, BookingWindow
from tests.test_callback_form import SLOTS

NAME, PHONE, NOTE = "Imogen", "+447700900123", "Please help me with housing"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'app.db'}"
    return request.getfixturevalue("pg_url")


@pytest.fixture
async def engine(db_url, settings):
    crypto.configure_from_settings(settings)
    await asyncio.to_thread(upgrade, db_url)
    engine = create_engine(db_url)
    yield engine
    await engine.dispose()


async def count(engine, model=Booking):
    async with engine.connect() as conn:
        return (await conn.execute(select(func.count()).select_from(model))).scalar_one()


async def test_confirming_twice_in_one_conversation_creates_one_booking(engine, settings):
    sender = "sender-" + "a" * 20
    first = await service.save(SLOTS, sender, 1700000000.0, "rest", db=engine, config=settings)
    second = await service.save(SLOTS, sender, 1700000000.0, "rest", db=engine, config=settings)
    assert first.status == "created" and second.status == "duplicate"
    assert first.reference == second.reference and len(first.reference.split()) == 3
    other = await service.save(SLOTS, "sender-" + "b" * 20, 1700000000.0, "sms", db=engine, config=settings)
    assert other.status == "created" and other.reference != first.reference


async def test_saved_booking_holds_the_answers(engine, settings):
    from bot.storage.bookings import get_booking

    slots = dict(SLOTS, **{form.AFRAID: "yes"})
    outcome = await service.save(slots, "s" * 24, 1.0, "sms", db=engine, config=settings)
    stored = await get_booking(engine, outcome.reference)
    assert (stored.name, stored.phone, stored.note, stored.channel) == (NAME, PHONE, NOTE, "sms")
    assert stored.priority == 2 and stored.voicemail_wording is None and stored.cover_story is None
    assert stored.details["worker_gender"] == "no_preference"
    assert len(stored.windows) == 1 and stored.windows[0].tz == "Europe/London"
    assert stored.windows[0].start_utc == dt.datetime.fromisoformat(SLOTS[form.TIMES][0]["start"])


async def test_skipped_note_is_not_stored(engine, settings):
    from bot.storage.bookings import get_booking

    outcome = await service.save(dict(SLOTS, **{form.NOTE: form.SKIPPED}), "t" * 24, 1.0, "rest",
                                 db=engine, config=settings)
    assert (await get_booking(engine, outcome.reference)).note is None


async def test_database_down_reports_failure_stores_nothing_and_logs_nothing_personal(settings, caplog):
    crypto.configure_from_settings(settings)
    down = create_engine("postgresql+asyncpg://postgres@127.0.0.1:1/nothing_here")
    caplog.set_level(logging.DEBUG)
    outcome = await service.save(SLOTS, "u" * 24, 1.0, "rest", db=down, config=settings)
    await down.dispose()
    assert outcome == service.Outcome("failed")
    logged = " ".join(r.getMessage() for r in caplog.records)
    for secret in (NAME, PHONE, "900123", NOTE):
        assert secret not in logged
    assert "could not be saved" in logged


async def test_failure_part_way_leaves_no_partial_row(engine, settings, monkeypatch):
    before = (await count(engine), await count(engine, BookingWindow))
    bad = dict(SLOTS, **{form.TIMES: [{"start": "2026-03-03T09:00:00+00:00", "end": "2026-03-03T08:00:00+00:00",
                                       "tz": "Europe/London"}]})
    outcome = await service.save(bad, "v" * 24, 1.0, "rest", db=engine, config=settings)
    assert outcome.status == "failed"
    # A failure inside the transaction (the second window cannot be written) rolls back the booking.
    from bot.storage import bookings

    real = bookings.BookingWindow

    def broken_window(**kwargs):
        if kwargs["start_utc"].hour == 10:
            kwargs["end_utc"] = None  # NOT NULL: fails at flush, after the booking row was sent
        return real(**kwargs)

    monkeypatch.setattr(bookings, "BookingWindow", broken_window)
    two = dict(SLOTS, **{form.TIMES: [
        {"start": "2026-03-03T09:00:00+00:00", "end": "2026-03-03T09:30:00+00:00", "tz": "Europe/London"},
        {"start": "2026-03-03T10:00:00+00:00", "end": "2026-03-03T11:00:00+00:00", "tz": "Europe/London"}]})
    outcome = await service.save(two, "x" * 24, 1.0, "rest", db=engine, config=settings)
    assert outcome.status == "failed"
    assert (await count(engine), await count(engine, BookingWindow)) == before


async def test_database_timeout_is_a_failure(settings, monkeypatch):
    crypto.configure_from_settings(settings)

    async def hang(*args, **kwargs):
        await asyncio.sleep(60)

    monkeypatch.setattr("bot.storage.bookings.create_booking", hang)
    monkeypatch.setattr(service, "SAVE_TIMEOUT_SECONDS", 0.2)
    outcome = await service.save(SLOTS, "w" * 24, 1.0, "rest", db=object(), config=settings)
    assert outcome.status == "failed"


def test_idempotency_key_is_an_hmac_per_conversation_session():
    key = b"k" * 32
    a = service.idempotency_key("sender-1", 100.0, key)
    assert a == service.idempotency_key("sender-1", 100.0, key)
    assert a != service.idempotency_key("sender-1", 200.0, key)  # a new session may book again
    assert a != service.idempotency_key("sender-2", 100.0, key)
    assert "sender" not in a and len(a) == 64
