"""Database side of the SMS channel. Every number is an HMAC (see `number_hash`); nothing here
stores or logs a phone number or what anyone wrote."""
from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
from typing import List, Optional

import phonenumbers
from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.storage.models import (
    SmsChoice,
    SmsDeliveryFailure,
    SmsNotice,
    SmsOptOut,
    SmsOutbound,
    SmsProcessed,
)

PROCESSED_TTL = dt.timedelta(days=2)  # Twilio retries within minutes; keep the ids a little longer
CHOICES_TTL = dt.timedelta(minutes=30)
OUTBOUND_TTL = dt.timedelta(days=30)  # outbound records (hash, length, status) for the statistics


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


def e164(number: str) -> str:
    """The E.164 form of a UK or international number; anything else (a short code, an alphanumeric
    sender) as given, stripped. Only ever used as the input of the HMAC."""
    number = (number or "").strip()
    try:
        parsed = phonenumbers.parse(number, "GB")
        if phonenumbers.is_possible_number(parsed):
            return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    except phonenumbers.NumberParseException:
        pass
    return number


def number_hash(key: bytes, number: str) -> str:
    """HMAC-SHA256 of the E.164 number, hex: the conversation's sender id and the only stored form."""
    return hmac.new(key, e164(number).encode("utf-8"), hashlib.sha256).hexdigest()


def sid_hash(key: bytes, message_sid: str) -> str:
    return hmac.new(key, b"sid:" + message_sid.encode("utf-8"), hashlib.sha256).hexdigest()


async def claim_message(engine: AsyncEngine, sid: str, now: Optional[dt.datetime] = None) -> bool:
    """True the first time a MessageSid (HMAC) is seen, False for a retry or concurrent duplicate."""
    now = now or utcnow()
    try:
        async with engine.begin() as conn:
            await conn.execute(insert(SmsProcessed).values(
                sid_hash=sid, received_at=now, expires_at=now + PROCESSED_TTL))
        return True
    except IntegrityError:
        return False


async def is_opted_out(engine: AsyncEngine, number: str) -> bool:
    async with engine.connect() as conn:
        row = await conn.execute(select(SmsOptOut.number_hash).where(SmsOptOut.number_hash == number))
        return row.first() is not None


async def opt_out(engine: AsyncEngine, number: str) -> None:
    try:
        async with engine.begin() as conn:
            await conn.execute(insert(SmsOptOut).values(number_hash=number, opted_out_at=utcnow()))
    except IntegrityError:
        pass  # already opted out
    await clear_choices(engine, number)


async def opt_in(engine: AsyncEngine, number: str) -> bool:
    """True if the number had opted out."""
    async with engine.begin() as conn:
        result = await conn.execute(delete(SmsOptOut).where(SmsOptOut.number_hash == number))
        return bool(result.rowcount)


async def first_notice(engine: AsyncEngine, number: str) -> bool:
    """True exactly once per number: the privacy notice is due now (and is recorded as sent)."""
    try:
        async with engine.begin() as conn:
            await conn.execute(insert(SmsNotice).values(number_hash=number, sent_at=utcnow()))
        return True
    except IntegrityError:
        return False


async def save_choices(engine: AsyncEngine, number: str, payloads: List[str]) -> None:
    if not payloads:
        await clear_choices(engine, number)
        return
    values = dict(payloads=json.dumps(payloads), expires_at=utcnow() + CHOICES_TTL)
    for attempt in range(2):
        try:
            async with engine.begin() as conn:
                result = await conn.execute(
                    update(SmsChoice).where(SmsChoice.number_hash == number).values(**values))
                if not result.rowcount:
                    await conn.execute(insert(SmsChoice).values(number_hash=number, **values))
            return
        except IntegrityError:
            if attempt:
                raise


async def clear_choices(engine: AsyncEngine, number: str) -> None:
    async with engine.begin() as conn:
        await conn.execute(delete(SmsChoice).where(SmsChoice.number_hash == number))


async def choice(engine: AsyncEngine, number: str, text: str) -> Optional[str]:
    """The payload for a reply such as "1" or " 2. ", if options were offered recently."""
    digits = text.strip().rstrip(".)")
    if not digits.isdigit() or len(digits) > 2 or not digits.isascii():
        return None
    async with engine.connect() as conn:
        row = (await conn.execute(select(SmsChoice.payloads, SmsChoice.expires_at)
                                  .where(SmsChoice.number_hash == number))).first()
    if row is None or row.expires_at < utcnow():
        return None
    payloads = json.loads(row.payloads)
    index = int(digits) - 1
    return payloads[index] if 0 <= index < len(payloads) else None


async def record_delivery_failure(engine: AsyncEngine, error_code: str,
                                  day: Optional[dt.date] = None) -> None:
    day = day or utcnow().date()
    for attempt in range(2):
        try:
            async with engine.begin() as conn:
                result = await conn.execute(
                    update(SmsDeliveryFailure)
                    .where(SmsDeliveryFailure.day == day, SmsDeliveryFailure.error_code == error_code)
                    .values(count=SmsDeliveryFailure.count + 1))
                if not result.rowcount:
                    await conn.execute(insert(SmsDeliveryFailure).values(day=day, error_code=error_code, count=1))
            return
        except IntegrityError:
            if attempt:
                raise


async def delivery_failures(engine: AsyncEngine) -> dict:
    async with engine.connect() as conn:
        rows = await conn.execute(select(SmsDeliveryFailure.day, SmsDeliveryFailure.error_code,
                                         SmsDeliveryFailure.count))
        return {(r.day, r.error_code): r.count for r in rows}


async def record_outbound(engine: AsyncEngine, number: str, status: str, septets: int, segments: int,
                          purpose: str = "message") -> None:
    async with engine.begin() as conn:
        await conn.execute(insert(SmsOutbound).values(
            number_hash=number, created_at=utcnow(), status=status, septets=septets,
            segments=segments, purpose=purpose[:32]))


async def purge(engine: AsyncEngine, now: Optional[dt.datetime] = None) -> int:
    """Delete expired MessageSids, numbered choices and old outbound records. Returns how many rows went."""
    now = now or utcnow()
    async with engine.begin() as conn:
        a = await conn.execute(delete(SmsProcessed).where(SmsProcessed.expires_at < now))
        b = await conn.execute(delete(SmsChoice).where(SmsChoice.expires_at < now))
        c = await conn.execute(delete(SmsOutbound).where(SmsOutbound.created_at < now - OUTBOUND_TTL))
        return (a.rowcount or 0) + (b.rowcount or 0) + (c.rowcount or 0)
