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


# ---- issue 16: idle conversations are forgotten; a late turn neither starts nor is saved ----

class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_in_memory_store_forgets_idle_conversations(domain):
    clock = FakeClock()
    store = BoundedInMemoryTrackerStore(domain, max_events=60, idle_seconds=3600, clock=clock)
    for i in range(1500):
        asyncio.run(store.save(conversation(domain, 1) if i == 0 else
                               DialogueStateTracker.from_events(f"idle-{i:05d}-sender-abc", [])))
    assert len(store.store) == 1500
    clock.now += 3540
    assert store.evict_idle() == 0 and len(store.store) == 1500
    clock.now += 61  # 3601 s idle, and a sweep is due
    recent = DialogueStateTracker.from_events("recent-sender-abcdef", [])
    asyncio.run(store.save(recent))  # a turn sweeps (at most once a minute)
    assert set(store.store) == {"recent-sender-abcdef"}


def test_an_idle_conversation_is_not_resumed_even_before_a_sweep(domain):
    clock = FakeClock()
    store = BoundedInMemoryTrackerStore(domain, max_events=60, idle_seconds=3600, clock=clock)
    tracker = conversation(domain, 2)
    asyncio.run(store.save(tracker))
    clock.now += 3601
    store._swept = clock.now  # no sweep due yet
    assert asyncio.run(store.retrieve(tracker.sender_id)) is None


def test_endpoints_file_configures_the_idle_expiry(domain, monkeypatch):
    from rasa.core.tracker_store import TrackerStore
    from rasa.utils.endpoints import read_endpoint_config

    # Rasa expands every ${...} in the file, the action server's token included (the stack sets it).
    monkeypatch.setenv("ACTION_SERVER_TOKEN", "t" * 43)
    config = read_endpoint_config(str(ROOT / "endpoints.yml"), "tracker_store")
    store = TrackerStore.create(config, domain)
    inner = getattr(store, "_tracker_store", store)
    inner = getattr(inner, "_tracker_store", inner)
    assert isinstance(inner, BoundedInMemoryTrackerStore)
    assert inner.idle_seconds == 3600 and inner.max_events == 60


def test_a_turn_past_its_deadline_is_neither_started_nor_saved(domain):
    from bot import turn_deadline

    store = BoundedInMemoryTrackerStore(domain, max_events=60)
    tracker = conversation(domain, 2)
    asyncio.run(store.save(tracker))
    before = len(asyncio.run(store.retrieve(tracker.sender_id)).events)

    async def late_turn():
        token = turn_deadline.start(0.0)  # long past
        try:
            with pytest.raises(turn_deadline.TurnExpired):
                await store.retrieve(tracker.sender_id)
            tracker.update(ActionExecuted("action_listen"))
            tracker.update(UserUttered("a late message from Alex Example",
                                       {"name": "greet", "confidence": 1.0}))
            await store.save(tracker)  # a turn that finished too late
        finally:
            turn_deadline.finish(token)

    asyncio.run(late_turn())
    assert len(asyncio.run(store.retrieve(tracker.sender_id)).events) == before
