"""Bookings repository (SQLAlchemy 2.0-style selects on the async engine).

- `create_booking`: one transaction for the booking and its windows; idempotent per key.
- `purge_expired`: the retention purge; counts what it deleted in `purge_counts` (numbers only).
- `rotate_keys`: re-encrypts every personal field under the newest key.

Personal values pass through here but are never logged.
"""
from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import sqlalchemy as sa
from sqlalchemy import and_, delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.storage import crypto
from bot.storage.db import session_factory
from bot.storage.models import Booking, BookingWindow, ContactAttempt, PurgeCount

logger = logging.getLogger(__name__)

def encrypted_columns() -> Dict[str, Tuple[str, ...]]:
    """Every encrypted column of every table in the models (other features' tables included)."""
    from bot.storage.models import metadata

    found: Dict[str, Tuple[str, ...]] = {}
    for table in metadata.sorted_tables:
        cols = tuple(c.name for c in table.columns
                     if isinstance(c.type, (crypto.EncryptedText, crypto.EncryptedJSON)))
        if cols:
            found[table.name] = cols
    return found


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


@dataclass
class NewBooking:
    channel: str  # 'web' or 'sms'
    idempotency_key: str
    kind: str = "callback"
    priority: int = 0
    name: Optional[str] = None
    phone_e164: Optional[str] = None
    note: Optional[str] = None
    voicemail_wording: Optional[str] = None
    cover_story: Optional[str] = None
    details: Dict[str, Any] = field(default_factory=dict)
    # (start_utc, end_utc, tz name)
    windows: Sequence[Tuple[dt.datetime, dt.datetime, str]] = ()


@dataclass(frozen=True)
class Created:
    reference: str
    created: bool  # False when the idempotency key already had a booking


async def _existing(session, key: str) -> Optional[str]:
    return (
        await session.execute(select(Booking.reference).where(Booking.idempotency_key == key))
    ).scalar_one_or_none()


async def create_booking(
    engine: AsyncEngine,
    data: NewBooking,
    blind_index_key: bytes,
    make_reference: Optional[Callable[[], str]] = None,
    now: Optional[dt.datetime] = None,
) -> Created:
    """Store a booking with its windows in one transaction. The same idempotency key twice returns
    the first booking's reference and stores nothing new."""
    if make_reference is None:
        from bot.callbacks.reference import new_reference as make_reference
    now = now or utcnow()
    blind = crypto.blind_index(data.phone_e164, blind_index_key) if data.phone_e164 else None
    Session = session_factory(engine)
    for attempt in range(5):
        try:
            async with Session() as session, session.begin():
                existing = await _existing(session, data.idempotency_key)
                if existing:
                    return Created(existing, False)
                reference = make_reference()
                session.add(Booking(
                    reference=reference, kind=data.kind, status="new", priority=data.priority,
                    channel=data.channel, idempotency_key=data.idempotency_key, phone_blind_index=blind,
                    created_at=now, updated_at=now, name=data.name, phone=data.phone_e164, note=data.note,
                    voicemail_wording=data.voicemail_wording, cover_story=data.cover_story,
                    details=data.details or {},
                    windows=[BookingWindow(start_utc=s, end_utc=e, tz=tz) for s, e, tz in data.windows],
                ))
            return Created(reference, True)
        except IntegrityError:
            # Either a concurrent confirm with the same key won, or the reference collided. The
            # transaction was rolled back as a whole: no partial row.
            async with Session() as session:
                existing = await _existing(session, data.idempotency_key)
            if existing:
                return Created(existing, False)
            if attempt == 4:
                raise
    raise RuntimeError("unreachable")


async def get_booking(engine: AsyncEngine, reference: str) -> Optional[Booking]:
    from sqlalchemy.orm import selectinload

    async with session_factory(engine)() as session:
        result = await session.execute(
            select(Booking)
            .where(Booking.reference == reference)
            .options(selectinload(Booking.windows), selectinload(Booking.attempts))
        )
        return result.scalar_one_or_none()


async def count_by_blind_index(engine: AsyncEngine, e164: str, blind_index_key: bytes) -> int:
    """How many bookings share this number (repeat requests), without decrypting anything."""
    blind = crypto.blind_index(e164, blind_index_key)
    async with engine.connect() as conn:
        return (
            await conn.execute(select(func.count()).select_from(Booking).where(Booking.phone_blind_index == blind))
        ).scalar_one()


async def set_status(engine: AsyncEngine, reference: str, status: str, at: Optional[dt.datetime] = None) -> None:
    """Move a booking to a status, stamping the matching timestamp (used by staff tools and tests)."""
    at = at or utcnow()
    values: Dict[str, Any] = {"status": status, "updated_at": at}
    stamp = {"claimed": "claimed_at", "attempted": "first_attempt_at", "completed": "completed_at",
             "closed": "closed_at"}.get(status)
    if stamp:
        values[stamp] = at
    async with engine.begin() as conn:
        await conn.execute(update(Booking).where(Booking.reference == reference).values(**values))


# --- Retention -------------------------------------------------------------------------------------

def _expired_conditions(closed_days: int, untouched_days: int, now: dt.datetime):
    closed_cutoff = now - dt.timedelta(days=closed_days)
    untouched_cutoff = now - dt.timedelta(days=untouched_days)
    finished_at = func.coalesce(Booking.closed_at, Booking.completed_at, Booking.updated_at)
    closed = and_(Booking.status.in_(("completed", "closed")), finished_at < closed_cutoff)
    untouched = and_(Booking.status == "new", Booking.claimed_at.is_(None), Booking.created_at < untouched_cutoff)
    return {"closed": closed, "untouched": untouched}


async def purge_expired(
    engine: AsyncEngine, closed_days: int, untouched_days: int, now: Optional[dt.datetime] = None
) -> Dict[str, int]:
    """Delete completed/closed bookings older than `closed_days` and untouched new ones older than
    `untouched_days`, with their windows and attempts, in one transaction. Returns counts by reason
    and records them in purge_counts."""
    now = now or utcnow()
    counts: Dict[str, int] = {}
    async with engine.begin() as conn:
        for reason, condition in _expired_conditions(closed_days, untouched_days, now).items():
            rows = (await conn.execute(select(Booking.id, Booking.kind).where(condition))).all()
            if not rows:
                counts[reason] = 0
                continue
            ids = [r.id for r in rows]
            for chunk in range(0, len(ids), 500):
                part = ids[chunk:chunk + 500]
                await conn.execute(delete(BookingWindow).where(BookingWindow.booking_id.in_(part)))
                await conn.execute(delete(ContactAttempt).where(ContactAttempt.booking_id.in_(part)))
                await conn.execute(delete(Booking).where(Booking.id.in_(part)))
            counts[reason] = len(ids)
            by_kind: Dict[str, int] = {}
            for r in rows:
                by_kind[r.kind] = by_kind.get(r.kind, 0) + 1
            for kind, n in by_kind.items():
                await _add_purge_count(conn, now.date(), kind, reason, n)
    return counts


async def _add_purge_count(conn, day: dt.date, kind: str, reason: str, n: int) -> None:
    result = await conn.execute(
        update(PurgeCount)
        .where(PurgeCount.day == day, PurgeCount.kind == kind, PurgeCount.reason == reason)
        .values(count=PurgeCount.count + n)
    )
    if not result.rowcount:
        await conn.execute(PurgeCount.__table__.insert().values(day=day, kind=kind, reason=reason, count=n))


async def purge_totals(engine: AsyncEngine) -> Dict[Tuple[dt.date, str, str], int]:
    async with engine.connect() as conn:
        rows = await conn.execute(select(PurgeCount.day, PurgeCount.kind, PurgeCount.reason, PurgeCount.count))
        return {(r.day, r.kind, r.reason): r.count for r in rows}


async def purge_with_profile(engine: AsyncEngine, profile: Any, now: Optional[dt.datetime] = None) -> Dict[str, int]:
    return await purge_expired(engine, profile.retention.closed_days, profile.retention.untouched_days, now)


# --- Key rotation ----------------------------------------------------------------------------------

async def rotate_keys(engine: AsyncEngine, keys: Sequence[bytes | str], batch: int = 200) -> int:
    """Re-encrypt every personal field under the newest key (keys[0]); all keys must be given so
    old tokens can be read. One transaction: either every row is rotated or none. Returns the
    number of values re-encrypted."""
    from bot.storage.models import metadata

    multi = crypto.make_multifernet(keys)
    total = 0
    async with engine.begin() as conn:
        for table_name, columns in encrypted_columns().items():
            pk = [c.name for c in metadata.tables[table_name].primary_key.columns]
            if pk != ["id"]:
                raise RuntimeError(f"rotate_keys needs an integer id key on {table_name}")
            table = sa.table(table_name, sa.column("id"), *(sa.column(c) for c in columns))
            last_id = 0
            while True:
                rows = (
                    await conn.execute(
                        select(table).where(table.c.id > last_id).order_by(table.c.id).limit(batch)
                    )
                ).all()
                if not rows:
                    break
                for row in rows:
                    values = {c: crypto.rotate_token(getattr(row, c), multi)
                              for c in columns if getattr(row, c) is not None}
                    if values:
                        await conn.execute(update(table).where(table.c.id == row.id).values(**values))
                        total += len(values)
                last_id = rows[-1].id
    return total
