"""The bookings store on SQLite and on the real PostgreSQL: encryption at rest, blind index,
idempotency, one transaction per booking, retention purge and key rotation.

Fixtures use invented names and Ofcom drama numbers only.
"""
from __future__ import annotations

import asyncio
import datetime as dt

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import func, select, text

from bot.storage import crypto
from bot.storage.bookings import (
    NewBooking, count_by_blind_index, create_booking, get_booking, purge_expired, purge_totals,
    rotate_keys, set_status,
)
from bot.storage.db import create_engine
from bot.storage.migrate import upgrade
from bot.storage.models import Booking, BookingWindow, ContactAttempt

UTC = dt.timezone.utc
NOW = dt.datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
BLIND_KEY = b"k" * 32
PHONE = "+447700900123"
NAME = "Imogen Testperson"
NOTE = "Help with housing and a lock change, please."


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'app.db'}"
    return request.getfixturevalue("pg_url")


@pytest.fixture
def keys():
    key = Fernet.generate_key()
    crypto.configure([key])
    return [key]


@pytest.fixture
async def engine(db_url, keys):
    await asyncio.to_thread(upgrade, db_url)
    engine = create_engine(db_url)
    async with engine.begin() as conn:  # the PostgreSQL database is shared by the whole run
        for table in ("booking_windows", "contact_attempts", "bookings", "purge_counts"):
            await conn.execute(text(f"DELETE FROM {table}"))
    yield engine
    await engine.dispose()


def booking(key="conv-1", **overrides):
    values = dict(
        channel="web", idempotency_key=key, name=NAME, phone_e164=PHONE, note=NOTE,
        voicemail_wording="Calling about your appointment", cover_story="the dentist",
        details={"children": "yes", "gender": "woman"}, priority=1,
        windows=[(NOW + dt.timedelta(hours=5), NOW + dt.timedelta(hours=7), "Europe/London")],
    )
    values.update(overrides)
    return NewBooking(**values)


async def test_booking_round_trips_and_is_encrypted_at_rest(engine):
    created = await create_booking(engine, booking(), BLIND_KEY, now=NOW)
    assert created.created and len(created.reference.split()) == 3
    stored = await get_booking(engine, created.reference)
    assert (stored.name, stored.phone, stored.note) == (NAME, PHONE, NOTE)
    assert stored.details == {"children": "yes", "gender": "woman"}
    assert stored.status == "new" and stored.kind == "callback" and stored.priority == 1
    assert stored.created_at == NOW and stored.created_at.tzinfo is not None
    assert [(w.start_utc, w.tz) for w in stored.windows] == [(NOW + dt.timedelta(hours=5), "Europe/London")]
    async with engine.connect() as conn:
        raw = (await conn.execute(text("SELECT name, phone, note, voicemail_wording, cover_story, details, "
                                        "phone_blind_index FROM bookings"))).one()
    joined = " ".join(str(v) for v in raw)
    for secret in (NAME, PHONE, "7700900123", "900123", NOTE, "dentist", "appointment", "children"):
        assert secret not in joined
    assert raw.phone_blind_index == crypto.blind_index(PHONE, BLIND_KEY)


async def test_same_idempotency_key_gives_one_booking(engine):
    first = await create_booking(engine, booking("same"), BLIND_KEY)
    second = await create_booking(engine, booking("same"), BLIND_KEY)
    assert first.created and not second.created and first.reference == second.reference
    results = await asyncio.gather(*[create_booking(engine, booking("race"), BLIND_KEY) for _ in range(5)])
    assert len({r.reference for r in results}) == 1 and sum(r.created for r in results) == 1
    async with engine.connect() as conn:
        assert (await conn.execute(select(func.count()).select_from(Booking))).scalar_one() == 2


async def test_blind_index_shows_repeat_requests(engine):
    await create_booking(engine, booking("a"), BLIND_KEY)
    await create_booking(engine, booking("b"), BLIND_KEY)
    await create_booking(engine, booking("c", phone_e164="+441134960123"), BLIND_KEY)
    assert await count_by_blind_index(engine, PHONE, BLIND_KEY) == 2


async def test_reference_collision_retries(engine):
    refs = iter(["apple river moon", "apple river moon", "oak fern kite"])
    a = await create_booking(engine, booking("x"), BLIND_KEY, make_reference=lambda: next(refs))
    b = await create_booking(engine, booking("y"), BLIND_KEY, make_reference=lambda: next(refs))
    assert (a.reference, b.reference) == ("apple river moon", "oak fern kite")


async def test_failed_insert_leaves_no_partial_row(engine):
    bad = booking("partial", windows=[(NOW, None, "Europe/London")])  # end_utc NOT NULL
    with pytest.raises(Exception):
        await create_booking(engine, bad, BLIND_KEY)
    async with engine.connect() as conn:
        assert (await conn.execute(select(func.count()).select_from(Booking))).scalar_one() == 0
        assert (await conn.execute(select(func.count()).select_from(BookingWindow))).scalar_one() == 0


async def test_purge_removes_only_expired_bookings_and_counts_them(engine):
    old = NOW - dt.timedelta(days=40)
    refs = {}
    for key, created_at in [("old-new", old), ("recent-new", NOW - dt.timedelta(days=3)),
                            ("old-closed", old), ("recent-closed", old), ("old-claimed", old),
                            ("old-completed", old)]:
        refs[key] = (await create_booking(engine, booking(key), BLIND_KEY, now=created_at)).reference
    await set_status(engine, refs["old-closed"], "closed", at=NOW - dt.timedelta(days=31))
    await set_status(engine, refs["recent-closed"], "closed", at=NOW - dt.timedelta(days=2))
    await set_status(engine, refs["old-claimed"], "claimed", at=old)
    await set_status(engine, refs["old-completed"], "completed", at=NOW - dt.timedelta(days=30, hours=1))
    async with engine.begin() as conn:
        booking_id = (await conn.execute(select(Booking.id).where(Booking.reference == refs["old-closed"]))).scalar_one()
        await conn.execute(ContactAttempt.__table__.insert().values(
            booking_id=booking_id, at=old, outcome="no_answer", note=None))

    counts = await purge_expired(engine, closed_days=30, untouched_days=14, now=NOW)
    assert counts == {"closed": 2, "untouched": 1}
    left = {k for k, ref in refs.items() if await get_booking(engine, ref)}
    assert left == {"recent-new", "recent-closed", "old-claimed"}
    async with engine.connect() as conn:
        assert (await conn.execute(select(func.count()).select_from(ContactAttempt))).scalar_one() == 0
        assert (await conn.execute(select(func.count()).select_from(BookingWindow))).scalar_one() == 3
    totals = await purge_totals(engine)
    assert totals == {(NOW.date(), "callback", "closed"): 2, (NOW.date(), "callback", "untouched"): 1}
    assert await purge_expired(engine, 30, 14, now=NOW) == {"closed": 0, "untouched": 0}


async def test_key_rotation_reencrypts_every_row_under_the_newest_key(engine, keys):
    old_key = keys[0]
    ref = (await create_booking(engine, booking("rot"), BLIND_KEY)).reference
    async with engine.begin() as conn:
        booking_id = (await conn.execute(select(Booking.id))).scalar_one()
        await conn.execute(ContactAttempt.__table__.insert().values(
            booking_id=booking_id, at=NOW, outcome="spoke", note="Rang back, all fine"))
    new_key = Fernet.generate_key()
    rotated = await rotate_keys(engine, [new_key, old_key])
    assert rotated == 7  # six booking fields plus one attempt note
    async with engine.connect() as conn:
        raw = (await conn.execute(text("SELECT name FROM bookings"))).scalar_one()
    assert Fernet(new_key).decrypt(raw.encode()) == NAME.encode()
    crypto.configure([new_key])  # the old key is gone: everything must still decrypt
    stored = await get_booking(engine, ref)
    assert (stored.name, stored.phone, stored.note) == (NAME, PHONE, NOTE)
    assert stored.attempts[0].note == "Rang back, all fine"
    crypto.configure([old_key])
    with pytest.raises(crypto.DecryptionError):
        await get_booking(engine, ref)


async def test_unconfigured_keys_refuse_to_store(engine):
    from sqlalchemy.exc import StatementError

    crypto._multi = None
    with pytest.raises(StatementError) as err:
        await create_booking(engine, booking("nokeys"), BLIND_KEY)
    assert isinstance(err.value.orig, crypto.EncryptionNotConfigured)
    assert NAME not in str(err.value) and PHONE not in str(err.value)  # hide_parameters
