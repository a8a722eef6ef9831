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
