"""The callback queue as staff see it: list rows without personal data, the decrypted record, and the
workflow (claim, attempts, complete, close, reopen, notes). Every view and change writes an audit row.

Statuses (bookings.status): new -> claimed -> attempted -> completed | closed; reopen goes back to
new or attempted. A claim left alone (no activity) for CLAIM_TIMEOUT is released.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Tuple
from zoneinfo import ZoneInfo

from sqlalchemy import and_, func, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.staff.store import _audit
from bot.storage.models import (
    BOOKING_OUTCOMES, Booking, BookingNote, BookingWindow, ContactAttempt, StaffUser,
)

LONDON = ZoneInfo("Europe/London")
CLAIM_TIMEOUT = dt.timedelta(hours=2)
OPEN_STATUSES = ("new", "claimed", "attempted")
DONE_STATUSES = ("completed", "closed")
ATTEMPT_OUTCOMES = {
    "no_answer": "No answer",
    "unsafe": "Unsafe to talk",
    "someone_else": "Someone else answered",
    "spoke": "Spoke to them",
}
OUTCOME_LABELS = {
    "advice": "Advice given",
    "safety_plan": "Safety plan",
    "idva": "Referred to IDVA",
    "marac": "MARAC referral",
    "housing": "Housing options",
    "sanctuary": "Sanctuary or target hardening",
    "police": "Police",
    "other": "Other",
}
assert tuple(OUTCOME_LABELS) == BOOKING_OUTCOMES
NOTE_MAX = 4000


class WorkflowError(ValueError):
    """The action is not allowed in the booking's current state; the message is safe to show."""


@dataclass
class Window:
    start: dt.datetime
    end: dt.datetime
    tz: str

    def local(self) -> Tuple[dt.datetime, dt.datetime]:
        try:
            zone = ZoneInfo(self.tz)
        except Exception:
            zone = LONDON
        return self.start.astimezone(zone), self.end.astimezone(zone)

    def label(self) -> str:
        start, end = self.local()
        same_day = start.date() == end.date()
        text = f"{start:%a %d %b %H:%M}–{end:%H:%M}" if same_day else f"{start:%a %d %b %H:%M} – {end:%a %d %b %H:%M}"
        return text + ("" if self.tz == "Europe/London" else f" ({self.tz})")


@dataclass
class Row:
    id: int
    reference: str
    kind: str
    channel: str
    priority: int
    status: str
    created_at: dt.datetime
    claimed_by: Optional[str]
    windows: List[Window] = field(default_factory=list)
    repeat_count: int = 0  # earlier bookings from the same number (blind index), never the number
    safe_now: bool = False
    next_window: Optional[dt.datetime] = None

    @property
    def high_priority(self) -> bool:
        return self.priority > 0


def safe_now(windows: List[Window], now: dt.datetime) -> bool:
    return any(w.start <= now < w.end for w in windows)


def next_window(windows: List[Window], now: dt.datetime) -> Optional[dt.datetime]:
    """When it next becomes safe to call: now for a current window, else the earliest future start."""
    starts = [max(w.start, now) for w in windows if w.end > now]
    return min(starts) if starts else None


def _sort_key(row: Row) -> tuple:
    far = dt.datetime.max.replace(tzinfo=dt.timezone.utc)
    return (-row.priority, row.next_window or far, row.created_at, row.id)


async def release_stale_claims(engine: AsyncEngine, now: dt.datetime) -> int:
    """A claim with no activity for CLAIM_TIMEOUT goes back to the queue."""
    cutoff = now - CLAIM_TIMEOUT
    async with engine.begin() as conn:
        stale = (await conn.execute(select(Booking.id, Booking.first_attempt_at).where(
            Booking.claimed_by.isnot(None), Booking.status.in_(OPEN_STATUSES), Booking.updated_at < cutoff,
        ))).all()
        for row in stale:
            await conn.execute(update(Booking).where(Booking.id == row.id).values(
                claimed_by=None, claimed_at=None, updated_at=now,
                status="attempted" if row.first_attempt_at else "new",
            ))
            await _audit(conn, now, None, "claim_released", booking_id=row.id, detail="idle 2h")
    return len(stale)


async def list_rows(engine: AsyncEngine, now: dt.datetime, done: bool = False, limit: int = 500) -> List[Row]:
    """Queue rows, sorted by priority then earliest safe window. Reads no encrypted column."""
    statuses = DONE_STATUSES if done else OPEN_STATUSES
    earlier = Booking.__table__.alias("earlier")
    repeat_count = (
        select(func.count()).select_from(earlier)
        .where(earlier.c.phone_blind_index == Booking.phone_blind_index, earlier.c.id != Booking.id)
        .scalar_subquery()
    )
    async with engine.connect() as conn:
        rows = (await conn.execute(
            select(Booking.id, Booking.reference, Booking.kind, Booking.channel, Booking.priority, Booking.status,
                   Booking.created_at, StaffUser.username.label("claimed_by"), repeat_count.label("repeats"))
            .outerjoin(StaffUser, StaffUser.id == Booking.claimed_by)
            .where(Booking.status.in_(statuses))
            .order_by(Booking.priority.desc(), Booking.created_at)
            .limit(limit)
        )).all()
        ids = [r.id for r in rows]
        windows: Dict[int, List[Window]] = {}
        if ids:
            for w in (await conn.execute(
                select(BookingWindow.booking_id, BookingWindow.start_utc, BookingWindow.end_utc, BookingWindow.tz)
                .where(BookingWindow.booking_id.in_(ids)).order_by(BookingWindow.start_utc)
            )).all():
                windows.setdefault(w.booking_id, []).append(Window(w.start_utc, w.end_utc, w.tz))
    result = []
    for r in rows:
        ws = windows.get(r.id, [])
        result.append(Row(
            id=r.id, reference=r.reference, kind=r.kind, channel=r.channel, priority=r.priority, status=r.status,
            created_at=r.created_at, claimed_by=r.claimed_by, windows=ws,
            repeat_count=int(r.repeats or 0) if r.repeats is not None else 0,
            safe_now=safe_now(ws, now), next_window=next_window(ws, now),
        ))
    if not done:
        result.sort(key=_sort_key)
    return result


@dataclass
class Record:
    row: Row
    name: Optional[str]
    phone: Optional[str]
    note: Optional[str]
    voicemail_wording: Optional[str]
    cover_story: Optional[str]
    details: Dict[str, Any]
    claimed_by_id: Optional[int]
    claimed_at: Optional[dt.datetime]
    first_attempt_at: Optional[dt.datetime]
    completed_at: Optional[dt.datetime]
    closed_at: Optional[dt.datetime]
    outcome: Optional[str]
    attempts: List[dict]
    notes: List[dict]


async def open_record(engine: AsyncEngine, booking_id: int, user_id: int, now: dt.datetime) -> Optional[Record]:
    """Decrypt one booking for a member of staff, writing the audit row in the same transaction."""
    async with engine.begin() as conn:
        b = (await conn.execute(select(Booking.__table__, StaffUser.username.label("claimer"))
                                .outerjoin(StaffUser, StaffUser.id == Booking.claimed_by)
                                .where(Booking.id == booking_id))).first()
        if b is None:
            return None
        await _audit(conn, now, user_id, "viewed", booking_id=booking_id)
        windows = [Window(w.start_utc, w.end_utc, w.tz) for w in (await conn.execute(
            select(BookingWindow).where(BookingWindow.booking_id == booking_id).order_by(BookingWindow.start_utc)
        )).all()]
        repeats = 0
        if b.phone_blind_index:
            repeats = (await conn.execute(select(func.count()).select_from(Booking).where(
                Booking.phone_blind_index == b.phone_blind_index, Booking.id != booking_id))).scalar_one()
        attempts = [dict(at=a.at, outcome=a.outcome, label=ATTEMPT_OUTCOMES.get(a.outcome, a.outcome),
                         note=a.note, by=a.username) for a in (await conn.execute(
            select(ContactAttempt.at, ContactAttempt.outcome, ContactAttempt.note, StaffUser.username)
            .outerjoin(StaffUser, StaffUser.id == ContactAttempt.staff_user_id)
            .where(ContactAttempt.booking_id == booking_id).order_by(ContactAttempt.at, ContactAttempt.id)
        )).all()]
        notes = [dict(at=n.at, text=n.text, by=n.username) for n in (await conn.execute(
            select(BookingNote.at, BookingNote.text, StaffUser.username)
            .outerjoin(StaffUser, StaffUser.id == BookingNote.author_id)
            .where(BookingNote.booking_id == booking_id).order_by(BookingNote.at, BookingNote.id)
        )).all()]
    row = Row(id=b.id, reference=b.reference, kind=b.kind, channel=b.channel, priority=b.priority, status=b.status,
              created_at=b.created_at, claimed_by=b.claimer, windows=windows, repeat_count=repeats,
              safe_now=safe_now(windows, now), next_window=next_window(windows, now))
    return Record(row=row, name=b.name, phone=b.phone, note=b.note, voicemail_wording=b.voicemail_wording,
                  cover_story=b.cover_story, details=b.details or {}, claimed_by_id=b.claimed_by,
                  claimed_at=b.claimed_at, first_attempt_at=b.first_attempt_at, completed_at=b.completed_at,
                  closed_at=b.closed_at, outcome=b.outcome, attempts=attempts, notes=notes)


# ---------------------------------------------------------------- workflow

async def _load_state(conn, booking_id: int):
    row = (await conn.execute(select(Booking.id, Booking.status, Booking.claimed_by, Booking.first_attempt_at)
                              .where(Booking.id == booking_id).with_for_update())).first()
    if row is None:
        raise WorkflowError("That record no longer exists (it may have been purged).")
    return row


def may_act(claimed_by: Optional[int], user_id: int, is_lead: bool) -> bool:
    """A record held by someone else is theirs (or a lead's) to work, close or reopen."""
    return claimed_by is None or claimed_by == user_id or is_lead


def _must_hold(state, user_id: int, is_lead: bool, message: str = "Someone else has claimed this record.") -> None:
    if not may_act(state.claimed_by, user_id, is_lead):
        raise WorkflowError(message)


async def claim(engine: AsyncEngine, booking_id: int, user_id: int, is_lead: bool, now: dt.datetime) -> None:
    async with engine.begin() as conn:
        state = await _load_state(conn, booking_id)
        if state.status not in OPEN_STATUSES:
            raise WorkflowError("Only open records can be claimed.")
        if state.claimed_by == user_id:
            return
        _must_hold(state, user_id, is_lead)  # a lead may take over someone else's claim
        await conn.execute(update(Booking).where(Booking.id == booking_id).values(
            claimed_by=user_id, claimed_at=now, updated_at=now,
            status="claimed" if state.status == "new" else state.status,
        ))
        await _audit(conn, now, user_id, "claimed" if state.claimed_by is None else "claim_taken_over",
                     booking_id=booking_id)


async def release(engine: AsyncEngine, booking_id: int, user_id: int, is_lead: bool, now: dt.datetime) -> None:
    async with engine.begin() as conn:
        state = await _load_state(conn, booking_id)
        if state.claimed_by is None:
            return
        _must_hold(state, user_id, is_lead)
        await conn.execute(update(Booking).where(Booking.id == booking_id).values(
            claimed_by=None, claimed_at=None, updated_at=now,
            status=("attempted" if state.first_attempt_at else "new") if state.status in OPEN_STATUSES else state.status,
        ))
        await _audit(conn, now, user_id, "released", booking_id=booking_id)


async def record_attempt(engine: AsyncEngine, booking_id: int, user_id: int, is_lead: bool, outcome: str,
                         note: Optional[str], now: dt.datetime) -> None:
    if outcome not in ATTEMPT_OUTCOMES:
        raise WorkflowError("Choose what happened on the call.")
    note = _clean_note(note)
    async with engine.begin() as conn:
        state = await _load_state(conn, booking_id)
        if state.status not in OPEN_STATUSES:
            raise WorkflowError("Reopen the record before recording another attempt.")
        _must_hold(state, user_id, is_lead)
        await conn.execute(ContactAttempt.__table__.insert().values(
            booking_id=booking_id, at=now, outcome=outcome, staff_user_id=user_id, note=note,
        ))
        await conn.execute(update(Booking).where(Booking.id == booking_id).values(
            status="attempted", claimed_by=user_id, claimed_at=now if state.claimed_by != user_id else Booking.claimed_at,
            first_attempt_at=state.first_attempt_at or now, updated_at=now,
        ))
        await _audit(conn, now, user_id, "attempt", booking_id=booking_id, detail=outcome)


async def complete(engine: AsyncEngine, booking_id: int, user_id: int, is_lead: bool, outcome: str,
                   now: dt.datetime) -> None:
    if outcome not in OUTCOME_LABELS:
        raise WorkflowError("Choose an outcome.")
    async with engine.begin() as conn:
        state = await _load_state(conn, booking_id)
        if state.status not in OPEN_STATUSES:
            raise WorkflowError("Only open records can be completed.")
        _must_hold(state, user_id, is_lead)
        await conn.execute(update(Booking).where(Booking.id == booking_id).values(
            status="completed", outcome=outcome, completed_at=now, updated_at=now, claimed_by=user_id,
        ))
        await _audit(conn, now, user_id, "completed", booking_id=booking_id, detail=outcome)


async def close(engine: AsyncEngine, booking_id: int, user_id: int, is_lead: bool, now: dt.datetime) -> None:
    async with engine.begin() as conn:
        state = await _load_state(conn, booking_id)
        if state.status == "closed":
            return
        _must_hold(state, user_id, is_lead)
        await conn.execute(update(Booking).where(Booking.id == booking_id).values(
            status="closed", closed_at=now, updated_at=now,
        ))
        await _audit(conn, now, user_id, "closed", booking_id=booking_id)


async def reopen(engine: AsyncEngine, booking_id: int, user_id: int, is_lead: bool, now: dt.datetime) -> None:
    """Only the record's holder (who completed it, or held it when it was closed) or a lead."""
    async with engine.begin() as conn:
        state = await _load_state(conn, booking_id)
        if state.status not in DONE_STATUSES:
            raise WorkflowError("Only completed or closed records can be reopened.")
        _must_hold(state, user_id, is_lead,
                   "Only the caseworker who holds this record, or a lead, can reopen it.")
        await conn.execute(update(Booking).where(Booking.id == booking_id).values(
            status="attempted" if state.first_attempt_at else "new", completed_at=None, closed_at=None,
            outcome=None, claimed_by=user_id, claimed_at=now, updated_at=now,
        ))
        await _audit(conn, now, user_id, "reopened", booking_id=booking_id)


def _clean_note(note: Optional[str]) -> Optional[str]:
    note = (note or "").replace("\x00", "").strip()
    if len(note) > NOTE_MAX:
        raise WorkflowError(f"Notes can be at most {NOTE_MAX} characters.")
    return note or None


async def add_note(engine: AsyncEngine, booking_id: int, user_id: int, text: str, now: dt.datetime) -> None:
    text = _clean_note(text)
    if not text:
        raise WorkflowError("The note is empty.")
    async with engine.begin() as conn:
        await _load_state(conn, booking_id)
        await conn.execute(BookingNote.__table__.insert().values(booking_id=booking_id, author_id=user_id,
                                                                 at=now, text=text))
        await conn.execute(update(Booking).where(Booking.id == booking_id).values(updated_at=now))
        await _audit(conn, now, user_id, "note_added", booking_id=booking_id)
