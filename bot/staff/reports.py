"""Response-time and activity reporting. Numbers only: no reference, name, number or text.

Bookings are copied into `booking_stats` (kind, channel, priority flag and timestamps) by
`sync_stats`, which the gateway runs every few minutes and before every report, so the figures
survive the retention purge. Periods are Europe/London calendar months and ISO weeks of the request.

- median: the middle value (mean of the two middle values for an even count);
- 90th percentile: nearest rank, the smallest value with at least 90% of values at or below it.
"""
from __future__ import annotations

import csv
import datetime as dt
import io
import math
import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.staff.queue import LONDON, OUTCOME_LABELS
from bot.storage.models import Booking, BookingStat, EscalationCount, PurgeCount

TRACKED = ("kind", "channel", "high_priority", "first_attempt_at", "completed_at", "closed_at", "outcome")


async def sync_stats(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        bookings = {(r.id, r.created_at): r for r in (await conn.execute(select(
            Booking.id, Booking.created_at, Booking.kind, Booking.channel, Booking.priority,
            Booking.first_attempt_at, Booking.completed_at, Booking.closed_at, Booking.outcome,
        ))).all()}
        stats = {(r.booking_id, r.created_at): r for r in (await conn.execute(
            select(BookingStat).where(BookingStat.purged.is_(False)))).all()}
        for key, b in bookings.items():
            values = dict(kind=b.kind, channel=b.channel, high_priority=b.priority > 0,
                          first_attempt_at=b.first_attempt_at, completed_at=b.completed_at,
                          closed_at=b.closed_at, outcome=b.outcome)
            s = stats.get(key)
            if s is None:
                await conn.execute(BookingStat.__table__.insert().values(
                    booking_id=b.id, created_at=b.created_at, purged=False, **values))
            elif any(getattr(s, k) != v for k, v in values.items()):
                await conn.execute(update(BookingStat).where(BookingStat.id == s.id).values(**values))
        gone = [s.id for key, s in stats.items() if key not in bookings]
        if gone:
            await conn.execute(update(BookingStat).where(BookingStat.id.in_(gone)).values(purged=True))


def median(values: Sequence[float]) -> Optional[float]:
    return statistics.median(values) if values else None


def p90(values: Sequence[float]) -> Optional[float]:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.9 * len(ordered)) - 1)]


def month_of(when: dt.datetime) -> str:
    return f"{when.astimezone(LONDON):%Y-%m}"


def week_of(when) -> str:
    day = when.astimezone(LONDON).date() if isinstance(when, dt.datetime) else when
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def month_of_day(day: dt.date) -> str:
    return f"{day:%Y-%m}"


@dataclass
class Period:
    period: str
    requests: int = 0
    callbacks: int = 0
    third_party: int = 0
    high_priority: int = 0
    attempted: int = 0
    completed: int = 0
    closed: int = 0
    to_first_attempt: List[float] = field(default_factory=list)  # minutes
    to_completion: List[float] = field(default_factory=list)
    outcomes: Dict[str, int] = field(default_factory=lambda: defaultdict(int))
    escalations: int = 0
    purged: int = 0

    def figures(self) -> Dict[str, object]:
        row = {
            "period": self.period, "requests": self.requests, "callback_bookings": self.callbacks,
            "third_party_reports": self.third_party, "high_priority": self.high_priority,
            "attempted": self.attempted, "completed": self.completed, "closed": self.closed,
            "first_attempt_median_minutes": _round(median(self.to_first_attempt)),
            "first_attempt_p90_minutes": _round(p90(self.to_first_attempt)),
            "completion_median_minutes": _round(median(self.to_completion)),
            "completion_p90_minutes": _round(p90(self.to_completion)),
        }
        for code in OUTCOME_LABELS:
            row[f"outcome_{code}"] = self.outcomes.get(code, 0)
        row["emergency_escalations"] = self.escalations
        row["bookings_purged"] = self.purged
        return row


def _round(value: Optional[float]) -> Optional[float]:
    return None if value is None else round(value, 1)


@dataclass
class Report:
    months: List[Period]
    weeks: List[Period]


def _minutes(start: dt.datetime, end: Optional[dt.datetime]) -> Optional[float]:
    return None if end is None else max(0.0, (end - start).total_seconds() / 60)


def build(stats: Iterable, escalations: Iterable[Tuple[dt.date, int]], purges: Iterable[Tuple[dt.date, int]]) -> Report:
    months: Dict[str, Period] = {}
    weeks: Dict[str, Period] = {}

    def periods(key_month: str, key_week: str):
        return (months.setdefault(key_month, Period(key_month)), weeks.setdefault(key_week, Period(key_week)))

    for s in stats:
        for p in periods(month_of(s.created_at), week_of(s.created_at)):
            p.requests += 1
            if s.kind == "third_party_report":
                p.third_party += 1
            else:
                p.callbacks += 1
            p.high_priority += bool(s.high_priority)
            if s.first_attempt_at is not None:
                p.attempted += 1
                p.to_first_attempt.append(_minutes(s.created_at, s.first_attempt_at))
            if s.completed_at is not None:
                p.completed += 1
                p.to_completion.append(_minutes(s.created_at, s.completed_at))
                if s.outcome:
                    p.outcomes[s.outcome] += 1
            if s.closed_at is not None:
                p.closed += 1
    for day, count in escalations:
        for p in periods(month_of_day(day), week_of(day)):
            p.escalations += count
    for day, count in purges:
        for p in periods(month_of_day(day), week_of(day)):
            p.purged += count
    return Report(months=[months[k] for k in sorted(months, reverse=True)],
                  weeks=[weeks[k] for k in sorted(weeks, reverse=True)])


async def report(engine: AsyncEngine) -> Report:
    await sync_stats(engine)
    async with engine.connect() as conn:
        stats = (await conn.execute(select(BookingStat))).all()
        escalations = [(r.day, r.count) for r in (await conn.execute(
            select(EscalationCount.day, EscalationCount.count))).all()]
        purges = [(r.day, r.count) for r in (await conn.execute(select(PurgeCount.day, PurgeCount.count))).all()]
    return build(stats, escalations, purges)


def to_csv(rep: Report) -> str:
    out = io.StringIO()
    rows = [("month", p) for p in rep.months] + [("week", p) for p in rep.weeks]
    header = ["period_type"] + list(Period("x").figures())
    writer = csv.DictWriter(out, fieldnames=header, lineterminator="\r\n")
    writer.writeheader()
    for kind, p in rows:
        writer.writerow({"period_type": kind, **{k: ("" if v is None else v) for k, v in p.figures().items()}})
    return out.getvalue()
