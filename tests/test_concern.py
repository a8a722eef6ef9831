"""The third-party concern form's logic, and the report reaching the store encrypted (raw database
read), once per form run, with the database-down path. Invented people and places only."""
from __future__ import annotations

import asyncio
import sqlite3

import pytest

from bot import concern
from bot.storage import crypto
from bot.storage.bookings import get_booking
from bot.storage.db import create_engine
from bot.storage.migrate import upgrade

DETAILS = "I hear Morwenna Testperson next door crying and a man shouting most nights"
LOCATION = "14 Imaginary Close, Northbrook"


def slots(**over):
    values = {concern.CONSENT: True, concern.DETAILS: DETAILS, concern.RELATIONSHIP: "neighbour",
              concern.LOCATION: LOCATION, concern.CALLBACK: False}
    values.update(over)
    return values


@pytest.mark.parametrize("value,intent,expected", [
    ("yes", None, True), ("/affirm", "affirm", True), ("yeah ok", None, True), ("1", None, True),
    ("no", None, False), ("/deny", "deny", False), ("nah", None, False), ("2", None, False),
    ("purple", None, None), ("", None, None), ("\U0001F600", None, None)])
def test_consent_and_callback_answers(value, intent, expected):
    for slot in (concern.CONSENT, concern.CALLBACK):
        updates, messages = concern.validate(slot, value, intent)
        assert updates == {slot: expected}
        assert (messages == [("utter_concern_yes_no", {})]) == (expected is None)


def test_no_consent_ends_the_form_at_once():
    assert concern.required_slots({concern.CONSENT: False}) == [concern.CONSENT]
    assert concern.required_slots({}) == list(concern.FORM_SLOTS)


@pytest.mark.parametrize("value", ["", " ", "a", "/affirm", None])
def test_empty_details_are_asked_again(value):
    updates, messages = concern.validate(concern.DETAILS, value)
    assert updates == {concern.DETAILS: None} and messages[0][0] == "utter_concern_details_empty"


def test_long_details_are_trimmed_and_the_reporter_told():
    updates, messages = concern.validate(concern.DETAILS, "word " * 2000)
    assert len(updates[concern.DETAILS]) <= 500 and messages == [("utter_concern_details_trimmed", {})]
    updates, _ = concern.validate(concern.DETAILS, "he shouts at her \U0001F622\x00\n every night")
    assert updates[concern.DETAILS] == "he shouts at her \U0001F622 every night"


@pytest.mark.parametrize("value,expected", [
    ("friend", "friend"), ("she's my best friend", "friend"), ("my sister", "family"), ("Mum", "family"),
    ("next door neighbour", "neighbour"), ("we work together", "other"), ("colleague", "colleague"),
    ("i work with her", "colleague"), ("3", "neighbour"), ("rather not say", "other"), ("zzz", "other")])
def test_relationship(value, expected):
    assert concern.validate(concern.RELATIONSHIP, value)[0] == {concern.RELATIONSHIP: expected}


@pytest.mark.parametrize("value,intent", [("skip", None), ("no", None), ("rather not say", None),
                                          ("/deny", "deny"), ("", None), ("nah", "deny")])
def test_location_can_be_skipped(value, intent):
    assert concern.validate(concern.LOCATION, value, intent)[0] == {concern.LOCATION: concern.SKIPPED}


def test_location_is_kept_as_given_up_to_200_characters():
    assert concern.validate(concern.LOCATION, LOCATION)[0] == {concern.LOCATION: LOCATION}
    assert len(concern.validate(concern.LOCATION, "x" * 1000)[0][concern.LOCATION]) == 200


@pytest.fixture
async def engine(settings):
    crypto.configure_from_settings(settings)
    await asyncio.to_thread(upgrade, settings.database_url)
    engine = create_engine(settings.database_url)
    yield engine
    await engine.dispose()


async def test_report_is_stored_encrypted_once_per_form_run(engine, settings):
    first = await concern.save(slots(), "a" * 64, 1000.0, "sms", db=engine, config=settings)
    again = await concern.save(slots(), "a" * 64, 1000.0, "sms", db=engine, config=settings)
    other = await concern.save(slots(**{concern.LOCATION: concern.SKIPPED}), "a" * 64, 2000.0, "web",
                               db=engine, config=settings)
    assert first.status == "created" and again.status == "duplicate" and again.reference == first.reference
    assert other.status == "created"
    db = sqlite3.connect(settings.database_url.split("///", 1)[1])
    rows = db.execute("SELECT kind, status, channel FROM bookings ORDER BY id").fetchall()
    dump = "\n".join(db.iterdump())
    db.close()
    assert rows == [("third_party_report", "new", "sms"), ("third_party_report", "new", "web")]
    for secret in ("Morwenna", "crying", "Imaginary", "neighbour", "a" * 64):
        assert secret not in dump
    booking = await get_booking(engine, first.reference)
    assert booking.note == DETAILS
    assert booking.details == {"third_party": True, "relationship": "neighbour", "location": LOCATION,
                               "reporter_wants_callback": False}
    assert (await get_booking(engine, other.reference)).details["location"] is None


async def test_database_down_stores_nothing_and_says_so(settings, caplog):
    crypto.configure_from_settings(settings)
    broken = create_engine("sqlite+aiosqlite:////nonexistent/dir/x.db")
    outcome = await concern.save(slots(), "b" * 64, 1.0, "sms", db=broken, config=settings)
    await broken.dispose()
    assert outcome.status == "failed" and outcome.reference is None
    assert "Morwenna" not in caplog.text and "Imaginary" not in caplog.text


def tracker(slot_values, channel="sms"):
    from rasa_sdk import Tracker

    events = [{"event": "active_loop", "name": "concern_form", "timestamp": 42.0}]
    return Tracker("c" * 64, dict(slot_values), {"intent": {"name": "deny"}, "text": "no"}, events, False,
                   None, {"name": "concern_form"}, "action_listen")


async def run_submit(slot_values, monkeypatch, outcome=("created", "apple-river-stone")):
    from rasa_sdk.executor import CollectingDispatcher

    from actions.concern import SubmitConcern
    from bot.callbacks import service

    calls = []

    async def fake_save(slots_, sender, started, channel, **kw):
        calls.append((sender, started, channel))
        return service.Outcome(*outcome)

    monkeypatch.setattr(concern, "save", fake_save)
    dispatcher = CollectingDispatcher()
    events = await SubmitConcern().run(dispatcher, tracker(slot_values), {})
    return dispatcher.messages, events, calls


async def test_submit_action_records_and_says_what_happens_next(monkeypatch):
    messages, events, calls = await run_submit(slots(), monkeypatch)
    assert [m["response"] for m in messages] == ["utter_concern_recorded"]
    assert messages[0]["concern_reference"] == "apple-river-stone"
    assert calls == [("c" * 64, 42.0, "web")]  # no input channel in this stand-in tracker
    assert {e["name"]: e["value"] for e in events if e["event"] == "slot"} == {
        **{s: None for s in concern.FORM_SLOTS}, "requested_slot": None,
        "kept_this_conversation": "concern"}  # a later "stop" must not say nothing was saved
    assert not any(e["event"] == "followup" for e in events)


async def test_a_reporter_who_wants_a_call_back_goes_on_to_the_callback_booking(monkeypatch):
    _, events, _ = await run_submit(slots(**{concern.CALLBACK: True}), monkeypatch)
    assert {"event": "followup", "name": "callback_form", "timestamp": None} in events


async def test_no_consent_or_a_failed_save_records_nothing_and_says_so(monkeypatch):
    messages, _, calls = await run_submit(slots(**{concern.CONSENT: False}), monkeypatch)
    assert [m["response"] for m in messages] == ["utter_concern_not_recorded"] and calls == []
    messages, _, _ = await run_submit(slots(), monkeypatch, outcome=("failed", None))
    assert [m["response"] for m in messages] == ["utter_concern_save_failed"]
