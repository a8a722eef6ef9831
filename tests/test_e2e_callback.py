"""End to end: book a call back through POST /webhooks/rest/webhook on the real stack (gateway, Rasa,
action server), then read the raw SQLite file and tables: no plaintext number, name or note.
Also: cancelling stores nothing, danger mid-form then carry on, and the turn count for a default
booking (goal: at most 10)."""
from __future__ import annotations

import asyncio
import json
import re
import secrets
import sqlite3
import urllib.error
import urllib.request
from pathlib import Path

import pytest

pytestmark = pytest.mark.stack

NAME = "Imogen Testperson"
PHONE_TYPED = "07700 900 417"
NOTE = "Zebracrossing housing question about my tenancy"


def turn(stack, sender, text, timeout=30):
    req = urllib.request.Request(
        stack.url + "/webhooks/rest/webhook",
        data=json.dumps({"sender": sender, "message": text}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        return json.load(resp)


def text_of(replies):
    return " ".join(r["text"] or "" for r in replies)


def db_path(stack) -> Path:
    return Path(stack.env["DATABASE_URL"].split("///", 1)[1])


def rows(stack, sql):
    with sqlite3.connect(db_path(stack)) as conn:
        return conn.execute(sql).fetchall()


def book(stack, sender, answers):
    transcript = []
    for answer in answers:
        replies = turn(stack, sender, answer)
        transcript.append((answer, replies))
    return transcript


DEFAULT_BOOKING = ["can someone call me back", "/affirm", NAME, PHONE_TYPED, "weekday mornings",
                   "use the safest settings", NOTE, "skip", "skip", "/affirm"]


def test_default_booking_takes_ten_turns_and_stores_no_plaintext(stack):
    sender = secrets.token_hex(16)
    before = rows(stack, "SELECT count(*) FROM bookings")[0][0]
    transcript = book(stack, sender, DEFAULT_BOOKING)
    asks = [text_of(replies) for _, replies in transcript]
    assert "Only the Domestic Abuse Support Team can see them" in asks[0]
    assert "30 days" in asks[0] and "14 days" in asks[0]
    assert "What name" in asks[1] and "safe to call" in asks[2] and "When is it safe" in asks[3]
    assert "Please check your booking" in asks[8] and "ending 417" in asks[8]
    assert "900 417" not in asks[8] and "Zebracrossing" not in asks[8]
    final = asks[9]
    assert "Your call back is booked" in final
    reference = re.search(r"reference is: ([a-z]+ [a-z]+ [a-z]+)", final).group(1)
    assert len(DEFAULT_BOOKING) == 10  # turns from asking to the reference

    assert rows(stack, "SELECT count(*) FROM bookings")[0][0] == before + 1
    (ref, status, channel, priority), = rows(
        stack, f"SELECT reference, status, channel, priority FROM bookings WHERE reference = '{reference}'")
    assert (status, channel, priority) == ("new", "web", 0)
    assert rows(stack, "SELECT count(*) FROM booking_windows w JOIN bookings b ON b.id = w.booking_id "
                       f"WHERE b.reference = '{reference}'")[0][0] >= 4  # weekday mornings in the next 7 days

    # Nothing personal in plain text anywhere: the raw file (and its journal), and every column.
    raw = b"".join(p.read_bytes() for p in db_path(stack).parent.glob(db_path(stack).name + "*"))
    for secret in ("Imogen", "Testperson", "7700900417", "07700 900 417", "900417", "Zebracrossing", "tenancy"):
        assert secret.encode() not in raw, secret
        assert secret.encode("utf-16-le") not in raw, secret
    for table in ("bookings", "booking_windows"):
        dump = json.dumps(rows(stack, f"SELECT * FROM {table}"), default=str)
        for secret in ("Imogen", "7700900417", "900417", "Zebracrossing"):
            assert secret not in dump

    # Confirming again in the same conversation does not create a second booking.
    again = turn(stack, sender, "/affirm")
    assert rows(stack, "SELECT count(*) FROM bookings")[0][0] == before + 1
    assert "booked" not in text_of(again) or reference in text_of(again)

    # "Stop" after the booking says what was kept, not that nothing was saved (issue 17).
    after = text_of(turn(stack, sender, "/stop"))
    assert "nothing has been saved" not in after.lower() and "still kept" in after

    # The form's slots were cleared: the conversation no longer holds the answers.
    logs = "".join(p.read_text(errors="replace") for p in (Path(stack.log_dir)).glob("*.log"))
    for secret in ("Imogen", "900 417", "7700900417", "Zebracrossing"):
        assert secret not in logs, f"{secret} appeared in a process log"


@pytest.mark.parametrize("step", range(1, 10))
def test_stop_at_any_step_stores_nothing(stack, step):
    sender = secrets.token_hex(16)
    before = rows(stack, "SELECT count(*) FROM bookings")[0][0]
    book(stack, sender, DEFAULT_BOOKING[:step])
    replies = turn(stack, sender, ["stop", "cancel", "forget it"][step % 3])
    assert "Nothing from this booking has been stored" in text_of(replies)
    assert rows(stack, "SELECT count(*) FROM bookings")[0][0] == before
    # After cancelling, a yes does not book anything.
    turn(stack, sender, "/affirm")
    assert rows(stack, "SELECT count(*) FROM bookings")[0][0] == before


def test_saying_no_to_consent_stores_nothing(stack):
    sender = secrets.token_hex(16)
    before = rows(stack, "SELECT count(*) FROM bookings")[0][0]
    replies = book(stack, sender, ["can someone call me back", "/deny"])[-1][1]
    assert "Nothing from this booking has been stored" in text_of(replies)
    assert rows(stack, "SELECT count(*) FROM bookings")[0][0] == before


def test_danger_mid_form_gets_the_emergency_reply_then_carries_on(stack):
    sender = secrets.token_hex(16)
    book(stack, sender, DEFAULT_BOOKING[:3])  # consent and name given; the number is being asked
    replies = turn(stack, sender, "/emergency")
    assert {"escalation": "emergency"} in [r["custom"] for r in replies]
    body = text_of(replies)
    assert body.index("999") < body.index("carry on booking")
    replies = turn(stack, sender, "/affirm")
    assert "safe to call" in text_of(replies)  # the form resumes at the number
    replies = turn(stack, sender, "0113 496 0123")
    assert "landline" in text_of(replies) and "When is it safe" in text_of(replies)


def test_invalid_answers_get_specific_reasks_through_the_chat(stack):
    sender = secrets.token_hex(16)
    book(stack, sender, DEFAULT_BOOKING[:3])
    assert "too short" in text_of(turn(stack, sender, "07700 90012"))
    assert "UK numbers" in text_of(turn(stack, sender, "+1 202 555 0100"))
    turn(stack, sender, PHONE_TYPED)
    assert "doesn't exist" in text_of(turn(stack, sender, "25:00"))
    assert "can only call" in text_of(turn(stack, sender, "any time before 8am"))
    turn(stack, sender, "weekday afternoons")
    turn(stack, sender, "use the safest settings")
    assert "characters" in text_of(turn(stack, sender, "advice about housing " * 40))
    turn(stack, sender, "stop")


def test_the_stacks_action_server_runs_nothing_without_the_token(stack):
    """Rasa's calls carry ACTION_SERVER_TOKEN (the bookings above went through); a made-up tracker
    sent straight to the action server without it is refused and books nothing (issue 16)."""
    from tests.test_action_server import action_call, confirmed_slots

    before = rows(stack, "SELECT count(*) FROM bookings")[0][0]
    req = urllib.request.Request(f"http://127.0.0.1:{stack.action_port}/webhook",
                                 data=json.dumps(action_call(confirmed_slots())).encode(),
                                 headers={"Content-Type": "application/json"})
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(req, timeout=30)
    assert refused.value.code == 401
    assert rows(stack, "SELECT count(*) FROM bookings")[0][0] == before
