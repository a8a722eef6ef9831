"""Bounded tracker stores (bot/rasa_trackers.py): long conversations keep their state but not their
old text, on the in-memory store and on the real Redis at 127.0.0.1:6379."""
from __future__ import annotations

import asyncio
import json
import secrets
from pathlib import Path

import pytest
import redis

from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, ActiveLoop, BotUttered, SessionStarted, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from bot.rasa_trackers import BoundedInMemoryTrackerStore, BoundedRedisTrackerStore, compact

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def domain() -> Domain:
    return Domain.load(str(ROOT / "domain"))


def conversation(domain: Domain, turns: int, form_from: int = 3) -> DialogueStateTracker:
    """A conversation of `turns` turns; a callback form starts at turn `form_from` and its first
    slot is filled there, long before the end."""
    tracker = DialogueStateTracker(secrets.token_hex(16), domain.slots)
    tracker.update(ActionExecuted("action_session_start"))
    tracker.update(SessionStarted())
    for t in range(turns):
        tracker.update(ActionExecuted("action_listen"))
        tracker.update(UserUttered(f"message number {t} from Alex Example",
                                   {"name": "ask_helplines", "confidence": 0.9}))
        if t == form_from:
            tracker.update(ActiveLoop("callback_form"))
            tracker.update(SlotSet("callback_name", "Alex"))
            tracker.update(SlotSet("requested_slot", "callback_phone"))
        tracker.update(ActionExecuted("utter_helplines"))
        tracker.update(BotUttered(f"reply {t}"))
    return tracker


def test_short_conversations_are_left_alone(domain):
    tracker = conversation(domain, 5)
    assert compact(tracker, 120) is tracker


def test_long_conversation_keeps_its_state_but_not_its_old_text(domain):
    tracker = conversation(domain, 100)
    assert len(tracker.events) == 2 + 100 * 4 + 3
    small = compact(tracker, 120)
    assert len(small.events) <= 120 // 2 + 10
    # same state as before
    assert small.slots["callback_name"].value == "Alex"
    assert small.slots["requested_slot"].value == "callback_phone"
    assert small.active_loop_name == "callback_form"
    assert small.latest_message.text == tracker.latest_message.text
    assert small.latest_action_name == tracker.latest_action_name
    # the session start is kept (the session clock), then the recent turns in order
    assert isinstance(small.events[1], SessionStarted)
    assert small.events[0].timestamp == tracker.events[0].timestamp
    recent = [e.text for e in small.events if isinstance(e, UserUttered)]
    assert recent == [f"message number {t} from Alex Example" for t in range(100 - len(recent), 100)]
    # old text is gone from what would be stored
    dumped = json.dumps(small.current_state(), default=str)
    assert "message number 3 from" not in dumped and "reply 3\"" not in dumped
    # the recent history the policies look at is unchanged
    assert small.past_states(domain)[-5:] == tracker.past_states(domain)[-5:]


def test_max_events_must_be_a_sensible_number(domain):
    with pytest.raises(ValueError, match="at least"):
        BoundedInMemoryTrackerStore(domain, max_events=5)
    with pytest.raises(ValueError, match="whole number"):
        BoundedInMemoryTrackerStore(domain, max_events="lots")


def test_in_memory_store_stays_bounded(domain):
    store = BoundedInMemoryTrackerStore(domain, host="ignored", max_events=60)
    tracker = conversation(domain, 80)
    asyncio.run(store.save(tracker))
    back = asyncio.run(store.retrieve(tracker.sender_id))
    assert len(back.events) <= 40
    assert back.slots["callback_name"].value == "Alex"
    assert back.active_loop_name == "callback_form"


def test_redis_store_stays_bounded_and_expires(domain):
    prefix = "testbound" + secrets.token_hex(4)
    store = BoundedRedisTrackerStore(domain, host="127.0.0.1", port=6379, db=3, key_prefix=prefix,
                                     record_exp=120, max_events=60)
    red = redis.Redis(host="127.0.0.1", port=6379, db=3)
    tracker = conversation(domain, 80)
    key = store.key_prefix + tracker.sender_id
    try:
        asyncio.run(store.save(tracker))
        assert 0 < red.ttl(key) <= 120
        assert b"message number 3 from" not in red.get(key)
        back = asyncio.run(store.retrieve(tracker.sender_id))
        assert len(back.events) <= 40
        assert back.slots["callback_name"].value == "Alex"
        assert back.active_loop_name == "callback_form"
        # the next turn is added to the compacted tracker, not merged with the old one
        back.update(ActionExecuted("action_listen"))
        back.update(UserUttered("one more from Alex Example", {"name": "thank", "confidence": 1.0}))
        asyncio.run(store.save(back))
        again = asyncio.run(store.retrieve(tracker.sender_id))
        assert again.latest_message.text == "one more from Alex Example"
        assert len(again.events) == len(back.events)
    finally:
        red.delete(key)
