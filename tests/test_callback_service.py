"""Saving a confirmed booking from the action server: idempotency per conversation, the
database-down path (honest message, nothing stored, nothing personal logged), slots cleared, and the
check at saving (issue 16): whatever the caller sends, save() stores only what the form would have
accepted."""
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
from tests.test_callback_form import MONDAY_10AM, PROFILE, SLOTS as ANSWERS

NAME, PHONE, NOTE = "Imogen", "+447700900123", "Please help me with housing"
# The answers as the form leaves them when the person confirms, saved at the time they gave them.
SLOTS = dict(ANSWERS, **{form.CONFIRM: True})
NOW = MONDAY_10AM


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
    first = await service.save(SLOTS, sender, 1700000000.0, "rest", db=engine, config=settings, now=NOW)
    second = await service.save(SLOTS, sender, 1700000000.0, "rest", db=engine, config=settings, now=NOW)
    assert first.status == "created" and second.status == "duplicate"
    assert first.reference == second.reference and len(first.reference.split()) == 3
    other = await service.save(SLOTS, "sender-" + "b" * 20, 1700000000.0, "sms", db=engine, config=settings,
                               now=NOW)
    assert other.status == "created" and other.reference != first.reference


async def test_saved_booking_holds_the_answers(engine, settings):
    from bot.storage.bookings import get_booking

    slots = dict(SLOTS, **{form.AFRAID: "yes"})
    outcome = await service.save(slots, "s" * 24, 1.0, "sms", db=engine, config=settings, now=NOW)
    stored = await get_booking(engine, outcome.reference)
    assert (stored.name, stored.phone, stored.note, stored.channel) == (NAME, PHONE, NOTE, "sms")
    assert stored.priority == 2 and stored.voicemail_wording is None and stored.cover_story is None
    assert stored.details["worker_gender"] == "no_preference"
    assert len(stored.windows) == 1 and stored.windows[0].tz == "Europe/London"
    assert stored.windows[0].start_utc == dt.datetime.fromisoformat(SLOTS[form.TIMES][0]["start"])


async def test_skipped_note_is_not_stored(engine, settings):
    from bot.storage.bookings import get_booking

    outcome = await service.save(dict(SLOTS, **{form.NOTE: form.SKIPPED}), "t" * 24, 1.0, "rest",
                                 db=engine, config=settings, now=NOW)
    assert (await get_booking(engine, outcome.reference)).note is None


async def test_database_down_reports_failure_stores_nothing_and_logs_nothing_personal(settings, caplog):
    crypto.configure_from_settings(settings)
    down = create_engine("postgresql+asyncpg://postgres@127.0.0.1:1/nothing_here")
    caplog.set_level(logging.DEBUG)
    outcome = await service.save(SLOTS, "u" * 24, 1.0, "rest", db=down, config=settings, now=NOW)
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
    outcome = await service.save(bad, "v" * 24, 1.0, "rest", db=engine, config=settings, now=NOW)
    assert outcome.status == "refused"  # the check at saving: an end before its start is not a window
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
    outcome = await service.save(two, "x" * 24, 1.0, "rest", db=engine, config=settings, now=NOW)
    assert outcome.status == "failed"
    assert (await count(engine), await count(engine, BookingWindow)) == before


async def test_database_timeout_is_a_failure(settings, monkeypatch):
    crypto.configure_from_settings(settings)

    async def hang(*args, **kwargs):
        await asyncio.sleep(60)

    monkeypatch.setattr("bot.storage.bookings.create_booking", hang)
    monkeypatch.setattr(service, "SAVE_TIMEOUT_SECONDS", 0.2)
    outcome = await service.save(SLOTS, "w" * 24, 1.0, "rest", db=object(), config=settings, now=NOW)
    assert outcome.status == "failed"


def test_idempotency_key_is_an_hmac_per_conversation_session():
    key = b"k" * 32
    a = service.idempotency_key("sender-1", 100.0, key)
    assert a == service.idempotency_key("sender-1", 100.0, key)
    assert a != service.idempotency_key("sender-1", 200.0, key)  # a new session may book again
    assert a != service.idempotency_key("sender-2", 100.0, key)
    assert "sender" not in a and len(a) == 64


# ---- issue 16 item 2: save() checks again what it stores, whoever calls it --------------------------

def window(start: str, end: str, tz: str = "Europe/London") -> dict:
    return {"start": start, "end": end, "tz": tz}


# Monday 2 March 2026, 10:00 in London (GMT): the team is open 09:00-17:00 on weekdays.
TUESDAY_10_TO_11 = window("2026-03-03T10:00:00+00:00", "2026-03-03T11:00:00+00:00")

REFUSED = [
    ("consent skipped", {form.CONSENT: None}, "consent"),
    ("consent refused", {form.CONSENT: False}, "consent"),
    ("consent as text", {form.CONSENT: "yes"}, "consent"),
    ("not confirmed", {form.CONFIRM: None}, "confirmation"),
    ("cancelled", {form.CANCELLED: True}, "cancelled"),
    ("3,000-character name", {form.NAME: "Imogen " * 428 + "Test"}, "name"),
    ("name with a control character", {form.NAME: "Imo\x00gen"}, "name"),
    ("no name", {form.NAME: None}, "name"),
    ("name that is a number", {form.NAME: "07700900123"}, "name"),
    ("US number", {form.PHONE: "+12025550143"}, "phone"),
    ("number with SQL", {form.PHONE: "+447700900123'; DROP TABLE bookings; --"}, "phone"),
    ("US number with SQL", {form.PHONE: "+1 202 555 0143 OR 1=1"}, "phone"),
    ("UK number not in E.164", {form.PHONE: "07700 900123"}, "phone"),
    ("premium-rate number", {form.PHONE: "+449098790000"}, "phone"),
    ("number as a list", {form.PHONE: ["+447700900123"]}, "phone"),
    ("window in 2020", {form.TIMES: [window("2020-01-06T10:00:00+00:00", "2020-01-06T11:00:00+00:00")]},
     "times_passed"),
    ("window from 2020 to 2099", {form.TIMES: [window("2020-01-06T10:00:00+00:00",
                                                       "2099-12-31T11:00:00+00:00")]}, "times_outside_hours"),
    ("window in 2099", {form.TIMES: [window("2099-03-03T10:00:00+00:00", "2099-03-03T11:00:00+00:00")]}, "times"),
    ("window at night", {form.TIMES: [window("2026-03-03T22:00:00+00:00", "2026-03-03T23:00:00+00:00")]},
     "times_outside_hours"),
    ("window on a Sunday", {form.TIMES: [window("2026-03-08T10:00:00+00:00", "2026-03-08T11:00:00+00:00")]},
     "times_outside_hours"),
    ("end before start", {form.TIMES: [window("2026-03-03T11:00:00+00:00", "2026-03-03T10:00:00+00:00")]},
     "times"),
    ("naive times", {form.TIMES: [window("2026-03-03T10:00:00", "2026-03-03T11:00:00")]}, "times"),
    ("not a time", {form.TIMES: [window("soon", "later")]}, "times"),
    ("no windows", {form.TIMES: []}, "times"),
    ("windows as text", {form.TIMES: "tomorrow morning"}, "times"),
    ("10,000 windows", {form.TIMES: [TUESDAY_10_TO_11] * 10_000}, "times"),
    ("timezone ../../etc/passwd", {form.TIMES: [dict(TUESDAY_10_TO_11, tz="../../etc/passwd")]}, "timezone"),
    ("no timezone", {form.TIMES: [{k: v for k, v in TUESDAY_10_TO_11.items() if k != "tz"}]}, "timezone"),
    ("3,000-character note", {form.NOTE: "x" * 3000}, "note"),
    ("voicemail without wording", {form.VOICEMAIL: True, form.WORDING: None}, "voicemail_wording"),
    ("3,000-character voicemail wording", {form.VOICEMAIL: True, form.WORDING: "w" * 3000}, "voicemail_wording"),
    ("3,000-character cover story", {form.OTHER: "cover", form.COVER: "c" * 3000}, "cover_story"),
    ("3,000-character language", {form.LANGUAGE: "l" * 3000}, "language"),
    ("unknown worker choice", {form.GENDER: "admin"}, "gender"),
    ("unknown interpreter choice", {form.INTERPRETER: "<script>"}, "interpreter"),
    ("safety answer as a number", {form.CHILDREN: 1}, "children"),
    ("voicemail as text", {form.VOICEMAIL: "true"}, "voicemail"),
]


@pytest.mark.parametrize("changes,problem", [pytest.param(c, p, id=i) for i, c, p in REFUSED])
async def test_save_refuses_what_the_form_would_not_accept_and_stores_nothing(engine, settings, caplog,
                                                                              changes, problem):
    before = (await count(engine), await count(engine, BookingWindow))
    caplog.set_level(logging.INFO)
    outcome = await service.save(dict(SLOTS, **changes), "r" * 24, 1.0, "rest", db=engine, config=settings,
                                 now=NOW)
    assert outcome.status == "refused" and outcome.reference is None
    assert problem in outcome.problems
    assert (await count(engine), await count(engine, BookingWindow)) == before
    logged = " ".join(r.getMessage() for r in caplog.records)
    assert "refused" in logged and problem in logged
    for secret in (NAME, "900123", NOTE, "DROP", "passwd", "xxxxxxxx", "2020", "2099"):
        assert secret not in logged


async def test_a_booking_of_several_problems_names_each(engine, settings):
    crafted = dict(SLOTS, **{form.CONSENT: None, form.NAME: "N" * 3000, form.PHONE: "+12025550143",
                             form.TIMES: [window("2020-01-06T10:00:00+00:00", "2099-12-31T11:00:00+00:00",
                                                 "../../etc/passwd")]})
    before = await count(engine)
    outcome = await service.save(crafted, "q" * 24, 1.0, "rest", db=engine, config=settings, now=NOW)
    assert outcome.status == "refused"
    assert {"consent", "name", "phone", "timezone"} <= set(outcome.problems)
    assert await count(engine) == before


async def test_unexpected_types_are_refused_never_stored(engine, settings):
    before = await count(engine)
    for crafted in ({form.TIMES: [["2026-03-03T10:00:00+00:00"]]}, {form.TIMES: [{"start": 1, "end": 2}]},
                    {form.NAME: {"first": "Imogen"}}, {form.NOTE: ["a"]}, {form.OTHER: ["cover"]}):
        outcome = await service.save(dict(SLOTS, **crafted), "p" * 24, 1.0, "rest", db=engine, config=settings,
                                     now=NOW)
        assert outcome.status == "refused", crafted
    assert await count(engine) == before


# What the form produces must all still be stored ("lose nothing that was valid").
KEPT = [
    ("the form's own answers", {}),
    ("a drama landline", {form.PHONE: "+441134960123"}),
    ("a name with an apostrophe and accents", {form.NAME: "Siân O'Brien-Łukasz"}),
    ("a name of exactly 50 characters", {form.NAME: "Imogen " * 7 + "T"}),
    ("a note of exactly 500 characters", {form.NOTE: "n" * 500}),
    ("chosen settings", {form.DEFAULTS: False, form.VOICEMAIL: True,
                         form.WORDING: "Sorry I missed you. I will try again later.", form.TEXT_FIRST: True,
                         form.OTHER: "cover", form.COVER: "say you are from the dentist", form.GENDER: "woman",
                         form.LANGUAGE: "Polish", form.INTERPRETER: "interpreter"}),
    ("skipped safety questions", {form.CHILDREN: form.SKIPPED, form.AFRAID: form.SKIPPED}),
    ("a window already begun", {form.TIMES: [window("2026-03-02T09:00:00+00:00", "2026-03-02T12:00:00+00:00")]}),
    ("the furthest day ahead", {form.TIMES: [window("2026-03-30T08:00:00+00:00", "2026-03-30T09:00:00+00:00")]}),
]


@pytest.mark.parametrize("changes", [pytest.param(c, id=i) for i, c in KEPT])
async def test_save_keeps_every_answer_the_form_gives(engine, settings, changes):
    from bot.storage.bookings import get_booking

    outcome = await service.save(dict(SLOTS, **changes), "k" * 24, 1.0, "rest", db=engine, config=settings,
                                 now=NOW)
    assert outcome.status == "created", outcome.problems
    stored = await get_booking(engine, outcome.reference)
    assert (stored.name, stored.phone) == (changes.get(form.NAME, NAME), changes.get(form.PHONE, PHONE))
    assert len(stored.windows) == len(changes.get(form.TIMES, SLOTS[form.TIMES]))


@pytest.mark.parametrize("answer", ["tomorrow morning", "weekday mornings", "weekday afternoons", "asap",
                                    "Friday between 2 and 4", "any time before 8pm", "next week",
                                    "tomorrow after 3, or Thursday morning", "12 March", "weekends or monday"])
def test_every_time_answer_the_form_accepts_passes_the_check(answer):
    from tests.test_callback_form import run

    updates, _ = run(form.TIMES, answer)
    if updates[form.TIMES] is None:
        pytest.skip("the form re-asks this one")
    slots = dict(SLOTS, **updates)
    problems, kept = form.check_for_saving(slots, form.Context(profile=PROFILE, now=NOW))
    assert problems == [] and kept[form.TIMES] == updates[form.TIMES]


async def test_windows_that_ended_while_answering_are_dropped_and_the_rest_kept(engine, settings):
    from bot.storage.bookings import get_booking

    ended = window("2026-03-02T09:00:00+00:00", "2026-03-02T09:45:00+00:00")
    outcome = await service.save(dict(SLOTS, **{form.TIMES: [ended, TUESDAY_10_TO_11]}), "e" * 24, 1.0, "rest",
                                 db=engine, config=settings, now=NOW)
    assert outcome.status == "created"
    stored = await get_booking(engine, outcome.reference)
    assert [w.start_utc for w in stored.windows] == [dt.datetime(2026, 3, 3, 10, tzinfo=dt.timezone.utc)]

    outcome = await service.save(dict(SLOTS, **{form.TIMES: [ended]}), "f" * 24, 1.0, "rest",
                                 db=engine, config=settings, now=NOW)
    assert outcome == service.Outcome("refused", problems=("times_passed",))


async def test_submit_asks_for_new_times_when_they_all_passed_and_keeps_the_other_answers(monkeypatch):
    from rasa_sdk import Tracker
    from rasa_sdk.events import FollowupAction, SlotSet
    from rasa_sdk.executor import CollectingDispatcher

    from actions.callback import SubmitCallback

    async def refused(*args, **kwargs):
        return service.Outcome("refused", problems=("times_passed",))

    monkeypatch.setattr(service, "save", refused)
    monkeypatch.setattr(service, "profile", lambda config=None: PROFILE)
    tracker = Tracker("s" * 24, dict(SLOTS), {"intent": {"name": "affirm"}}, [], False, None, None, None)
    dispatcher = CollectingDispatcher()
    events = await SubmitCallback().run(dispatcher, tracker, {})
    assert [m["response"] for m in dispatcher.messages] == ["utter_callback_times_past"]
    assert events == [SlotSet(form.TIMES, None), SlotSet(form.CONFIRM, None), FollowupAction("callback_form")]

    async def other(*args, **kwargs):
        return service.Outcome("refused", problems=("phone",))

    monkeypatch.setattr(service, "save", other)
    dispatcher = CollectingDispatcher()
    events = await SubmitCallback().run(dispatcher, tracker, {})
    assert [m["response"] for m in dispatcher.messages] == ["utter_callback_save_failed"]
    assert SlotSet(form.PHONE, None) in events  # cleared, as after any submit
