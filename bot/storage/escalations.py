"""Counting emergency escalations (numbers only, for the staff statistics)."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.storage.models import EscalationCount


async def record_escalation(engine: AsyncEngine, channel: str, day: dt.date | None = None) -> None:
    day = day or dt.datetime.now(dt.timezone.utc).date()
    for attempt in range(2):
        try:
            async with engine.begin() as conn:
                result = await conn.execute(
                    update(EscalationCount)
                    .where(EscalationCount.day == day, EscalationCount.channel == channel)
                    .values(count=EscalationCount.count + 1)
                )
                if not result.rowcount:
                    await conn.execute(
                        EscalationCount.__table__.insert().values(day=day, channel=channel, count=1)
                    )
            return
        except IntegrityError:  # a concurrent first insert for the same day won the race
            if attempt:
                raise


async def escalation_totals(engine: AsyncEngine) -> dict:
    async with engine.connect() as conn:
        rows = await conn.execute(select(EscalationCount.day, EscalationCount.channel, EscalationCount.count))
        return {(r.day, r.channel): r.count for r in rows}
